"""Gated remote scans: plan → gate → run, with every step audited.

The gate (DESIGN §6): a scan above ``scan_confirm_bytes`` needs ``confirm``; above
``scan_max_bytes`` it is refused; each user has a daily budget of *scanned* bytes (UTC day,
kept in the state store so a restart does not reset it) and a number of concurrent scans.
Results stop at ``max_result_rows``/``max_result_bytes`` and are marked truncated. Every
limit is the smaller of the server's and the source's own (``options.limits``). Planning is
:mod:`agnes_core.gate.planner`, the scan in flight :mod:`agnes_core.gate.run`.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from agnes_core.access.audit import Audit
from agnes_core.access.principals import Access, Principal
from agnes_core.connectors import Connector, TableRef
from agnes_core.discovery.metadata import MetadataCache
from agnes_core.errors import AgnesError, ConfirmationRequired, NotFound, QuotaExceeded, ScanTooLarge
from agnes_core.gate.limits import Limits, human_bytes
from agnes_core.gate.planner import Prepared, ScanPlanner
from agnes_core.gate.run import ScanRun
from agnes_core.gate.sqlbounds import DEFAULT_LIMITS, SqlLimits
from agnes_core.registry import Registry, Table
from agnes_core.store.state import StateStore, dumps, iso, loads, utcnow

log = logging.getLogger(__name__)


def seconds_to_utc_midnight(now: datetime) -> int:
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((tomorrow - now).total_seconds()) + 1)


class ScanService:
    """Admits planned scans against the gate and the budget, runs them, and keeps their records."""

    def __init__(self, store: StateStore, registry: Registry, access: Access, metadata: MetadataCache,
                 audit: Audit, connector_for: Callable[[str], Connector],
                 columns_of: Callable[[Table], list[tuple[str, str]]], limits: Callable[[], Limits],
                 fresh_threshold_s: Callable[[], float], *,
                 sql_limits: Callable[[], SqlLimits] = lambda: DEFAULT_LIMITS,
                 max_concurrent_scans: Callable[[], int] = lambda: 8) -> None:
        self.store = store
        self.audit = audit
        self.limits = limits
        self.max_concurrent_scans = max_concurrent_scans
        self._lock = threading.Lock()
        self._running: dict[str, set[str]] = {}  # username -> running scan ids (this process)
        self._runs: dict[str, ScanRun] = {}  # every running scan of this process, by id
        self.planner = ScanPlanner(registry, access, metadata, connector_for, columns_of, limits, fresh_threshold_s,
                                   self.used_today, sql_limits)
        self._mark_interrupted()

    def _mark_interrupted(self) -> None:
        """Scans left ``running`` by a process that died are failed (their bytes stay charged)."""
        with self.store.write() as cur:
            cur.execute("UPDATE scans SET status = 'failed', error = 'the server stopped during the scan', "
                        "finished_at = ? WHERE status = 'running'", [utcnow()])

    def estimate(self, principal: Principal, body: Mapping[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            prepared = self.planner.prepare(principal, body)
        except Exception as exc:
            self._audit_failure(principal, "scan.estimate", body, exc, started)
            raise
        try:
            payload = prepared.to_json()
        finally:
            prepared.connector.close()
        self.audit.record(principal.username, "scan.estimate", f"scan/{prepared.query.source}",
                          prepared.verdict, tables=sorted(prepared.query.tables), relations=prepared.query.relations,
                          sql_hash=prepared.query.sql_hash,
                          estimated_bytes=prepared.estimate.scan_bytes, ms=round(prepared.elapsed_ms, 1))
        return payload

    def audit_refusal(self, principal: Principal, action: str, exc: Exception) -> None:
        """Audit a scan request refused before its body could be read (not JSON, not valid text)."""
        self._audit_failure(principal, action, {}, exc, time.perf_counter())

    def _audit_failure(self, principal: Principal, action: str, body: Mapping[str, Any], exc: Exception,
                       started: float) -> None:
        """Every refusal is audited, whatever the input (text that is not valid Unicode included)."""
        text = body.get("sql") if isinstance(body.get("sql"), str) else str(body.get("table"))
        status = exc.status if isinstance(exc, AgnesError) else 500
        try:
            self.audit.record(principal.username, action, "scan", "rejected" if status < 500 else "error",
                              error=exc.code if isinstance(exc, AgnesError) else "internal",
                              kind=exc.details.get("kind") if isinstance(exc, AgnesError) else None,
                              sql_hash=hashlib.sha256(str(text).encode("utf-8", "surrogatepass")).hexdigest()[:16],
                              ms=round((time.perf_counter() - started) * 1000, 1))
        except Exception:  # the refusal still goes out; the log says the audit failed
            log.exception("agnes: could not audit a refused scan")

    # -- quota ------------------------------------------------------------------------------

    def used_today(self, username: str) -> int:
        value = self.store.scalar("SELECT scanned_bytes FROM scan_usage WHERE username = ? AND day = ?",
                                  [username, utcnow().date()])
        return int(value or 0)

    def usage(self, username: str) -> dict[str, Any]:
        limits = self.limits()
        used = self.used_today(username)
        with self._lock:
            running = len(self._running.get(username, ()))
        return {"day": utcnow().date().isoformat(), "scanned_bytes": used,
                "daily_scan_bytes_per_user": limits.daily_scan_bytes_per_user, "running_scans": running,
                "max_concurrent_scans_per_user": limits.max_concurrent_scans_per_user}

    def _charge(self, cur: Any, username: str, nbytes: int, scans: int = 0) -> None:
        cur.execute(
            "INSERT INTO scan_usage (username, day, scanned_bytes, scans) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (username, day) DO UPDATE SET "
            "scanned_bytes = scan_usage.scanned_bytes + excluded.scanned_bytes, "
            "scans = scan_usage.scans + excluded.scans", [username, utcnow().date(), nbytes, scans])

    # -- execution --------------------------------------------------------------------------

    def start(self, principal: Principal, body: Mapping[str, Any]) -> ScanRun:
        """Run the gate; on success reserve the estimated bytes and return the running scan."""
        started = time.perf_counter()
        try:
            prepared = self.planner.prepare(principal, body)
        except Exception as exc:
            self._audit_failure(principal, "scan.run", body, exc, started)
            raise
        try:
            run = self._admit(principal, prepared, bool(body.get("confirm")))
        except AgnesError as exc:
            prepared.connector.close()
            self.audit.record(principal.username, "scan.run", f"scan/{prepared.query.source}", "refused",
                              error=exc.code, kind=exc.details.get("kind"), tables=sorted(prepared.query.tables),
                              sql_hash=prepared.query.sql_hash, estimated_bytes=prepared.estimate.scan_bytes)
            raise
        return run

    def _admit(self, principal: Principal, p: Prepared, confirm: bool) -> ScanRun:
        est, limits = p.estimate, p.limits
        if p.verdict == "too_large":
            raise ScanTooLarge(
                f"this scan would read {human_bytes(est.scan_bytes)}, over the {human_bytes(limits.scan_max_bytes)} "
                f"per-scan cap of source {p.query.source!r}",
                hint="Narrow it: fewer columns, a filter on a partition or sort column, or a shorter period.",
                details={"estimate": p.to_json()})
        username = principal.username
        with self._lock:
            used = self.used_today(username)
            if used + est.scan_bytes > limits.daily_scan_bytes_per_user:
                now = datetime.now(timezone.utc)
                raise QuotaExceeded(
                    f"today's scan budget is spent: {human_bytes(used)} of "
                    f"{human_bytes(limits.daily_scan_bytes_per_user)} used, and this scan would read "
                    f"{human_bytes(est.scan_bytes)}",
                    hint="Work on your snapshots locally, narrow the scan, or wait for the budget to reset at "
                    "midnight UTC.",
                    details={"kind": "daily_bytes", "current": used, "limit": limits.daily_scan_bytes_per_user,
                             "requested": est.scan_bytes, "retry_after_seconds": seconds_to_utc_midnight(now)})
            if p.verdict == "needs_confirmation" and not confirm:
                raise ConfirmationRequired(
                    f"this scan would read {human_bytes(est.scan_bytes)} from {p.query.source!r} "
                    f"(confirmation is needed above {human_bytes(limits.scan_confirm_bytes)})",
                    hint="Repeat with confirm=True (%agnes ... --confirm) to run it, or narrow it.",
                    details={"estimate": p.to_json()})
            running = self._running.setdefault(username, set())
            if len(running) >= limits.max_concurrent_scans_per_user:
                raise QuotaExceeded(
                    f"you already run {len(running)} scans, the most allowed at once",
                    hint="Wait for one to finish.",
                    details={"kind": "concurrent_scans", "current": len(running),
                             "limit": limits.max_concurrent_scans_per_user, "retry_after_seconds": 5})
            everyone = len(self._runs)
            if everyone >= self.max_concurrent_scans():
                raise QuotaExceeded(
                    f"the server already runs {everyone} scans, the most it runs at once",
                    hint="Try again in a few seconds.",
                    details={"kind": "server_scans", "current": everyone, "limit": self.max_concurrent_scans(),
                             "retry_after_seconds": 5})
            scan_id = uuid.uuid4().hex[:16]
            running.add(scan_id)
            try:
                with self.store.write() as cur:
                    self._charge(cur, username, est.scan_bytes, scans=1)
                    cur.execute(
                        "INSERT INTO scans (scan_id, username, source, tables, sql, sql_hash, status, estimated_bytes,"
                        " estimate, started_at) VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?)",
                        [scan_id, username, p.query.source, ",".join(sorted(p.query.tables)), p.query.sql,
                         p.query.sql_hash, est.scan_bytes, dumps(p.to_json()), utcnow()])
            except BaseException:
                running.discard(scan_id)
                raise
            refs = [TableRef(u.table.bucket, u.table.source_table) for u in p.query.tables.values()
                    if u.table.query_mode != "materialized"]
            run = ScanRun(self, scan_id, username, p, refs)
            self._runs[scan_id] = run
        run.start_clock()
        return run

    def cancel_all(self, reason: str) -> int:
        """Stop every running scan of this process (``reason``: ``shutdown``, ``client``...)."""
        with self._lock:
            runs = list(self._runs.values())
        for run in runs:
            run.cancel(reason)
        return len(runs)

    def running_count(self) -> int:
        with self._lock:
            return len(self._runs)

    def _finish(self, run: ScanRun, status: str, error: str | None) -> None:
        duration = int((time.perf_counter() - run.started) * 1000)
        with self._lock:
            self._running.get(run.username, set()).discard(run.scan_id)
            self._runs.pop(run.scan_id, None)
        reserved = run.prepared.estimate.scan_bytes
        billing = run.billing
        if billing is not None and billing.billed_bytes is not None:
            charged, origin = max(0, billing.billed_bytes), "billed"  # the source's own account
        elif status == "failed" and run.batches_read == 0:
            charged, origin = 0, "estimate"  # nothing was read: the reservation is given back
        else:
            charged, origin = reserved, "estimate"
        billed = {"processed_bytes": billing.processed_bytes, "billed_bytes": billing.billed_bytes,
                  "cache_hit": billing.cache_hit, "source_job_id": billing.job_id} if billing else {}
        with self.store.write() as cur:
            if charged != reserved:
                self._charge(cur, run.username, charged - reserved)
            cur.execute(
                "UPDATE scans SET status = ?, scanned_bytes = ?, scanned_bytes_origin = ?, rows = ?, bytes = ?, "
                "truncated = ?, truncated_reason = ?, error = ?, finished_at = ?, duration_ms = ?, "
                "processed_bytes = ?, billed_bytes = ?, cache_hit = ?, source_job_id = ? WHERE scan_id = ?",
                [status, charged, origin, run.rows, run.bytes, run.truncated_reason is not None,
                 run.truncated_reason, error, utcnow(), duration, billed.get("processed_bytes"),
                 billed.get("billed_bytes"), billed.get("cache_hit"), billed.get("source_job_id"), run.scan_id])
        self.audit.record(run.username, "scan.run", f"scan/{run.scan_id}", status,
                          tables=sorted(run.prepared.query.tables), relations=run.prepared.query.relations,
                          source=run.prepared.query.source,
                          sql_hash=run.prepared.query.sql_hash, estimated_bytes=reserved,
                          scanned_bytes=charged, scanned_bytes_origin=origin, **billed, rows=run.rows,
                          bytes=run.bytes, truncated=run.truncated_reason is not None, ms=duration, error=error)

    def get(self, principal: Principal, scan_id: str) -> dict[str, Any]:
        row = self.store.row("SELECT * FROM scans WHERE scan_id = ?", [scan_id])
        if row is None or (row["username"] != principal.username and not principal.is_admin):
            raise NotFound(f"no scan {scan_id!r}", hint="Scan ids come from the X-Agnes-Scan-Id header of POST scans.")
        return {**row, "tables": row["tables"].split(",") if row["tables"] else [],
                "started_at": iso(row["started_at"]), "finished_at": iso(row["finished_at"]),
                "truncated": bool(row["truncated"]), "estimate": loads(row["estimate"], {})}
