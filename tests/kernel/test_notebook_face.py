"""The notebook answers: SQL cells show their rows, ``--as`` binds, parameters stay literals,
errors stop the cell in one line, snapshots re-run, progress bars end honestly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import agnes_jupyter as agnes
from agnes_jupyter._result import ResultTable
from tests._live import LiveServer


@pytest.fixture
def ws(connected: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "workspace"
    monkeypatch.setenv("AGNES_WORKSPACE", str(root))
    return root


def _run(shell: Any, source: str) -> Any:
    """Run a cell as the notebook would; the ExecutionResult (error_in_exec when it failed)."""
    return shell.run_cell(source, store_history=True)


# -- SQL cells show their rows -------------------------------------------------------------------------


def test_local_sql_cell_shows_rows_count_and_time_and_is_an_ibis_table(ws: Path, shell: Any) -> None:
    agnes.table("orders")  # downloaded into the workspace
    result = _run(shell, "%%agnes -n 3\nSELECT order_id, amount FROM orders ORDER BY order_id")
    assert result.success
    table = result.result
    assert isinstance(table, ResultTable)
    total = agnes.sql("SELECT count(*) AS n FROM orders").to_pyarrow().column("n")[0].as_py()
    assert table.total_rows == total
    text = repr(table)
    assert text.startswith(f"{total:,} rows (first 3 shown) · ")
    assert len(text.splitlines()) == 1 + 2 + 3  # summary, header, rule, three rows
    html = table._repr_html_()
    assert html.count("<tr>") == 4
    assert "order_id" in html
    # the value is an ibis table: it filters and executes
    assert int(table.filter(table.amount > 0).count().execute()) <= total
    assert shell.user_ns["_"] is table  # so `_` works in the next cell


def test_as_binds_the_name_and_a_group_by_shows_rows_not_a_schema(ws: Path, shell: Any) -> None:
    agnes.table("customers")
    result = _run(shell, "%%agnes --as seg\nSELECT segment, count(*) AS n FROM customers GROUP BY 1 ORDER BY 1")
    assert result.success
    seg = shell.user_ns["seg"]
    assert seg is result.result
    assert "SQLQueryResult" not in repr(seg)
    assert "schema:" not in repr(seg)
    assert sorted(seg.to_pandas()["segment"]) == sorted(r.split()[0] for r in repr(seg).splitlines()[3:])


def test_remote_cell_with_as_keeps_a_snapshot_and_binds_it_without_as_only_shows(ws: Path, shell: Any) -> None:
    sql = "SELECT country, count(*) AS n FROM events WHERE country IN ('CZ', 'DE') GROUP BY 1 ORDER BY 1"
    result = _run(shell, f"%%agnes --remote --as top_de\n{sql}")
    assert result.success
    top = shell.user_ns["top_de"]
    assert top.to_pandas()["country"].tolist() == ["CZ", "DE"]
    assert "scanned" in repr(top)
    assert (ws / "snapshots" / "top_de.parquet").exists()
    again = _run(shell, f"%%agnes --remote\n{sql}")
    assert again.success
    assert "scanned" in repr(again.result)
    assert again.result.to_pandas()["n"].tolist() == top.to_pandas()["n"].tolist()
    assert sorted(p.name for p in (ws / "snapshots").glob("*.parquet")) == ["top_de.parquet"]


def test_parameters_are_bound_as_literals_never_pasted(ws: Path, shell: Any) -> None:
    agnes.table("customers")
    shell.user_ns["seg"] = "smb"
    good = _run(shell, "%%agnes\nSELECT count(*) AS n FROM customers WHERE segment = :seg")
    assert good.success
    expected = agnes.sql("SELECT count(*) AS n FROM customers WHERE segment = 'smb'").to_pandas()["n"][0]
    assert good.result.to_pandas()["n"][0] == expected
    shell.user_ns["seg"] = "smb' OR '1'='1"
    hostile = _run(shell, "%%agnes\nSELECT count(*) AS n FROM customers WHERE segment = {seg}")
    assert hostile.success
    assert hostile.result.to_pandas()["n"][0] == 0
    shell.user_ns["countries"] = ["CZ", "SK"]
    shell.user_ns["since"] = __import__("datetime").date(2026, 1, 20)
    remote = _run(shell, "%%agnes --remote\nSELECT count(*) AS n FROM events "
                         "WHERE country IN :countries AND event_date >= :since")
    assert remote.success
    assert remote.result.to_pandas()["n"][0] > 0
    missing = _run(shell, "%%agnes\nSELECT :nowhere AS x")
    assert isinstance(missing.error_in_exec, agnes.ValidationError)
    assert ":nowhere" in str(missing.error_in_exec)


# -- errors stop the cell in one line ----------------------------------------------------------------


def test_local_sql_errors_are_one_line_with_position_and_duckdbs_suggestion(
        ws: Path, shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    agnes.table("orders")
    typo = _run(shell, "%%agnes\nSELECT * FROM ordrs")
    assert isinstance(typo.error_in_exec, agnes.QueryError)
    assert 'Did you mean "orders"' in typo.error_in_exec.message
    shown = capsys.readouterr().out
    assert "Traceback" not in shown
    assert "_magics.py" not in shown
    assert "DESCRIBE" not in shown
    assert "QueryError" in shown
    assert "hint:" in shown
    syntax = _run(shell, "%%agnes\nSELEC 1")
    assert isinstance(syntax.error_in_exec, agnes.QueryError)
    assert "(line 1, column 1)" in syntax.error_in_exec.message
    with pytest.raises(agnes.QueryError) as info:
        agnes.sql("SELECT amont FROM orders")
    assert "DESCRIBE" not in str(info.value)
    assert "line 1, column 8" in str(info.value)
    assert "hint:" in str(info.value)  # str() carries the hint, for plain scripts


def test_magic_errors_fail_the_cell_so_run_all_stops(ws: Path, shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    refused = _run(shell, "%agnes snapshot create events --as everything")
    assert isinstance(refused.error_in_exec, agnes.ConfirmationRequired)
    out = capsys.readouterr().out
    assert out.count("\n") <= 3
    assert "ConfirmationRequired" in out
    assert "Traceback" not in out
    usage = _run(shell, "%agnes snapshot create")
    assert isinstance(usage.error_in_exec, agnes.AgnesError)
    assert usage.error_in_exec.code == "usage_error"
    unknown = _run(shell, "%agnes nonsense")
    assert isinstance(unknown.error_in_exec, agnes.AgnesError)
    assert not _run(shell, "%%agnes --remote\nSELECT * FROM nowhere_at_all").success


def test_unknown_table_ids_suggest_the_closest_readable_ids(ws: Path) -> None:
    with pytest.raises(agnes.NotFound) as info:
        agnes.table("evnts")
    assert "did you mean 'events'" in str(info.value)
    with pytest.raises(agnes.NotFound) as info:
        agnes.schema("ordrs")
    assert "'orders'" in str(info.value)


def test_a_remote_syntax_error_names_line_and_column(ws: Path) -> None:
    with pytest.raises(agnes.ValidationError) as info:
        agnes.estimate("SELECT amount FROM events\nWHERE country = = 'CZ'")
    assert "line 2" in info.value.message
    assert "column" in info.value.message


def test_a_wrong_token_says_how_to_get_one(connected: LiveServer) -> None:
    with pytest.raises(agnes.Unauthorized) as info:
        agnes.connect(connected.url, token="not-a-token", default=False)
    assert "AGNES_TOKEN" in (info.value.hint or "")
    assert "restart the kernel" in (info.value.hint or "")


# -- notebooks re-run ----------------------------------------------------------------------------------


def test_snapshot_with_the_same_query_returns_the_existing_one(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = agnes.table("events")
    cz = events.filter(events.country == "CZ").select("user_id", "amount")
    first = agnes.snapshot(cz, name="cz", progress=False)
    stamp = (ws / "snapshots" / "cz.parquet").stat().st_mtime_ns
    capsys.readouterr()
    again = agnes.snapshot(cz, name="cz", progress=False)
    assert "already holds this query" in capsys.readouterr().out
    assert (ws / "snapshots" / "cz.parquet").stat().st_mtime_ns == stamp  # not re-run
    assert int(again.count().execute()) == int(first.count().execute())
    agnes.snapshot(cz, name="cz", progress=False, max_age="0s")
    assert "refreshing it" in capsys.readouterr().out
    assert (ws / "snapshots" / "cz.parquet").stat().st_mtime_ns != stamp
    with pytest.raises(agnes.SnapshotExists) as info:
        agnes.snapshot(events.filter(events.country == "SK").select("user_id"), name="cz")
    assert "different query" in info.value.message
    assert "force=True" in (info.value.hint or "")


# -- honest progress -----------------------------------------------------------------------------------


def test_byte_bars_end_full_on_success_and_where_they_stopped_on_failure() -> None:
    from agnes_jupyter._progress import ByteBar

    ok = ByteBar(1000, "scan", upper_bound=True)
    bar = ok._bar
    ok.update(270)
    ok.done(True)
    assert (bar.n, bar.total) == (270, 270)  # the estimate was an upper bound: 100 %, not 27 %
    assert "≤" in bar.desc
    low = ByteBar(100, "scan")
    bar = low._bar
    low.update(300)
    assert bar.n <= bar.total  # never above 100 %
    low.done(True)
    failed = ByteBar(1000, "scan")
    bar = failed._bar
    failed.update(100)
    failed.done(False)
    assert (bar.n, bar.total) == (100, 1000)


def test_more_failures_are_one_line_errors(ws: Path, tmp_path: Path) -> None:
    agnes.table("orders")
    with pytest.raises(agnes.ValidationError, match="one query"):
        agnes.sql("SELECT 1; SELECT 2")
    bad = agnes.sql("SELECT 'x' AS v").mutate(n=lambda t: t.v.cast("int32"))
    with pytest.raises(agnes.QueryError):
        bad.to_parquet(tmp_path / "x.parquet")
    with pytest.raises(agnes.QueryError):
        bad.to_pandas()
    events = agnes.table("events")
    with pytest.raises(agnes.ValidationError, match="remote tables"):
        events.filter(events.country == "CZ").alias("cz").sql("SELECT count(*) FROM cz")


def test_suggestions_never_name_a_table_the_user_may_not_read(connected: LiveServer, ws: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import uuid

    owner = agnes.connect(connected.url, connected.token, default=False)  # the server's owner: an admin
    unique = uuid.uuid4().hex[:8]
    secret, user = f"secret_revenue_{unique}", f"guess_{unique}"
    owner.post("admin/tables", {"id": secret, "source": "demo", "source_table": "orders", "query_mode": "remote"})
    owner.post("admin/users", {"username": user})
    try:
        token = owner.post(f"admin/users/{user}/tokens", {"name": "suggestions"})["token"]
        with pytest.raises(agnes.NotFound) as as_admin:
            agnes.table(secret[:-1])
        assert repr(secret) in str(as_admin.value)  # the admin may read it: suggested
        monkeypatch.setenv("AGNES_TOKEN", token)
        agnes.connect(connected.url, token)
        with pytest.raises(agnes.NotFound) as as_user:
            agnes.table(secret[:-1])
        assert secret not in str(as_user.value)
        assert secret not in as_user.value.details["suggestions"]
    finally:
        for path in (f"admin/tables/{secret}", f"admin/users/{user}"):
            try:
                owner.delete(path)
            except agnes.AgnesError:
                pass
        owner.close()
