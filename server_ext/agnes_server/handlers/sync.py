"""Synced tables' data: the extract's Parquet file, with an ETag from the md5 computed once
per extract (never per request), ``If-None-Match`` → 304 and single ``Range`` → 206."""

from __future__ import annotations

import os
import re

from jupyter_server.auth.decorator import authorized
from tornado import web
from tornado.iostream import StreamClosedError

from agnes_core.errors import AgnesError, BadRequest, NotFound

from .base import AgnesHandler

CHUNK = 1 << 20
_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


class TableDataHandler(AgnesHandler):
    @web.authenticated
    @authorized
    async def get(self, table_id: str) -> None:
        table = self.core.readable_table(self.principal, table_id)
        if table.query_mode == "remote":
            raise BadRequest(f"{table_id!r} is a remote table: its data stays in the source",
                             hint=f"Use agnes.snapshot(agnes.table({table_id!r}).filter(...), name=...) instead.",
                             details={"table": table_id}, code="not_remote")
        state = self.core.extracts.sync_state(table_id)
        if state is None or not os.path.exists(state["path"]):
            raise NotFound(f"{table_id!r} has not been extracted yet",
                           hint="An admin can run POST admin/tables/{id}/extract; the scheduler runs it otherwise.",
                           details={"table": table_id})
        path, etag = state["path"], f'"{state["md5"]}"'
        size = os.path.getsize(path)
        self.set_header("ETag", etag)
        self.set_header("Accept-Ranges", "bytes")
        self.set_header("X-Agnes-Rows", str(state["rows"]))
        if etag in [t.strip() for t in (self.request.headers.get("If-None-Match") or "").split(",")]:
            self._audit(table_id, "not_modified", 0)
            self.set_status(304)
            self.finish()
            return
        start, end = 0, size - 1
        header = self.request.headers.get("Range")
        if header:
            m = _RANGE_RE.match(header.strip())
            if m is None or (not m.group(1) and not m.group(2)):
                raise AgnesError("only one byte range like 'bytes=100-' is supported", code="range_not_satisfiable",
                                 details={"size": size})
            if m.group(1):
                start = int(m.group(1))
                end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
            else:
                start = max(size - int(m.group(2)), 0)
            if start >= size or start > end:
                raise AgnesError(f"range {header!r} is outside the file's {size} bytes",
                                 code="range_not_satisfiable", details={"size": size})
            self.set_status(206)
            self.set_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.set_header("Content-Type", "application/vnd.apache.parquet")
        self.set_header("Content-Length", str(end - start + 1))
        with open(path, "rb") as fh:  # the extract is replaced by rename: this handle stays valid
            fh.seek(start)
            remaining = end - start + 1
            try:
                while remaining > 0:
                    chunk = fh.read(min(CHUNK, remaining))
                    if not chunk:
                        break
                    remaining -= len(chunk)
                    self.write(chunk)
                    await self.flush()
            except StreamClosedError:
                self._audit(table_id, "cancelled", end - start + 1 - remaining)
                return
        self._audit(table_id, "ok", end - start + 1)
        self.finish()

    def _audit(self, table_id: str, outcome: str, sent: int) -> None:
        """Every download of synced data (whole, a range, or not modified) goes to the audit log."""
        try:
            self.core.audit.record(self.principal.username, "sync.download", f"table/{table_id}", outcome,
                                   bytes=sent, range=self.request.headers.get("Range"))
        except Exception:
            self.log.exception("agnes: could not write the audit log")
