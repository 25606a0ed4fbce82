"""Discovery routes: catalog, schema, sample, metadata status, refresh and the warm-up stream."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import ALICE, BOB, agnes_app, assert_matches_openapi


async def until(predicate, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)  # polling with a deadline


async def test_catalog_has_every_field_and_validates(api, jp_serverapp) -> None:
    await agnes_app(jp_serverapp).core.refresher.run(agnes_app(jp_serverapp).core.refresher.claim("refresh"))
    status, body, response = await api("GET", "catalog")
    assert status == 200
    assert_matches_openapi("/catalog", "GET", status, body)
    events = next(t for t in body["tables"] if t["id"] == "events")
    assert (events["freshness"], events["rows"], events["partition_by"]) == ("fresh", 30_000, ["event_date"])
    assert response.headers["Server-Timing"].startswith("app;dur=")
    status, body, _ = await api("GET", "catalog", params={"mode": "sideways"})
    assert status == 400
    assert body["details"]["field"] == "mode"


async def test_schema_and_sample(api) -> None:
    status, schema, _ = await api("GET", "tables/events/schema")
    assert status == 200
    assert_matches_openapi("/tables/{id}/schema", "GET", status, schema)
    status, sample, _ = await api("GET", "tables/events/sample", params={"n": "7"})
    assert status == 200
    assert len(sample["rows"]) == 7
    assert sample["origin"] == "source"
    assert_matches_openapi("/tables/{id}/sample", "GET", status, sample)
    status, default, _ = await api("GET", "tables/customers/sample")
    assert status == 200
    assert default["n"] == 5
    for bad in ("0", "101", "x", "-1"):
        status, body, _ = await api("GET", "tables/events/sample", params={"n": bad})
        assert status == 400, bad
        assert body["details"]["field"] == "n", bad
    status, body, _ = await api("GET", "tables/nope/sample")
    assert status == 404


async def test_metadata_status_lists_never_fetched_tables(api) -> None:
    status, body, _ = await api("GET", "metadata/status")
    assert status == 200
    assert_matches_openapi("/metadata/status", "GET", status, body)
    assert [(t["table_id"], t["freshness"]) for t in body["tables"]] == [("events", "never_fetched")]
    assert body["fresh_threshold_seconds"] == 2 * body["interval_seconds"]


async def test_refresh_all_is_single_flight_and_reports_totals(api, jp_serverapp) -> None:
    refresher = agnes_app(jp_serverapp).core.refresher
    run = refresher.claim("refresh")
    status, body, _ = await api("POST", "admin/metadata/refresh")
    assert status == 409
    assert body["error"] == "already_running"
    assert body["details"]["run_id"] == run.run_id
    assert body["details"]["started_at"]
    await refresher.run(run)
    status, totals, _ = await api("POST", "admin/metadata/refresh")
    assert status == 200
    assert_matches_openapi("/admin/metadata/refresh", "POST", status, totals)
    assert (totals["total"], totals["succeeded"], totals["failed"]) == (1, 1, 0)


async def test_refresh_one(api) -> None:
    status, body, _ = await api("POST", "admin/metadata/refresh/events")
    assert status == 200
    assert body["state"] == "fresh"
    assert body["metadata"]["rows"] == 30_000
    status, body, _ = await api("POST", "admin/metadata/refresh/nope")
    assert status == 404
    status, body, _ = await api("POST", "admin/metadata/refresh/orders")
    assert status == 409  # the table's mode is in the way, not the request
    assert body["error"] == "not_remote"


async def test_warmup_state_and_stream(api, jp_fetch) -> None:
    status, state, _ = await api("GET", "admin/warmup")
    assert (status, state) == (200, {"status": "never_run"})
    chunks: list[bytes] = []
    stream = jp_fetch("agnes", "v1", "admin", "warmup", "stream", streaming_callback=chunks.append,
                      request_timeout=120)
    await until(lambda: b"event: snapshot" in b"".join(chunks))
    status, started, _ = await api("POST", "admin/warmup")
    assert status == 202
    assert started["status"] == "running"
    response = await stream  # the stream ends after `complete`
    assert response.code == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    events = _parse_sse(b"".join(chunks).decode())
    names = [e for e, _ in events]
    assert names[0] == "snapshot"
    assert names[1] == "start"
    assert names[-1] == "complete"
    start = next(d for e, d in events if e == "start")
    rows = start["rows"] + [d for e, d in events if e == "row"]
    for table_id in ("orders", "customers", "events"):
        assert [r["state"] for r in rows if r["table_id"] == table_id] == ["pending", "warming", "fresh"]
    assert all(r["ms"] is not None for r in rows if r["state"] == "fresh")
    status, state, _ = await api("GET", "admin/warmup")
    assert state["status"] == "complete"
    assert state["total"] == 3
    assert_matches_openapi("/admin/warmup", "GET", status, state)


async def test_posting_warmup_while_one_runs_returns_that_run(api, jp_serverapp) -> None:
    refresher = agnes_app(jp_serverapp).core.refresher
    run = refresher.claim("warmup")
    status, body, _ = await api("POST", "admin/warmup")
    assert status == 200
    assert body["run_id"] == run.run_id
    await refresher.run(run)


def _parse_sse(text: str) -> list[tuple[str, Any]]:
    out = []
    for block in text.split("\n\n"):
        lines = [ln for ln in block.splitlines() if ln and not ln.startswith(":")]
        event = next((ln[7:] for ln in lines if ln.startswith("event: ")), None)
        data = next((ln[6:] for ln in lines if ln.startswith("data: ")), None)
        if event and data is not None:
            out.append((event, json.loads(data)))
    return out


class TestTeamServer:
    @pytest.fixture
    def jp_server_config(self, multiuser_config: dict) -> dict:
        return multiuser_config

    async def test_a_revoked_table_disappears_even_when_cached(self, api) -> None:
        await api("GET", "me", token=BOB)
        _, grant, _ = await api("POST", "admin/grants", {"group": "Everyone", "resource_id": "events"}, token=ALICE)
        for path in ("tables/events/schema", "tables/events/sample"):
            status, _, _ = await api("GET", path, token=BOB)  # cached now
            assert status == 200
        _, catalog, _ = await api("GET", "catalog", token=BOB)
        assert [t["id"] for t in catalog["tables"]] == ["events"]
        await api("DELETE", f"admin/grants/{grant['id']}", token=ALICE)
        for path in ("tables/events/schema", "tables/events/sample"):
            status, _body, _ = await api("GET", path, token=BOB)
            assert status == 404, path
        _, catalog, _ = await api("GET", "catalog", token=BOB)
        assert catalog["tables"] == []
        _, status_body, _ = await api("GET", "metadata/status", token=BOB)
        assert status_body["tables"] == []


class TestBackground:
    @pytest.fixture
    def jp_server_config(self, jp_server_config: dict) -> dict:
        jp_server_config["AgnesApp"]["scheduler_interval_seconds"] = 0
        return jp_server_config

    async def test_warmup_at_start_and_rewarm_after_registration(self, api, jp_serverapp, demo_lake_path: Path,
                                                                isolated_kernel_env: None) -> None:
        core = agnes_app(jp_serverapp).core
        await jp_serverapp.extension_manager.start_all_extensions()  # warm-up starts in the background
        await until(lambda: core.refresher.snapshot("warmup")["status"] == "complete")
        assert core.metadata.get("events") is not None
        status, _, _ = await api("POST", "admin/tables", {"id": "events2", "source": "demo",
                                                          "source_table": "events", "query_mode": "remote"})
        assert status == 201
        await until(lambda: core.metadata.get("events2") is not None)  # re-warmed, nobody asked
        _, catalog, _ = await api("GET", "catalog", params={"search": "events2"})
        assert catalog["tables"][0]["freshness"] == "fresh"
        await jp_serverapp.extension_manager.stop_all_extensions()
