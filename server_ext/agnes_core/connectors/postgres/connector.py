"""PostgreSQL through DuckDB's postgres scanner (Arrow out, parallel ctid scans).

Chosen over ADBC's PostgreSQL driver by measurement (benchmarks/extract.py; 10M rows:
scanner 7.0–8.3 s vs ADBC 10–11 s against a 6–7 s DuckDB COPY baseline, with lower
memory) and because it hands DuckDB types (exact DECIMAL, UUID, JSON) straight to
Arrow. Its wheel pins an exact duckdb version, which agnes-jupyter therefore pins too.

The connection string comes from the environment variable named in ``secrets.dsn``;
it is never stored, and every error is redacted before it leaves the connector
(DuckDB's own ATTACH errors echo the whole DSN, password included).
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import duckdb
import sqlglot
from sqlglot import exp

from agnes_core.connectors.base import (
    Capability,
    ColumnStats,
    Connector,
    DiscoveredTable,
    FormField,
    ReadOptions,
    ScanEstimate,
    ScanGuard,
    TableMetadata,
    TableRead,
    TableRef,
)
from agnes_core.connectors.postgres.types import NATIVE_TYPE, UNCONSTRAINED_NUMERIC, ColumnPlan, plan_column
from agnes_core.errors import AgnesError, NotFound, SourceError, SourceTimeout, ValidationError
from agnes_core.gate.sqlbounds import GUARD_MARK
from agnes_core.ids import PHYSICAL_NAME_RE
from agnes_core.sqlsafe import safe_predicate
from agnes_core.store import duck

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")
#: libpq's connect_timeout unless options.connect_timeout_seconds says otherwise: a server that
#: accepts TCP and never answers holds a thread no longer than this (libpq's minimum is 2).
DEFAULT_CONNECT_TIMEOUT_S = 5
#: PostgreSQL's statement_timeout on every session unless options.statement_timeout_ms says
#: otherwise (a gated scan's own limit can only lower it).
DEFAULT_STATEMENT_TIMEOUT_MS = 300_000
#: How long cancelling a call may wait to connect (a second, short session).
CANCEL_CONNECT_TIMEOUT_S = 3
PAGE_BYTES = 8192
ENTITY = {"r": "table", "v": "view", "m": "materialized_view", "p": "partitioned_table", "f": "external"}

_COLUMNS_SQL = """
SELECT n.nspname, c.relname, c.relkind::text, obj_description(c.oid, 'pg_class'),
       a.attname, t.typname, a.atttypmod, NOT a.attnotnull, format_type(a.atttypid, a.atttypmod),
       CASE WHEN t.typcategory = 'A' THEN et.typname END, col_description(c.oid, a.attnum), a.attnum
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type et ON et.oid = t.typelem
WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp%'
  {filter}
