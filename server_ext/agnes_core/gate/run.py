"""A scan in flight: batches from the source, cut at the result caps, stopped at its time limit
or on cancellation, its failures told as the user may see them."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, NoReturn

from agnes_core.connectors import ScanBilling, ScanGuard, TableRef
from agnes_core.discovery.prefetch import Prefetch
from agnes_core.errors import AgnesError, ResourcesExceeded, ScanCancelled, ScanTimeout, ValueTooLarge
from agnes_core.gate.limits import human_bytes
from agnes_core.gate.planner import Prepared
from agnes_core.gate.sqlbounds import GUARD_MARK

if TYPE_CHECKING:
    import pyarrow as pa

    from agnes_core.gate.scans import ScanService

log = logging.getLogger(__name__)


#: Batches a scan reads ahead of the one being sent (memory: about this many plus two batches).
PREFETCH_BATCHES = 2
#: Rows per batch aim at this many bytes (the estimate's row width decides), so one batch of wide
#: rows never becomes a large allocation before the result caps can look at it.
TARGET_BATCH_BYTES = 16 * 1024 * 1024
MAX_BATCH_ROWS = 65_536
MIN_BATCH_ROWS = 256
#: The largest result row a source may send, where it can check (PostgreSQL does, before sending).
MAX_ROW_BYTES = 64 * 1024 * 1024
#: While a cancelled scan has not ended, the source is asked to stop again this often (a request
#: that arrives just before the query starts would otherwise be lost).
CANCEL_RETRY_S = 0.5


class ScanRun:
    """A scan in flight: batches from the source, cut at the result caps, stopped at its time
    limit. One consumer pulls batches in order (from worker threads, one call at a time);
    :meth:`cancel` may be called from any thread."""

    def __init__(self, service: ScanService, scan_id: str, username: str, prepared: Prepared,
                 refs: list[TableRef]) -> None:
        self.service = service
        self.scan_id = scan_id
        self.username = username
        self.prepared = prepared
        self.refs = refs
        self.started = time.perf_counter()
        self.rows = 0
        self.bytes = 0
        self.batches_read = 0
        self.truncated_reason: str | None = None
        self.schema: pa.Schema | None = None
        #: What the source says the scan read and billed, once it has ended (None: it does not say).
        self.billing: ScanBilling | None = None
        self.timeout_s = float(prepared.limits.scan_timeout_seconds)
        self.batch_rows = _batch_rows(prepared)
        #: Why the scan was stopped early (``timeout``, ``client``, ``shutdown``), or None.
        self.cancelled: str | None = None
        self._ended = threading.Event()
        self._timer: threading.Timer | None = None
        self._batches: Iterator[pa.RecordBatch] | None = None
        self._pending: pa.RecordBatch | None = None
        self._done = False

    def start_clock(self) -> None:
        """Stop the scan in the source when its time limit passes."""
        self._timer = threading.Timer(self.timeout_s, self.cancel, args=("timeout",))
        self._timer.daemon = True
        self._timer.name = f"agnes-scan-clock-{self.scan_id}"
        self._timer.start()

    def cancel(self, reason: str) -> None:
        """Stop the scan as soon as the source allows; the consumer's next call raises."""
        if self._ended.is_set() or self.cancelled is not None:
            return
        self.cancelled = reason
        log.info("agnes: stopping scan %s (%s)", self.scan_id, reason)
        threading.Thread(target=self._keep_interrupting, name=f"agnes-scan-cancel-{self.scan_id}",
                         daemon=True).start()

    def _keep_interrupting(self) -> None:
        deadline = time.monotonic() + 120
        while not self._ended.is_set() and time.monotonic() < deadline:
            try:
                self.prepared.connector.interrupt()
            except Exception:
                log.exception("agnes: interrupting scan %s failed", self.scan_id)
            self._ended.wait(CANCEL_RETRY_S)

    def _stopped_error(self, exc: BaseException | None = None) -> BaseException | None:
        """The error to raise for a scan that was stopped or failed in a known way, else None.
        What the source said comes first: a scan that hit its memory limit is drained by the
        postgres scanner until the time limit cancels it, and the memory limit is the cause."""
        message = exc.message if isinstance(exc, AgnesError) else str(exc or "")
        if GUARD_MARK in message:
            what = message[message.index(GUARD_MARK) + len(GUARD_MARK):].split('"')[0].strip().rstrip(".")
            return ValueTooLarge(f"the scan was stopped: {what}",
                                 hint="Select fewer or narrower columns, or build smaller values.",
                                 details={"scan_id": self.scan_id})
        if "Out of Memory Error" in message or "out of memory" in message:
            return ResourcesExceeded(
                "the scan needed more memory than the server gives one scan, and was stopped",
                hint="Select fewer or narrower columns, aggregate in the query, or add a LIMIT.",
                details={"scan_id": self.scan_id})
        if self.cancelled == "timeout" or "statement timeout" in message:
            return ScanTimeout(
                f"the scan ran longer than its {self.timeout_s:g} s limit and was stopped",
                hint="Narrow it (a filter on a partition or sort column, fewer joins), or ask an admin about "
                "the limit (scan_timeout_seconds).",
                details={"limit_seconds": self.timeout_s, "scan_id": self.scan_id})
        if self.cancelled is not None:
            return ScanCancelled(f"the scan was stopped ({self.cancelled})", details={"scan_id": self.scan_id})
        return None

    def _reraise(self, exc: Exception) -> NoReturn:
        """Raise what the caller should see of a source's failure: why the scan was stopped, or
        the error as this user may see it."""
        stopped = self._stopped_error(exc)
        if stopped is not None:
            raise stopped from None
        scrubbed = self.prepared.scrub(exc)
        if scrubbed is not exc:
            raise scrubbed from None
        raise exc

    def open(self) -> pa.Schema:
        """Start the query in the source; return the result's schema (first batch buffered)."""
        limits = self.prepared.limits
        budget_left = max(1, limits.daily_scan_bytes_per_user - self.prepared.used_today)
        guard = ScanGuard(self.scan_id, self.timeout_s, min(MAX_ROW_BYTES, limits.max_result_bytes),
                          username=self.username, max_bytes=min(limits.scan_max_bytes, budget_left))
        try:
            if self.cancelled is not None:
                raise ScanCancelled("the scan was stopped before it started")
            batches = iter(self.prepared.connector.scan(self.prepared.query.physical_sql, batch_size=self.batch_rows,
                                                        tables=self.refs, guard=guard))
            self._batches = batches
            first = next(batches, None)
        except Exception as exc:  # noqa: BLE001 - always re-raised, as the user may see it
            self._reraise(exc)
        self._pending = first
        if first is None:
            raise AgnesError("the source returned no result schema", code="source_error")
        self.schema = first.schema
        # The source computes the next batches while the caller sends this one (measured: the
        # snapshot benchmark's stream overlaps DuckDB's scan with serialising and sending).
        self._batches = Prefetch(batches, depth=PREFETCH_BATCHES, name=f"agnes-scan-{self.scan_id}")
        return first.schema

    def next_batch(self) -> pa.RecordBatch | None:
        """The next batch (cut at the caps), or None when the result is complete or truncated."""
        if self._done or self._batches is None:
            return None
        try:
            batch = self._pending if self._pending is not None else next(self._batches, None)
        except Exception as exc:  # noqa: BLE001 - always re-raised, as the user may see it
            self._reraise(exc)
        if self.cancelled is not None:
            raise self._stopped_error() or ScanCancelled("the scan was stopped")
        self._pending = None
        if batch is None:
            self._done = True
            return None
        self.batches_read += 1
        limits = self.prepared.limits
        room_rows = limits.max_result_rows - self.rows
        if batch.num_rows > room_rows:
            batch = batch.slice(0, max(room_rows, 0))
            self.truncated_reason = f"max_result_rows ({limits.max_result_rows:,})"
        size = batch.nbytes
        if self.bytes + size > limits.max_result_bytes and batch.num_rows:
            per_row = max(size / batch.num_rows, 1)
            keep = max(int((limits.max_result_bytes - self.bytes) / per_row), 0)
            batch = batch.slice(0, keep)
            size = batch.nbytes
            self.truncated_reason = f"max_result_bytes ({human_bytes(limits.max_result_bytes)})"
        self.rows += batch.num_rows
        self.bytes += size
        if self.truncated_reason is not None:
            self._done = True
            if batch.num_rows == 0:
                return None
        return batch

    def end_status(self, status: str) -> str:
        """The status to record: a stopped scan says why, whatever the caller saw."""
        if status == "succeeded" or self.cancelled is None:
            return status
        return "timed_out" if self.cancelled == "timeout" else "cancelled"

    def finish(self, status: str, error: str | None = None) -> None:
        self._done = True
        if self._timer is not None:
            self._timer.cancel()
        status = self.end_status(status)
        try:
            if isinstance(self._batches, Prefetch):
                self._batches.close(timeout=30)  # waits for the source to be closed in its thread
            elif self._batches is not None and hasattr(self._batches, "close"):
                self._batches.close()
        finally:
            self._ended.set()
            try:
                self.billing = self.prepared.connector.scan_billing()
            except Exception:  # the estimate is charged instead
                log.exception("agnes: reading what scan %s was billed failed", self.scan_id)
            self.prepared.connector.close()
            self.service._finish(self, status, error)


def _batch_rows(p: Prepared) -> int:
    """Rows per batch for at most about ``TARGET_BATCH_BYTES`` per batch: the estimate's width of an
    input row, times what the query can make of it (``rpad(x, 16000)`` makes every row 64 KB wide
    whatever it read; the validator's row bound says so)."""
    est = p.estimate
    width = 64.0
    if p.result_rows and p.result_bytes:
        width = max(width, p.result_bytes / p.result_rows)
    if est.rows_read and est.scan_bytes:
        width = max(width, est.scan_bytes / est.rows_read)
    copies, extra = p.query.row_bound
    row = max(copies, 1) * width + extra
    return int(min(MAX_BATCH_ROWS, max(MIN_BATCH_ROWS, TARGET_BATCH_BYTES // max(row, 1))))
