"""A scan request planned: the body → SQL (structured requests built as an AST) → validated
against what the user may read → estimated by the source → the gate's verdict. Nothing runs and
nothing is charged here (:mod:`agnes_core.gate.scans` admits and runs)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp

from agnes_core.access.principals import Access, Principal
from agnes_core.connectors import Capability, Connector, ScanEstimate, TableRead, TableRef
from agnes_core.connectors.types import LOCAL_DIALECT
from agnes_core.discovery.metadata import MetadataCache
from agnes_core.errors import AgnesError, NotFound, Rejected, ValidationError
from agnes_core.gate.limits import TIB, Limits
from agnes_core.gate.physical import for_analyst, physical_forms
from agnes_core.gate.sqlbounds import DEFAULT_LIMITS, SqlLimits
from agnes_core.gate.validator import Resolver, ValidatedQuery, validate
from agnes_core.ids import TABLE_ID_RE, whole_number
from agnes_core.registry import Registry, Table
from agnes_core.sqlsafe import parse_sql, render
from agnes_core.store.state import utcnow

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


class ScanPlanner:
    """Plans scans for :class:`~agnes_core.gate.scans.ScanService` (which owns the budget it reads
    through ``used_today``)."""

    def __init__(self, registry: Registry, access: Access, metadata: MetadataCache,
                 connector_for: Callable[[str], Connector], columns_of: Callable[[Table], list[tuple[str, str]]],
                 limits: Callable[[], Limits], fresh_threshold_s: Callable[[], float],
                 used_today: Callable[[str], int],
                 sql_limits: Callable[[], SqlLimits] = lambda: DEFAULT_LIMITS) -> None:
        self.registry = registry
        self.access = access
        self.metadata = metadata
        self.connector_for = connector_for
        self.columns_of = columns_of
        self.limits = limits
        self.fresh_threshold_s = fresh_threshold_s
        self.used_today = used_today
        self.sql_limits = sql_limits

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
