"""A source that hangs cannot hang the server: a hung call is stopped at its deadline and frees its
worker, and SIGTERM stops a server whose metadata, sample and discovery calls hang (connecting to a
server that never answers, and mid-query on a locked table of the real PostgreSQL the tests start)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._hanging import HANG_ENV, HANG_TRAITS, SILENT_ENV, HungCalls, SilentServer, hold_lock, make_hang_db, register
from tests._live import LiveServer
from tests._pg import PgCluster

from .conftest import _base_config, assert_matches_openapi

pytestmark = pytest.mark.timeout(300)  # without the fix the hung calls never end


@pytest.fixture
def silent(monkeypatch: pytest.MonkeyPatch) -> Iterator[SilentServer]:
    server = SilentServer()
    monkeypatch.setenv(SILENT_ENV, server.dsn)
    yield server
    server.close()


@pytest.fixture
def jp_server_config(agnes_data_dir: Path, silent: SilentServer) -> dict[str, Any]:
    """One worker thread for requests; source calls allowed 1.5 s."""
    register(agnes_data_dir)
    config = _base_config(agnes_data_dir)
    config["AgnesApp"].update({"worker_threads": 1, "source_timeout_seconds": 1.5, "warmup_on_start": False,
                               "metadata_refresh_interval_seconds": 0, "scheduler_interval_seconds": 0})
    return config


async def test_a_hung_call_is_stopped_at_its_deadline_and_frees_its_worker(api: Any, silent: SilentServer) -> None:
    # Three samples of a source that never answers and a schema of the lake, all at once, on a
    # server with one worker thread: each hung sample gives its worker back at its deadline.
    hung = [api("GET", "tables/silent_t/sample") for _ in range(3)]
    results = await asyncio.gather(*hung, api("GET", "tables/events/schema"))
    for status, body, _ in results[:3]:
        assert status == 504, body
        assert body["error"] == "source_timeout"
        assert body["message"] == "postgres source 'silent' did not answer (sample) within 1.5 s; the call was stopped"
        assert_matches_openapi("/tables/{id}/sample", "get", status, body)
    status, schema, _ = results[3]
    assert status == 200
    assert schema["id"] == "events"
    assert schema["columns"]
    assert len(silent.accepted) >= 3  # each sample did reach the source


def test_sigterm_stops_a_server_whose_metadata_sample_and_discovery_calls_hang(
        tmp_path: Path, pg_cluster: PgCluster, silent: SilentServer, monkeypatch: pytest.MonkeyPatch) -> None:
    hang_dsn = make_hang_db(pg_cluster)
    monkeypatch.setenv(HANG_ENV, hang_dsn)
    server = LiveServer(tmp_path, demo=False, extra_args=HANG_TRAITS)
    register(server.data_dir)
    try:
        with hold_lock(hang_dsn):
            server.start()
            calls = HungCalls(server.url, server.token).start(silent, hang_dsn)
            assert server.proc is not None
            os.killpg(server.proc.pid, signal.SIGTERM)
            try:
                code = server.proc.wait(timeout=30)
            except subprocess.TimeoutExpired as exc:
                raise AssertionError(f"the server did not stop within 30 s of SIGTERM:\n{server.log_tail()}") from exc
        assert code is not None
        for thread in calls.threads:
            thread.join(timeout=30)
        assert len(calls.outcomes) == 4, calls.outcomes
        # None got an answer from its source: the requests still open were answered as stopped.
        outcomes = calls.outcomes
        assert not [o for route, o in outcomes.items() if "refresh" not in route and o.startswith("200")], outcomes
        assert not outcomes["admin/metadata/refresh/locked_t"].startswith("200") or \
            "'state': 'error'" in outcomes["admin/metadata/refresh/locked_t"], outcomes
        log = server.log_path.read_text()
        assert "agnes: stopping 4 source calls" in log
        assert "worker threads still running" not in log
    finally:
        server.stop()
