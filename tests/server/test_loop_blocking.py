"""The loop-blocking harness (tests/server/_loopwatch.py, on for every server test) catches a
handler that holds the event loop, names it, and does not blame awaited work or GC pauses."""

from __future__ import annotations

import gc
import threading
import time
from typing import Any

import pytest
from jupyter_server.utils import url_path_join
from tornado import web

from agnes_server.handlers.base import AgnesHandler

from . import conftest
from ._loopwatch import THRESHOLD_S, LoopWatch
from .conftest import agnes_app

HOLD_S = 0.2


class _SleepsOnTheLoop(AgnesHandler):
    @web.authenticated
    def get(self) -> None:
        time.sleep(HOLD_S)  # a blocking call on the loop: every other request waits
        self.write_json({"ok": True})


class _WritesTheStoreOnTheLoop(AgnesHandler):
    """A store write on the loop while another thread holds the store's single writer lock."""

    @web.authenticated
    def get(self) -> None:
        self.core.audit.record("owner", "test.blocking", "test/loop")
        self.write_json({"ok": True})


class _AwaitsItsBlockingWork(AgnesHandler):
    @web.authenticated
    async def get(self) -> None:
        await self.blocking(time.sleep, HOLD_S)
        await self.blocking(self.core.audit.record, "owner", "test.blocking", "test/worker")
        self.write_json({"ok": True})


class _CollectsGarbage(AgnesHandler):
    seconds: float = 0.0

    @web.authenticated
    def get(self) -> None:
        t0 = time.perf_counter()
        gc.collect()  # stands in for a collection that happens to fall in this callback
        type(self).seconds = time.perf_counter() - t0
        self.write_json({"ok": True})


class _ReadsTheStoreOnTheLoop(AgnesHandler):
    @web.authenticated
    def get(self) -> None:
        self.write_json({"n": self.core.store.scalar("SELECT count(*) FROM audit_log")})


@pytest.fixture
def route(jp_serverapp: Any, jp_fetch: Any) -> Any:
    """``await route(Handler)``: GET a handler mounted on the running server for this test."""

    async def get(handler: type[AgnesHandler]) -> int:
        path = f"agnes-test/{handler.__name__.lower()}"
        pattern = url_path_join(jp_serverapp.base_url, path)
        jp_serverapp.web_app.add_handlers(".*$", [(pattern, handler, {"name": "agnes"})])
        response = await jp_fetch(*path.split("/"), method="GET")
        return int(response.code)

    return get


async def test_a_handler_that_sleeps_on_the_loop_is_caught_and_named(route: Any, loop_watch: LoopWatch) -> None:
    assert await route(_SleepsOnTheLoop) == 200
    held = loop_watch.take()  # claimed here, so this test passes; unclaimed, it would fail
    assert len(held) == 1, [h.describe() for h in held]
    assert "_SleepsOnTheLoop" in held[0].what
    assert "GET /" in held[0].what
    assert held[0].held_s >= HOLD_S * 0.9
    assert any("test_loop_blocking.py" in frame and "get" in frame for frame in held[0].stack), held[0].stack


async def test_an_unclaimed_hold_fails_the_test_naming_the_handler(
        route: Any, loop_watch: LoopWatch, request: pytest.FixtureRequest) -> None:
    # Drive the suite's own hook (conftest.pytest_runtest_call) around a blocking request.
    hook = conftest.pytest_runtest_call(request.node)
    next(hook)
    assert await route(_SleepsOnTheLoop) == 200
    with pytest.raises(pytest.fail.Exception, match=r"held longer than 50 ms[\s\S]*_SleepsOnTheLoop"):
        hook.send(None)
    assert loop_watch.take() == []  # the hook claimed it


async def test_a_store_write_waiting_for_the_writer_lock_on_the_loop_is_caught(
        route: Any, loop_watch: LoopWatch, jp_serverapp: Any, jp_fetch: Any) -> None:
    store = agnes_app(jp_serverapp).core.store
    await jp_fetch("agnes", "v1", "version")  # the owner's principal is built (and cached) before the lock is taken
    locked, release = threading.Event(), threading.Event()

    def hold_the_writer() -> None:  # an extract or a metadata refresh writing at that moment
        with store.write():
            locked.set()
            release.wait(5)

    holder = threading.Thread(target=hold_the_writer)
    holder.start()
    assert locked.wait(5)
    threading.Timer(HOLD_S, release.set).start()
    try:
        assert await route(_WritesTheStoreOnTheLoop) == 200
    finally:
        release.set()
        holder.join(5)
    held = loop_watch.take()
    assert [h for h in held if "_WritesTheStoreOnTheLoop" in h.what], [h.describe() for h in held]
    assert any("audit.py" in frame for h in held for frame in h.stack)
    loop_watch.take_store_uses()


async def test_blocking_work_awaited_in_a_worker_is_not_counted(route: Any, loop_watch: LoopWatch) -> None:
    t0 = time.perf_counter()
    assert await route(_AwaitsItsBlockingWork) == 200
    assert time.perf_counter() - t0 >= HOLD_S  # the work did happen, in a worker
    assert loop_watch.take() == []


async def test_a_garbage_collection_pause_is_not_blamed_on_the_handler(route: Any, loop_watch: LoopWatch) -> None:
    junk: list[list[int]] = []
    while True:  # grow the heap until a full collection takes longer than the threshold
        junk.extend([] for _ in range(500_000))
        t0 = time.perf_counter()
        gc.collect()
        if time.perf_counter() - t0 > THRESHOLD_S * 1.5 or len(junk) >= 8_000_000:
            break
    assert await route(_CollectsGarbage) == 200
    assert _CollectsGarbage.seconds > THRESHOLD_S, "the collection was too short to test anything"
    assert loop_watch.take() == []
    del junk


async def test_a_fast_store_read_on_the_loop_is_caught_with_its_handler(route: Any, loop_watch: LoopWatch) -> None:
    assert await route(_ReadsTheStoreOnTheLoop) == 200
    assert loop_watch.take() == []  # fast: under the threshold
    uses = loop_watch.take_store_uses()  # claimed: unclaimed, a request's store use fails its test
    assert any("_ReadsTheStoreOnTheLoop" in where and "test_loop_blocking.py" in where for where in uses), uses
