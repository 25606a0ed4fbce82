"""The kernel side of gated scans: ibis tables, estimates, snapshots and the workspace DuckDB,
against the live server's demo lake (events: remote, Hive-partitioned; orders/customers: local)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

import agnes_jupyter as agnes
from agnes_jupyter._workspace import workspace
from tests._live import DEMO_ROWS, LiveServer


@pytest.fixture
def ws(connected: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "workspace"
    monkeypatch.setenv("AGNES_WORKSPACE", str(root))
    return root


def test_remote_table_is_an_ibis_expression_in_the_source_dialect(ws: Path) -> None:
    import ibis

    events = agnes.table("events")
    assert "country" in events.columns
    expr = events.filter(events.country == "CZ").select("country", "amount", "event_date")
    sql = ibis.to_sql(expr, dialect="duckdb")
    assert '"events"' in sql
    est = agnes.estimate(expr)
    assert est.verdict == "ok"
    assert est.scan_bytes > 0
    assert est["tables"][0]["id"] == "events"
    assert "<div class=\"agnes-estimate\">" in est._repr_html_()


def test_estimate_prunes_partitions_so_a_narrow_filter_scans_less(ws: Path) -> None:
    events = agnes.table("events")
    full = agnes.estimate(events.select("amount"))
    one_day = agnes.estimate(events.filter(events.event_date == "2026-01-02").select("amount"))
    assert 0 < one_day.scan_bytes * 20 < full.scan_bytes


def test_confirmation_then_snapshot_join_and_refresh(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = agnes.table("events")
    with pytest.raises(agnes.ConfirmationRequired) as info:
        agnes.snapshot(events, name="all_events")
    assert info.value.estimate["verdict"] == "needs_confirmation"
    assert "confirm" in (info.value.hint or "")
    assert not (ws / "snapshots" / "all_events.parquet").exists()

    cz = events.filter(events.country == "CZ").select("user_id", "amount", "event_date")
    t = agnes.snapshot(cz, name="cz_events", progress=False)
    rows = t.count().to_pyarrow().as_py()
    assert 0 < rows < DEMO_ROWS
    meta = json.loads((ws / "snapshots" / "cz_events.meta.json").read_text())
    assert (meta["rows"], meta["truncated"], meta["tables"][0]["id"]) == (rows, False, "events")
    assert meta["estimate"]["scan_bytes"] >= meta["actual"]["scanned_bytes"] > 0

    customers = agnes.table("customers")
    import ibis

    joined = t.join(customers, t.user_id == customers.customer_id).group_by("segment").agg(n=ibis._.count())
    counts = joined.to_pyarrow().column("n").to_pylist()
    assert len(counts) > 1
    assert sum(counts) == rows  # every event's user is a customer
    assert agnes.sql("SELECT count(*) AS n FROM cz_events").to_pyarrow().column("n")[0].as_py() == rows

    assert int(agnes.snapshot(cz, name="cz_events").count().execute()) == rows  # the same query: kept
    with pytest.raises(agnes.SnapshotExists, match="already exists with a different query"):
        agnes.snapshot(cz.filter(cz.amount > 0), name="cz_events")
    report = agnes.refresh_snapshot("cz_events", progress=False)
    assert report.identical
    assert "identical content" in repr(report)
    assert [s["name"] for s in agnes.snapshots()] == ["cz_events"]
    workspace().wait_catalog_file()  # written in the background; other tools read it
    with duckdb.connect(str(ws / "workspace.duckdb"), read_only=True) as other_tool:
        assert other_tool.execute("SELECT count(*) FROM cz_events").fetchone() == (rows,)


def test_snapshot_of_the_structured_form_and_prune(ws: Path) -> None:
    agnes.snapshot({"table": "events", "select": ["country", "amount"], "where": "amount > 990",
                    "order_by": ["amount DESC"], "limit": 10}, name="top", progress=False)
    top = agnes.sql("SELECT amount FROM top").to_pyarrow().column("amount").to_pylist()
    assert len(top) == 10
    assert top == sorted(top, reverse=True)
    with pytest.raises(agnes.ValidationError, match="older_than"):
        agnes.prune_snapshots()
    assert agnes.prune_snapshots(older_than="0s", dry_run=True).names == ["top"]
    assert agnes.snapshots().names == ["top"]
    assert agnes.prune_snapshots(larger_than="1g").names == []
    assert agnes.prune_snapshots(older_than="0s").names == ["top"]
    assert agnes.snapshots().names == []


def test_rejections_raise_the_matching_exceptions(ws: Path) -> None:
    with pytest.raises(agnes.ValidationError) as info:
        agnes.estimate("SELECT * FROM read_parquet('/etc/passwd')")
    assert info.value.details["kind"] == "table_function"
    with pytest.raises(agnes.ValidationError) as info:
        agnes.estimate("SELECT nope FROM events")
    assert info.value.details["kind"] == "unknown_column"
    with pytest.raises(agnes.ValidationError, match="local tables only"):
        agnes.estimate(agnes.table("orders"))


def test_local_table_downloads_once_then_revalidates(ws: Path) -> None:
    orders = agnes.table("orders")
    assert orders.count().to_pyarrow().as_py() > 0
    path = ws / "data" / "_shared" / "orders.parquet"
    first = path.stat().st_mtime_ns
    agnes.table("orders")  # 304: the file is unchanged
    assert path.stat().st_mtime_ns == first
    state = json.loads((ws / "sync_state.json").read_text())
    assert len(state["tables"]["orders"]["md5"]) == 32


def test_disk_info_warns_over_the_cap(ws: Path) -> None:
    agnes.table("orders")
    with pytest.warns(UserWarning, match="over its"):
        info = agnes.disk_info(cap=1)
    assert info.over
    assert "OVER THE CAP" in repr(info)
    assert not agnes.disk_info().over


def test_magics_estimate_snapshot_and_cell(ws: Path, shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    shell.run_line_magic("agnes", "estimate events --select country,amount --where \"country = 'CZ'\"")
    assert "Estimate: scans" in capsys.readouterr().out
    shell.run_line_magic("agnes", "snapshot create events --select country,amount --where \"country = 'SK'\" "
                                  "--limit 100 --as sk")
    assert "snapshot 'sk': 100 rows" in capsys.readouterr().out
    with pytest.raises(agnes.SnapshotExists) as exists:
        shell.run_line_magic("agnes", "snapshot create events --select country --as sk")
    assert exists.value.one_line().startswith("SnapshotExists: snapshot 'sk' already exists with a different query (")
    assert exists.value.one_line().endswith(" old, 100 rows)")
    assert (exists.value.hint or "").startswith("pass force=True (--force)")
    with pytest.raises(agnes.ConfirmationRequired) as big:
        shell.run_line_magic("agnes", "snapshot create events --as everything")
    assert big.value.one_line().startswith("ConfirmationRequired: this scan would read ")
    assert (big.value.hint or "").startswith("Run it again with confirm=True")
    local = shell.run_cell_magic("agnes", "", "SELECT count(*) AS n FROM sk")
    assert local.to_pyarrow().column("n")[0].as_py() == 100
    remote = shell.run_cell_magic("agnes", "--remote --as de_top",
                                  "SELECT amount FROM events WHERE country = 'DE' ORDER BY amount DESC LIMIT 3")
    assert remote.count().to_pyarrow().as_py() == 3
    shell.run_line_magic("agnes", "snapshot list")
    out = capsys.readouterr().out
    assert "de_top" in out
    assert "sk" in out
    with pytest.raises(agnes.ValidationError, match="prune_snapshots needs"):
        shell.run_line_magic("agnes", "snapshot prune")
    shell.run_line_magic("agnes", "snapshot drop sk")
    assert agnes.snapshots().names == ["de_top"]
    shell.run_line_magic("agnes", "disk-info")
    assert "of 10.0 GiB" in capsys.readouterr().out