ORDER BY 1, 2, a.attnum
"""

_METADATA_SQL = """
WITH target AS (SELECT c.oid, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = {schema} AND c.relname = {name}),
parts AS (SELECT p.relid FROM target, pg_partition_tree(target.oid) p WHERE p.isleaf)
SELECT t.relkind::text AS kind,
       CASE WHEN t.relkind = 'p' THEN (SELECT sum(greatest(c.reltuples, 0))::bigint FROM parts JOIN pg_class c
                                        ON c.oid = parts.relid)
            WHEN t.relkind IN ('r', 'm') AND c.reltuples >= 0 THEN c.reltuples::bigint END AS rows,
       CASE WHEN t.relkind = 'p' THEN (SELECT sum(pg_total_relation_size(relid))::bigint FROM parts)
            WHEN t.relkind IN ('r', 'm') THEN pg_total_relation_size(t.oid) END AS size_bytes,
       CASE WHEN t.relkind = 'p' THEN pg_get_partkeydef(t.oid) END AS partkey,
       (SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM pg_index i
          CROSS JOIN unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
         WHERE i.indrelid = t.oid AND i.indisclustered) AS clustered,
       (SELECT string_agg(a.attname, ',' ORDER BY a.attnum) FROM pg_attribute a
         WHERE a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
       obj_description(t.oid, 'pg_class') AS description,
       (SELECT sum(w.avg_width)::bigint FROM (SELECT DISTINCT ON (s.attname) s.avg_width FROM pg_stats s
         WHERE s.schemaname = {schema} AND s.tablename = {name} ORDER BY s.attname, s.inherited DESC) w) AS width
FROM target t JOIN pg_class c ON c.oid = t.oid
"""

#: The planner's statistics of every analysed column (the parent's, with inheritance, for a
#: partitioned table): the fraction of nulls, histogram bounds and most common values as text.
_STATS_SQL = """
SELECT DISTINCT ON (s.attname) s.attname::text, s.null_frac::float8, s.histogram_bounds::text::text[],
       s.most_common_vals::text::text[]
FROM pg_stats s WHERE s.schemaname = {schema} AND s.tablename = {name}
ORDER BY s.attname, s.inherited DESC
"""


def _scanner_path() -> str:
    try:
        import duckdb_extension_postgres_scanner as pkg
    except ImportError as exc:
        raise SourceError(
            "the postgres connector needs DuckDB's postgres_scanner extension, which is not installed",
            hint=f"pip install duckdb-extension-postgres-scanner=={duckdb.__version__} (Linux x86_64 wheels)",
        ) from exc
    path = os.path.join(os.path.dirname(pkg.__file__), "extensions", f"v{duckdb.__version__}",
                        "postgres_scanner.duckdb_extension")
    if not os.path.exists(path):
        raise SourceError(
            f"the installed postgres_scanner extension does not match duckdb {duckdb.__version__}",
            hint=f"pip install duckdb-extension-postgres-scanner=={duckdb.__version__}",
        )
    return path


def _literal(value: Any) -> str:
    """A PostgreSQL literal rendered from the sqlglot AST (never string formatting)."""
    return exp.convert(value).sql(dialect="postgres")


def _ident(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect="postgres")


class PostgresConnector(Connector):
    """Options: ``schemas`` (list to discover; default all non-system), ``unconstrained_numeric``
    (``decimal`` → DECIMAL(38,10), ``double`` or ``text``), ``batch_rows``, ``statement_timeout_ms``
    (default 300000: every statement of every session, extracts included), ``connect_timeout_seconds``
    (default 5), ``limits``. Secrets: ``dsn`` — the NAME of the environment variable holding a libpq
    connection string (``host=... user=... password=... dbname=...`` or a ``postgresql://`` URL)."""

    type = "postgres"
    capabilities = frozenset({Capability.DISCOVER, Capability.READ, Capability.REMOTE,
                              Capability.METADATA, Capability.ESTIMATE, Capability.STATS})
    dialect = "postgres"
    default_schema = "public"
    dialect_notes = {"identifier_quote": '"', "string_quote": "'",
                     "notes": ["Unquoted identifiers fold to lower case; double-quote mixed-case names.",
                               "Filter on the partition key so PostgreSQL prunes partitions."]}
    type_names = {"bool": "boolean", "int8": "smallint", "int16": "smallint", "int32": "integer",
                  "int64": "bigint", "uint8": "smallint", "uint16": "integer", "uint32": "bigint",
                  "uint64": "numeric", "float16": "real", "float32": "real", "float64": "double precision",
                  "string": "text", "binary": "bytea", "date": "date", "time": "time", "timestamp": "timestamp",
                  "timestamptz": "timestamptz", "interval": "interval", "json": "jsonb", "uuid": "uuid",
                  "null": "unknown"}

    guards_values = True

    @classmethod
    def fail_if(cls, over: exp.Expr, value: exp.Expr, message: str) -> exp.Expr:
        # PostgreSQL has no error() in SQL; a failing cast is one. The cast wraps the CASE (not a THEN
        # branch alone), else the planner would fold the constant cast and fail every query.
        choice = exp.Case(ifs=[exp.If(this=over, true=exp.Literal.string(message))],
                          default=exp.Cast(this=value, to=exp.DataType.build("TEXT")))
        return exp.Cast(this=choice, to=exp.DataType.build("INT"))

    @classmethod
    def byte_length(cls, e: exp.Expr) -> exp.Expr:
        return exp.Anonymous(this="octet_length", expressions=[exp.Cast(this=e, to=exp.DataType.build("TEXT"))])

    @classmethod
    def decimal_type(cls, precision: int, scale: int) -> str:
        return f"numeric({precision},{scale})"

    @classmethod
    def struct_type(cls, fields: list[tuple[str, str]]) -> str:
        return "record"

    @classmethod
    def column_type(cls, field: pa.Field) -> str:
        """PostgreSQL's own name for the column (``format_type``), kept in the field's metadata."""
        native = (field.metadata or {}).get(NATIVE_TYPE)
        return native.decode() if native else cls.sql_type(field.type)
    secret_names = ("dsn",)
    required_secrets = ("dsn",)
    title = "PostgreSQL"
    option_fields = (
        FormField("schemas", "Schemas to discover, comma-separated (empty: all but the system ones).", kind="list",
                  placeholder="public, sales"),
        FormField("unconstrained_numeric", "How NUMERIC without a precision is read.", kind="choice",
                  choices=tuple(UNCONSTRAINED_NUMERIC)),
        FormField("statement_timeout_ms", "Each statement's time limit, in milliseconds.", kind="integer",
                  placeholder=str(DEFAULT_STATEMENT_TIMEOUT_MS)),
        FormField("connect_timeout_seconds", "Connecting's time limit, from 2 to 300 seconds.", kind="integer",
                  placeholder=str(DEFAULT_CONNECT_TIMEOUT_S)),
    )
    secret_fields = (
        FormField("dsn", "The connection string (postgresql://user:password@host/db) is read from this "
                  "environment variable of the server.", required=True, placeholder="PG_DSN"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._con: duckdb.DuckDBPyConnection | None = None
        self._connecting: duckdb.DuckDBPyConnection | None = None
        self._guard: ScanGuard | None = None
        #: The application_name of this connector's sessions, to cancel them (see :meth:`interrupt`).
        self._app_name = f"agnes-{uuid.uuid4().hex[:12]}"

    @classmethod
    def validate_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        schemas = options.get("schemas")
        if schemas is not None and (not isinstance(schemas, list) or not all(
                isinstance(s, str) and PHYSICAL_NAME_RE.match(s) for s in schemas)):
            raise ValidationError("options.schemas", "schemas must be a list of schema names")
        mode = options.get("unconstrained_numeric", "decimal")
        if mode not in UNCONSTRAINED_NUMERIC:
            raise ValidationError("options.unconstrained_numeric",
                                  f"unconstrained_numeric must be one of {', '.join(UNCONSTRAINED_NUMERIC)}")
        timeout = options.get("statement_timeout_ms")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0):
            raise ValidationError("options.statement_timeout_ms", "statement_timeout_ms must be a positive integer")
        connect = options.get("connect_timeout_seconds")
        if connect is not None and (isinstance(connect, bool) or not isinstance(connect, int) or not 2 <= connect
                                    <= 300):
            raise ValidationError("options.connect_timeout_seconds",
                                  "connect_timeout_seconds must be an integer from 2 to 300 (libpq's minimum is 2)")
        return dict(options)

    @property
    def statement_timeout_ms(self) -> int:
        return int(self.options.get("statement_timeout_ms") or DEFAULT_STATEMENT_TIMEOUT_MS)

    @property
    def connect_timeout_s(self) -> int:
        return int(self.options.get("connect_timeout_seconds") or DEFAULT_CONNECT_TIMEOUT_S)

    # -- secrets and errors ---------------------------------------------------------------

    def redact(self, text: str) -> str:
        """Remove the DSN and its password (in any form) from ``text``."""
        text = super().redact(text)
        var = self.secrets.get("dsn")
        dsn = self._environ.get(var, "") if var else ""
        for secret in _password_forms(dsn):
            text = text.replace(secret, "<redacted>")
        return text

    def _error(self, what: str, exc: BaseException, hint: str | None = None) -> SourceError:
        """A SourceError with PostgreSQL's own message (its ``ERROR:`` line, without the query
        DuckDB echoes around it), secrets redacted; a SourceTimeout when a timeout stopped it."""
        raw = str(exc).strip()
        found = re.search(r"ERROR:\s+([^\n]*)", raw)
        reason = found.group(1).strip() if found else (raw.splitlines()[0] if raw else type(exc).__name__)
        reason = self.redact(reason)
        details = {"source": self.name}
        if "statement timeout" in reason:
            limit = self._timeout_ms(self._guard)
            return SourceTimeout(
                f"postgres source {self.name!r}: {what}: {reason} (it ran longer than {limit:,} ms)",
                hint="The table may be locked or the source overloaded: try again later, or raise the source's "
                "options.statement_timeout_ms.", details={**details, "statement_timeout_ms": limit})
        if "timeout expired" in reason:  # libpq's connect_timeout
            return SourceTimeout(
                f"postgres source {self.name!r}: {what}: the server did not answer within {self.connect_timeout_s} s "
                "of connecting (connect_timeout_seconds)",
                hint="Check the host and port in the DSN, and that PostgreSQL (not another service) listens there.",
                details={**details, "connect_timeout_seconds": self.connect_timeout_s})
        return SourceError(f"postgres source {self.name!r}: {what}: {reason}",
                           hint=hint or "Check the server is reachable and the DSN in "
                           f"${self.secrets.get('dsn')} is right (user, password, database).",
                           details=details)

    # -- connection -----------------------------------------------------------------------

    def connect(self, guard: ScanGuard | None = None) -> duckdb.DuckDBPyConnection:
        """The DuckDB that reads this source (the postgres scanner ATTACHed read-only). For a gated
        scan (``guard``) every PostgreSQL session it opens resolves no unqualified name
        (``search_path`` is pinned to ``pg_catalog``), can only read, stops at the scan's time
        limit, and carries the scan id in ``application_name`` so it can be cancelled."""
        if self._con is not None:
            return self._con
        dsn = self._session_dsn(guard)
        con = duck.connect(arrow_lossless_conversion=True)
        self._connecting = con  # so interrupt() reaches a connection still being set up
        try:
            con.execute(f"LOAD '{_scanner_path()}'")
            con.execute("SET TimeZone = 'UTC'")
            default_mb = 256 if guard is not None else 512
            con.execute(f"SET memory_limit = '{int(self.options.get('memory_limit_mb', default_mb))}MB'")
            con.execute(f"SET pg_statement_timeout_millis = {self._timeout_ms(guard)}")
            literal = "'" + dsn.replace("'", "''") + "'"
            con.execute(f"ATTACH {literal} AS pg (TYPE postgres, READ_ONLY)")
        except AgnesError:
            con.close()
            raise
        except duckdb.Error as exc:
            con.close()
            raise self._error("cannot connect", exc) from None
        finally:
            self._connecting = None
        self._con = con
        self._guard = guard
        return con

    def _session_dsn(self, guard: ScanGuard | None = None) -> str:
        """The DSN every session of this connector opens: a gated scan's (see :func:`_scan_session_dsn`),
        else the configured one with a connect timeout, the statement timeout and this connector's
        application_name (to cancel it)."""
        dsn = self.secret("dsn")
        if guard is not None:
            return _scan_session_dsn(dsn, guard, self._timeout_ms(guard), self.connect_timeout_s)
        return _session_dsn(dsn, self._app_name, self._timeout_ms(None), self.connect_timeout_s)

    def _timeout_ms(self, guard: ScanGuard | None) -> int:
        """The statement timeout of a session: a gated scan's time limit, lowered by the source's
        own statement_timeout_ms when set; else the source's, by default 5 minutes."""
        if guard is None:
            return self.statement_timeout_ms
        limit = max(1, int(guard.timeout_s * 1000))
        own = self.options.get("statement_timeout_ms")
        return min(limit, int(own)) if own else limit

    def interrupt(self) -> None:
        """Cancel this connector's PostgreSQL sessions (found by ``application_name``: a scan's, or
        this connector's own for every other call), then DuckDB's side. DuckDB alone cannot: it
        waits inside libpq for the first row. A session still connecting cannot be cancelled; the
        connect timeout ends it."""
        guard = self._guard
        app_name = _application_name(guard) if guard is not None else self._app_name
        cons = [c for c in (self._con, self._connecting) if c is not None]
        try:
            import psycopg

            with psycopg.connect(self.secret("dsn"), connect_timeout=min(CANCEL_CONNECT_TIMEOUT_S,
                                                                          self.connect_timeout_s),
                                 autocommit=True) as conn:
                conn.execute("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = %s "
                             "AND pid <> pg_backend_pid()", [app_name])
        except Exception as exc:  # noqa: BLE001 - best effort; the statement timeout still ends it
            log.info("postgres source %r: cancelling %s failed: %s", self.name, app_name,
                     self.redact(f"{type(exc).__name__}: {exc}"))
        for con in cons:
            try:
                con.interrupt()
            except duckdb.Error:
                pass

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def _pg_rows(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            return self.connect().execute("SELECT * FROM postgres_query('pg', ?)", [sql]).fetchall()
        except duckdb.Error as exc:
            raise self._error("catalog query failed", exc) from None

    # -- protocol -------------------------------------------------------------------------

    def test(self) -> dict[str, Any]:
        rows = self._pg_rows("SELECT version(), current_database(), current_user")
        version, database, user = rows[0]
        return {"server_version": str(version).split(" on ")[0], "database": database, "user": user}

    def _plans(self, ref: TableRef | None = None) -> dict[tuple[str, str], dict[str, Any]]:
        if ref is not None:
            flt = f"AND n.nspname = {_literal(ref.bucket or 'public')} AND c.relname = {_literal(ref.name)}"
        elif self.options.get("schemas"):
            flt = "AND n.nspname IN (" + ", ".join(_literal(s) for s in self.options["schemas"]) + ")"
        else:
            flt = ""
        mode = self.options.get("unconstrained_numeric", "decimal")
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for (schema, name, kind, description, col, typname, typmod, nullable, pg_type, elem,
             col_description, _attnum) in self._pg_rows(_COLUMNS_SQL.format(filter=flt)):
            entry = out.setdefault((schema, name), {"kind": kind, "description": description or "", "columns": []})
            entry["columns"].append(plan_column(col, typname, int(typmod), bool(nullable), pg_type, elem,
                                                unconstrained_numeric=mode, description=col_description))
        return out

    def _plan(self, ref: TableRef) -> tuple[str, list[ColumnPlan]]:
        found = self._found(ref)
        return found["kind"], found["columns"]

    def _found(self, ref: TableRef) -> dict[str, Any]:
        found = self._plans(ref).get((ref.bucket or "public", ref.name))
        if found is None:
            raise NotFound(f"postgres source {self.name!r} has no table or view {ref.display()!r}",
                           hint="Run discovery on the source to list what it holds.",
                           details={"bucket": ref.bucket, "source_table": ref.name})
        return found

    def discover(self) -> list[DiscoveredTable]:
        import pyarrow as pa

        out = []
        for (schema, name), entry in sorted(self._plans().items()):
            if not (PHYSICAL_NAME_RE.match(schema) and PHYSICAL_NAME_RE.match(name)):
                continue  # not addressable through the registry's identifier rules
            out.append(DiscoveredTable(schema, name, pa.schema([c.field for c in entry["columns"]]),
                                       ENTITY.get(entry["kind"], "table"), entry["description"]))
        return out

    def schema(self, ref: TableRef) -> pa.Schema:
        """Arrow fields with the PostgreSQL type and ``COMMENT ON COLUMN`` as metadata; the
        ``COMMENT ON TABLE`` as the schema's ``description``."""
        import pyarrow as pa

        found = self._found(ref)
        meta = {b"description": found["description"].encode()} if found["description"] else None
        return pa.schema([c.field for c in found["columns"]], metadata=meta)

    def column_stats(self, ref: TableRef) -> dict[str, ColumnStats]:
        """From ``pg_stats`` (what ANALYZE sampled): the range of the histogram bounds and most
        common values, and ``null_frac`` × the row estimate. Approximate by nature; columns never
        analysed are absent."""
        _, columns = self._plan(ref)
        types = {c.name: c.arrow for c in columns}
        names = {"schema": _literal(ref.bucket or "public"), "name": _literal(ref.name)}
        meta = self._pg_rows(_METADATA_SQL.format(**names))
        rows_est = meta[0][1] if meta else None
        out: dict[str, ColumnStats] = {}
        for name, null_frac, bounds, common in self._pg_rows(_STATS_SQL.format(**names)):
            arrow = types.get(name)
            if arrow is None:
                continue
            values = [v for v in (_stat_value(arrow, text) for text in [*(bounds or []), *(common or [])])
                      if v is not None]
            try:
                lo, hi = (min(values), max(values)) if values else (None, None)
            except TypeError:
                lo = hi = None
            nulls = round(float(null_frac) * int(rows_est)) if null_frac is not None and rows_est is not None else None
            out[name] = ColumnStats(_json_bound(lo), _json_bound(hi), nulls, "pg_stats", True)
        return out

    def read(self, ref: TableRef, options: ReadOptions) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        _, columns = self._plan(ref)
        if options.columns is not None:
            by_name = {c.name: c for c in columns}
            unknown = [c for c in options.columns if c not in by_name]
            if unknown:
                raise ValidationError("columns", f"unknown columns {unknown} in {ref.display()}",
                                      hint=f"columns are: {', '.join(by_name)}")
            columns = [by_name[c] for c in options.columns]
        if options.incremental_key and options.incremental_key not in {c.name for c in self._plan(ref)[1]}:
            raise ValidationError("incremental_key", f"unknown column {options.incremental_key!r} in {ref.display()}")
        schema = pa.schema([c.field for c in columns])
        table_sql = f"{_ident(ref.bucket or 'public')}.{_ident(ref.name)}"
        where = []
        if options.filter:
            where.append(safe_predicate(options.filter, "postgres"))
        if options.incremental_key and options.incremental_after is not None:
            where.append(f"{_ident(options.incremental_key)} > {_literal(options.incremental_after)}")
        if any(c.pg_cast for c in columns):
            # PostgreSQL converts these columns; the whole read goes through postgres_query.
            select = ", ".join(
                f"{_ident(c.name)}::{c.pg_cast} AS {_ident(c.name)}" if c.pg_cast else _ident(c.name) for c in columns)
            sql = f"SELECT {select} FROM {table_sql}" + (f" WHERE {' AND '.join(where)}" if where else "")
            outer = "SELECT " + ", ".join(_duck_expr(c) for c in columns) + " FROM postgres_query('pg', ?)"
            return self._stream(outer, [sql], schema, options.batch_size)
        # All columns are native to the scanner: a parallel ctid scan of pg.<schema>.<table>; the
        # predicate (already PostgreSQL SQL) is pushed down as a DuckDB filter.
        select = ", ".join(_duck_expr(c) for c in columns)
        duck_where = " AND ".join(_pg_to_duckdb(w) for w in where)
        sql = f"SELECT {select} FROM pg.{table_sql}" + (f" WHERE {duck_where}" if duck_where else "")
        return self._stream(sql, [], schema, options.batch_size)

    def sample(self, ref: TableRef, n: int) -> pa.Table:
        """``LIMIT n`` in PostgreSQL (no parallel scan of the whole table)."""
        import pyarrow as pa

        _, columns = self._plan(ref)
        select = ", ".join(f"{_ident(c.name)}::{c.pg_cast} AS {_ident(c.name)}" if c.pg_cast else _ident(c.name)
                           for c in columns)
        sql = f"SELECT {select} FROM {_ident(ref.bucket or 'public')}.{_ident(ref.name)} LIMIT {int(n)}"
        outer = "SELECT " + ", ".join(_duck_expr(c) for c in columns) + " FROM postgres_query('pg', ?)"
        schema = pa.schema([c.field for c in columns])
        return pa.Table.from_batches(list(self._stream(outer, [sql], schema, max(1, n))), schema=schema)

    def scan(self, sql: str, batch_size: int = 65_536, tables: Sequence[TableRef] = (),
             guard: ScanGuard | None = None) -> Iterator[pa.RecordBatch]:
        """Run a (validated) PostgreSQL query in PostgreSQL and stream its result. A gated scan
        runs in a pinned session (see :meth:`connect`), and PostgreSQL itself refuses a result row
        above ``guard.max_row_bytes`` before sending it."""
        if guard is not None:
            self.connect(guard)
            sql = _row_size_checked(sql, guard.max_row_bytes)
        return self._stream("SELECT * FROM postgres_query('pg', ?)", [sql], None, batch_size)

    def estimate(self, sql: str, reads: list[TableRead]) -> ScanEstimate:
        """From the planner: ``EXPLAIN (FORMAT JSON)`` of the validated query (never run), in a
        read-only session that resolves no unqualified name. What each scan node *reads*, in
        pages: a sequential scan the whole relation (``count(*)`` reads every page though it
        returns no column), an index or bitmap scan the share of the relation's pages its rows
        live on (at least ``rows × width``) — so partition pruning and index selectivity count.
        Partitions are reported under their root table; the top node gives the result size."""
        import psycopg

        try:
            with psycopg.connect(self._session_dsn(), autocommit=True) as conn:
                conn.execute("SET default_transaction_read_only = on")
                conn.execute("SET search_path = pg_catalog")
                row = conn.execute("EXPLAIN (FORMAT JSON) " + sql).fetchone()
                doc = row[0] if row else "[{}]"
                plan = (json.loads(doc) if isinstance(doc, str) else doc)[0]["Plan"]
                scans = list(_scan_nodes(plan))
                names = sorted({(n.get("Schema") or "public", n["Relation Name"]) for n in scans})
                wanted = {(r.ref.bucket or "public", r.ref.name): sorted(r.columns) for r in reads}
                sizes: dict[tuple[str, str], tuple[float, int, int | None, tuple[str, str]]] = {}
                for schema, rel in names:
                    found = conn.execute(
                        "SELECT greatest(c.reltuples, 0), pg_relation_size(c.oid), rn.nspname, r.relname "
                        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "JOIN pg_class r ON r.oid = coalesce(pg_partition_root(c.oid), c.oid) "
                        "JOIN pg_namespace rn ON rn.oid = r.relnamespace WHERE n.nspname = %s AND c.relname = %s",
                        [schema, rel]).fetchone()
                    if not found:
                        continue
                    columns = wanted.get((found[2], found[3]))
                    width = None
                    if columns:  # the columns the query reads there, filters included
                        w = conn.execute("SELECT sum(avg_width) FROM pg_stats WHERE schemaname = %s AND "
                                         "tablename = %s AND attname = ANY(%s)", [schema, rel, columns]).fetchone()
                        width = int(w[0]) if w and w[0] is not None else None
                    sizes[(schema, rel)] = (float(found[0]), int(found[1]), width, (str(found[2]), str(found[3])))
        except AgnesError:
            raise
        except Exception as exc:  # noqa: BLE001 - psycopg errors carry the DSN's parts
            raise self._error("cannot estimate the query", exc,
                              hint="Check the query runs in PostgreSQL; the estimate comes from its planner.") from None
        per_table: dict[str, dict[str, Any]] = {}
        total = 0
        rows_read = 0
        for node in scans:
            key = (node.get("Schema") or "public", node["Relation Name"])
            reltuples, relsize, stats_width, root = sizes.get(key, (float(node.get("Plan Rows", 0)), 0, None, key))
            width = max(int(node.get("Plan Width", 0)), stats_width or 0, 1)
            if node["Node Type"] in ("Seq Scan", "Sample Scan"):
                rows = reltuples
                nbytes = relsize or int(rows * width)  # every page, whatever the columns
            else:
                rows = float(node.get("Plan Rows", 0))
                share = min(1.0, rows / reltuples) if reltuples else 1.0
                nbytes = max(int(rows * width), int(share * relsize), PAGE_BYTES if relsize else 0)
            total += nbytes
            rows_read += int(rows)
            name = ".".join(root)
            entry = per_table.setdefault(name, {"table": name, "scan_bytes": 0, "rows_read": 0, "relation_bytes": 0,
                                                "nodes": []})
            entry["scan_bytes"] += nbytes
            entry["rows_read"] += int(rows)
            entry["relation_bytes"] += relsize
            entry["nodes"].append(node["Node Type"])
        result_rows = int(plan.get("Plan Rows", 0))
        return ScanEstimate(scan_bytes=total, rows_read=rows_read, result_rows=result_rows,
                            result_bytes=result_rows * int(plan.get("Plan Width", 0)),
                            method="PostgreSQL planner (EXPLAIN)", tables=list(per_table.values()),
                            basis="on_disk")

    def _stream(self, sql: str, params: list[Any], schema: pa.Schema | None,
                batch_size: int) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        try:
            reader = self.connect().execute(sql, params).to_arrow_reader(batch_size)
        except duckdb.Error as exc:
            raise self._error("query failed", exc, hint="Check the table and the query.") from None

        def batches() -> Iterator[pa.RecordBatch]:
            produced = False
            try:
                for batch in reader:
                    produced = True
                    yield batch.cast(schema) if schema is not None else batch
            except duckdb.Error as exc:
                raise self._error("reading failed", exc) from None
            if not produced:
                empty = schema if schema is not None else reader.schema
                yield pa.RecordBatch.from_pylist([], schema=empty)

        return batches()

    def metadata(self, ref: TableRef) -> TableMetadata | None:
        """reltuples (0 for never-analysed is reported as unknown), total relation size
        (summed over partitions), the partition key and the clustered index. Never raises."""
        try:
            sql = _METADATA_SQL.format(schema=_literal(ref.bucket or "public"), name=_literal(ref.name))
            rows = self._pg_rows(sql)
            if not rows:
                return TableMetadata(error=f"no table or view {ref.display()} in postgres source {self.name!r}")
            kind, rows_est, size, partkey, clustered, columns, description, width = rows[0]
            return TableMetadata(
                rows=int(rows_est) if rows_est is not None else None,
                size_bytes=int(size) if size is not None else None,
                partition_by=_partition_columns(partkey),
                clustered_by=clustered.split(",") if clustered else None,
                entity_type=ENTITY.get(kind, "table"),
                known_columns=columns.split(",") if columns else [],
                description=description or None,
                # The data's logical size: rows x the average width of each column (pg_stats).
                uncompressed_bytes=int(rows_est) * int(width) if rows_est is not None and width else None,
            )
        except Exception as exc:  # noqa: BLE001 - metadata providers never raise
            reason = self.redact(exc.message if isinstance(exc, AgnesError) else f"{type(exc).__name__}: {exc}")
            log.warning("postgres metadata for %s failed: %s", ref.display(), reason)
            return TableMetadata(error=reason)


def _stat_value(arrow: pa.DataType, text: str) -> Any:
    """A value of ``pg_stats`` (PostgreSQL's text form) as a comparable Python value of the
    column's type; None for types without a meaningful range or text that does not parse."""
    import datetime as dt
    from decimal import Decimal, InvalidOperation

    import pyarrow as pa

    try:
        if pa.types.is_integer(arrow):
            return int(text)
        if pa.types.is_floating(arrow):
            return float(text)
        if pa.types.is_decimal(arrow):
            return Decimal(text)
        if pa.types.is_date(arrow):
            return dt.date.fromisoformat(text)
        if pa.types.is_timestamp(arrow):
            value = dt.datetime.fromisoformat(text)
            if arrow.tz is not None and value.tzinfo is not None:
                return value.astimezone(dt.timezone.utc)
            return value
        if pa.types.is_string(arrow) or pa.types.is_large_string(arrow):
            return text
    except (ValueError, InvalidOperation):
        return None
    return None


def _json_bound(value: Any) -> Any:
    from agnes_core.discovery.parquet_stats import bound

    return bound(value)


def _scan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Plan nodes that read a relation."""
    if plan.get("Relation Name"):
        yield plan
    for child in plan.get("Plans", []) or []:
        yield from _scan_nodes(child)


def _duck_expr(c: ColumnPlan) -> str:
    name = '"' + c.name.replace('"', '""') + '"'
    return f"CAST({name} AS {c.expr_cast}) AS {name}" if c.expr_cast else name


def _pg_to_duckdb(predicate: str) -> str:
    return sqlglot.transpile(predicate, read="postgres", write="duckdb")[0]


def _partition_columns(partkey: str | None) -> list[str] | None:
    """``RANGE (event_date)`` / ``LIST (country, region)`` -> the column names."""
    if not partkey:
        return None
    m = re.search(r"\((.*)\)", partkey)
    if not m:
        return None
    return [p.strip().strip('"') for p in m.group(1).split(",") if p.strip()]


def _password_forms(dsn: str) -> list[str]:
    """The whole DSN and its password, as written and URL-decoded, longest first."""
    forms = {dsn} if dsn else set()
    if "://" in dsn:
        try:
            parts = urlsplit(dsn)
            if parts.password:
                forms |= {parts.password, unquote(parts.password)}
        except ValueError:
            pass
    for m in re.finditer(r"password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", dsn):
        value = m.group(1)
        forms |= {value, value.strip("'")}
    return sorted((f for f in forms if f), key=len, reverse=True)


def _application_name(guard: ScanGuard) -> str:
    return f"agnes-scan-{guard.scan_id}"


def _existing_options(dsn: str) -> str:
    from psycopg.conninfo import conninfo_to_dict

    try:
        return str(conninfo_to_dict(dsn).get("options") or "")
    except Exception as exc:
        raise SourceError("the postgres DSN cannot be read", hint="Check the connection string's syntax.") from exc


def _session_dsn(dsn: str, app_name: str, statement_timeout_ms: int, connect_timeout_s: int) -> str:
    """``dsn`` with a connect timeout, a statement timeout (libpq ``options``, kept alongside any
    the DSN already has) and ``app_name``."""
    from psycopg.conninfo import make_conninfo

    options = " ".join(part for part in (_existing_options(dsn), f"-c statement_timeout={statement_timeout_ms}")
                       if part)
    return str(make_conninfo(dsn, options=options, application_name=app_name, connect_timeout=connect_timeout_s))


def _scan_session_dsn(dsn: str, guard: ScanGuard, statement_timeout_ms: int, connect_timeout_s: int) -> str:
    """``dsn`` with the options of a gated scan's sessions (libpq ``options``, kept alongside any
    the DSN already has)."""
    from psycopg.conninfo import make_conninfo

    timeout_ms = statement_timeout_ms
    options = " ".join(part for part in (
        _existing_options(dsn), "-c search_path=pg_catalog", "-c default_transaction_read_only=on",
        f"-c statement_timeout={timeout_ms}", f"-c idle_in_transaction_session_timeout={timeout_ms}",
        "-c lock_timeout=10000") if part)
    return str(make_conninfo(dsn, options=options, application_name=_application_name(guard),
                             connect_timeout=connect_timeout_s))


def _row_size_checked(sql: str, max_row_bytes: int) -> str:
    """``sql`` wrapped so PostgreSQL stops with an ``agnes:`` error on a result row above the
    limit, instead of sending it (the cast wraps the CASE so the planner cannot fold it)."""
    query = sqlglot.parse_one(sql, read="postgres")
    alias = "agnes_result"
    whole_row = exp.Column(this=exp.Star(), table=exp.to_identifier(alias))
    size = exp.Anonymous(this="pg_column_size", expressions=[whole_row])
    message = f"{GUARD_MARK}a result row is larger than {max_row_bytes:,} bytes"
    over = exp.GT(this=size, expression=exp.Literal.number(max_row_bytes))
    choice = exp.Case(ifs=[exp.If(this=over, true=exp.Literal.string(message))], default=exp.Literal.string("1"))
    check = exp.Cast(this=choice, to=exp.DataType.build("INT"))
    derived = exp.Subquery(this=query, alias=exp.TableAlias(this=exp.to_identifier(alias)))
    outer = exp.select(exp.Star()).from_(derived)
    outer = outer.where(exp.EQ(this=check, expression=exp.Literal.number(1)))
    return str(outer.sql(dialect="postgres", comments=False))
