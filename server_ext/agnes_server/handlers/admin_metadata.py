"""Admin routes for the metadata refresh and the warm-up (with its Server-Sent Events stream)."""

from __future__ import annotations

import asyncio

from jupyter_server.auth.decorator import authorized
from tornado import web
from tornado.iostream import StreamClosedError

from .base import AdminHandler, EventStreamMixin


class MetadataRefreshHandler(AdminHandler):
    """Refresh every remote table's metadata now; 409 with the running run when one is in flight."""

    audit_kind = "metadata"
    audit_verbs = {"POST": "refresh"}

    @web.authenticated
    @authorized
    async def post(self) -> None:
        refresher = self.core.refresher
        # The list of tables comes from the registry (the store after any change): read it in a
        # worker, then claim, so a claimed run always runs.
        tables = await self.blocking(refresher.tables_for, "refresh")
        run = refresher.claim("refresh", self.principal.username)
        await refresher.run(run, tables)
        self.write_json({**run.totals(), "started_at": run.to_json()["started_at"]})


class MetadataRefreshOneHandler(AdminHandler):
    audit_kind = "metadata"
    audit_verbs = {"POST": "refresh"}

    @web.authenticated
    @authorized
    async def post(self, table_id: str) -> None:
        self.write_json(await self.core.refresher.refresh_one(table_id, self.principal.username))


class WarmupHandler(AdminHandler):
    audit_kind = "metadata"
    audit_verbs = {"POST": "warmup"}

    @web.authenticated
    @authorized
    def get(self) -> None:
        """``{"status": "never_run"}`` before the first warm-up, else its state with per-table rows."""
        self.write_json(self.core.refresher.snapshot("warmup"))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        """Start a warm-up; when one (or a refresh) is already running, answer with that run."""
        refresher = self.core.refresher
        current = refresher.current
        if current is not None:
            self.write_json(current.to_json(), status=200)
            return
        self.agnes.start_warmup(self.principal.username)
        assert refresher.current is not None
        self.write_json(refresher.current.to_json(), status=202)


class WarmupStreamHandler(EventStreamMixin, AdminHandler):
    """Server-Sent Events: ``snapshot`` on connect, then ``start``, ``row`` and ``complete`` of
    the running (or next) run; keep-alive comments while idle; the stream ends after ``complete``."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        refresher = self.core.refresher
        queue = refresher.subscribe()
        keepalive = float(self.agnes.sse_keepalive_seconds)
        try:
            self.begin_events()
            await self.send_event("snapshot",
                                  refresher.snapshot() if refresher.current else refresher.snapshot("warmup"))
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=keepalive)
                except asyncio.TimeoutError:
                    await self.keep_alive()
                    continue
                await self.send_event(event["event"], event["data"])
                if event["event"] == "complete":
                    break
        except StreamClosedError:
            pass
        finally:
            refresher.unsubscribe(queue)
        if not self._finished:
            self.finish()
