"""The scan validator: user SQL is parsed into a sqlglot AST and accepted only when it is
exactly one read-only query over registered tables the user may read, from one source,
calling only allow-listed functions on columns that exist.

Nothing is ever assembled from the user's text: the accepted tree is rewritten (table ids
to the source's physical names) and re-rendered, which also drops every comment.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, ParseError, TokenError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope

from .errors import AgnesError
from .sqlsafe import SCALAR_FUNCTIONS, render

if TYPE_CHECKING:
    from .registry import Table

KINDS = ("parse_error", "multi_statement", "ddl_or_dml", "disallowed_node", "unregistered_table",
         "forbidden_table", "mixed_sources", "table_function", "unknown_function", "unknown_column")

#: Statements that write or change anything (checked anywhere in the tree, not only at the root).
WRITE_NODES: tuple[type[exp.Expr], ...] = (
    exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter, exp.Command,
    exp.TruncateTable, exp.Copy, exp.Into, exp.Attach, exp.Detach, exp.Install, exp.Pragma, exp.Use,
    exp.Transaction, exp.Commit, exp.Rollback, exp.Set, exp.LoadData,
)
#: Syntax that reads nothing harmful but has no place in a gated scan.
DISALLOWED_NODES: tuple[type[exp.Expr], ...] = (
    exp.Placeholder, exp.Parameter, exp.SessionParameter, exp.Lock, exp.Describe,
)
#: Functions that read files, other databases or the catalog; refused wherever they appear.
TABLE_FUNCTIONS = frozenset({
    "read_csv", "read_csv_auto", "read_parquet", "parquet_scan", "parquet_metadata", "parquet_schema",
    "parquet_file_metadata", "parquet_kv_metadata", "read_json", "read_json_auto", "read_json_objects",
    "read_ndjson", "read_ndjson_objects", "read_text", "read_blob", "read_xlsx", "glob", "external_query",
    "postgres_query", "postgres_scan", "postgres_scan_pushdown", "postgres_execute", "postgres_attach",
    "sqlite_scan", "sqlite_attach", "mysql_query", "iceberg_scan", "delta_scan", "query", "query_table",
    "generate_series", "range", "unnest_file", "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "lo_import",
    "lo_export", "dblink", "copy", "readcsv", "readparquet", "getenv", "current_setting", "set_config",
    "pg_sleep", "system", "shell",
})
#: sqlglot classes that are table functions.
TABLE_FUNCTION_NODES: tuple[type[exp.Expr], ...] = (exp.ReadCSV, exp.ReadParquet, exp.GenerateSeries)
SYSTEM_SCHEMAS = frozenset({"information_schema", "pg_catalog", "pg_toast", "system", "temp"})
SYSTEM_PREFIXES = ("duckdb_", "pg_", "sqlite_", "pragma_")

AGGREGATES = frozenset({
    "Sum", "Count", "CountIf", "Avg", "Min", "Max", "ApproxDistinct", "ApproxQuantile", "Stddev", "StddevPop",
    "StddevSamp", "Variance", "VariancePop", "Median", "Quantile", "PercentileCont", "PercentileDisc",
    "ArrayAgg", "GroupConcat", "AnyValue", "First", "Last", "LogicalAnd", "LogicalOr", "ArgMax", "ArgMin",
    "Corr", "CovarPop", "CovarSamp", "Mode", "BitwiseAndAgg", "BitwiseOrAgg", "BitwiseXorAgg", "ArrayUniqueAgg",
})
WINDOW_FUNCTIONS = frozenset({
    "RowNumber", "Rank", "DenseRank", "PercentRank", "CumeDist", "Ntile", "Lag", "Lead", "FirstValue",
    "LastValue", "NthValue",
})
MORE_SCALARS = frozenset({
    "Exp", "Log", "Cbrt", "Trunc", "Mod", "Pad", "Reverse", "Repeat", "StrPosition", "ConcatWs", "RegexpExtract",
    "RegexpReplace", "RegexpSplit", "MD5", "SHA", "SHA2", "Array", "ArraySize", "ArrayFilter", "ArrayJoin",
    "Struct", "StructExtract", "JSONExtract", "JSONExtractScalar", "JSONBExtract", "JSONBExtractScalar",
    "UnixToTime", "DateFromParts", "TimestampFromParts", "TimeStrToTime", "TsOrDsToDate", "DateStrToDate",
    "TimestampSub", "DatetimeTrunc", "DatetimeAdd", "DatetimeSub", "DatetimeDiff", "DateToDi", "Hex", "Unhex",
    "Explode", "Unnest", "Bracket", "ArrayAll", "ArrayAny", "Upper", "Lower", "Levenshtein", "Stuff",
    "ToChar", "ToNumber", "Hour", "Minute", "Second", "DayOfMonth", "DayOfYear", "WeekOfYear", "Chr",
    "Ascii", "Sin", "Cos", "Tan", "Atan", "Atan2", "Pi", "Radians", "Degrees", "Lambda", "Transform",
    "SafeDivide", "Int64", "BitwiseCount", "Length", "Normalize", "UnixSeconds", "UnixMillis", "Time",
    "Timestamp", "Datetime", "TimeFromParts", "MakeInterval", "IsNan", "IsInf", "Nvl2", "Uuid",
})
QUERY_FUNCTIONS = SCALAR_FUNCTIONS | AGGREGATES | WINDOW_FUNCTIONS | MORE_SCALARS
#: Functions sqlglot leaves as ``Anonymous`` that are safe, by dialect (lower-case names).
ANONYMOUS_FUNCTIONS: dict[str, frozenset[str]] = {
    "duckdb": frozenset({"date_part", "datepart", "epoch", "epoch_ms", "epoch_us", "make_date", "make_timestamp",
                         "make_time", "list_value", "list_contains", "strlen", "strip_accents", "regexp_matches",
                         "array_length", "len", "bit_length", "isodow", "isoyear", "dayofweek", "dayname",
                         "monthname", "last_day", "age", "to_timestamp", "list_sum", "list_avg", "hash"}),
    "postgres": frozenset({"date_part", "to_timestamp", "make_date", "make_timestamp", "age", "array_length",
                           "justify_days", "justify_hours", "initcap", "btrim", "ltrim", "rtrim", "char_length",
                           "octet_length", "jsonb_array_length", "json_array_length", "width_bucket",
                           "regexp_match", "date_bin", "isfinite"}),
}


class Rejected(AgnesError):
    """400 ``validator_rejected``: ``details.kind`` says why, ``details.fragment`` shows where."""

    code = "validator_rejected"

    def __init__(self, kind: str, message: str, *, fragment: str | None = None, hint: str | None = None,
                 **details: Any) -> None:
        assert kind in KINDS, kind
        super().__init__(message, hint=hint or _HINTS.get(kind),
                         details={"kind": kind, "fragment": fragment, **details})
        self.kind = kind


_HINTS = {
    "parse_error": "Check the SQL syntax for the table's dialect (see agnes.schema(id)['sql_flavor']).",
    "multi_statement": "Send one SELECT statement at a time.",
    "ddl_or_dml": "Scans only read: use SELECT (CTEs and subqueries are fine).",
    "disallowed_node": "Scans read registered tables with plain SQL; this construct is not allowed.",
    "unregistered_table": "Use table ids from agnes.catalog(); a table must be registered by an admin first.",
    "forbidden_table": "Ask an Agnes admin for a grant of the table.",
    "mixed_sources": "A scan reads one source; snapshot each part and join the snapshots locally.",
    "table_function": "Scans read registered tables only; files and other databases are not reachable.",
    "unknown_function": "Use standard SQL functions; ask an admin if you need this one allow-listed.",
    "unknown_column": "agnes.schema(id) lists the columns of a table.",
}


@dataclass
class Occurrence:
    """One place a table is read: the columns used there and the WHERE conjuncts on it alone
    (columns unqualified, in the source's dialect), for pruning."""

    columns: set[str] = field(default_factory=set)
    conjuncts: list[exp.Expr] = field(default_factory=list)


@dataclass
class TableUse:
    table: Table
    occurrences: list[Occurrence] = field(default_factory=list)

    @property
    def columns(self) -> set[str]:
        out: set[str] = set()
        for occ in self.occurrences:
            out |= occ.columns
        return out


@dataclass
class ValidatedQuery:
    """An accepted query: ``sql`` (table ids, normalised, for people and audit) and
    ``physical_sql`` (rewritten to the source's names, what the source runs)."""

    sql: str
    physical_sql: str
    dialect: str
    source: str
    tables: dict[str, TableUse]
    tree: exp.Query
    limit: int | None

    @property
    def sql_hash(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]


@dataclass
class Resolver:
    """What the validator may know about the registry, for one user."""

    find: Callable[[str], Table | None]
    can_read: Callable[[str], bool]
    dialect_of: Callable[[str], str]  # source name -> sqlglot dialect
    columns: Callable[[Table], list[tuple[str, str]]]  # (name, type in the dialect)
    physical: Callable[[Table], exp.Expr]  # what replaces the table id in FROM
    dialects: Iterable[str] = ("duckdb", "postgres")


def validate(sql: str, resolver: Resolver) -> ValidatedQuery:
    if not isinstance(sql, str) or not sql.strip():
        raise Rejected("parse_error", "the query is empty", fragment="")
    tree, parsed_as, table_nodes = _parse_for_tables(sql, resolver)
    uses = _resolve_tables(table_nodes, resolver)
    source = _one_source(uses)
    dialect = resolver.dialect_of(source)
    if dialect != parsed_as:  # the source's own dialect decides how the text reads
        tree = _parse(sql, dialect)
        _check_nodes(tree, dialect)
        uses = _resolve_tables(_table_nodes(tree, dialect), resolver)
    _check_columns_and_collect(tree, uses, dialect, resolver)
    normalised = render(tree, dialect)
    physical = _rewrite(tree.copy(), uses, dialect, resolver)
    limit = _top_limit(tree)
    return ValidatedQuery(normalised, render(physical, dialect), dialect, source, uses, tree, limit)


# -- parsing --------------------------------------------------------------------------------


def _parse(sql: str, dialect: str) -> exp.Query:
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect)
                      if s is not None and s.sql(dialect=dialect, comments=False).strip()]
    except ParseError as exc:
        err = exc.errors[0] if exc.errors else {}
        raise Rejected("parse_error", f"cannot parse the query: {err.get('description', str(exc))}",
                       fragment=str(err.get("highlight") or "") or None,
                       line=err.get("line"), col=err.get("col")) from None
    except TokenError as exc:
        raise Rejected("parse_error", f"cannot parse the query: {exc}") from None
    if not statements:
        raise Rejected("parse_error", "the query has no statement", fragment="")
    if len(statements) > 1:
        raise Rejected("multi_statement", f"the query has {len(statements)} statements; send exactly one SELECT",
                       fragment=_short(render(statements[1], dialect)))
    tree = statements[0]
    node = first_write(tree)
    if node is not None:
        raise Rejected("ddl_or_dml", f"{type(node).__name__.upper()} is not allowed: scans only read",
                       fragment=_short(_safe_sql(node, dialect)))
    if not isinstance(tree, exp.Query):
        raise Rejected("disallowed_node", f"only SELECT queries are allowed, not {type(tree).__name__.upper()}",
                       fragment=_short(_safe_sql(tree, dialect)))
    return tree


