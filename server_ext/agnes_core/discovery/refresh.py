"""Metadata refresh and warm-up, off the request path.

One engine runs both: the scheduled refresh of every remote table's metadata, and the
warm-up (at start-up and on demand), which also fills the schema cache of every table.
Runs are single-flight (a second trigger gets AlreadyRunning with the running run's id),
run at most ``concurrency`` tables at once, and give every provider call its own timeout
(the connector stops the call in the source then, see ``connectors.calls``), so one hanging
source cannot hold a run or a thread. Subscribers (the SSE stream) receive events:
``start``, ``row`` on each table state change (pending -> warming -> fresh | error |
no_data), ``complete``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from agnes_core.connectors import Capability, ColumnStats, Connector, TableRef, calls
from agnes_core.discovery.metadata import MetadataCache
from agnes_core.discovery.schemas import Discovery
from agnes_core.errors import AgnesError, AlreadyRunning, NotFound, NotRemote
from agnes_core.events import Change, ChangeHub
from agnes_core.registry import Registry, Table
from agnes_core.store.state import StateStore, iso, utcnow

log = logging.getLogger(__name__)

Event = dict[str, Any]
T = TypeVar("T")


@dataclass
class RowState:
    table_id: str
    state: str = "pending"  # pending | warming | fresh | no_data | error
    ms: int | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"table_id": self.table_id, "state": self.state, "ms": self.ms, "error": self.error}


@dataclass
class RefreshRun:
    run_id: str
    kind: str  # warmup | refresh | refresh_one
    started_at: datetime
    started_by: str | None
    rows: dict[str, RowState] = field(default_factory=dict)
    finished_at: datetime | None = None
    duration_ms: int | None = None

    @property
    def running(self) -> bool:
        return self.finished_at is None

    def totals(self) -> dict[str, Any]:
        states = [r.state for r in self.rows.values()]
        return {"run_id": self.run_id, "total": len(states), "succeeded": states.count("fresh"),
                "no_data": states.count("no_data"), "failed": states.count("error"),
                "duration_ms": self.duration_ms}

    def to_json(self) -> dict[str, Any]:
        return {"status": "running" if self.running else "complete", "kind": self.kind,
                "started_at": iso(self.started_at), "started_by": self.started_by,
                "finished_at": iso(self.finished_at), **self.totals(),
                "rows": [r.to_json() for r in self.rows.values()]}


class MetadataRefresher:
    def __init__(self, store: StateStore, registry: Registry, metadata: MetadataCache, discovery: Discovery,
                 hub: ChangeHub, connector_for: Callable[[str], Connector], *, concurrency: int = 4,
                 timeout_s: float = 30.0) -> None:
        self.store = store
        self.registry = registry
        self.metadata = metadata
        self.discovery = discovery
        self.hub = hub
        self.connector_for = connector_for
        self.concurrency = max(1, concurrency)
        self.timeout_s = timeout_s
        # Provider calls get their own threads: a hung call holds one of these, not a request thread.
        self.executor = ThreadPoolExecutor(max_workers=self.concurrency * 2, thread_name_prefix="agnes-metadata")
        self.current: RefreshRun | None = None
        self.last: dict[str, RefreshRun] = {}
        self._subscribers: set[asyncio.Queue[Event]] = set()
        self._lock = threading.Lock()

    # -- events -------------------------------------------------------------------------

    def subscribe(self) -> asyncio.Queue[Event]:
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        self._subscribers.discard(queue)

    def _emit(self, event: str, data: dict[str, Any]) -> None:
        for queue in list(self._subscribers):
            queue.put_nowait({"event": event, "data": data})

    def snapshot(self, kind: str | None = None) -> dict[str, Any]:
        run = self.current if self.current and (kind is None or self.current.kind == kind) else (
            self.last.get(kind) if kind else None)
        return run.to_json() if run else {"status": "never_run"}

    def find_run(self, run_id: str) -> RefreshRun | None:
        """The running or a last run with this id (None: a single-table refresh, or forgotten)."""
        current = self.current
        if current is not None and current.run_id == run_id:
            return current
        return next((run for run in list(self.last.values()) if run.run_id == run_id), None)

    @property
    def subscriber_count(self) -> int:
        """How many event streams are subscribed now."""
        return len(self._subscribers)

    # -- runs ---------------------------------------------------------------------------

    def claim(self, kind: str, started_by: str | None = None) -> RefreshRun:
        """Single-flight: start a run or raise AlreadyRunning naming the one in flight."""
        with self._lock:
            if self.current is not None:
                raise AlreadyRunning(
                    f"a metadata {self.current.kind} is already running",
                    hint="Wait for it to finish (GET agnes/v1/admin/warmup shows its progress).",
                    details={"run_id": self.current.run_id, "started_at": iso(self.current.started_at),
                             "kind": self.current.kind})
            self.current = RefreshRun(uuid.uuid4().hex[:12], kind, utcnow(), started_by)
            return self.current

    def tables_for(self, kind: str) -> list[Table]:
        tables = self.registry.list_tables()
        return tables if kind == "warmup" else [t for t in tables if t.query_mode == "remote"]

    async def run(self, run: RefreshRun, tables: list[Table] | None = None) -> RefreshRun:
        """Execute a claimed run to the end (never raises for a failing table)."""
        try:
            todo = tables if tables is not None else await _off_loop(self.tables_for, run.kind)
            run.rows = {t.id: RowState(t.id) for t in todo}
            self._emit("start", {"run_id": run.run_id, "kind": run.kind, "total": len(todo),
                                 "started_at": iso(run.started_at), "rows": [r.to_json() for r in run.rows.values()]})
            t0 = time.monotonic()
            slots = asyncio.Semaphore(self.concurrency)
            pool = _ConnectorPool(self.connector_for, self.timeout_s)

            async def one(table: Table) -> None:
                async with slots:
                    await self._refresh_table(run, table, pool)

            await asyncio.gather(*(one(t) for t in todo))
            run.duration_ms = int((time.monotonic() - t0) * 1000)
            await _off_loop(pool.close)
        finally:
            run.finished_at = utcnow()
            with self._lock:
                self.current = None
                self.last[run.kind] = run
            await _off_loop(self._record, run)
            self._emit("complete", run.totals())
        return run

    async def _refresh_table(self, run: RefreshRun, table: Table, pool: _ConnectorPool) -> None:
        row = run.rows[table.id]
        row.state = "warming"
        self._emit("row", {"run_id": run.run_id, **row.to_json()})
        t0 = time.monotonic()
        loop = asyncio.get_running_loop()
        job = _Job()
        try:
            row.state = await asyncio.wait_for(
                loop.run_in_executor(self.executor, self._work, run.kind, table, pool, job), self.timeout_s)
        except asyncio.TimeoutError:
            # Stop the late call in the source, so the worker thread comes back (each source call
            # is also bounded by the connector itself, see connectors.calls).
            if job.connector is not None:
                calls.stop_calls(job.connector, "timeout")
            message = f"timed out after {self.timeout_s:g} s"
            row.state, row.error = "error", message
            if table.query_mode == "remote":
                await loop.run_in_executor(None, self.metadata.record_failure, table.id, message)
        except Exception as exc:  # noqa: BLE001 - one table's failure is recorded, the run goes on
            row.state, row.error = "error", (exc.message if isinstance(exc, AgnesError) else str(exc))[:500]
        row.ms = int((time.monotonic() - t0) * 1000)
        self._emit("row", {"run_id": run.run_id, **row.to_json()})

    def _work(self, kind: str, table: Table, pool: _ConnectorPool, job: _Job) -> str:
        """In a metadata thread: refresh one table; returns its final state."""
        state = "fresh"
        if table.query_mode == "remote":
            connector = job.connector = pool.get(table.source)
            if Capability.METADATA in connector.capabilities:
                meta = connector.metadata(TableRef(table.bucket, table.source_table))
                if meta is None:
                    self.metadata.record_failure(table.id, "the source has no metadata for this table")
                    state = "no_data"
                elif meta.error is not None:
                    self.metadata.record_failure(table.id, meta.error)
                    self.hub.publish(Change("metadata", "update", frozenset({table.id})))
                    raise _ProviderFailed(meta.error)
                else:
                    stats = self._column_stats(connector, table)
                    self.metadata.record_success(table.id, meta, connector.dialect, stats)
                self.hub.publish(Change("metadata", "update", frozenset({table.id})))
        if kind == "warmup":
            try:
                self.discovery.schema(table)
            except Exception as exc:
                if state == "fresh":
                    raise
                log.info("agnes: warm-up could not read the schema of %s: %s", table.id, exc)
        return state

    @staticmethod
    def _column_stats(connector: Connector, table: Table) -> dict[str, ColumnStats] | None:
        """Column ranges from the source's metadata (None keeps the last known ones when the
        source cannot say now: its failure does not fail the table's refresh)."""
        if Capability.STATS not in connector.capabilities:
            return {}
        try:
            return connector.column_stats(TableRef(table.bucket, table.source_table))
        except Exception as exc:  # noqa: BLE001 - ranges are extra; rows and sizes still count
            log.info("agnes: column statistics of %s unavailable: %s", table.id, exc)
            return None

    async def refresh_one(self, table_id: str, started_by: str | None = None) -> dict[str, Any]:
        """Refresh one remote table now (outside the single-flight of full runs)."""
        table = await _off_loop(self.registry.find_table, table_id)
        if table is None:
            raise NotFound(f"no table {table_id!r}", details={"table": table_id})
        if table.query_mode != "remote":
            raise NotRemote(f"{table_id!r} is a {table.query_mode} table; metadata is refreshed for remote tables",
                            hint="Local and materialized tables report their extract instead.",
                            details={"table": table_id, "query_mode": table.query_mode})
        run = RefreshRun(uuid.uuid4().hex[:12], "refresh_one", utcnow(), started_by)
        run.rows = {table.id: RowState(table.id)}
        pool = _ConnectorPool(self.connector_for, self.timeout_s)
        try:
            await self._refresh_table(run, table, pool)
        finally:
            await _off_loop(pool.close)
        run.finished_at = utcnow()
        meta = await _off_loop(self.metadata.get, table_id)
        return {**run.rows[table_id].to_json(), "metadata": meta.to_json(utcnow(), 0) if meta else None}

    def _record(self, run: RefreshRun) -> None:
        totals = run.totals()
        try:
            with self.store.write() as cur:
                cur.execute("INSERT INTO metadata_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [run.run_id, run.kind, run.started_by, run.started_at, run.finished_at,
                             totals["total"], totals["succeeded"], totals["no_data"], totals["failed"],
                             totals["duration_ms"]])
        except Exception:
            log.exception("agnes: could not record metadata run %s", run.run_id)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


