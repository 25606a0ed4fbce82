"""Gated remote scans: admit (estimate, confirm, one line saying what it costs), then stream the
Arrow result into memory or into a Parquet file by rename."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._client import current as _client
from ._display import human_bytes, human_count
from ._progress import Progress, byte_bar, say, step
from .errors import ScanTimeout, SourceError

if TYPE_CHECKING:
    from ._client import Client

SCAN_TIMEOUT = (15.0, 900.0)  # connect, and between two chunks of the stream



class _ArrowSink:
    """Keeps the stream's batches in memory: the result of ``execute()`` (not stored)."""

    def __init__(self, schema: Any) -> None:
        self.schema = schema
        self.batches: list[Any] = []

    def write(self, batch: Any) -> None:
        self.batches.append(batch)

    def close(self, complete: bool) -> None:
        if not complete:
            self.batches = []

    def table(self) -> Any:
        import pyarrow as pa

        return pa.Table.from_batches(self.batches, schema=self.schema)


def _stream_scan(body: dict[str, Any], confirm: bool, desc: str, show_progress: Progress,
                 open_sink: Any, *, client: Client | None = None) -> tuple[dict[str, Any], Any]:
    """POST scans and hand the Arrow stream to ``open_sink(schema)``; the scan record and the sink.
    Raises (and leaves nothing behind in the sink) unless the server recorded a complete scan.
    A progress callback hears the phase ``scanning`` once the server has started the scan (every
    refusal of the gate comes before it)."""
    import json

    import pyarrow as pa

    client = client or _client()
    response = client.request("POST", "scans", json={**body, "confirm": confirm}, stream=True,
                              timeout=SCAN_TIMEOUT)
    scan_id = response.headers.get("X-Agnes-Scan-Id", "")
    estimate_hint = json.loads(response.headers.get("X-Agnes-Estimate") or "{}")
    try:
        bar = byte_bar(show_progress, estimate_hint.get("result_bytes"), desc, phase="scanning", upper_bound=True)
    except BaseException:
        response.close()  # a callback that refuses to go on (its job was cancelled) ends the scan
        raise
    cut: str | None = None
    rows = 0
    sink: Any = None
    complete = False
    try:
        response.raw.decode_content = True
        try:
            reader = pa.ipc.open_stream(response.raw)
            sink = open_sink(reader.schema)
            try:
                for batch in reader:
                    sink.write(batch)
                    rows += batch.num_rows
                    bar.update(batch.nbytes)
                complete = True
            finally:
                sink.close(complete)
        except Exception as exc:  # noqa: BLE001 - a cut stream surfaces here; the record says why
            cut = f"{type(exc).__name__}: {exc}"
            complete = False
        record = client.get(f"scans/{scan_id}")
        if record["status"] == "timed_out":
            raise ScanTimeout(str(record.get("error") or "the scan was stopped at the server's time limit"),
                              hint="Nothing was written. Narrow it (a filter on a partition or sort column), or "
                                   "ask an admin about scan_timeout_seconds.", details={"scan": record})
        if record["status"] != "succeeded" or cut is not None:
            reason = record.get("error") or cut or record["status"]
            raise SourceError(f"the scan did not complete ({record['status']}): {reason}",
                              hint="Nothing was written; run it again. The scan's record: "
                                   f"agnes.client().get('scans/{scan_id}').", details={"scan": record})
        if record["rows"] != rows:
            raise SourceError(f"the stream had {rows:,} rows but the server sent {record['rows']:,}",
                              hint="Run it again; nothing was written.", details={"scan": record})
    except BaseException:
        complete = False
        raise
    finally:
        response.close()
        bar.done(complete)
    return dict(record), sink


