"""Remote tables are real ibis tables: execute(), to_pandas(), to_pyarrow(), batches and scalars
run through POST scans (validator, estimate, gate, budget), and mixed expressions scan only what
the local part needs. Checked against DuckDB reading the demo lake's files directly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import ibis
import pytest

import agnes_jupyter as agnes
from tests._live import LiveServer

#: How remote tables are marked inside expressions (never in SQL anyone sees). Spelled out rather than
#: imported: importing the backend loads ibis's SQL dialects, which patch sqlglot's PostgreSQL
#: generator for the whole process, and the core tests collected beside these render PostgreSQL SQL.
REMOTE = "__agnes_remote__"


@pytest.fixture
def ws(connected: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "workspace"
    monkeypatch.setenv("AGNES_WORKSPACE", str(root))
    return root


@pytest.fixture
def lake(connected: LiveServer) -> duckdb.DuckDBPyConnection:
    """The demo lake read by DuckDB directly, as the reference the answers are checked against."""
    path = Path(agnes.client().get("admin/sources/demo")["options"]["path"])
    con = duckdb.connect()
    con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet('{path}/events/**/*.parquet', "
                "hive_partitioning = true)")
    return con


class Recorder:
    """The scans this kernel ran (POST scans), with the server's record of each."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ids: list[str] = []
        client = agnes.client()
        original = client.request

        def request(method: str, path: str, **kwargs: Any) -> Any:
            response = original(method, path, **kwargs)
            if method == "POST" and path == "scans":
                self.ids.append(response.headers["X-Agnes-Scan-Id"])
            return response

        monkeypatch.setattr(client, "request", request)

    def records(self) -> list[dict[str, Any]]:
        return [agnes.client().get(f"scans/{i}") for i in self.ids]


