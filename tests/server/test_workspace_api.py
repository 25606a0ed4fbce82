"""The workspace routes the JupyterLab panel uses: snapshots and sync run in the server by the
kernel library's own code, as the calling user, into the workspace where the server runs
(``$AGNES_WORKSPACE``, a tmp dir here), with progress as Server-Sent Events."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import threading
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from agnes_core.gate.limits import Limits

from .conftest import ALICE, BOB, agnes_app, assert_matches_openapi, poll

ONE_DAY = "SELECT country, amount FROM events WHERE event_date = DATE '2026-01-05'"


@pytest.fixture(autouse=True)
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The server's workspace: the owner's (in personal mode, everyone logged in to Jupyter)."""
    root = tmp_path / "workspace"
    monkeypatch.setenv("AGNES_WORKSPACE", str(root))
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    return root


def events_of(raw: str) -> list[tuple[str, Any]]:
    """(event, data) of every event in a Server-Sent Events body."""
    out = []
    for block in raw.split("\n\n"):
        lines = block.splitlines()
        event = next((line[len("event: "):] for line in lines if line.startswith("event: ")), None)
        data = next((line[len("data: "):] for line in lines if line.startswith("data: ")), None)
        if event is not None:
            out.append((event, json.loads(data or "null")))
    return out


async def follow(jp_fetch, job_id: str, token: str | None = None) -> tuple[list[tuple[str, Any]], dict[str, Any]]:
    """The job's event stream to its end: its events and the job from ``done``."""
    headers = {"Authorization": f"token {token}"} if token else {}
    response = await jp_fetch("agnes", "v1", "workspace", "jobs", job_id, "events", headers=headers,
                              request_timeout=120)
    assert response.headers["Content-Type"] == "text/event-stream"
    raw = response.body.decode()
    assert raw.startswith("retry: ")
    events = events_of(raw)
    assert [e for e, _ in events].count("done") == 1
    assert events[-1][0] == "done"
    return events, events[-1][1]