def first_write(tree: exp.Expr) -> exp.Expr | None:
    """The first node anywhere in ``tree`` that writes or changes state, or None."""
    return next((n for n in tree.walk() if isinstance(n, WRITE_NODES)), None)


def _parse_for_tables(sql: str, resolver: Resolver) -> tuple[exp.Query, str, list[exp.Table]]:
    """Parse with each known dialect until one reads the text, to learn which tables (and so
    which source and dialect) the query is about."""
    first_error: Rejected | None = None
    for dialect in resolver.dialects:
        try:
            tree = _parse(sql, dialect)
            _check_nodes(tree, dialect)
            return tree, dialect, _table_nodes(tree, dialect)
        except Rejected as exc:
            if exc.kind != "parse_error":
                raise
            first_error = first_error or exc
    assert first_error is not None
    raise first_error


def _safe_sql(node: exp.Expr, dialect: str) -> str:
    try:
        return render(node, dialect) or render(node, "postgres") or type(node).__name__.upper()
    except Exception:  # noqa: BLE001 - a fragment is only for the message
        return type(node).__name__.upper()


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- node checks ----------------------------------------------------------------------------


def _function_name(node: exp.Expr) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name)
    return str(node.sql_name()) if isinstance(node, exp.Func) else type(node).__name__