@pytest.fixture
def scans(ws: Path, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    return Recorder(monkeypatch)


def test_count_execute_runs_through_the_gate_and_says_what_it_scans(
        ws: Path, lake: duckdb.DuckDBPyConnection, scans: Recorder, capsys: pytest.CaptureFixture[str]) -> None:
    events = agnes.table("events")
    n = events.filter(events.country == "CZ").count().execute()
    expected = lake.execute("SELECT count(*) FROM events WHERE country = 'CZ'").fetchone()[0]  # type: ignore[index]
    assert n == expected
    assert isinstance(n, int)
    out = capsys.readouterr().out
    assert "agnes: scanning" in out
    assert "budget left today" in out
    assert "events" in out
    new = scans.records()
    assert len(new) == 1
    assert new[0]["status"] == "succeeded"
    assert not list((ws / "snapshots").glob("*.parquet"))  # nothing stored


def test_to_pandas_to_pyarrow_batches_and_columns_match_the_lake(ws: Path, lake: duckdb.DuckDBPyConnection) -> None:
    events = agnes.table("events")
    expr = (events.filter(events.country == "DE").group_by("event_date")
            .agg(revenue=ibis._.amount.sum(), n=ibis._.count()).order_by("event_date"))
    df = expr.to_pandas()
    ref = lake.execute("SELECT event_date, sum(amount) AS revenue, count(*) AS n FROM events WHERE country = 'DE' "
                       "GROUP BY 1 ORDER BY 1").df()
    assert list(df.columns) == ["event_date", "revenue", "n"]
    assert df["n"].tolist() == ref["n"].tolist()
    assert df["revenue"].round(6).tolist() == ref["revenue"].round(6).tolist()
    arrow = expr.to_pyarrow()
    assert arrow.num_rows == len(ref)
    assert arrow.schema.names == ["event_date", "revenue", "n"]
    batches = expr.to_pyarrow_batches(chunk_size=7)
    assert sum(b.num_rows for b in batches) == len(ref)
    series = events.filter(events.country == "DE").amount.max().execute()
    assert series == pytest.approx(lake.execute("SELECT max(amount) FROM events WHERE country='DE'").fetchone()[0])
    column = expr.n.execute()
    assert column.tolist() == ref["n"].tolist()


def test_to_sql_shows_the_source_sql_and_the_expression_names_no_internal_marker(ws: Path) -> None:
    events = agnes.table("events")
    sql = ibis.to_sql(events.filter(events.country == "CZ").select("amount"))
    assert '"events"' in sql
    assert "CZ" in sql
    assert REMOTE not in sql
    assert REMOTE not in str(events.filter(events.country == "CZ").compile())


def test_confirmation_is_required_above_the_threshold_then_confirm_and_the_block_run_it(
        ws: Path, lake: duckdb.DuckDBPyConnection, scans: Recorder) -> None:
    events = agnes.table("events")
    # an aggregate over every column reads them all: the gate counts what is scanned, not returned
    agg = events.aggregate(n=events.count(), **{f"max_{c}": events[c].max() for c in events.columns})
    assert agnes.estimate(agg).verdict == "needs_confirmation"
    with pytest.raises(agnes.ConfirmationRequired) as info:
        agg.execute()
    assert "confirm=True" in (info.value.hint or "")
    assert "agnes.confirm()" in (info.value.hint or "")
    assert "confirm" in str(info.value)  # str() carries the hint for plain scripts
    assert scans.ids == []  # refused before anything ran
    expected = lake.execute("SELECT count(*) FROM events").fetchone()[0]  # type: ignore[index]
    assert agg.execute(confirm=True)["n"].iloc[0] == expected
    with agnes.confirm():
        assert agg.to_pyarrow().column("n")[0].as_py() == expected
    with pytest.raises(agnes.ConfirmationRequired):
        agg.to_pyarrow()  # the block ended


def test_a_refused_query_raises_the_servers_error_and_runs_nothing(ws: Path) -> None:
    events = agnes.table("events")
    with pytest.raises(agnes.AgnesError) as info:
        events.filter(events.amount.cast("string").re_search("x" * 3)).limit(1).execute()
    assert type(info.value) is not agnes.AgnesError or info.value.code != "internal"


def test_mixed_expression_joins_remote_and_local_and_scans_the_narrowest_query(
        ws: Path, lake: duckdb.DuckDBPyConnection, scans: Recorder, capsys: pytest.CaptureFixture[str]) -> None:
    events = agnes.table("events")
    customers = agnes.table("customers")  # local: downloaded into the workspace
    joined = events.join(customers, events.user_id == customers.customer_id)
    expr = (joined.filter((joined.country == "CZ") & (joined.event_date >= ibis.date("2026-01-20")))
            .group_by("segment").agg(revenue=joined.amount.sum()).order_by("segment"))
    df = expr.to_pandas()
    new = scans.records()
    assert len(new) == 1
    # the remote part read exactly what the narrowest single-table query reads
    narrow = events.filter((events.country == "CZ") & (events.event_date >= ibis.date("2026-01-20")))
    narrow = narrow.select("user_id", "amount")
    assert new[0]["scanned_bytes"] == agnes.estimate(narrow).scan_bytes
    assert sorted(t for t in new[0]["tables"]) == ["events"]
    cust = Path(ws / "data" / "_shared" / "customers.parquet")
    lake.execute(f"CREATE VIEW customers AS SELECT * FROM read_parquet('{cust}')")
    ref = lake.execute("SELECT segment, sum(amount) AS revenue FROM events JOIN customers ON user_id = customer_id "
                       "WHERE events.country = 'CZ' AND event_date >= DATE '2026-01-20' GROUP BY 1 ORDER BY 1").df()
    assert df["segment"].tolist() == ref["segment"].tolist()
    assert df["revenue"].round(4).tolist() == ref["revenue"].round(4).tolist()
    assert "agnes: scanning" in capsys.readouterr().out


def test_mixed_left_join_keeps_unmatched_rows_and_pushes_no_filter_into_the_null_side(
        ws: Path, lake: duckdb.DuckDBPyConnection) -> None:
    events = agnes.table("events")
    customers = agnes.table("customers")
    day = events.filter(events.event_date == ibis.date("2026-01-05")).select("user_id", "amount")
    joined = customers.left_join(day, customers.customer_id == day.user_id)
    expr = joined.filter(joined.amount.isnull()).aggregate(n=ibis._.count())
    n = expr.execute()["n"].iloc[0]
    cust = Path(ws / "data" / "_shared" / "customers.parquet")
    lake.execute(f"CREATE VIEW customers AS SELECT * FROM read_parquet('{cust}')")
    ref = lake.execute("SELECT count(*) FROM customers LEFT JOIN (SELECT user_id, amount FROM events WHERE "
                       "event_date = DATE '2026-01-05') d ON customer_id = user_id WHERE amount IS NULL").fetchone()
    assert n == ref[0]  # type: ignore[index]


def test_mixed_expression_needs_one_confirmation_for_the_sum(ws: Path, scans: Recorder) -> None:
    events = agnes.table("events")
    customers = agnes.table("customers")
    joined = events.join(customers, events.user_id == customers.customer_id)
    with pytest.raises(agnes.ConfirmationRequired) as info:
        joined.aggregate(**{f"max_{c}": joined[c].max() for c in events.columns}).execute()
    assert "agnes.confirm()" in (info.value.hint or "")
    assert scans.ids == []
