"""Gated scans: estimate, run (an Arrow IPC stream), status.

``POST scans`` answers errors (validator, gate, quota, a source failing to start) with the
usual envelope before any byte of the stream. Once the stream has begun, a failure cannot
change the status line: the stream is cut without its end-of-stream marker and the scan's
record (``GET scans/{id}``, id in the ``X-Agnes-Scan-Id`` header) says what happened — the
kernel always reads it after the stream, so it learns of truncation and failures alike.
"""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web
from tornado.iostream import StreamClosedError

from agnes_core.errors import AgnesError
from agnes_core.gate.run import ScanRun

from .base import AgnesHandler

ARROW_STREAM = "application/vnd.apache.arrow.stream"


class _Chunks:
    """A write-only file for pyarrow's IPC writer that hands out what was written since last asked."""

    closed = False

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._pos = 0

    def write(self, data: Any) -> int:
        b = bytes(data)
        self._parts.append(b)
        self._pos += len(b)
        return len(b)

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


class _ScanRoute(AgnesHandler):
    audit_action = "scan.run"

    async def on_refused(self, exc: AgnesError) -> None:
        await self.blocking(self.core.scans.audit_refusal, self.principal, self.audit_action, exc)

    async def scan_body(self, action: str) -> dict[str, Any]:
        """The request body; a body that cannot be read is refused *and audited*, like any scan."""
        try:
            return self.json_body()
        except AgnesError as exc:
            await self.blocking(self.core.scans.audit_refusal, self.principal, action, exc)
            raise


class ScanEstimateHandler(_ScanRoute):
    audit_action = "scan.estimate"

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = await self.scan_body("scan.estimate")
        self.write_json(await self.scanning(self.core.scans.estimate, self.principal, body))


class ScansHandler(_ScanRoute):
    _run: ScanRun | None = None

    def on_connection_close(self) -> None:
        """The client went away: stop its scan in the source, whatever it is waiting for."""
        run = self._run
        if run is not None:
            run.cancel("client")
        super().on_connection_close()

    @web.authenticated
    @authorized
    async def post(self) -> None:
        import pyarrow as pa

        body = await self.scan_body("scan.run")
        run = await self.scanning(self.core.scans.start, self.principal, body)
        self._run = run
        stream = getattr(self.request.connection, "stream", None)
        if stream is not None and stream.closed():  # it went away while the gate ran
            run.cancel("client")
        try:
            schema = await self.scanning(run.open)
        except BaseException as exc:
            await self.scanning(run.finish, "failed", exc.message if isinstance(exc, AgnesError)
                                else type(exc).__name__)
            raise
        estimate = run.prepared.to_json()
        self.set_status(200)
        self.set_header("Content-Type", ARROW_STREAM)
        self.set_header("X-Agnes-Scan-Id", run.scan_id)
        self.set_header("X-Agnes-Estimate", json.dumps({
            "scan_bytes": estimate["scan_bytes"], "result_rows": estimate["result_rows"],
            "result_bytes": estimate["result_bytes"], "sql_hash": estimate["sql_hash"]}))
        self.set_header("Cache-Control", "no-store")
        status, error, recorded = "failed", None, False
        sink = _Chunks()
        try:
            writer = pa.ipc.new_stream(sink, schema)
            self.write(sink.take())
            await self.flush()

            def next_chunk() -> bytes | None:  # in a worker thread: the batch and its IPC bytes
                batch = run.next_batch()
                if batch is None:
                    return None
                writer.write_batch(batch)
                return sink.take()

            while (chunk := await self.scanning(next_chunk)) is not None:
                self.write(chunk)
                await self.flush()  # waits for the socket: memory stays bounded by a few batches
            writer.close()
            status = "succeeded"
            # Recorded before the end-of-stream marker goes out: a client that reads the marker
            # and then asks GET scans/{id} finds the final record.
            await self.scanning(run.finish, status, None)
            recorded = True
            self.write(sink.take())  # the end-of-stream marker: only a complete result gets one
            await self.flush()
        except StreamClosedError:
            if not recorded:
                status, error = "cancelled", "the client went away"
        except AgnesError as exc:
            status, error = "failed", exc.message
            self.log.info("agnes: scan %s failed mid-stream: %s", run.scan_id, exc.message)
        except Exception as exc:
            status, error = "failed", f"internal error ({type(exc).__name__})"
            self.log.exception("agnes: scan %s failed mid-stream", run.scan_id)
        finally:
            if not recorded:
                await self.scanning(run.finish, status, error)
        if status == "succeeded":
            self.finish()
        else:
            stream = getattr(self.request.connection, "stream", None)
            if stream is not None:
                stream.close()  # cut: no end-of-stream marker


class ScanHandler(AgnesHandler):
    @web.authenticated
    @authorized
    async def get(self, scan_id: str) -> None:
        self.write_json(await self.blocking(self.core.scans.get, self.principal, scan_id))