def _stream_to_parquet(body: dict[str, Any], target: Path, confirm: bool, desc: str,
                       show_progress: Progress, *, client: Client | None = None) -> dict[str, Any]:
    """POST scans, write the Arrow stream to ``target`` (by rename), return the scan record."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=".part")
    os.close(fd)
    try:
        record, _ = _stream_scan(body, confirm, desc, show_progress, lambda schema: _ParquetSink(tmp, schema),
                                 client=client)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return record


def scan_line(estimates: list[dict[str, Any]]) -> str:
    """One line before a scan runs: what it reads, what it costs and the budget left today."""
    total = sum(int(e["scan_bytes"]) for e in estimates)
    cost = sum(float(e.get("cost_usd") or 0) for e in estimates)
    tables = ", ".join(dict.fromkeys(t["id"] for e in estimates for t in e["tables"]))
    sources = ", ".join(dict.fromkeys(str(e["source"]) for e in estimates))
    limits = estimates[-1]["limits"]
    left = max(0, int(limits["daily_scan_bytes_per_user"]) - int(limits["daily_used_bytes"]) - total)
    rows = [e.get("result_rows") for e in estimates]
    shown = f"≤ {human_count(sum(rows))} rows" if all(r is not None for r in rows) else "rows unknown"  # type: ignore[arg-type]
    parts = f" in {len(estimates)} scans" if len(estimates) > 1 else ""
    return (f"agnes: scanning {human_bytes(total)} of {tables} ({sources}){parts}, {shown}, "
            f"cost ${cost:.4f}; budget left today {human_bytes(left)} of "
            f"{human_bytes(int(limits['daily_scan_bytes_per_user']))}")


def admit(bodies: list[dict[str, Any]], confirm: bool | None = None, *, client: Client | None = None,
          progress: Progress = True) -> bool:
    """Estimate every scan, refuse early what the gate would refuse, and print the one line that
    says what will be scanned, its cost and the budget left (a progress callback gets it instead).
    Returns whether the scans run confirmed (``confirm=True`` or ``with agnes.confirm():``).
    Several scans (the remote parts of one expression) are judged by their sum: one confirmation,
    one budget check."""
    from .errors import ConfirmationRequired, QuotaExceeded

    if confirm is not None:
        confirmed = bool(confirm)
    else:
        from ._backend import _confirmed

        confirmed = _confirmed.get()
    client = client or _client()
    step(progress, "estimating", "estimating what the scan reads")
    estimates = [client.post("scans/estimate", body) for body in bodies]
    total = sum(int(e["scan_bytes"]) for e in estimates)
    limits = estimates[-1]["limits"]
    remaining = int(limits["daily_scan_bytes_per_user"]) - int(limits["daily_used_bytes"])
    if len(estimates) > 1 and total > remaining:
        raise QuotaExceeded(f"these {len(estimates)} scans would read {human_bytes(total)}, over what is left of "
                            f"today's scan budget ({human_bytes(max(remaining, 0))})",
                            hint="Narrow the remote parts (filters on partition columns, fewer columns) or wait "
                                 "until tomorrow (UTC).", details={"estimates": estimates})
    refused = any(e["verdict"] in ("too_large", "over_budget") for e in estimates)
    needs = any(e["verdict"] == "needs_confirmation" for e in estimates) or total > int(limits["scan_confirm_bytes"])
    if needs and not confirmed and not refused:  # (a refused scan gets the server's own error)
        tables = ", ".join(dict.fromkeys(t["id"] for e in estimates for t in e["tables"]))
        raise ConfirmationRequired(
            f"{'this scan' if len(estimates) == 1 else f'these {len(estimates)} scans'} would read "
            f"{human_bytes(total)} of {tables} (confirmation is needed above "
            f"{human_bytes(int(limits['scan_confirm_bytes']))})",
            hint="Run it again with confirm=True (expr.execute(confirm=True), agnes.snapshot(..., confirm=True), "
                 "%%agnes --confirm) or inside `with agnes.confirm():`, or narrow it.",
            details={"estimates": estimates, "estimate": estimates[0]})
    if not refused:
        say(progress, "estimated", scan_line(estimates))
    return confirmed


def gated_scans(sqls: list[str], confirm: bool | None = None, progress: bool = True,
                records: list[dict[str, Any]] | None = None) -> list[Any]:
    """Run SQL on remote sources through the gate (see :func:`admit`); each result as an Arrow
    table held in memory, not stored. ``records`` collects the server's record of each scan."""
    bodies = [{"sql": sql} for sql in sqls]
    confirmed = admit(bodies, confirm)
    results = []
    for i, body in enumerate(bodies):
        desc = "scan" if len(bodies) == 1 else f"scan {i + 1}/{len(bodies)}"
        record, sink = _stream_scan(body, confirmed, desc, progress, _ArrowSink)
        if records is not None:
            records.append(record)
        results.append(sink.table())
    return results


#: Rows per Parquet row group in snapshots (written in a thread while the stream is read):
#: measured 2x faster to write than one row group per 65k-row batch, and faster to query.
ROW_GROUP_ROWS = 262_144
#: ... or fewer when the buffered batches reach this many bytes (bounds the kernel's memory).
ROW_GROUP_BYTES = 128 * 1024**2


class _ParquetSink:
    """Collects batches into large row groups; a writer thread compresses and writes them while
    the caller goes on reading the stream (at most two row groups wait: memory stays bounded)."""

    def __init__(self, path: str, schema: Any) -> None:
        import queue
        import threading

        import pyarrow.parquet as pq

        self._writer = pq.ParquetWriter(path, schema, compression="zstd")
        self._schema = schema
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=2)
        self._buffer: list[Any] = []
        self._rows = 0
        self._bytes = 0
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="agnes-parquet-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (table := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
                except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
                    self._error = exc

    def write(self, batch: Any) -> None:
        if self._error is not None:
            raise self._error
        self._buffer.append(batch)
        self._rows += batch.num_rows
        self._bytes += batch.nbytes
        if self._rows >= ROW_GROUP_ROWS or self._bytes >= ROW_GROUP_BYTES:
            self._hand_over()

    def _hand_over(self) -> None:
        import pyarrow as pa

        if self._buffer:
            self._queue.put(pa.Table.from_batches(self._buffer, schema=self._schema))
        self._buffer, self._rows, self._bytes = [], 0, 0

    def close(self, complete: bool) -> None:
        """Write what is left (when ``complete``) and close the file; raise a writing error."""
        if complete:
            self._hand_over()
        self._buffer = []
        self._queue.put(None)
        self._thread.join()
        self._writer.close()
        if self._error is not None:
            raise self._error
