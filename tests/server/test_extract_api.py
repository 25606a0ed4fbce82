"""Extracts through the API and the scheduler."""

from __future__ import annotations

import asyncio

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from .conftest import agnes_app, assert_matches_openapi


async def test_extract_starts_in_the_background_and_is_single_flight(api, jp_serverapp) -> None:
    app = agnes_app(jp_serverapp)
    state = app.core.extracts.start("orders")  # as if a scheduled run were already going
    status, body, _ = await api("POST", "admin/tables/orders/extract")
    assert status == 409
    assert body["error"] == "already_running"
    assert body["details"]["run_id"] == state.run_id
    await asyncio.get_running_loop().run_in_executor(None, app.core.extracts.execute, state)

    status, run, response = await api("POST", "admin/tables/orders/extract")
    assert status == 202
    assert run["status"] == "running"
    assert_matches_openapi("/admin/tables/{id}/extract", "POST", status, run)
    location = response.headers["Location"].split("agnes/v1/", 1)[1]
    deadline = asyncio.get_running_loop().time() + 60
    while run["status"] == "running":
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)  # polling the run with a deadline
        status, run, _ = await api("GET", location)
    assert run["status"] == "succeeded"
    assert_matches_openapi("/admin/tables/{id}/runs/{run_id}", "GET", status, run)


async def test_remote_tables_are_not_extracted(api) -> None:
    status, body, _ = await api("POST", "admin/tables/events/extract")
    assert status == 409  # the table's mode is in the way, not the request
    assert body["details"]["field"] == "query_mode"


async def test_admin_table_list_shows_the_last_run_and_its_error(api) -> None:
    await api("POST", "admin/tables", {"id": "broken", "source": "demo", "source_table": "missing_file"})
    _, run, _ = await api("POST", "admin/tables/broken/extract", params={"wait": "true"})
    assert run["status"] == "failed"
    _, listing, _ = await api("GET", "admin/tables")
    broken = next(t for t in listing["tables"] if t["id"] == "broken")
    assert broken["last_run"]["status"] == "failed"
    assert "missing_file" in broken["last_run"]["error"]


async def test_scheduler_runs_due_extracts_records_schema_changes_and_retries(api, jp_serverapp,
                                                                            demo_lake_path, tmp_path) -> None:
    app = agnes_app(jp_serverapp)
    lake = tmp_path / "lake2"
    lake.mkdir()
    pq.write_table(pa.table({"a": [1, 2]}), lake / "t.parquet")
    await api("POST", "admin/sources", {"name": "lake2", "type": "lake", "options": {"path": str(lake)}})
    await api("POST", "admin/tables", {"id": "t", "source": "lake2", "source_table": "t", "schedule": "every 1m"})
    await api("POST", "admin/tables", {"id": "gone", "source": "lake2", "source_table": "gone",
                                       "schedule": "every 1m"})
    due = await app.scheduler.tick()
    assert {"t", "gone", "orders", "customers"} <= set(due)  # never run: due now
    await app.scheduler.idle()
    runs = {tid: app.core.extracts.runs(tid)[0] for tid in ("t", "gone")}
    assert runs["t"]["status"] == "succeeded"
    assert runs["t"]["trigger"] == "schedule"
    assert runs["gone"]["status"] == "failed"

    pq.write_table(pa.table({"a": [1, 2, 3], "b": ["x", "y", "z"]}), lake / "t.parquet")
    due = await app.scheduler.tick()
    assert "gone" in due
    assert "t" not in due
    await app.scheduler.idle()
    await api("POST", "admin/tables/t/extract", params={"wait": "true"})
    _, history, _ = await api("GET", "admin/tables/t/runs")
    assert history["schema_changes"][0]["added"] == ["b"]


@pytest.fixture
def scheduler_config(jp_server_config: dict) -> dict:
    jp_server_config["AgnesApp"]["scheduler_interval_seconds"] = 0.05
    return jp_server_config


class TestSchedulerLifecycle:
    @pytest.fixture
    def jp_server_config(self, scheduler_config: dict) -> dict:
        return scheduler_config

    async def test_starts_with_the_extension_runs_on_its_own_and_stops_cleanly(self, jp_serverapp,
                                                                              isolated_kernel_env: None) -> None:
        app = agnes_app(jp_serverapp)
        assert app.scheduler._loop_task is None
        await jp_serverapp.extension_manager.start_all_extensions()
        assert app.scheduler._loop_task is not None
        deadline = asyncio.get_running_loop().time() + 60
        while not app.core.extracts.last_success().get("orders"):
            assert asyncio.get_running_loop().time() < deadline, "the scheduler never ran the due extract"
            await asyncio.sleep(0.05)  # polling for the background run, with a deadline
        await jp_serverapp.extension_manager.stop_all_extensions()
        assert app.scheduler._loop_task is None


class TestSchedulerDisabled:
    @pytest.fixture
    def jp_server_config(self, jp_server_config: dict) -> dict:
        jp_server_config["AgnesApp"]["scheduler_interval_seconds"] = 0
        return jp_server_config

    async def test_interval_zero_disables_it(self, jp_serverapp, isolated_kernel_env: None) -> None:
        await jp_serverapp.extension_manager.start_all_extensions()
        assert agnes_app(jp_serverapp).scheduler._loop_task is None