async def snapshot(api, jp_fetch, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    status, job, _ = await api("POST", "workspace/snapshots", body, token=token)
    assert status == 202, job
    assert_matches_openapi("/workspace/snapshots", "POST", status, job)
    assert (job["kind"], job["status"], job["name"]) == ("snapshot", "running", body["name"])
    _, done = await follow(jp_fetch, job["job_id"], token)
    assert done["status"] == "succeeded", done["error"]
    return done


def set_limits(jp_serverapp: Any, **values: int) -> None:
    agnes_app(jp_serverapp).core.settings.limits = dataclasses.replace(Limits(), **values)


async def test_a_snapshot_lands_in_the_workspace_with_its_lineage_as_the_caller(
        api, jp_fetch, jp_serverapp, workspace: Path) -> None:
    done = await snapshot(api, jp_fetch, {"sql": ONE_DAY, "name": "cz_day"})
    assert_matches_openapi("/workspace/jobs/{job_id}", "GET", 200, done)
    meta = done["result"]
    assert (meta["name"], meta["rows"], meta["truncated"], meta["stale"]) == ("cz_day", 500, False, False)
    assert [t["id"] for t in meta["tables"]] == ["events"]
    assert meta["actual"]["scanned_bytes"] == meta["estimate"]["scan_bytes"] > 0

    parquet = workspace / "snapshots" / "cz_day.parquet"
    assert pq.read_table(parquet).num_rows == 500
    on_disk = json.loads((workspace / "snapshots" / "cz_day.meta.json").read_text())
    assert (on_disk["sql"], on_disk["request"]) == (meta["sql"], {"sql": ONE_DAY})
    con = duckdb.connect(str(workspace / "workspace.duckdb"), read_only=True)
    try:
        assert con.execute('SELECT count(*) FROM "cz_day"').fetchone() == (500,)
    finally:
        con.close()

    status, listing, _ = await api("GET", "workspace/snapshots")
    assert status == 200
    assert_matches_openapi("/workspace/snapshots", "GET", status, listing)
    assert listing["snapshots"] == [meta]
    assert listing["disk"]["snapshots_bytes"] >= parquet.stat().st_size
    assert listing["disk"]["over"] is False

    # The scan was the caller's own: the gate audited it under their name.
    audit = agnes_app(jp_serverapp).core.audit.entries(resource=f"scan/{meta['scan_id']}")
    assert [(e["action"], e["actor"], e["outcome"]) for e in audit] == [("scan.run", "owner", "succeeded")]
    status, got, _ = await api("GET", f"workspace/jobs/{done['job_id']}")
    assert (status, got) == (200, done)


async def test_the_structured_form_of_a_scan_makes_a_snapshot_too(api, jp_fetch) -> None:
    done = await snapshot(api, jp_fetch, {"table": "events", "select": ["country", "amount"],
                                          "where": "event_date = DATE '2026-01-05'", "name": "structured"})
    assert done["result"]["rows"] == 500
    assert done["result"]["request"] == {"table": "events", "select": ["country", "amount"],
                                         "where": "event_date = DATE '2026-01-05'"}


async def test_above_the_confirm_threshold_the_answer_is_the_confirmation_envelope_not_a_job(
        api, jp_fetch, jp_serverapp, workspace: Path) -> None:
    set_limits(jp_serverapp, scan_confirm_bytes=1)
    status, body, _ = await api("POST", "workspace/snapshots", {"sql": ONE_DAY, "name": "big"})
    assert status == 409
    assert_matches_openapi("/workspace/snapshots", "POST", status, body)
    assert body["error"] == "confirmation_required"
    assert body["details"]["estimate"]["scan_bytes"] > 1
    assert "confirm" in body["hint"]
    assert not (workspace / "snapshots" / "big.parquet").exists()

    done = await snapshot(api, jp_fetch, {"sql": ONE_DAY, "name": "big", "confirm": True})
    assert done["result"]["rows"] == 500


async def test_a_refusal_of_the_gate_comes_back_as_its_own_error(api, jp_serverapp) -> None:
    status, body, _ = await api("POST", "workspace/snapshots", {"sql": "SELECT * FROM events; DROP TABLE x",
                                                                "name": "bad"})
    assert (status, body["error"], body["details"]["kind"]) == (400, "validator_rejected", "multi_statement")
    assert_matches_openapi("/workspace/snapshots", "POST", status, body)
    set_limits(jp_serverapp, scan_max_bytes=1)
    status, body, _ = await api("POST", "workspace/snapshots", {"sql": ONE_DAY, "name": "bad", "confirm": True})
    assert (status, body["error"]) == (400, "scan_too_large")
    assert_matches_openapi("/workspace/snapshots", "POST", status, body)


async def test_a_taken_name_is_snapshot_exists_until_forced(api, jp_fetch) -> None:
    await snapshot(api, jp_fetch, {"sql": ONE_DAY, "name": "taken"})
    status, body, _ = await api("POST", "workspace/snapshots", {"sql": ONE_DAY, "name": "taken"})
    assert (status, body["error"], body["details"]["same_query"]) == (409, "snapshot_exists", True)
    assert_matches_openapi("/workspace/snapshots", "POST", status, body)
    other = "SELECT country FROM events WHERE event_date = DATE '2026-01-06'"
    await snapshot(api, jp_fetch, {"sql": other, "name": "taken", "force": True})
    _, listing, _ = await api("GET", "workspace/snapshots")
    assert [s["request"] for s in listing["snapshots"]] == [{"sql": other}]


async def test_progress_arrives_as_server_sent_events_and_ends_with_done(
        api, jp_fetch, monkeypatch: pytest.MonkeyPatch) -> None:
    from agnes_jupyter import _scans

    gate = threading.Event()
    write = _scans._ParquetSink.write

    def held(self: Any, batch: Any) -> None:  # the job's thread waits here until the test saw progress
        gate.wait(60)
        write(self, batch)

    monkeypatch.setattr(_scans._ParquetSink, "write", held)
    status, job, _ = await api("POST", "workspace/snapshots", {"sql": ONE_DAY, "name": "streamed"})
    assert status == 202
    chunks: list[bytes] = []
    stream = asyncio.ensure_future(jp_fetch("agnes", "v1", "workspace", "jobs", job["job_id"], "events",
                                            streaming_callback=chunks.append, request_timeout=120))
    try:
        await poll(lambda: any(e == "progress" and d["phase"] == "scanning"
                               for e, d in events_of(b"".join(chunks).decode())), "a scanning progress event")
        status, running, _ = await api("GET", f"workspace/jobs/{job['job_id']}")
        assert (running["status"], running["progress"]["phase"], running["result"]) == ("running", "scanning", None)
        assert running["progress"]["total_bytes"] > 0  # the estimate
    finally:
        gate.set()
    await stream
    raw = b"".join(chunks).decode()
    assert raw.startswith("retry: ")
    events = events_of(raw)
    assert events[-1][0] == "done"
    assert {e for e, _ in events[:-1]} == {"progress"}
    final = events[-1][1]
    assert (final["status"], final["progress"]["phase"]) == ("succeeded", "done")
    assert final["progress"]["done_bytes"] == final["progress"]["total_bytes"] > 0


async def extract_and_subscribe(api, jp_serverapp, table: str = "orders", token: str | None = None) -> None:
    core = agnes_app(jp_serverapp).core
    await asyncio.get_running_loop().run_in_executor(None, core.extracts.execute, core.extracts.start(table))
    status, body, _ = await api("PUT", f"stack/tables/{table}", token=token)
    assert status == 200, body


async def test_a_sync_job_writes_the_tables_and_reports_what_agnes_sync_reports(
        api, jp_fetch, jp_serverapp, workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    await extract_and_subscribe(api, jp_serverapp)
    assert (await api("PUT", "stack/tables/events"))[0] == 200  # remote: it stays in the source
    status, job, _ = await api("POST", "workspace/sync", {})
    assert status == 202
    assert_matches_openapi("/workspace/sync", "POST", status, job)
    _, done = await follow(jp_fetch, job["job_id"])
    assert done["status"] == "succeeded", done["error"]
    assert_matches_openapi("/workspace/jobs/{job_id}", "GET", 200, done)
    report = done["result"]
    assert report["downloaded"] == ["orders"]
    assert report["skipped_remote"] == ["events"]
    shared = workspace / "data" / "_shared" / "orders.parquet"
    assert pq.read_metadata(shared).num_rows > 0
    assert report["bytes_downloaded"] == shared.stat().st_size
    assert json.loads((workspace / "sync_state.json").read_text())["tables"]["orders"]["origin"] == "sync"

    # The same sync by the kernel library in a notebook, into a fresh workspace, reports the same.
    import agnes_jupyter as agnes

    monkeypatch.setenv("AGNES_WORKSPACE", str(tmp_path / "kernel-workspace"))
    monkeypatch.setattr(agnes, "_default", None)
    url, token = jp_serverapp.connection_url, jp_serverapp.identity_provider.token

    def kernel_sync() -> dict[str, Any]:
        client = agnes.connect(url, token)
        try:
            return agnes.sync(progress=False).to_json()
        finally:
            client.close()

    expected = await asyncio.to_thread(kernel_sync)
    monkeypatch.setattr(agnes, "_default", None)

    def timeless(r: dict[str, Any]) -> dict[str, Any]:
        return {**r, "seconds": None, "summary": re.sub(r" in [0-9.]+ s", "", r["summary"])}

    assert timeless(report) == timeless(expected)


def hold_downloads(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Every download chunk waits until the returned event is set (a sync held mid-download)."""
    from agnes_jupyter import _download

    gate = threading.Event()
    write = _download._write_chunk

    def held(fh: Any, chunk: bytes) -> None:
        gate.wait(60)
        write(fh, chunk)

    monkeypatch.setattr(_download, "_write_chunk", held)
    return gate


async def test_one_sync_per_workspace_runs_at_a_time(
        api, jp_fetch, jp_serverapp, monkeypatch: pytest.MonkeyPatch) -> None:
    await extract_and_subscribe(api, jp_serverapp)
    gate = hold_downloads(monkeypatch)
    status, first, _ = await api("POST", "workspace/sync")
    assert status == 202
    try:
        status, body, _ = await api("POST", "workspace/sync", {"dry_run": True})
        assert (status, body["error"], body["details"]["job_id"]) == (409, "already_running", first["job_id"])
        assert_matches_openapi("/workspace/sync", "POST", status, body)
    finally:
        gate.set()
    _, done = await follow(jp_fetch, first["job_id"])
    assert done["result"]["downloaded"] == ["orders"]
    status, dry, _ = await api("POST", "workspace/sync", {"dry_run": True})
    assert status == 202
    _, done = await follow(jp_fetch, dry["job_id"])
    assert (done["result"]["dry_run"], done["result"]["unchanged"]) == (True, ["orders"])


async def test_refresh_runs_the_snapshots_own_query_again_and_drop_removes_it(
        api, jp_fetch, workspace: Path) -> None:
    first = await snapshot(api, jp_fetch, {"sql": ONE_DAY, "name": "again"})
    status, job, _ = await api("POST", "workspace/snapshots/again/refresh")
    assert status == 202
    assert_matches_openapi("/workspace/snapshots/{name}/refresh", "POST", status, job)
    assert (job["kind"], job["name"]) == ("refresh", "again")
    _, done = await follow(jp_fetch, job["job_id"])
    refreshed = done["result"]
    assert (refreshed["identical"], refreshed["rows"], refreshed["previous"]["rows"]) == (True, 500, 500)
    assert refreshed["scan_id"] != first["result"]["scan_id"]
    status, body, _ = await api("POST", "workspace/snapshots/missing/refresh")
    assert (status, body["error"]) == (404, "not_found")

    status, _, _ = await api("DELETE", "workspace/snapshots/again")
    assert status == 204
    assert not (workspace / "snapshots" / "again.parquet").exists()
    assert not (workspace / "snapshots" / "again.meta.json").exists()
    _, listing, _ = await api("GET", "workspace/snapshots")
    assert listing["snapshots"] == []
    status, body, _ = await api("DELETE", "workspace/snapshots/again")
    assert (status, body["error"]) == (404, "not_found")


async def test_a_snapshot_is_stale_once_a_table_it_read_changed_at_the_source(
        api, jp_fetch, monkeypatch: pytest.MonkeyPatch) -> None:
    from agnes_core.connectors.lake import LakeConnector

    status, _, _ = await api("POST", "admin/metadata/refresh/events")
    assert status == 200
    done = await snapshot(api, jp_fetch, {"sql": ONE_DAY, "name": "lineage"})
    rows = done["result"]["tables"][0]["rows"]
    assert rows == 30_000
    status, _, _ = await api("POST", "admin/metadata/refresh/events")  # refreshed, unchanged
    _, listing, _ = await api("GET", "workspace/snapshots")
    assert (listing["snapshots"][0]["stale"], listing["snapshots"][0]["stale_tables"]) == (False, [])

    real = LakeConnector.metadata

    def grown(self: Any, ref: Any) -> Any:
        meta = real(self, ref)
        return dataclasses.replace(meta, rows=meta.rows + 100) if meta is not None and meta.rows else meta

    monkeypatch.setattr(LakeConnector, "metadata", grown)
    status, _, _ = await api("POST", "admin/metadata/refresh/events")
    assert status == 200
    _, listing, _ = await api("GET", "workspace/snapshots")
    assert (listing["snapshots"][0]["stale"], listing["snapshots"][0]["stale_tables"]) == (True, ["events"])


@pytest.mark.parametrize("name", ["../etc", "<img src=x onerror=alert(1)>", "a/b", "1st", "", "trailing\n"])
async def test_names_that_are_not_identifiers_are_refused_with_400(api, name: str, workspace: Path) -> None:
    status, body, _ = await api("POST", "workspace/snapshots", {"sql": ONE_DAY, "name": name})
    assert (status, body["error"], body["details"]["field"]) == (400, "validation_error", "name")
    assert not workspace.exists()  # refused before anything was touched


@pytest.mark.parametrize("name", ["..", "<img src=x onerror=alert(1)>", "x.parquet", "trailing\n"])
async def test_names_in_the_path_that_are_not_identifiers_are_refused_with_400(api, name: str) -> None:
    for method, path in (("DELETE", f"workspace/snapshots/{name}"), ("POST", f"workspace/snapshots/{name}/refresh")):
        status, body, _ = await api(method, path)
        assert (status, body["error"]) == (400, "validation_error"), (method, path, body)


async def test_a_job_token_reaches_only_what_the_kernel_code_needs_and_ends_with_the_job(
        api, jp_fetch, jp_serverapp) -> None:
    app = agnes_app(jp_serverapp)
    from agnes_server.workspaces import JOB_PATHS

    token = app.in_process_tokens.issue("owner", "Owner", JOB_PATHS, 60)
    status, _, _ = await api("GET", "catalog", token=token)
    assert status == 200
    for method, path in (("GET", "me"), ("GET", "admin/users"), ("POST", "tokens"), ("GET", "workspace/snapshots")):
        status, body, _ = await api(method, path, {"name": "x"} if method == "POST" else None, token=token)
        assert (status, body["error"]) == (401, "unauthorized"), path
    app.in_process_tokens.revoke(token)
    status, _, _ = await api("GET", "catalog", token=token)
    assert status == 401

    done = await snapshot(api, jp_fetch, {"sql": ONE_DAY, "name": "tokenless"})
    assert len(app.in_process_tokens) == 0  # revoked when the job ended
    assert "agnes_inproc_" not in json.dumps(done)


class TestJobsBelongToTheirUser:
    @pytest.fixture
    def jp_server_config(self, multiuser_config: dict) -> dict:
        return multiuser_config

    async def test_another_users_job_is_404_and_workspaces_are_apart(
            self, api, jp_fetch, jp_serverapp, workspace: Path) -> None:
        status, job, _ = await api("POST", "workspace/sync", {"dry_run": True}, token=ALICE)
        assert status == 202
        _, done = await follow(jp_fetch, job["job_id"], ALICE)
        assert done["status"] == "succeeded", done["error"]
        for path in (f"workspace/jobs/{job['job_id']}", f"workspace/jobs/{job['job_id']}/events"):
            status, body, _ = await api("GET", path, token=BOB)
            assert (status, body["error"]) == (404, "not_found"), path
        status, missing, _ = await api("GET", "workspace/jobs/" + "0" * 32, token=BOB)
        assert missing["message"].replace("0" * 32, "X") == body["message"].replace(job["job_id"], "X")
        status, _, _ = await api("GET", f"workspace/jobs/{job['job_id']}", token=ALICE)
        assert status == 200

        await snapshot(api, jp_fetch, {"sql": ONE_DAY, "name": "alices"}, token=ALICE)
        _, alices, _ = await api("GET", "workspace/snapshots", token=ALICE)
        _, bobs, _ = await api("GET", "workspace/snapshots", token=BOB)
        assert ([s["name"] for s in alices["snapshots"]], bobs["snapshots"]) == (["alices"], [])
        # Neither is the server's owner: each has a folder of their own under the server's workspace.
        [parquet] = (workspace / "users").glob("alice-*/snapshots/alices.parquet")
        assert parquet.is_file()
        assert not (workspace / "snapshots" / "alices.parquet").exists()
        status, body, _ = await api("DELETE", "workspace/snapshots/alices", token=BOB)
        assert (status, body["error"]) == (404, "not_found")
        assert parquet.is_file()


async def test_stopping_the_server_stops_running_jobs_and_their_threads(
        api, jp_serverapp, monkeypatch: pytest.MonkeyPatch) -> None:
    await extract_and_subscribe(api, jp_serverapp)
    gate = hold_downloads(monkeypatch)
    status, started, _ = await api("POST", "workspace/sync")
    assert status == 202
    jobs = agnes_app(jp_serverapp).workspaces
    job = jobs.get(started["job_id"], "owner")
    await poll(lambda: job.progress["phase"] == "downloading", "the download to start")
    stopping = asyncio.ensure_future(jp_serverapp.extension_manager.stop_all_extensions())
    await poll(job.cancelled.is_set, "the job to be told to stop")
    gate.set()  # the download goes on to its next chunk, where the job learns it was stopped
    await stopping
    await poll(lambda: job.status != "running", "the job to end")
    assert (job.status, job.error["error"] if job.error else None) == ("failed", "unavailable")
    assert not [t.name for t in threading.enumerate() if t.name.startswith("agnes-workspace-job") and t.is_alive()]
