"""The gate in the core: the daily budget survives a restart, concurrency is per user, a failed
scan that read nothing is refunded, and lake estimates never undercount pruned reads."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from agnes_core.access.principals import Principal
from agnes_core.core import AgnesCore
from agnes_core.demo import demo_source, demo_tables
from agnes_core.errors import QuotaExceeded
from agnes_core.gate.limits import Limits

ANN = Principal("ann", "Ann", frozenset({"Everyone"}), is_admin=True)
ONE_DAY = {"sql": "SELECT country, amount FROM events WHERE event_date = DATE '2026-01-05'"}


def open_core(data: Path, lake: Path, **limits: int) -> AgnesCore:
    core = AgnesCore(data)
    if not core.registry.list_sources():
        core.registry.add_source(demo_source(lake))
        for body in demo_tables():
            core.registry.register_table(body)
    core.settings.limits = dataclasses.replace(Limits(), **limits)
    return core


def run_to_end(core: AgnesCore, body: dict) -> int:
    run = core.scans.start(ANN, body)
    run.open()
    rows = 0
    while (batch := run.next_batch()) is not None:
        rows += batch.num_rows
    run.finish("succeeded")
    return rows


def test_daily_budget_is_kept_across_a_restart(tmp_path: Path, demo_lake: Path) -> None:
    core = open_core(tmp_path / "data", demo_lake)
    one = core.scans.estimate(ANN, ONE_DAY)["scan_bytes"]
    core.settings.limits = dataclasses.replace(Limits(), daily_scan_bytes_per_user=one * 2)
    assert run_to_end(core, ONE_DAY) > 0
    assert run_to_end(core, ONE_DAY) > 0
    core.close()

    restarted = open_core(tmp_path / "data", demo_lake, daily_scan_bytes_per_user=one * 2)
    try:
        with pytest.raises(QuotaExceeded) as info:
            restarted.scans.start(ANN, ONE_DAY)
        assert (info.value.details["kind"], info.value.details["current"]) == ("daily_bytes", one * 2)
        assert restarted.scans.usage("ann")["scanned_bytes"] == one * 2
        assert restarted.scans.usage("bob")["scanned_bytes"] == 0
    finally:
        restarted.close()


def test_concurrent_scans_are_limited_per_user(tmp_path: Path, demo_lake: Path) -> None:
    core = open_core(tmp_path / "data", demo_lake, max_concurrent_scans_per_user=1)
    try:
        first = core.scans.start(ANN, ONE_DAY)
        with pytest.raises(QuotaExceeded) as info:
            core.scans.start(ANN, ONE_DAY)
        assert (info.value.details["kind"], info.value.details["limit"]) == ("concurrent_scans", 1)
        first.finish("cancelled", "test")
        assert run_to_end(core, ONE_DAY) == 1000  # 60,000 rows over 60 days
    finally:
        core.close()


def test_a_scan_that_fails_before_reading_is_refunded(tmp_path: Path, demo_lake: Path) -> None:
    core = open_core(tmp_path / "data", demo_lake)
    try:
        run = core.scans.start(ANN, ONE_DAY)
        assert core.scans.usage("ann")["scanned_bytes"] > 0  # reserved at admission
        run.finish("failed", "source went away")
        assert core.scans.usage("ann")["scanned_bytes"] == 0
        record = core.scans.get(ANN, run.scan_id)
        assert (record["status"], record["error"]) == ("failed", "source went away")
    finally:
        core.close()


def test_scans_left_running_by_a_dead_process_are_marked_failed(tmp_path: Path, demo_lake: Path) -> None:
    core = open_core(tmp_path / "data", demo_lake)
    scan_id = core.scans.start(ANN, ONE_DAY).scan_id
    core.close()  # the process "dies" with the scan running
    again = open_core(tmp_path / "data", demo_lake)
    try:
        assert again.scans.get(ANN, scan_id)["status"] == "failed"
    finally:
        again.close()


@pytest.mark.parametrize("where", [
    "event_date = DATE '2026-01-05'",
    "event_date BETWEEN DATE '2026-01-10' AND DATE '2026-01-20'",
    "country = 'CZ'",
    "country IN ('CZ', 'SK') AND event_date >= DATE '2026-02-01'",
    "amount > 500 OR country = 'DE'",
])
def test_lake_estimate_never_undercounts_the_row_groups_that_match(tmp_path: Path, demo_lake: Path,
                                                                    where: str) -> None:
    """The estimate's row groups include every row group holding a matching row (found by reading)."""
    import duckdb

    core = open_core(tmp_path / "data", demo_lake)
    try:
        est = core.scans.estimate(ANN, {"sql": f"SELECT user_id FROM events WHERE {where}"})
        con = duckdb.connect()
        matching = con.execute(
            "SELECT count(DISTINCT (filename, file_row_number // 10240)) FROM read_parquet(?, hive_partitioning=true, "
            f"filename=true, file_row_number=true) WHERE {where}", [str(demo_lake / "events" / "**" / "*.parquet")],
        ).fetchone()[0]
        assert est["detail"][0]["row_groups"] >= matching > 0
    finally:
        core.close()


def test_a_query_the_source_cannot_estimate_always_needs_confirmation(tmp_path: Path, demo_lake: Path) -> None:
    """A materialized table is inlined as its SQL, which the lake cannot estimate from footers:
    the gate does not guess 0 bytes and let it through — it asks for confirmation."""
    from agnes_core.errors import ConfirmationRequired

    core = open_core(tmp_path / "data", demo_lake)
    try:
        sql = (f"SELECT country, count(*) AS events FROM read_parquet('{demo_lake}/events/**/*.parquet') "
               "GROUP BY country")
        core.registry.register_table({"id": "events_by_country", "source": "demo", "query_mode": "materialized",
                                      "sql": sql})
        body = {"sql": "SELECT country, events FROM events_by_country WHERE events > 0"}
        estimate = core.scans.estimate(ANN, body)
        assert estimate["verdict"] == "needs_confirmation"
        assert estimate["method"].startswith("unavailable")
        with pytest.raises(ConfirmationRequired):
            core.scans.start(ANN, body)
        assert run_to_end(core, {**body, "confirm": True}) == 20  # 20 countries, inlined and run
    finally:
        core.close()


def test_limits_an_admin_sets_at_run_time_survive_a_restart(tmp_path: Path, demo_lake: Path) -> None:
    core = open_core(tmp_path / "data", demo_lake)
    core.update_gate_settings({"limits": {"daily_scan_bytes_per_user": 777}}, "ann")
    assert core.settings.limits.daily_scan_bytes_per_user == 777
    core.close()

    restarted = AgnesCore(tmp_path / "data")
    try:
        assert restarted.settings.limits.daily_scan_bytes_per_user == 777
        assert restarted.gate_settings()["overrides"] == {"daily_scan_bytes_per_user": 777}
        restarted.update_gate_settings({"limits": {"daily_scan_bytes_per_user": None}}, "ann")
        assert restarted.settings.limits.daily_scan_bytes_per_user == Limits().daily_scan_bytes_per_user
    finally:
        restarted.close()