def _check_nodes(tree: exp.Query, dialect: str) -> None:
    anonymous_ok = ANONYMOUS_FUNCTIONS.get(dialect, frozenset())
    for node in tree.walk():
        if isinstance(node, DISALLOWED_NODES):
            raise Rejected("disallowed_node", f"{type(node).__name__} is not allowed in a scan",
                           fragment=_short(_safe_sql(node, dialect)))
        if isinstance(node, exp.Lateral) and not isinstance(node.this, (exp.Subquery, exp.Unnest, exp.Explode)):
            raise Rejected("disallowed_node", "LATERAL is only allowed with a subquery or UNNEST",
                           fragment=_short(_safe_sql(node, dialect)))
        if isinstance(node, TABLE_FUNCTION_NODES):
            raise Rejected("table_function", f"table function {_function_name(node)} is not allowed",
                           fragment=_short(_safe_sql(node, dialect)))
        if isinstance(node, exp.Func) and not isinstance(node, (exp.Binary, exp.Unary, exp.Predicate)):
            name = _function_name(node)
            lowered = name.lower()
            if lowered in TABLE_FUNCTIONS or lowered.startswith(SYSTEM_PREFIXES):
                raise Rejected("table_function", f"function {name} reads outside the registered tables",
                               fragment=_short(_safe_sql(node, dialect)))
            if isinstance(node, exp.Anonymous):
                if lowered not in anonymous_ok:
                    raise Rejected("unknown_function", f"function {name} is not allowed",
                                   fragment=_short(_safe_sql(node, dialect)), function=name)
            elif type(node).__name__ not in QUERY_FUNCTIONS:
                raise Rejected("unknown_function", f"function {name} is not allowed",
                               fragment=_short(_safe_sql(node, dialect)), function=name)
        if isinstance(node, exp.Table) and not isinstance(node.this, exp.Identifier):
            raise Rejected("table_function", "a table function is not allowed in FROM",
                           fragment=_short(_safe_sql(node, dialect)))