async def _off_loop(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on the loop's default executor: the state store and connectors never run on
    the event loop (the refresher's own threads may be full of source calls)."""
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


@dataclass
class _Job:
    """What one table's refresh is calling (to stop it when late)."""

    connector: Connector | None = None


class _ProviderFailed(Exception):
    """A provider reported a failure (already recorded in the cache)."""


class _ConnectorPool:
    """One connector per (source, thread) for the length of a run; each call bounded by
    ``timeout_s``. A connector whose stopped call has not let go is replaced."""

    def __init__(self, connector_for: Callable[[str], Connector], timeout_s: float) -> None:
        self.connector_for = connector_for
        self.timeout_s = timeout_s
        self._connectors: dict[tuple[str, int], Connector] = {}
        self._lock = threading.Lock()

    def get(self, source: str) -> Connector:
        key = (source, threading.get_ident())
        with self._lock:
            found = self._connectors.get(key)
        if found is not None and found.spent:
            found.close()  # a no-op: the stopped call's thread closes it
            found = None
        if found is None:
            found = self.connector_for(source)
            found.call_timeout_s = self.timeout_s
            with self._lock:
                self._connectors[key] = found
        return found

    def close(self) -> None:
        with self._lock:
            connectors, self._connectors = list(self._connectors.values()), {}
        for connector in connectors:
            try:
                connector.close()
            except Exception:
                log.debug("agnes: closing a connector failed", exc_info=True)
