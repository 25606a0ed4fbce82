"""Catalog, schema, sample, metadata cache and refresh in the core."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from agnes_core.access.principals import EVERYONE, Principal
from agnes_core.connectors.lake import LakeConnector
from agnes_core.core import AgnesCore, CoreSettings
from agnes_core.discovery.metadata import fresh_threshold, freshness
from agnes_core.errors import AlreadyRunning, NotFound, NotRemote
from agnes_core.store.state import utcnow


@pytest.fixture
def core(tmp_path: Path, demo_lake: Path):
    c = AgnesCore(tmp_path / "data", settings=CoreSettings(metadata_refresh_interval_s=3600, metadata_timeout_s=2))
    c.registry.add_source({"name": "demo", "type": "lake", "options": {"path": str(demo_lake)}})
    c.registry.register_table({"id": "orders", "source": "demo", "source_table": "orders", "schedule": "every 6h",
                               "description": "All orders"})
    c.registry.register_table({"id": "events", "source": "demo", "source_table": "events", "query_mode": "remote"})
    yield c
    c.close()


ADMIN = Principal("admin", "Admin", frozenset({EVERYONE}), True)


def refresh_all(core: AgnesCore, kind: str = "refresh"):
    return asyncio.run(core.refresher.run(core.refresher.claim(kind)))


class CountingSource:
    """Wraps core.connector to count (and optionally hang) source calls."""

    def __init__(self, core: AgnesCore, hang: threading.Event | None = None) -> None:
        self.calls = 0
        self.real = core.connector
        self.hang = hang

    def __call__(self, name: str):
        self.calls += 1
        if self.hang is not None:
            self.hang.wait(30)
        return self.real(name)


def test_freshness_classes_and_the_inclusive_boundary() -> None:
    now = utcnow()
    threshold = fresh_threshold(3600)
    assert threshold == 7200
    assert freshness(now - timedelta(seconds=7200), None, now, threshold) == "fresh"
    assert freshness(now - timedelta(seconds=7200, microseconds=1), None, now, threshold) == "stale"
    assert freshness(None, now, now, threshold) == "error"
    assert freshness(None, None, now, threshold) == "never_fetched"
    assert freshness(now - timedelta(seconds=10), now, now, threshold) == "fresh"  # last good still counts


def test_catalog_entries_for_local_and_remote_tables(core: AgnesCore) -> None:
    core.extracts.run("orders")
    refresh_all(core)
    by_id = {e["id"]: e for e in core.catalog.entries(ADMIN)}
    orders, events = by_id["orders"], by_id["events"]
    assert (orders["rows"], orders["freshness"], orders["sql_flavor"]) == (250_000, "fresh", "duckdb")
    assert orders["updated"] is not None
    assert orders["size_bytes"] > 0
    assert (events["rows"], events["freshness"], events["entity_type"]) == (60_000, "fresh", "partitioned_table")
    assert events["partition_by"] == ["event_date"]
    assert events["clustered_by"] == ["country"]
    # the demo's last partition is 2026-03-01 (60 days); the example covers its last week
    assert events["where_examples"] == ["event_date >= CAST('2026-02-23' AS DATE)", "country = 'AT'",
                                        "event_date >= CAST('2026-02-23' AS DATE) AND country = 'AT'"]
    assert set(orders) == set(events)


def test_catalog_never_calls_a_source(core: AgnesCore, monkeypatch: pytest.MonkeyPatch) -> None:
    refresh_all(core)
    counter = CountingSource(core)
    monkeypatch.setattr(core, "connector", counter)
    core.catalog.invalidate(None)
    for _ in range(3):
        core.catalog.response(ADMIN)
        core.catalog.entries(ADMIN, search="order")
    assert counter.calls == 0


def test_search_covers_column_names_and_filters_combine(core: AgnesCore) -> None:
    refresh_all(core)
    assert [e["id"] for e in core.catalog.entries(ADMIN, search="session_id")] == ["events"]
    assert [e["id"] for e in core.catalog.entries(ADMIN, search="ALL ORDERS")] == ["orders"]
    assert [e["id"] for e in core.catalog.entries(ADMIN, mode="remote", source="demo")] == ["events"]
    assert core.catalog.entries(ADMIN, package="nothing") == []


def test_catalog_follows_grants_on_the_next_request(core: AgnesCore) -> None:
    core.access.create_user({"username": "ann"}, None)
    ann = core.access.principal("ann")
    assert core.catalog.entries(ann) == []
    grant = core.access.create_grant({"group": EVERYONE, "resource_id": "events"}, None,
                                     resource_exists=lambda t, i: True)
    assert [e["id"] for e in core.catalog.entries(ann)] == ["events"]
    core.access.delete_grant(grant["id"])
    assert core.catalog.entries(ann) == []


def test_registry_changes_reach_the_catalog_at_once(core: AgnesCore) -> None:
    core.catalog.entries(ADMIN)  # build the index
    core.registry.register_table({"id": "customers", "source": "demo", "source_table": "customers"})
    assert "customers" in {e["id"] for e in core.catalog.entries(ADMIN)}
    core.registry.update_table("customers", {"description": "People"}, partial=True)
    assert next(e for e in core.catalog.entries(ADMIN) if e["id"] == "customers")["description"] == "People"
    core.registry.delete_table("customers")
    assert "customers" not in {e["id"] for e in core.catalog.entries(ADMIN)}


def test_updating_a_table_flushes_its_metadata_schema_and_sample(core: AgnesCore) -> None:
    refresh_all(core)
    table = core.registry.get_table("events")
    core.discovery.schema(table)
    core.discovery.sample(table, 3)
    assert core.metadata.get("events") is not None
    assert len(core.discovery.schemas) == 1
    core.registry.update_table("events", {"folder": "Elsewhere"}, partial=True)
    assert core.metadata.get("events") is None
    assert len(core.discovery.schemas) == 0
    assert len(core.discovery.samples) == 0


def test_a_failed_refresh_keeps_the_last_good_numbers(core: AgnesCore, tmp_path: Path, demo_lake: Path) -> None:
    refresh_all(core)
    before = core.metadata.get("events")
    assert before is not None
    assert before.rows == 60_000
    core.registry.update_source("demo", {"options": {"path": str(tmp_path / "gone")}}, partial=True)
    # the update flushed metadata (its address changed); put the good row back as if it were older
    core.metadata.record_success("events", LakeConnector("demo", {"path": str(demo_lake)}).metadata(
        core.table_ref(core.registry.get_table("events"))), "duckdb")
    run = refresh_all(core)
    assert run.totals()["failed"] == 1
    after = core.metadata.get("events")
    assert after is not None
    assert (after.rows, after.partition_by) == (60_000, ["event_date"])
    assert after.error_at is not None
    assert "does not exist" in (after.error_msg or "")
    entry = next(e for e in core.catalog.entries(ADMIN) if e["id"] == "events")
    assert (entry["rows"], entry["freshness"]) == (60_000, "fresh")


def test_a_table_that_never_refreshed_shows_error(core: AgnesCore, tmp_path: Path) -> None:
    core.registry.update_source("demo", {"options": {"path": str(tmp_path / "gone")}}, partial=True)
    refresh_all(core)
    entry = next(e for e in core.catalog.entries(ADMIN) if e["id"] == "events")
    assert (entry["freshness"], entry["rows"]) == ("error", None)


def test_refresh_is_single_flight(core: AgnesCore) -> None:
    run = core.refresher.claim("refresh")
    with pytest.raises(AlreadyRunning) as err:
        core.refresher.claim("warmup")
    assert err.value.details["run_id"] == run.run_id
    assert err.value.details["started_at"]
    asyncio.run(core.refresher.run(run))
    core.refresher.claim("refresh")  # free again


def test_a_hanging_source_times_out_without_holding_the_run(core: AgnesCore, monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    monkeypatch.setattr(core.refresher, "connector_for", CountingSource(core, hang=release))
    try:
        run = refresh_all(core)
    finally:
        release.set()
    assert run.rows["events"].state == "error"
    assert run.rows["events"].error == "timed out after 2 s"
    assert run.duration_ms is not None
    assert run.duration_ms < 30_000
    assert core.metadata.get("events").error_msg == "timed out after 2 s"  # type: ignore[union-attr]


def test_warmup_fills_schema_caches_and_streams_row_states(core: AgnesCore) -> None:
    async def go() -> list[dict]:
        queue = core.refresher.subscribe()
        await core.refresher.run(core.refresher.claim("warmup"))
        events = []
        while not queue.empty():
            events.append(queue.get_nowait())
        return events

    events = asyncio.run(go())
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start"
    assert kinds[-1] == "complete"
    states = [(e["data"]["table_id"], e["data"]["state"]) for e in events if e["event"] == "row"]
    for table_id in ("orders", "events"):
        mine = [s for t, s in states if t == table_id]
        assert mine == ["warming", "fresh"], (table_id, mine)
    assert len(core.discovery.schemas) == 2
    assert core.refresher.snapshot("warmup")["status"] == "complete"


def test_refresh_one(core: AgnesCore) -> None:
    with pytest.raises(NotFound):
        asyncio.run(core.refresher.refresh_one("nope"))
    with pytest.raises(NotRemote):
        asyncio.run(core.refresher.refresh_one("orders"))
    result = asyncio.run(core.refresher.refresh_one("events"))
    assert result["state"] == "fresh"
    assert result["metadata"]["rows"] == 60_000


def test_schema_marks_layout_and_gives_dialect_hints(core: AgnesCore) -> None:
    refresh_all(core)
    schema = core.discovery.schema(core.registry.get_table("events"))
    cols = {c["name"]: c for c in schema["columns"]}
    assert cols["event_date"]["partition"] is True
    assert cols["country"]["cluster_position"] == 1
    assert schema["dialect"]["name"] == "duckdb"
    assert schema["dialect"]["where_examples"]


def test_sample_of_a_local_table_comes_from_its_extract(core: AgnesCore, monkeypatch: pytest.MonkeyPatch) -> None:
    core.extracts.run("orders")
    counter = CountingSource(core)
    monkeypatch.setattr(core.discovery, "connector_for", counter)
    sample = core.discovery.sample(core.registry.get_table("orders"), 3)
    assert sample["origin"] == "extract"
    assert len(sample["rows"]) == 3
    assert counter.calls == 0
    assert isinstance(sample["rows"][0]["amount"], float)


def test_sample_of_a_remote_table_is_cached(core: AgnesCore, monkeypatch: pytest.MonkeyPatch) -> None:
    counter = CountingSource(core)
    monkeypatch.setattr(core.discovery, "connector_for", counter)
    table = core.registry.get_table("events")
    first = core.discovery.sample(table, 4)
    second = core.discovery.sample(table, 4)
    assert first == second
    assert first["origin"] == "source"
    assert len(first["rows"]) == 4
    assert counter.calls == 1
    assert isinstance(first["rows"][0]["event_date"], str)


def test_a_schema_computed_while_its_table_changes_is_not_kept(core: AgnesCore,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    discovery = core.discovery
    compute = type(discovery)._schema
    stale = core.registry.get_table("events")

    def racing(self: object, table: object) -> dict:
        found = compute(discovery, table)
        # The admin describes the table while this (slow) computation still has the old one.
        core.registry.update_table("events", {"column_descriptions": {"country": "where"}}, partial=True)
        return found

    monkeypatch.setattr(type(discovery), "_schema", racing)
    before = discovery.schema(stale)
    assert next(c for c in before["columns"] if c["name"] == "country")["description_origin"] != "admin"
    monkeypatch.setattr(type(discovery), "_schema", compute)
    after = discovery.schema(core.registry.get_table("events"))
    assert next(c for c in after["columns"] if c["name"] == "country")["description"] == "where"
