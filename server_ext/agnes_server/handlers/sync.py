"""Synced tables' data: the extract's Parquet file, with an ETag from the md5 computed once
per extract (never per request), ``If-None-Match`` → 304 and single ``Range`` → 206."""

from __future__ import annotations

import os

from jupyter_server.auth.decorator import authorized
from tornado import web
from tornado.iostream import StreamClosedError

from agnes_core.errors import BadRequest, NotFound

from ..byteranges import byte_range, not_modified
from .base import AgnesHandler

CHUNK = 1 << 20


class TableDataHandler(AgnesHandler):
    @web.authenticated
    @authorized
    async def get(self, table_id: str) -> None:
        table = await self.blocking(self.core.readable_table, self.principal, table_id)
        if table.query_mode == "remote":
            raise BadRequest(f"{table_id!r} is a remote table: its data stays in the source",
                             hint=f"Use agnes.snapshot(agnes.table({table_id!r}).filter(...), name=...) instead.",
                             details={"table": table_id}, code="not_remote")
        state = await self.blocking(self.core.extracts.synced_state, table_id)
        size = await self.blocking(_size, state["path"]) if state is not None else None
        if state is None or size is None:
            raise NotFound(f"{table_id!r} has not been extracted yet",
                           hint="An admin can run POST admin/tables/{id}/extract; the scheduler runs it otherwise.",
                           details={"table": table_id})
        path, etag = state["path"], f'"{state["md5"]}"'
        self.set_header("ETag", etag)
        self.set_header("Accept-Ranges", "bytes")
        self.set_header("X-Agnes-Rows", str(state["rows"]))
        if not_modified(self.request.headers.get("If-None-Match"), etag):
            await self._audit(table_id, "not_modified", 0)
            self.set_status(304)
            self.finish()
            return
        wanted = byte_range(self.request.headers.get("Range"), size)
        start, end = wanted if wanted is not None else (0, size - 1)
        if wanted is not None:
            self.set_status(206)
            self.set_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.set_header("Content-Type", "application/vnd.apache.parquet")
        self.set_header("Content-Length", str(end - start + 1))
        fh = await self.blocking(open, path, "rb")  # the extract is replaced by rename: this handle stays valid
        try:
            await self.blocking(fh.seek, start)
            remaining = end - start + 1
            try:
                while remaining > 0:
                    chunk = await self.blocking(fh.read, min(CHUNK, remaining))
                    if not chunk:
                        break
                    remaining -= len(chunk)
                    self.write(chunk)
                    await self.flush()
            except StreamClosedError:
                await self._audit(table_id, "cancelled", end - start + 1 - remaining)
                return
        finally:
            await self.blocking(fh.close)
        await self._audit(table_id, "ok", end - start + 1)
        self.finish()

    async def _audit(self, table_id: str, outcome: str, sent: int) -> None:
        """Every download of synced data (whole, a range, or not modified) goes to the audit log."""
        try:
            await self.blocking(lambda: self.core.audit.record(
                self.principal.username, "sync.download", f"table/{table_id}", outcome, bytes=sent,
                range=self.request.headers.get("Range")))
        except Exception:
            self.log.exception("agnes: could not write the audit log")


def _size(path: str) -> int | None:
    try:
        return os.path.getsize(path)
    except OSError:
        return None
