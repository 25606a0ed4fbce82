"""Analyst discovery routes: catalog, schema, sample, metadata status and its event stream.

Existence and access are checked (``readable_table``) before any cache is read. All of it
runs off the event loop: the catalog index, the grant index and the registry are in memory
most of the time, but any change drops them and the next reader rebuilds them from the store.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from typing import Any, TypeVar

from jupyter_server.auth.decorator import authorized
from tornado import web
from tornado.iostream import StreamClosedError

from agnes_core.access.principals import Principal
from agnes_core.discovery.schemas import MAX_SAMPLE
from agnes_core.errors import AgnesError, ValidationError
from agnes_core.registry import Table

from .base import AgnesHandler, EventStreamMixin

T = TypeVar("T")


class CatalogHandler(AgnesHandler):
    def filters(self) -> dict[str, str | None]:
        mode = self.get_query_argument("mode", None)
        if mode is not None and mode not in ("local", "remote", "materialized"):
            raise ValidationError("mode", "mode must be local, remote or materialized")
        return {"search": self.get_query_argument("search", None), "source": self.get_query_argument("source", None),
                "mode": mode, "package": self.get_query_argument("package", None)}

    @web.authenticated
    @authorized
    async def get(self) -> None:
        f = self.filters()
        search, source, mode, package = f["search"], f["source"], f["mode"], f["package"]
        # Usually joined from pre-serialised entries; after a change the index rebuilds the
        # changed entries from the store (sync_state, metadata, grants), so it runs in a worker.
        body = await self.blocking(lambda: self.core.catalog.response(
            self.principal, search=search, source=source, mode=mode, package=package))
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(body)


class CatalogIdsHandler(CatalogHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        f = self.filters()
        ids = await self.blocking(lambda: self.core.catalog.ids(self.principal, **f))
        self.write_json({"ids": ids, "count": len(ids)})


class _TableRoute(AgnesHandler):
    def readable(self, table_id: str) -> Table:
        """In a worker: the table, if it exists and the caller may read it (else 404)."""
        return self.core.readable_table(self.principal, table_id)

    def from_source(self, table: Table, fn: Callable[[], T]) -> T:
        """In a worker: ``fn()``, with a source's error reworded for analysts."""
        try:
            return fn()
        except AgnesError as exc:
            raise self.core.for_principal(self.principal, exc, [table]) from None


class TableSchemaHandler(_TableRoute):
    @web.authenticated
    @authorized
    async def get(self, table_id: str) -> None:
        def schema() -> dict[str, Any]:
            table = self.readable(table_id)
            return self.from_source(table, lambda: self.core.discovery.schema(table))

        self.write_json(await self.blocking(schema))


class TableSampleHandler(_TableRoute):
    @web.authenticated
    @authorized
    async def get(self, table_id: str) -> None:
        def sample() -> dict[str, Any]:
            table = self.readable(table_id)
            n = self.int_arg("n", 5, 1, MAX_SAMPLE)  # after the access check, as before any cache read
            return self.from_source(table, lambda: self.core.discovery.sample(table, n))

        self.write_json(await self.blocking(sample))


class MetadataStatusHandler(AgnesHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.blocking(self.core.metadata_status, self.principal))


#: Row states after which a table's metadata row is worth sending along with the event.
_FINAL_STATES = ("fresh", "error", "no_data")