def _cte_refs(tree: exp.Expr) -> set[int]:
    """ids of the Table nodes that name a CTE visible where they stand (resolved scope by scope,
    so an inner CTE never hides an outer table of the same name). If the scopes cannot be
    worked out, none: every name must then be a registered table."""
    refs: set[int] = set()
    try:
        for scope in traverse_scope(tree):
            for t in scope.tables:
                if not t.db and not t.catalog and isinstance(scope.sources.get(t.alias_or_name), Scope):
                    refs.add(id(t))
    except Exception:  # noqa: BLE001 - conservative: treat every name as a table
        return set()
    return refs


def _table_nodes(tree: exp.Query, dialect: str) -> list[exp.Table]:
    ctes = _cte_refs(tree)
    out = []
    for t in tree.find_all(exp.Table):
        if not isinstance(t.this, exp.Identifier):
            continue
        catalog, db, name = t.catalog, t.db, t.name
        if db.lower() in SYSTEM_SCHEMAS or catalog.lower() in SYSTEM_SCHEMAS or name.lower().startswith(
                SYSTEM_PREFIXES) or name.lower() in SYSTEM_SCHEMAS:
            raise Rejected("disallowed_node", f"system catalog {_safe_sql(t, dialect)} is not readable",
                           fragment=_safe_sql(t, dialect))
        if id(t) in ctes:
            continue
        out.append(t)
    return out


# -- tables -----------------------------------------------------------------------------------


def _resolve_tables(nodes: list[exp.Table], resolver: Resolver) -> dict[str, TableUse]:
    uses: dict[str, TableUse] = {}
    for t in nodes:
        shown = ".".join(p for p in (t.catalog, t.db, t.name) if p)
        if t.catalog or t.db:
            raise Rejected("unregistered_table", f"{shown!r} is not a registered table id (ids have no dots)",
                           fragment=shown, table=shown)
        found = resolver.find(t.name)
        if found is None:
            raise Rejected("unregistered_table", f"no registered table {t.name!r}", fragment=shown, table=t.name)
        if not resolver.can_read(found.id):
            raise Rejected("forbidden_table", f"you may not read table {t.name!r}", fragment=shown, table=t.name)
        uses.setdefault(found.id, TableUse(found))
    if not uses:
        raise Rejected("unregistered_table", "the query reads no registered table",
                       hint="Name a table id from agnes.catalog() in FROM.", fragment=None)
    return uses


