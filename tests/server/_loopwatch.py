"""A watch on the event loop: which of our callbacks held it, and for how long.

The server tests run the Jupyter server and the test in one thread, on one asyncio loop. This
module times every callback that loop runs (``asyncio.events.Handle._run``, where asyncio's own
debug mode measures ``slow_callback_duration``) and keeps those that held the loop longer than
``threshold_s`` (50 ms) **and** can be pinned on our server code:

* the callback is a step of a tornado request whose handler is an Agnes handler (any
  ``AgnesHandler``), or
* a stack sample taken while the callback still ran (a watchdog thread samples the loop's
  thread once it has run for most of the threshold) starts in ``agnes_server`` or
  ``agnes_core`` code — a background task of the server, not the test's own code.

What counts is the time the loop was *held*, not wall time, so a busy shared machine does not
make a fast callback look slow:

* garbage collection is subtracted (``gc.callbacks``, in every thread: a collection holds the
  GIL, so the loop waits for it whoever triggered it);
* time the loop's thread was runnable but not running (Linux ``/proc/.../schedstat``: other
  processes had the cores) is subtracted.

What is left is time spent running our code or blocked in it: a DuckDB query, a store write
waiting for the writer lock, a file read, a sleep. Nested callbacks count once (an outer
callback's time excludes its inner ones).

Apart from timing, the watch also notes every use of the state store on the loop's thread
from server code (``StateStore.access_hook``): a store read that happens to be fast is still
one that can be slow under load. A request's use fails its test (``take_store_uses``); a
background task's is listed at the end of the run (``store_uses``).
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from agnes_core.store.state import StateStore
from agnes_server.handlers.base import AgnesHandler

#: A callback holding the loop longer than this fails the request's test.
THRESHOLD_S = 0.05

_SERVER = str(Path(__file__).resolve().parents[2] / "server_ext") + os.sep
_TESTS = str(Path(__file__).resolve().parents[1]) + os.sep


def _ours(filename: str) -> str | None:
    """``server`` for our server code, ``test`` for test code, None for anything else."""
    if filename.startswith(_SERVER):
        return "server"
    if filename.startswith(_TESTS) and not filename.endswith("_loopwatch.py"):
        return "test"
    return None


def _short(filename: str) -> str:
    for root in (_SERVER, _TESTS):
        if filename.startswith(root):
            return filename[len(root):]
    return filename


@dataclass
class Held:
    """One callback that held the loop too long."""

    what: str  # the request and handler, or the callback/coroutine
    held_s: float
    wall_s: float
    gc_s: float
    waiting_s: float  # runnable, but another process had the CPU
    stack: list[str] = field(default_factory=list)  # our frames when sampled, outermost first

    def describe(self) -> str:
        where = "\n      ".join(self.stack[-8:]) if self.stack else "(no sample: it ended before the watchdog looked)"
        return (f"{self.what} held the event loop {self.held_s * 1000:.0f} ms (wall {self.wall_s * 1000:.0f} ms, "
                f"GC {self.gc_s * 1000:.0f} ms, waiting for a CPU {self.waiting_s * 1000:.0f} ms)\n"
                f"      {where}")


@dataclass
class _Running:
    handle: asyncio.Handle
    started: float
    gc_at_start: float
    wait_at_start: float
    what: str | None  # set when the callback is an Agnes request's step
    startup: bool  # pytest-jupyter initialising the server (in production: before the loop serves)
    child_s: float = 0.0
    sample: list[tuple[str, int, str]] | None = None


class LoopWatch:
    def __init__(self, threshold_s: float = THRESHOLD_S) -> None:
        self.threshold_s = threshold_s
        self.held: list[Held] = []
        self.store_uses: dict[str, int] = {}  # by a background task of the server (reported)
        self.request_store_uses: dict[str, int] = {}  # by a request's handler (fails its test)
        self._thread_id = threading.get_ident()
        self._stack: list[_Running] = []
        self._gc_total = 0.0
        self._gc_started: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._schedstat: int | None = None
        self._original: Any = None

    # -- installing ---------------------------------------------------------------------

    def install(self) -> None:
        try:
            self._schedstat = os.open(f"/proc/self/task/{threading.get_native_id()}/schedstat", os.O_RDONLY)
        except OSError:
            self._schedstat = None  # not Linux: CPU contention cannot be told apart, only GC
        gc.callbacks.append(self._on_gc)
        self._original = asyncio.events.Handle._run
        watch, original = self, self._original

        def _run(handle: asyncio.Handle) -> None:
            if threading.get_ident() != watch._thread_id:
                return original(handle)  # type: ignore[no-any-return]
            watch._begin(handle)
            try:
                return original(handle)  # type: ignore[no-any-return]
            finally:
                watch._end()

        asyncio.events.Handle._run = _run  # type: ignore[method-assign]
        StateStore.access_hook = self._on_store
        threading.Thread(target=self._watchdog, name="loopwatch", daemon=True).start()

    def uninstall(self) -> None:
        self._stop.set()
        asyncio.events.Handle._run = self._original  # type: ignore[method-assign]
        StateStore.access_hook = None
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        if self._schedstat is not None:
            os.close(self._schedstat)
            self._schedstat = None

    def take(self) -> list[Held]:
        """The callbacks that held the loop so far; forgets them (a test that blocks on purpose)."""
        with self._lock:
            found, self.held = self.held, []
        return found

    def take_store_uses(self) -> dict[str, int]:
        """Requests' uses of the store on the loop so far; forgets them."""
        with self._lock:
            found, self.request_store_uses = self.request_store_uses, {}
        return found

    # -- measuring ----------------------------------------------------------------------

    def _waited(self) -> float:
        """Seconds the loop's thread has been runnable without a CPU, since it started."""
        if self._schedstat is None:
            return 0.0
        try:
            return int(os.pread(self._schedstat, 100, 0).split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            return 0.0

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._gc_started = now
        elif self._gc_started is not None:
            self._gc_total += now - self._gc_started
            self._gc_started = None

    def _begin(self, handle: asyncio.Handle) -> None:
        self._stack.append(_Running(handle, time.perf_counter(), self._gc_total, self._waited(),
                                    _request_of(handle), _is_startup(handle)))

    def _end(self) -> None:
        running = self._stack.pop()
        wall = time.perf_counter() - running.started
        if self._stack:
            self._stack[-1].child_s += wall
        if wall - running.child_s <= self.threshold_s or running.startup:
            return  # the common case: nothing more to work out
        gc_s = self._gc_total - running.gc_at_start
        waiting = max(0.0, self._waited() - running.wait_at_start)
        held = wall - running.child_s - gc_s - waiting
        if held <= self.threshold_s:
            return
        sample = running.sample or []
        origin = next((_ours(f) for f, _, _ in sample if _ours(f)), None)
        if running.what is None and origin != "server":
            return  # not ours: Jupyter's own work, or the test's code run on the loop
        what = running.what or _callback_name(running.handle)
        stack = [f"{_short(f)}:{line} {name}" for f, line, name in sample if _ours(f)]
        with self._lock:
            self.held.append(Held(what, held, wall, gc_s, waiting, stack))

    def _watchdog(self) -> None:
        """Samples the loop's stack once a callback has run for most of the threshold."""
        interval = self.threshold_s / 5
        while not self._stop.wait(interval):
            stack = list(self._stack)
            if not stack:
                continue
            running = stack[-1]
            if running.sample is None and time.perf_counter() - running.started > self.threshold_s * 0.8:
                frame = sys._current_frames().get(self._thread_id)
                if frame is not None and self._stack and self._stack[-1] is running:
                    running.sample = _frames(frame)

    def _on_store(self, store: StateStore) -> None:
        if threading.get_ident() != self._thread_id or not self._stack or any(r.startup for r in self._stack):
            return  # a worker thread, or the server being initialised (before it serves)
        frames = [(f.filename, f.lineno or 0, f.name) for f in traceback.extract_stack(limit=60)]
        first = next((_ours(f) for f, _, _ in frames if _ours(f)), None)
        if first != "server" and self._stack[-1].what is None:
            return  # the test itself reading the store
        ours = [f"{_short(f)}:{line} {name}" for f, line, name in frames
                if _ours(f) and "/agnes_core/store/" not in f]  # the store's own frames
        what = next((r.what for r in reversed(self._stack) if r.what), None) or _callback_name(self._stack[-1].handle)
        key = f"{what}: " + " <- ".join(reversed(ours[-3:]))
        uses = self.request_store_uses if any(r.what for r in self._stack) else self.store_uses
        with self._lock:
            uses[key] = uses.get(key, 0) + 1


def _frames(frame: FrameType | None) -> list[tuple[str, int, str]]:
    out = []
    while frame is not None:
        out.append((frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name))
        frame = frame.f_back
    out.reverse()
    return out


def _request_of(handle: asyncio.Handle) -> str | None:
    """``GET /agnes/v1/... (CatalogHandler)`` when the callback steps an Agnes request."""
    task = getattr(handle._callback, "__self__", None)  # type: ignore[attr-defined]
    if not isinstance(task, asyncio.Task):
        return None
    coro = task.get_coro()
    while coro is not None:  # tornado's _execute awaits the verb: look through the chain
        frame = getattr(coro, "cr_frame", None)
        handler = frame.f_locals.get("self") if frame is not None else None
        if isinstance(handler, AgnesHandler):
            request = getattr(handler, "request", None)
            path = getattr(request, "path", "?")
            return f"{getattr(request, 'method', '?')} {path} ({type(handler).__name__})"
        coro = getattr(coro, "cr_await", None)
    return None


def _is_startup(handle: asyncio.Handle) -> bool:
    """A step of pytest-jupyter's task that initialises the server app (ServerApp.initialize runs
    before the loop serves anything in production, so it is not a request held up)."""
    task = getattr(handle._callback, "__self__", None)  # type: ignore[attr-defined]
    if not isinstance(task, asyncio.Task):
        return False
    code = getattr(task.get_coro(), "cr_code", None)
    return code is not None and "pytest_jupyter" in code.co_filename


def _callback_name(handle: asyncio.Handle) -> str:
    callback = handle._callback  # type: ignore[attr-defined]
    task = getattr(callback, "__self__", None)
    if isinstance(task, asyncio.Task):
        coro = task.get_coro()
        return f"task {task.get_name()!r} ({getattr(coro, '__qualname__', coro)})"
    return getattr(callback, "__qualname__", repr(callback))