class MetadataStreamHandler(EventStreamMixin, AgnesHandler):
    """Server-Sent Events for any user: ``snapshot`` (``metadata/status`` plus the running run, or
    null), then the refresher's ``start``, ``row`` and ``complete`` of every run, only for tables
    the user may read (checked again whenever grants, groups or tables change), with the table's
    metadata row on a final ``row``; every event's data has ``ts`` (server time, epoch seconds).
    The stream stays open across runs (keep-alive comments while idle) until the client leaves, or
    ends within a keep-alive interval of the user's deactivation."""

    _gone: asyncio.Event | None = None

    def on_connection_close(self) -> None:
        super().on_connection_close()
        if self._gone is not None:
            self._gone.set()

    @web.authenticated
    @authorized
    async def get(self) -> None:
        refresher = self.core.refresher
        self._gone = asyncio.Event()
        keepalive = float(self.agnes.sse_keepalive_seconds)
        queue = refresher.subscribe()  # before the snapshot: nothing between the two is lost
        try:
            view = await self.blocking(self._view)
            self.begin_events()
            await self._send("snapshot", await self.blocking(self._snapshot, view))
            while not self._gone.is_set():
                event = await self._next(queue, keepalive)
                if self._gone.is_set():
                    break
                if view.generation != self.core.access.generation:
                    view = await self.blocking(self._view)  # grants, groups, tables or users changed
                    if not view.principal.is_active:
                        break  # deactivated meanwhile: a reconnect is refused with the 403 that says so
                if event is None:
                    await self.keep_alive()
                    continue
                data = await self.blocking(self._filtered, view, event["event"], event["data"])
                if data is not None:
                    await self._send(event["event"], data)
        except StreamClosedError:
            pass
        finally:
            refresher.unsubscribe(queue)
        if not self._finished:
            try:
                self.finish()
            except StreamClosedError:
                pass

    async def _next(self, queue: asyncio.Queue[dict[str, Any]], timeout: float) -> dict[str, Any] | None:
        """The next event, or None after ``timeout`` seconds or when the client has gone."""
        assert self._gone is not None
        getting = asyncio.ensure_future(queue.get())
        gone = asyncio.ensure_future(self._gone.wait())
        try:
            await asyncio.wait({getting, gone}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            if not getting.done():
                getting.cancel()
        return getting.result() if getting.done() and not getting.cancelled() else None

    async def _send(self, event: str, data: dict[str, Any]) -> None:
        await self.send_event(event, {**data, "ts": time.time()})

    def _view(self) -> _StreamView:
        """In a worker: who is asking now (groups may have changed) and what they may read."""
        access = self.core.access
        generation = access.generation
        user = self.current_user
        principal = self.agnes.principal_for(user.username, user.display_name or user.name)
        groups = access.groups_of(user.username)  # from the store: a cached principal may lag a change
        active = access.is_active(user.username)
        if groups != principal.groups or active != principal.is_active:
            principal = dataclasses.replace(principal, groups=groups, is_active=active,
                                            is_admin=access.is_admin_username(user.username))
        return _StreamView(principal, access.readable_tables(principal), generation)

    def _snapshot(self, view: _StreamView) -> dict[str, Any]:
        current = self.core.refresher.current
        run = self._run_json(view, current.to_json()) if current is not None else None
        return {**self.core.metadata_status(view.principal), "run": run}

    def _run_json(self, view: _StreamView, run: dict[str, Any]) -> dict[str, Any]:
        """A run as this user may see it: only readable rows, totals over those, analyst error texts."""
        if view.readable is None:
            return run
        rows = [self._row(view, r) for r in run.get("rows", []) if r["table_id"] in view.readable]
        states = [r["state"] for r in rows]
        return {**run, "rows": rows, "total": len(rows), "succeeded": states.count("fresh"),
                "no_data": states.count("no_data"), "failed": states.count("error")}

    def _row(self, view: _StreamView, row: dict[str, Any]) -> dict[str, Any]:
        if view.principal.is_admin or not row.get("error"):
            return row
        table = self.core.registry.find_table(row["table_id"])
        return {**row, "error": self.core.analyst_error(row["error"], table) if table else "the refresh failed"}

    def _filtered(self, view: _StreamView, event: str, data: dict[str, Any]) -> dict[str, Any] | None:
        """In a worker: the event's data for this user, or None when it is about nothing they may read."""
        if event == "row":
            table_id = data.get("table_id")
            if view.readable is not None and table_id not in view.readable:
                return None
            out = self._row(view, data)
            if data.get("state") in _FINAL_STATES:
                table = self.core.registry.find_table(table_id) if isinstance(table_id, str) else None
                out = {**out, "metadata": self.core.metadata_entry(view.principal, table)
                       if table is not None and table.query_mode == "remote" else None}
            return out
        if event == "start":
            return self._run_json(view, data)
        if event == "complete" and view.readable is not None:
            run = self.core.refresher.find_run(data.get("run_id", ""))
            if run is None:
                return {"run_id": data.get("run_id"), "duration_ms": data.get("duration_ms")}
            totals = self._run_json(view, {**run.totals(), "rows": [r.to_json() for r in run.rows.values()]})
            totals.pop("rows")
            return totals
        return data


class _StreamView:
    """What one stream's user may see, as of an access generation."""

    def __init__(self, principal: Principal, readable: dict[str, str] | None, generation: int) -> None:
        self.principal = principal
        self.readable = readable
        self.generation = generation