def _one_source(uses: dict[str, TableUse]) -> str:
    sources = sorted({u.table.source for u in uses.values()})
    if len(sources) > 1:
        raise Rejected("mixed_sources", f"the query reads tables of {len(sources)} sources: {', '.join(sources)}",
                       fragment=", ".join(sorted(uses)), sources=sources)
    return sources[0]


def _rewrite(tree: exp.Query, uses: dict[str, TableUse], dialect: str, resolver: Resolver) -> exp.Query:
    ctes = _cte_refs(tree)
    for t in list(tree.find_all(exp.Table)):
        if t.catalog or t.db or not isinstance(t.this, exp.Identifier) or id(t) in ctes:
            continue
        use = uses.get(t.name)
        if use is None:
            continue
        alias = t.alias or t.name
        replacement = resolver.physical(use.table).copy()
        if isinstance(replacement, exp.Table):
            # In place: the alias (with column names), TABLESAMPLE, PIVOT, ONLY... all stay.
            if not t.alias:
                t.set("alias", exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))
            t.set("this", replacement.this)
            t.set("db", replacement.args.get("db"))
            t.set("catalog", replacement.args.get("catalog"))
        else:
            t.replace(exp.Subquery(this=replacement,
                                   alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True))))
    return tree


# -- columns and what each table occurrence reads ---------------------------------------------


def _check_columns_and_collect(tree: exp.Query, uses: dict[str, TableUse], dialect: str,
                               resolver: Resolver) -> None:
    schema: dict[str, object] = {}
    for table_id, use in uses.items():
        schema[table_id] = {name: _schema_type(typ) for name, typ in resolver.columns(use.table)}
    qualified = tree.copy()
    try:
        qualified = qualify(qualified, schema=schema, dialect=dialect, validate_qualify_columns=True,
                            quote_identifiers=False, identify=False, expand_stars=True)
    except OptimizeError as exc:
        raise Rejected("unknown_column", f"{exc}", fragment=_column_fragment(str(exc))) from None
    except Exception as exc:  # noqa: BLE001 - any failure to resolve names is the query's
        raise Rejected("unknown_column", f"cannot resolve the query's columns: {exc}") from None
    for scope in traverse_scope(qualified):
        for alias, source in scope.sources.items():
            if not isinstance(source, exp.Table) or source.db:
                continue
            found = uses.get(source.name)
            if found is None:
                continue
            occ = Occurrence()
            occ.columns = {c.name for c in scope.columns if c.table == alias}
            where = scope.expression.args.get("where") if isinstance(scope.expression, exp.Select) else None
            if where is not None:
                for conj in _conjuncts(where.this):
                    cols = list(conj.find_all(exp.Column))
                    if cols and all(c.table == alias for c in cols) and not any(
                            isinstance(n, (exp.Query, exp.Subquery)) for n in conj.walk()):
                        plain = conj.copy()
                        for c in plain.find_all(exp.Column):
                            c.set("table", None)
                        occ.conjuncts.append(plain)
            found.occurrences.append(occ)
    for use in uses.values():
        if not use.occurrences:
            use.occurrences.append(Occurrence(columns={n for n, _ in resolver.columns(use.table)}))


def _schema_type(sql_type: str) -> str:
    """A type sqlglot's schema accepts; unknown vendor types fall back to TEXT (types only
    matter for name resolution here)."""
    try:
        exp.DataType.build(sql_type)
        return sql_type
    except Exception:  # noqa: BLE001
        return "TEXT"


def _column_fragment(message: str) -> str | None:
    import re

    m = re.search(r"Column '([^']+)'", message) or re.search(r"Unknown column: ([^\s,]+)", message)
    return m.group(1) if m else None


def _conjuncts(node: exp.Expr) -> list[exp.Expr]:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        return _conjuncts(node.left) + _conjuncts(node.right)
    return [node]


def _top_limit(tree: exp.Query) -> int | None:
    limit = tree.args.get("limit")
    if isinstance(limit, exp.Limit) and isinstance(limit.expression, exp.Literal) and limit.expression.is_int:
        return int(limit.expression.this)
    return None
