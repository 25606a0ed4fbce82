"""Bounded, cancellable source calls: no source can hold a server thread or its shutdown.

A call to a source (schema, sample, discovery, metadata, statistics, estimates, tests) runs on a
daemon thread of its own while its caller waits with a deadline. At the deadline the source is
told to stop (:meth:`Connector.interrupt`: a cancel in PostgreSQL, ``interrupt()`` on DuckDB) and
the caller gets a :class:`SourceTimeout` at once, or as soon as the call ends if that is within
:data:`GRACE_S` — so a hung source never keeps a request or refresh thread. Streams (extract
reads, scans) run on their consumer's thread and are registered while open. At shutdown,
:func:`interrupt_all` stops every call and stream of the process and releases every waiting caller.

What the thread of an abandoned call still waits for is bounded by the connector's own limits
(libpq ``connect_timeout``, PostgreSQL ``statement_timeout``); as a daemon thread it never keeps
the process from exiting.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from agnes_core.connectors.base import Connector

log = logging.getLogger(__name__)
T = TypeVar("T")

#: The wall time a bounded source call may take unless its caller sets another.
DEFAULT_CALL_TIMEOUT_S = 30.0
#: After a call's source was told to stop, how long its caller waits for it to end before leaving it.
GRACE_S = 2.0
#: While a stopped call has not ended, its source is asked to stop again this often (a cancel that
#: arrives before the statement starts would otherwise be lost).
INTERRUPT_RETRY_S = 0.5
#: How long a stopped call's source is asked to stop before giving up (its own timeouts end it).
INTERRUPT_FOR_S = 120.0


class _Local(threading.local):
    call: SourceCall | None = None


_local = _Local()
_live_lock = threading.Lock()
_live: set[SourceCall] = set()


class SourceCall:
    """One call (or open stream) to a source. ``stop`` may be called from any thread."""

    def __init__(self, connector: Connector, what: str, fn: Callable[[], Any] | None = None) -> None:
        self.connector = connector
        self.what = what
        self.fn = fn
        self.result: Any = None
        self.error: BaseException | None = None
        #: Why the source was told to stop (``timeout``, ``shutdown``), or None.
        self.stopped: str | None = None
        #: The caller stopped waiting before the call ended.
        self.abandoned = False
        self.done = threading.Event()  # the call (or stream) ended
        self.settled = threading.Event()  # it ended, or its caller was released
        self._lock = threading.Lock()

    def _run(self) -> None:
        assert self.fn is not None
        _local.call = self
        try:
            self.result = self.fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, raised there
            self.error = exc
        finally:
            _local.call = None
            self.end()

    def end(self) -> None:
        """The call or stream ended: release what it held (in its own thread), then say so."""
        with _live_lock:
            _live.discard(self)
        try:
            self.connector._call_ended(self)
        finally:
            self.done.set()
            self.settled.set()

    def stop(self, reason: str, *, release: bool = False) -> None:
        """Tell the source to stop this call, again every :data:`INTERRUPT_RETRY_S` until it ends;
        ``release`` lets its caller go at once."""
        with self._lock:
            first = self.stopped is None and not self.done.is_set()
            if first:
                self.stopped = reason
        if release:
            self.settled.set()
        if first:
            threading.Thread(target=self._keep_interrupting, daemon=True,
                             name=f"agnes-source-stop-{self.connector.name}").start()

    def _keep_interrupting(self) -> None:
        deadline = time.monotonic() + INTERRUPT_FOR_S
        while not self.done.is_set() and time.monotonic() < deadline:
            try:
                self.connector.interrupt()
            except Exception:
                log.exception("agnes: stopping %s on source %r failed", self.what, self.connector.name)
            self.done.wait(INTERRUPT_RETRY_S)


def _register(call: SourceCall) -> None:
    with _live_lock:
        _live.add(call)


def run_bounded(connector: Connector, what: str, fn: Callable[[], T], timeout_s: float | None, *,
                failed: Callable[[T], bool] | None = None) -> T:
    """Run ``fn`` (a call to ``connector``'s source) on a thread of its own; return its result or
    raise its error, or raise the connector's timeout (``timeout``) or stop (``shutdown``) error.
    ``failed`` says whether a result reports a failure (calls that never raise): a stopped call's
    failure is then the stop."""
    if _local.call is not None:  # a call the connector makes inside another: it is already bounded
        return fn()
    call = SourceCall(connector, what, fn)
    connector._call_started(call)
    _register(call)
    thread = threading.Thread(target=call._run, daemon=True, name=f"agnes-source-{connector.name}")
    thread.start()
    if not call.settled.wait(timeout_s):
        call.stop("timeout")
        call.done.wait(GRACE_S)
    if not call.done.is_set():
        call.abandoned = True
        connector.spent = True
        log.warning("agnes: %s on source %r did not end when stopped (%s); its thread is left to the source's "
                    "own timeouts", what, connector.name, call.stopped)
    elif call.stopped is None or (call.error is None and not (failed is not None and failed(call.result))):
        if call.error is not None:
            raise call.error
        return call.result
    raise connector._stopped_error(what, call.stopped or "timeout", timeout_s)


def tracked_stream(connector: Connector, what: str, open_stream: Callable[[], Iterator[T]]) -> Iterator[T]:
    """``open_stream()``'s iterator, registered (so :func:`interrupt_all` reaches it) from the call
    that opens it until it is exhausted or closed; a stream stopped at shutdown says so."""
    call = SourceCall(connector, what)
    connector._call_started(call)
    _register(call)
    try:
        inner = open_stream()
    except BaseException as exc:
        call.end()
        if call.stopped is not None and isinstance(exc, Exception):
            raise connector._stopped_error(what, call.stopped, None) from None
        raise
    return _Stream(call, inner)


class _Stream(Iterator[T]):
    """A registered stream: ends its registration when exhausted, failed or closed."""

    def __init__(self, call: SourceCall, inner: Iterator[T]) -> None:
        self._call = call
        self._inner = inner
        self._it = iter(inner)
        self._closed = False

    def __iter__(self) -> _Stream[T]:
        return self

    def __next__(self) -> T:
        try:
            return next(self._it)
        except StopIteration:
            self.close()
            raise
        except Exception:
            stopped = self._call.stopped
            self.close()
            if stopped is not None:
                raise self._call.connector._stopped_error(self._call.what, stopped, None) from None
            raise

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        close = getattr(self._inner, "close", None)
        try:
            if close is not None:
                close()
        finally:
            self._call.end()

    def __del__(self) -> None:
        # Never iterated to its end nor closed: forget it (its source is closed by its owner).
        if not self._closed:
            with _live_lock:
                _live.discard(self._call)


def interrupt_all(reason: str = "shutdown") -> int:
    """Stop every source call and stream of this process and release their callers; returns how
    many there were. Never blocks: the sources are told to stop from threads of their own."""
    with _live_lock:
        calls = list(_live)
    for call in calls:
        call.stop(reason, release=True)
    return len(calls)


def stop_calls(connector: Connector, reason: str) -> int:
    """Stop the calls and streams in flight on ``connector`` and release their callers."""
    with _live_lock:
        found = [c for c in _live if c.connector is connector]
    for call in found:
        call.stop(reason, release=True)
    return len(found)


def live_calls() -> list[SourceCall]:
    """The source calls and streams in flight (tests, logs)."""
    with _live_lock:
        return list(_live)
