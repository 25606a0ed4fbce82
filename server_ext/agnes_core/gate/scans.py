"""Gated remote scans: validate → estimate → gate → execute, with every step audited.

The gate (DESIGN §6): a scan above ``scan_confirm_bytes`` needs ``confirm``; above
``scan_max_bytes`` it is refused; each user has a daily budget of *scanned* bytes (UTC day,
kept in the state store so a restart does not reset it) and a number of concurrent scans.
Results stop at ``max_result_rows``/``max_result_bytes`` and are marked truncated. Every
limit is the smaller of the server's and the source's own (``options.limits``).
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, NoReturn

import sqlglot
from sqlglot import exp

from agnes_core.access.audit import Audit
from agnes_core.access.principals import Access, Principal
from agnes_core.connectors import Capability, Connector, ScanEstimate, ScanGuard, TableRead, TableRef
from agnes_core.connectors.types import LOCAL_DIALECT
from agnes_core.discovery.metadata import MetadataCache
from agnes_core.discovery.prefetch import Prefetch
from agnes_core.errors import (
    AgnesError,
    ConfirmationRequired,
    NotFound,
    QuotaExceeded,
    Rejected,
    ResourcesExceeded,
    ScanCancelled,
    ScanTimeout,
    ScanTooLarge,
    ValidationError,
    ValueTooLarge,
)
from agnes_core.gate.limits import TIB, Limits
from agnes_core.gate.physical import for_analyst, physical_forms
from agnes_core.gate.sqlbounds import DEFAULT_LIMITS, GUARD_MARK, SqlLimits
from agnes_core.gate.validator import Resolver, ValidatedQuery, validate
from agnes_core.ids import TABLE_ID_RE, whole_number
from agnes_core.registry import Registry, Table
from agnes_core.sqlsafe import parse_sql, render
from agnes_core.store.state import StateStore, dumps, iso, loads, utcnow

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TiB"


def seconds_to_utc_midnight(now: datetime) -> int:
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((tomorrow - now).total_seconds()) + 1)


_ORDER_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)(?:\s+(ASC|DESC))?(?:\s+NULLS\s+(FIRST|LAST))?\s*$", re.I)
#: The same, as openapi.yaml publishes it (JSON Schema patterns have no flags: cases spelled out).
ORDER_ITEM_PATTERN = (r"^[ \t]*[A-Za-z_][A-Za-z0-9_]*([ \t]+([Aa][Ss][Cc]|[Dd][Ee][Ss][Cc]))?"
                      r"([ \t]+[Nn][Uu][Ll][Ll][Ss][ \t]+([Ff][Ii][Rr][Ss][Tt]|[Ll][Aa][Ss][Tt]))?[ \t]*$")


@dataclass
class Prepared:
    query: ValidatedQuery
    estimate: ScanEstimate
    limits: Limits
    verdict: str
    used_today: int
    connector: Connector
    result_rows: int | None
    result_bytes: int | None
    cost_usd: float
    elapsed_ms: float
    table_info: list[dict[str, Any]]
    #: Admins see the source's own names (schemas, relations, files); analysts see table ids only.
    for_admin: bool = True

    def to_json(self) -> dict[str, Any]:
        e = self.estimate
        detail = e.tables if self.for_admin else _detail_by_id(e.tables, self.query, self.connector.default_schema)
        return {
            "scan_bytes": e.scan_bytes, "scan_bytes_basis": e.basis, "compressed_bytes": e.compressed_bytes,
            "rows_read": e.rows_read,
            "result_rows": self.result_rows, "result_bytes": self.result_bytes, "cost_usd": self.cost_usd,
            "verdict": self.verdict, "limits": {**self.limits.to_json(), "daily_used_bytes": self.used_today,
                                                "daily_remaining_bytes": max(0, self.limits.daily_scan_bytes_per_user
                                                                             - self.used_today)},
            "sql": self.query.sql, "sql_hash": self.query.sql_hash, "dialect": self.query.dialect,
            "source": self.query.source, "tables": self.table_info, "method": e.method,
            "detail": detail, "estimated_ms": round(self.elapsed_ms, 1),
        }

    def scrub(self, exc: BaseException) -> BaseException:
        """``exc`` as an analyst may see it (admins see it as it is)."""
        if self.for_admin or not isinstance(exc, AgnesError):
            return exc
        return for_analyst(exc, [u.table for u in self.query.tables.values()], self.connector.default_schema)


def _detail_by_id(detail: list[dict[str, Any]], query: ValidatedQuery, default_schema: str) -> list[dict[str, Any]]:
    """The source's per-relation figures, per table id (relations it does not name are summed as
    ``other``)."""
    by_form = {form.strip('"').replace('"."', "."): table_id.strip('"')
               for form, table_id in physical_forms([u.table for u in query.tables.values()], default_schema)}
    out: dict[str, dict[str, Any]] = {}
    for entry in detail:
        name = str(entry.get("table") or "")
        key = by_form.get(name) or by_form.get(name.split(".")[-1] if "." not in name else name) or "other"
        merged = out.setdefault(key, {"table": key})
        for field, value in entry.items():
            if field != "table" and isinstance(value, (int, float)) and not isinstance(value, bool):
                merged[field] = merged.get(field, 0) + value
    return list(out.values())


class ScanService:
    def __init__(self, store: StateStore, registry: Registry, access: Access, metadata: MetadataCache,
                 audit: Audit, connector_for: Callable[[str], Connector],
                 columns_of: Callable[[Table], list[tuple[str, str]]], limits: Callable[[], Limits],
                 fresh_threshold_s: Callable[[], float], *,
                 sql_limits: Callable[[], SqlLimits] = lambda: DEFAULT_LIMITS,
                 max_concurrent_scans: Callable[[], int] = lambda: 8) -> None:
        self.store = store
        self.registry = registry
        self.access = access
        self.metadata = metadata
        self.audit = audit
        self.connector_for = connector_for
        self.columns_of = columns_of
        self.limits = limits
        self.fresh_threshold_s = fresh_threshold_s
        self.sql_limits = sql_limits
        self.max_concurrent_scans = max_concurrent_scans
        self._lock = threading.Lock()
        self._running: dict[str, set[str]] = {}  # username -> running scan ids (this process)
        self._runs: dict[str, ScanRun] = {}  # every running scan of this process, by id
        self._mark_interrupted()

    def _mark_interrupted(self) -> None:
        """Scans left ``running`` by a process that died are failed (their bytes stay charged)."""
        with self.store.write() as cur:
            cur.execute("UPDATE scans SET status = 'failed', error = 'the server stopped during the scan', "
                        "finished_at = ? WHERE status = 'running'", [utcnow()])

    # -- request → SQL --------------------------------------------------------------------

    def request_sql(self, body: Mapping[str, Any], principal: Principal | None = None) -> str:
        """The SQL of a request: ``sql`` as given, or the structured form built as an AST."""
        unknown = set(body) - {"sql", "table", "select", "where", "order_by", "limit", "confirm"}
        if unknown:
            raise ValidationError(sorted(unknown)[0], f"unknown field {sorted(unknown)[0]!r}",
                                  hint="Send either sql, or table with select/where/order_by/limit.")
        if "confirm" in body and not isinstance(body["confirm"], bool):
            raise ValidationError("confirm", "confirm must be true or false")
        if body.get("sql") is not None:
            if "table" in body:
                raise ValidationError("sql", "send either sql or table, not both")
            if not isinstance(body["sql"], str):
                raise ValidationError("sql", "sql must be a string")
            return body["sql"]
        table_id = body.get("table")
        if not isinstance(table_id, str) or not TABLE_ID_RE.match(table_id):
            raise ValidationError("table", "send sql, or table with the id of a registered table",
                                  hint='e.g. {"table": "events", "select": ["country"], "where": "amount > 10"}')
        table = self.registry.find_table(table_id)
        if principal is not None and (table is None or not self.access.can_read(principal, table.id)):
            raise NotFound(f"no table {table_id!r} that you may read", details={"field": "table"},
                           hint="agnes.catalog() lists the tables you may use.")
        dialect = self._dialect(table.source) if table else LOCAL_DIALECT
        select = body.get("select") or []
        if not isinstance(select, list) or not all(isinstance(c, str) and c for c in select):
            raise ValidationError("select", "select must be a list of column names")
        columns: list[exp.Expr] = [exp.column(c, quoted=True) for c in select] or [exp.Star()]
        query = exp.select(*columns).from_(
            exp.to_table(table_id))
        where = body.get("where")
        if where is not None:
            if not isinstance(where, str) or not where.strip():
                raise ValidationError("where", "where must be a non-empty predicate, like \"amount > 10\"",
                                      hint="Leave where out to read every row.")
            if len(where.encode("utf-8", "surrogatepass")) > self.sql_limits().max_bytes:
                raise Rejected("query_too_long", f"where is longer than {self.sql_limits().max_bytes:,} bytes",
                               fragment=None)
            try:
                (condition,) = parse_sql(where, dialect, "where", into=exp.Condition)
            except ValidationError as exc:
                raise Rejected("parse_error", exc.message, fragment=where[:200]) from None
            if condition is None:
                raise ValidationError("where", "where holds no predicate")
            query = query.where(condition)
        order_by = body.get("order_by") or []
        if not isinstance(order_by, list):
            raise ValidationError("order_by", "order_by must be a list like [\"col DESC\"]")
        for item in order_by:
            m = _ORDER_RE.match(item) if isinstance(item, str) else None
            if m is None:
                raise ValidationError("order_by", f"cannot read order_by item {item!r}",
                                      hint='use "column", "column DESC" or "column ASC NULLS LAST"')
            nulls = m.group(3)
            query = query.order_by(exp.Ordered(
                this=exp.column(m.group(1), quoted=True), desc=(m.group(2) or "").upper() == "DESC",
                nulls_first=(nulls or "").upper() == "FIRST" if nulls else None))
        raw_limit = body.get("limit")
        limit = whole_number(raw_limit)
        if raw_limit is not None:
            if limit is None or limit < 0:
                raise ValidationError("limit", "limit must be a non-negative whole number")
            query = query.limit(limit)
        return render(query, dialect)

    def _dialect(self, source_name: str) -> str:
        from agnes_core.connectors import connector_class

        source = self.registry.sources_by_name().get(source_name)
        return connector_class(source.type).dialect if source else LOCAL_DIALECT

    # -- validate and estimate --------------------------------------------------------------

    def resolver(self, principal: Principal) -> Resolver:
        from agnes_core.connectors import connector_class

        def physical(table: Table) -> exp.Expr:
            source = self.registry.get_source(table.source)
            cls = connector_class(source.type)
            if table.query_mode == "materialized" and table.sql:
                return sqlglot.parse_one(table.sql, read=cls.dialect)
            return exp.table_(table.source_table, db=table.bucket or cls.default_schema, quoted=True)

        def default_schema(source_name: str) -> str | None:
            source = self.registry.sources_by_name().get(source_name)
            return connector_class(source.type).default_schema if source else None

        def columns(table: Table) -> list[tuple[str, str]]:
            try:
                return self.columns_of(table)
            except AgnesError as exc:
                if principal.is_admin:
                    raise
                raise for_analyst(exc, [table], default_schema(table.source) or "") from None

        dialects = tuple(dict.fromkeys([LOCAL_DIALECT, *(self._dialect(s.name) for s in self.registry.list_sources())]))
        return Resolver(find=self.registry.find_table, can_read=lambda tid: self.access.can_read(principal, tid),
                        dialect_of=self._dialect, columns=columns, physical=physical, dialects=dialects,
                        find_any_case=self.registry.find_table_any_case, default_schema=default_schema,
                        limits=self.sql_limits())

    def prepare(self, principal: Principal, body: Mapping[str, Any]) -> Prepared:
        started = time.perf_counter()
        sql = self.request_sql(body, principal)
        query = validate(sql, self.resolver(principal))
        connector = self.connector_for(query.source)
        try:
            reads = [TableRead(TableRef(u.table.bucket, u.table.source_table), u.columns,
                               [[render(c, query.dialect) for c in occ.conjuncts] for occ in u.occurrences])
                     for u in query.tables.values() if u.table.query_mode != "materialized"]
            if Capability.ESTIMATE in connector.capabilities and len(reads) == len(query.tables):
                estimate = connector.estimate(query.physical_sql, reads)
            else:
                estimate = ScanEstimate(scan_bytes=0, method="unavailable: the source cannot estimate this query",
                                        basis="unknown")
        except BaseException as exc:
            connector.close()
            if isinstance(exc, AgnesError) and not principal.is_admin:
                raise for_analyst(exc, [u.table for u in query.tables.values()], connector.default_schema) from None
            raise
        source = self.registry.get_source(query.source)
        limits = self.limits().lowered_by(source.options.get("limits"))
        used = self.used_today(principal.username)
        result_rows, result_bytes = _result_size(query, estimate)
        price = float(source.options.get("price_per_tib_usd", connector.default_price_per_tib_usd) or 0)
        verdict = _verdict(estimate, limits, used, unknown=estimate.method.startswith("unavailable"))
        return Prepared(query, estimate, limits, verdict, used, connector, result_rows, result_bytes,
                        round(estimate.scan_bytes / TIB * price, 6), (time.perf_counter() - started) * 1000,
                        self._table_info(query), for_admin=principal.is_admin)

    def _table_info(self, query: ValidatedQuery) -> list[dict[str, Any]]:
        now = utcnow()
        out = []
        for table_id, use in query.tables.items():
            meta = self.metadata.get(table_id)
            info = meta.to_json(now, self.fresh_threshold_s()) if meta else None
            out.append({"id": table_id, "query_mode": use.table.query_mode, "columns": sorted(use.columns),
                        "freshness": info["freshness"] if info else "never_fetched",
                        "refreshed_at": info["refreshed_at"] if info else None,
                        "rows": info["rows"] if info else None})
        return out

    def estimate(self, principal: Principal, body: Mapping[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            prepared = self.prepare(principal, body)
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
            prepared = self.prepare(principal, body)
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
                f"this scan would read {_human(est.scan_bytes)}, over the {_human(limits.scan_max_bytes)} "
                f"per-scan cap of source {p.query.source!r}",
                hint="Narrow it: fewer columns, a filter on a partition or sort column, or a shorter period.",
                details={"estimate": p.to_json()})
        username = principal.username
        with self._lock:
            used = self.used_today(username)
            if used + est.scan_bytes > limits.daily_scan_bytes_per_user:
                now = datetime.now(timezone.utc)
                raise QuotaExceeded(
                    f"today's scan budget is spent: {_human(used)} of {_human(limits.daily_scan_bytes_per_user)} "
                    f"used, and this scan would read {_human(est.scan_bytes)}",
                    hint="Work on your snapshots locally, narrow the scan, or wait for the budget to reset at "
                    "midnight UTC.",
                    details={"kind": "daily_bytes", "current": used, "limit": limits.daily_scan_bytes_per_user,
                             "requested": est.scan_bytes, "retry_after_seconds": seconds_to_utc_midnight(now)})
            if p.verdict == "needs_confirmation" and not confirm:
                raise ConfirmationRequired(
                    f"this scan would read {_human(est.scan_bytes)} from {p.query.source!r} "
                    f"(confirmation is needed above {_human(limits.scan_confirm_bytes)})",
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
        refund = run.prepared.estimate.scan_bytes if status == "failed" and run.batches_read == 0 else 0
        with self.store.write() as cur:
            if refund:
                self._charge(cur, run.username, -refund)
            cur.execute(
                "UPDATE scans SET status = ?, scanned_bytes = ?, scanned_bytes_origin = ?, rows = ?, bytes = ?, "
                "truncated = ?, truncated_reason = ?, error = ?, finished_at = ?, duration_ms = ? WHERE scan_id = ?",
                [status, 0 if refund else run.prepared.estimate.scan_bytes, "estimate", run.rows, run.bytes,
                 run.truncated_reason is not None, run.truncated_reason, error, utcnow(), duration, run.scan_id])
        self.audit.record(run.username, "scan.run", f"scan/{run.scan_id}", status,
                          tables=sorted(run.prepared.query.tables), relations=run.prepared.query.relations,
                          source=run.prepared.query.source,
                          sql_hash=run.prepared.query.sql_hash, estimated_bytes=run.prepared.estimate.scan_bytes,
                          scanned_bytes=0 if refund else run.prepared.estimate.scan_bytes, rows=run.rows,
                          bytes=run.bytes, truncated=run.truncated_reason is not None, ms=duration, error=error)

    def get(self, principal: Principal, scan_id: str) -> dict[str, Any]:
        row = self.store.row("SELECT * FROM scans WHERE scan_id = ?", [scan_id])
        if row is None or (row["username"] != principal.username and not principal.is_admin):
            raise NotFound(f"no scan {scan_id!r}", hint="Scan ids come from the X-Agnes-Scan-Id header of POST scans.")
        return {**row, "tables": row["tables"].split(",") if row["tables"] else [],
                "started_at": iso(row["started_at"]), "finished_at": iso(row["finished_at"]),
                "truncated": bool(row["truncated"]), "estimate": loads(row["estimate"], {})}


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
        guard = ScanGuard(self.scan_id, self.timeout_s, min(MAX_ROW_BYTES, self.prepared.limits.max_result_bytes))
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
            self.truncated_reason = f"max_result_bytes ({_human(limits.max_result_bytes)})"
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


def _verdict(est: ScanEstimate, limits: Limits, used: int, *, unknown: bool) -> str:
    if est.scan_bytes > limits.scan_max_bytes:
        return "too_large"
    if used + est.scan_bytes > limits.daily_scan_bytes_per_user:
        return "over_budget"
    if unknown or est.scan_bytes > limits.scan_confirm_bytes:
        return "needs_confirmation"
    return "ok"


def _result_size(query: ValidatedQuery, est: ScanEstimate) -> tuple[int | None, int | None]:
    """The source's own figures when it has them (a planner); else an upper bound from the rows
    the scan reads, one row for an aggregate without GROUP BY, and the LIMIT."""
    if est.result_rows is not None:
        return est.result_rows, est.result_bytes
    tree = query.tree
    rows = est.rows_read
    if isinstance(tree, exp.Select) and not tree.args.get("group") and any(
            isinstance(e.unalias(), exp.AggFunc) for e in tree.expressions):
        rows = 1
    if query.limit is not None:
        rows = query.limit if rows is None else min(rows, query.limit)
    if rows is None:
        return None, None
    per_row = est.scan_bytes / est.rows_read if est.rows_read else 0
    return rows, int(rows * per_row)
