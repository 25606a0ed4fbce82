"""The scan validator: user SQL is parsed into a sqlglot AST and accepted only when it is
exactly one read-only query over registered tables the user may read, from one source,
calling only allow-listed functions on columns that exist, within bounded size and shape.

Names are resolved as the source's engine resolves them (:mod:`.sqlnames`); the accepted tree
is rewritten — every relation to its qualified physical name, every CTE to a generated name —
re-rendered (which drops every comment), and the SQL that will run is parsed once more and
refused unless everything it reads is what the user may read.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import OptimizeError, ParseError, TokenError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import traverse_scope

from agnes_core.errors import Rejected
from agnes_core.gate import sqlbounds
from agnes_core.gate.sqlbounds import DEFAULT_LIMITS, SqlLimits, TooComplex
from agnes_core.gate.sqlnames import classify, normalized, rename_ctes, unverified_relations
from agnes_core.sqlsafe import SCALAR_FUNCTIONS, first_write, render

if TYPE_CHECKING:
    from agnes_core.registry import Table

log = logging.getLogger(__name__)


#: Statements that write or change anything (checked anywhere in the tree, not only at the root).
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
    # Parsed into typed expressions by sqlglot (analysts write dayname, last_day, btrim, date_bin...).
    "Dayname", "Monthname", "LastDay", "DayOfWeekIso", "JustifyDays", "JustifyHours", "WidthBucket", "DateBin",
    "Unicode", "Sign", "Factorial", "Gcd", "Lcm", "Translate", "StrToUnix", "UnixToStr",
    "StringToArray", "ArrayToString", "ArrayConcat", "ArrayDistinct", "ArraySort", "ArrayReverse", "ArraySlice",
    "ArrayFirst", "ArrayLast", "ArrayIntersect", "ArrayPosition", "ArraysOverlap", "ArrayContainsAll", "ToArray",
    "RegexpCount", "RegexpILike", "RegexpExtractAll", "Split", "SplitPart", "Soundex", "JSONArrayContains",
    "JSONBContains", "JSONBExists", "JSONExists", "JSONFormat", "ParseJSON", "Quantiles", "ApproxQuantiles",
    "ApproximateCountDistinct", "CountDistinct", "Skewness", "Kurtosis", "RegrSlope", "RegrIntercept",
    "Date", "ToDays", "Epoch", "EpochMs", "DayOfWeek", "YearOfWeek", "YearOfWeekIso",
    "Quarter", "MonthsBetween", "AddMonths", "NextDay", "CurrentTime", "Localtime",
    "Localtimestamp", "Bin", "Sinh", "Cosh", "Tanh", "Asin", "Acos", "Cot", "Log2", "Log10", "Isodow", "Grouping",
})
QUERY_FUNCTIONS = SCALAR_FUNCTIONS | AGGREGATES | WINDOW_FUNCTIONS | MORE_SCALARS
#: Functions sqlglot leaves as ``Anonymous`` that are safe, by dialect (lower-case names).
ANONYMOUS_FUNCTIONS: dict[str, frozenset[str]] = {
    "duckdb": frozenset({"date_part", "datepart", "epoch", "epoch_ms", "epoch_us", "make_date", "make_timestamp",
                         "make_time", "list_value", "list_contains", "strlen", "strip_accents", "regexp_matches",
                         "array_length", "len", "bit_length", "isodow", "isoyear", "dayofweek", "dayname",
                         "monthname", "last_day", "age", "to_timestamp", "list_sum", "list_avg", "hash",
                         "histogram", "list_sort", "list_reverse_sort", "list_distinct", "list_unique",
                         "list_min", "list_max", "list_count", "list_extract", "list_slice", "array_to_string",
                         "string_split", "str_split", "string_split_regex", "regexp_split_to_array", "nfc_normalize",
                         "strftime", "strptime", "try_strptime", "datediff", "datesub", "date_sub", "time_bucket",
                         "dayofmonth", "dayofyear", "weekofyear", "yearweek", "era", "millennium", "century",
                         "decade", "microsecond", "millisecond", "nanosecond", "to_days", "to_hours",
                         "to_minutes", "to_seconds", "to_weeks", "to_months", "to_years", "gamma", "lgamma",
                         "even", "bit_count", "fsum", "kahan_sum", "sumkahan", "favg", "entropy", "product",
                         "mad", "reservoir_quantile", "approx_top_k", "bool_and", "bool_or", "array_has",
                         "list_has", "list_has_any", "list_has_all", "array_has_any", "array_has_all",
                         "list_position", "list_indexof", "array_indexof", "array_position", "list_concat",
                         "list_cat", "array_concat", "array_cat", "flatten", "list_zip", "array_zip",
                         "contains", "prefix", "suffix", "instr", "position", "format_bytes",
                         "formatreadablesize", "formatreadabledecimalsize", "jaccard", "jaro_similarity",
                         "jaro_winkler_similarity", "damerau_levenshtein", "hamming", "mismatches", "editdist3",
                         "json_array_length", "json_keys", "json_type", "json_valid", "json_extract_string",
                         "json_extract_path", "json_extract_path_text", "struct_pack", "struct_extract",
                         "row", "map", "map_keys", "map_values", "map_entries", "map_extract", "cardinality",
                         "unnest", "generate_subscripts", "isfinite", "isinf", "isnan", "signbit", "nextafter",
                         "ceiling", "trunc", "round_even", "roundbankers", "log", "ln", "log2", "log10",
                         "weekday", "quarter"}),
    "postgres": frozenset({"date_part", "to_timestamp", "make_date", "make_timestamp", "age", "array_length",
                           "justify_days", "justify_hours", "initcap", "btrim", "ltrim", "rtrim", "char_length",
                           "octet_length", "jsonb_array_length", "json_array_length", "width_bucket",
                           "regexp_match", "date_bin", "isfinite", "justify_interval", "to_char", "to_date",
                           "to_number", "date_trunc", "make_interval", "array_position",
                           "array_positions", "array_remove", "array_replace", "array_cat", "array_append",
                           "array_prepend", "array_dims", "array_lower", "array_upper", "cardinality",
                           "unnest", "string_to_array", "array_to_string", "regexp_matches", "regexp_split_to_array",
                           "regexp_split_to_table", "regexp_count", "regexp_instr", "regexp_like", "regexp_substr",
                           "split_part", "strpos", "starts_with", "left", "right", "reverse", "md5", "sha256",
                           "quote_literal", "quote_ident", "jsonb_typeof", "json_typeof",
                           "jsonb_object_keys", "json_object_keys", "jsonb_extract_path", "jsonb_extract_path_text",
                           "json_extract_path", "json_extract_path_text", "jsonb_build_object",
                           "json_build_object", "jsonb_build_array", "json_build_array", "to_jsonb", "to_json",
                           "jsonb_agg", "json_agg", "jsonb_object_agg", "json_object_agg", "row_to_json",
                           "jsonb_strip_nulls", "jsonb_pretty", "bool_and", "bool_or", "every", "bit_and",
                           "bit_or", "mode", "percentile_cont", "percentile_disc", "regr_slope", "regr_intercept",
                           "regr_r2", "regr_count", "trunc", "ceiling", "div", "scale", "log", "log10", "cbrt",
                           "degrees", "radians", "factorial", "gcd", "lcm", "num_nulls", "num_nonnulls",
                           "extract", "clock_timestamp", "timeofday", "lower", "upper",
                           "translate", "chr", "ascii", "concat_ws", "character_length",
                           "bit_length", "position", "overlay", "host", "family", "masklen"}),
}


#: Types a value may be cast to. Object-identifier types (``regclass``, ``oid``…) are missing on
#: purpose: ``'hr.salaries'::regclass`` looks a relation up in the catalog, by any name.
CAST_TYPES = frozenset({
    "ARRAY", "BIGDECIMAL", "BIGINT", "BIGNUM", "BINARY", "BIT", "BLOB", "BOOLEAN", "BPCHAR", "CHAR", "DATE", "DATE32",
    "DATETIME", "DATETIME2", "DATETIME64", "DECIMAL", "DECIMAL32", "DECIMAL64", "DECIMAL128", "DECIMAL256", "DOUBLE",
    "FLOAT", "INT", "INT128", "INT256", "INTERVAL", "JSON", "JSONB", "LIST", "MAP", "MEDIUMINT", "MONEY", "NCHAR",
    "NVARCHAR", "SMALLINT", "STRUCT", "TEXT", "TIME", "TIMETZ", "TIME_NS", "TIMESTAMP", "TIMESTAMPNTZ",
    "TIMESTAMPLTZ", "TIMESTAMPTZ", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "TINYINT", "UBIGINT", "UINT",
    "UINT128", "UINT256", "USMALLINT", "UTINYINT", "UUID", "VARBINARY", "VARCHAR", "UDECIMAL", "UDOUBLE", "NULL",
    "UNKNOWN",
})





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
    ``physical_sql`` (rewritten to the source's names, what the source runs); ``relations``
    are the physical relations it reads (for the audit; never shown to analysts)."""

    sql: str
    physical_sql: str
    dialect: str
    source: str
    tables: dict[str, TableUse]
    tree: exp.Query
    limit: int | None
    relations: list[str] = field(default_factory=list)
    #: An upper bound on a result row: (copies of the widest input row, bytes added), see sqlbounds.
    row_bound: tuple[int, int] = (1, 0)

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
    #: Table ids are case-sensitive; an unquoted name also finds an id spelled in another case.
    find_any_case: Callable[[str], Table | None] = field(default=lambda name: None)
    #: The schema a source resolves unqualified names in (for materialized SQL inlined in a scan).
    default_schema: Callable[[str], str | None] = field(default=lambda source: None)
    limits: SqlLimits = DEFAULT_LIMITS


def validate(sql: str, resolver: Resolver) -> ValidatedQuery:
    """Accept ``sql`` as a scan, or raise :class:`Rejected` saying why."""
    try:
        return _validate(sql, resolver)
    except TooComplex as exc:
        raise Rejected(exc.kind, exc.message, fragment=exc.fragment) from None
    except RecursionError:
        raise Rejected("query_too_complex", "the query is nested too deeply to be checked") from None


def _validate(sql: str, resolver: Resolver) -> ValidatedQuery:
    if not isinstance(sql, str) or not sql.strip():
        raise Rejected("parse_error", "the query is empty", fragment="")
    limits = resolver.limits
    sqlbounds.check_text(sql, limits)
    dialect, tree = _choose_dialect(sql, resolver)
    _check_nodes(tree, dialect)
    names = classify(tree, dialect)
    uses, refs = _resolve_tables(names.relations, resolver, dialect)
    source = _one_source(uses)
    if resolver.dialect_of(source) != dialect:  # _choose_dialect picked it; belt and braces
        raise Rejected("parse_error", f"the query must be written in {resolver.dialect_of(source)} SQL")
    _check_columns_and_collect(tree, uses, refs, dialect, resolver)
    sqlbounds.value_bounds(tree, limits)
    normalised = _render(tree, dialect)
    physical, allowed, inlined = _rewrite(tree, refs, uses, dialect, resolver)
    physical_sql = _render(physical, dialect, copy=False)
    # Defence in depth: what will run is parsed once more and must read nothing else. The SQL of
    # materialized tables (an admin's, inlined) is set aside first: it may read anything it names.
    final = _parse(physical_sql, dialect, limits)
    checked = _without_inlined(final, [_parse(_render(q, dialect), dialect, limits) for q in inlined], allowed)
    _check_nodes(checked, dialect)
    problems = unverified_relations(checked, dialect, allowed)
    if problems:
        log.warning("agnes: a rewritten scan failed verification (%s): %s", "; ".join(problems), physical_sql)
        raise Rejected("disallowed_node", "the query could not be verified to read only tables you may read",
                       hint="Rewrite it with plain table ids and CTEs; an admin can see the details in the "
                       "server log.")
    sqlbounds.apply_guards(sqlbounds.value_bounds(final, limits), dialect)
    relations = sorted({f"{t.db}.{t.name}" for t in final.find_all(exp.Table) if t.args.get("db")})
    return ValidatedQuery(normalised, _render(final, dialect, copy=False), dialect, source, uses, tree,
                          _top_limit(tree), relations, sqlbounds.row_bound(tree, limits))


def _render(tree: exp.Expr, dialect: str, *, copy: bool = True) -> str:
    """Render, refusing what the dialect's generator would have to change (sqlglot reports it:
    DuckDB has no ``TABLESAMPLE BERNOULLI (10)`` and would get reservoir sampling of 10 rows)."""
    from sqlglot.errors import ErrorLevel, UnsupportedError

    try:
        return str(tree.sql(dialect=dialect, comments=False, unsupported_level=ErrorLevel.IMMEDIATE, copy=copy))
    except UnsupportedError as exc:
        raise Rejected("disallowed_node", f"this cannot be passed on unchanged in {dialect} SQL: {exc}",
                       fragment=None) from None


# -- parsing --------------------------------------------------------------------------------


def _parse(sql: str, dialect: str, limits: SqlLimits = DEFAULT_LIMITS) -> exp.Query:
    try:
        tokens = sqlbounds.tokenize(sql, dialect, limits)
        parsed = Dialect.get_or_raise(dialect).parser().parse(tokens, sql)
        # Empty statements (";;") come back as None, a trailing comment as a Semicolon.
        statements = [s for s in parsed if s is not None and not isinstance(s, exp.Semicolon)]
    except ParseError as exc:
        err = exc.errors[0] if exc.errors else {}
        raise Rejected("parse_error", f"cannot parse the query: {err.get('description', str(exc))}",
                       fragment=str(err.get("highlight") or "") or None,
                       line=err.get("line"), col=err.get("col")) from None
    except TokenError as exc:
        raise Rejected("parse_error", f"cannot parse the query: {exc}") from None
    except (TooComplex, RecursionError):
        raise
    except Exception as exc:  # noqa: BLE001 - sqlglot's own failures on odd text (IndexError on an
        # unterminated string at the end) are the text's: a 400, never a 500
        raise Rejected("parse_error", f"cannot parse the query ({type(exc).__name__})") from None
    if not statements:
        raise Rejected("parse_error", "the query has no statement", fragment="")
    if len(statements) > 1:
        raise Rejected("multi_statement", f"the query has {len(statements)} statements; send exactly one SELECT",
                       fragment=_short(_safe_sql(statements[1], dialect)))
    tree = statements[0]
    node = first_write(tree)
    if node is not None:
        raise Rejected("ddl_or_dml", f"{type(node).__name__.upper()} is not allowed: scans only read",
                       fragment=_short(_safe_sql(node, dialect)))
    if not isinstance(tree, exp.Query):
        raise Rejected("disallowed_node", f"only SELECT queries are allowed, not {type(tree).__name__.upper()}",
                       fragment=_short(_safe_sql(tree, dialect)))
    tree = sqlbounds.balance_chains(tree)
    sqlbounds.check_shape(tree, limits)
    assert isinstance(tree, exp.Query)
    return tree


def _choose_dialect(sql: str, resolver: Resolver) -> tuple[str, exp.Query]:
    """The dialect of the source the query reads, and the query parsed in it.

    The text is parsed in each known dialect until the tables it names belong to a source of
    that same dialect; only that parse counts (every check runs on it)."""
    errors: dict[str, Rejected] = {}
    queue = list(dict.fromkeys(resolver.dialects))
    tried: list[str] = []
    while queue:
        dialect = queue.pop(0)
        if dialect in tried:
            continue
        tried.append(dialect)
        try:
            tree = _parse(sql, dialect, resolver.limits)
        except Rejected as exc:
            errors[dialect] = exc
            continue
        dialects = set()
        for table in classify(tree, dialect).relations:
            if isinstance(table.this, exp.Identifier) and not table.args.get("db"):
                found = _lookup(table.this, dialect, resolver)
                if found is not None:
                    dialects.add(resolver.dialect_of(found.source))
        if not dialects or dialect in dialects:
            return dialect, tree
        queue[:0] = sorted(d for d in dialects if d not in tried)
        errors.setdefault(dialect, Rejected("parse_error", f"the query names tables of a {sorted(dialects)[0]} "
                                                           "source"))
    # Nothing read consistently: the first error that is more than a parse error, else the first.
    for dialect in tried:
        if dialect in errors and errors[dialect].kind != "parse_error":
            raise errors[dialect]
    raise errors[tried[0]] if tried[0] in errors else next(iter(errors.values()))


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
        if isinstance(node, (exp.ObjectIdentifier, exp.PseudoType)) or (
                isinstance(node, exp.DataType) and node.this.name not in CAST_TYPES):
            shown = node.sql(dialect=dialect) if isinstance(node, exp.DataType) else node.name
            raise Rejected("disallowed_node", f"the type {shown.upper()} is not allowed in a scan",
                           fragment=_short(_safe_sql(node.parent or node, dialect)),
                           hint="Cast to standard types (numbers, text, dates, timestamps, JSON, arrays).")
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
        if isinstance(node, exp.Table):
            if not isinstance(node.this, exp.Identifier):
                raise Rejected("table_function", "a table function is not allowed in FROM",
                               fragment=_short(_safe_sql(node, dialect)))
            parts = [node.args.get("catalog"), node.args.get("db")]
            if any(p is not None and normalized(p, dialect).lower() in SYSTEM_SCHEMAS for p in parts):
                shown = _safe_sql(node, dialect)
                raise Rejected("disallowed_node", f"system catalog {shown} is not readable", fragment=shown)


# -- tables -----------------------------------------------------------------------------------


def _lookup(ident: exp.Identifier, dialect: str, resolver: Resolver) -> Table | None:
    """The registered table a name in FROM means: its id as the dialect compares names, or (for
    an unquoted name) an id spelled in another case."""
    name = normalized(ident, dialect)
    found = resolver.find(name)
    if found is None and (not ident.quoted or name != ident.name):
        found = resolver.find_any_case(name)
    return found


def _resolve_tables(relations: list[exp.Table], resolver: Resolver,
                    dialect: str) -> tuple[dict[str, TableUse], dict[int, str]]:
    """The table uses, and the table id each relation node (by ``id``) reads. A table the user
    may not read is reported exactly like one that does not exist."""
    uses: dict[str, TableUse] = {}
    refs: dict[int, str] = {}
    for t in relations:
        shown = t.sql(dialect=dialect) if not t.alias else exp.table_(t.name, db=t.args.get("db") and t.db,
                                                                     catalog=t.args.get("catalog") and t.catalog
                                                                     ).sql(dialect=dialect)
        if t.args.get("catalog") or t.args.get("db"):
            raise Rejected("unregistered_table", f"{shown} is not a table id you may read (table ids have no dots)",
                           fragment=shown, table=shown)
        found = _lookup(t.this, dialect, resolver)
        if found is None or not resolver.can_read(found.id):
            raise Rejected("unregistered_table", f"no table {t.name!r} that you may read", fragment=shown,
                           table=t.name)
        uses.setdefault(found.id, TableUse(found))
        refs[id(t)] = found.id
    if not uses:
        raise Rejected("unregistered_table", "the query reads no registered table",
                       hint="Name a table id from agnes.catalog() in FROM.", fragment=None)
    return uses, refs


def _one_source(uses: dict[str, TableUse]) -> str:
    sources = sorted({u.table.source for u in uses.values()})
    if len(sources) > 1:
        raise Rejected("mixed_sources", f"the query reads tables of {len(sources)} sources: {', '.join(sources)}",
                       fragment=", ".join(sorted(uses)), sources=sources)
    return sources[0]


def _twin(tree: exp.Expr) -> tuple[exp.Expr, dict[int, exp.Expr]]:
    """A copy of ``tree`` and, for each of its nodes (by ``id``), the copy's counterpart."""
    copy = tree.copy()
    return copy, {id(a): b for a, b in zip(tree.walk(bfs=False), copy.walk(bfs=False), strict=True)}


#: What an inlined materialized query is replaced by while the rest is verified.
_INLINED = ("agnes_inlined", "materialized")


def _without_inlined(tree: exp.Query, inlined: list[exp.Expr], allowed: set[tuple[str, str]]) -> exp.Query:
    """A copy of ``tree`` with each inlined (admin) query replaced by a placeholder relation."""
    if not inlined:
        return tree
    copy = tree.copy()
    for sub in list(copy.find_all(exp.Subquery)):
        if any(sub.this == q for q in inlined):
            sub.set("this", exp.select(exp.Star()).from_(exp.table_(_INLINED[1], db=_INLINED[0], quoted=True)))
    allowed.add(_INLINED)
    return copy


def _rewrite(tree: exp.Query, refs: dict[int, str], uses: dict[str, TableUse], dialect: str,
             resolver: Resolver) -> tuple[exp.Query, set[tuple[str, str]], list[exp.Expr]]:
    """A copy with every relation replaced by its physical name (materialized tables by their SQL)
    and every CTE renamed; the (schema, name) pairs it may read; the inlined queries."""
    physical, twin = _twin(tree)
    allowed: set[tuple[str, str]] = set()
    inlined: list[exp.Expr] = []
    next_cte = 0
    for node_id, table_id in refs.items():
        t = twin[node_id]
        assert isinstance(t, exp.Table)
        table = uses[table_id].table
        replacement = resolver.physical(table).copy()
        if isinstance(replacement, exp.Table):
            # In place: the alias (with column names), TABLESAMPLE, PIVOT, ONLY... all stay. The
            # user's own spelling becomes the alias, so qualified columns resolve as before.
            if not t.alias:
                t.set("alias", exp.TableAlias(this=t.this.copy()))
            t.set("this", replacement.this)
            t.set("db", replacement.args.get("db"))
            t.set("catalog", replacement.args.get("catalog"))
            if replacement.args.get("db") is not None:
                allowed.add((normalized(replacement.args["db"], dialect), normalized(replacement.this, dialect)))
        else:
            next_cte = _prepare_inlined(replacement, table, dialect, resolver, allowed, next_cte)
            alias = t.args.get("alias") or exp.TableAlias(this=t.this.copy())
            t.replace(exp.Subquery(this=replacement, alias=alias))
            inlined.append(replacement)
    rename_ctes(physical, dialect, start=next_cte)
    assert isinstance(physical, exp.Query)
    return physical, allowed, inlined


def _prepare_inlined(query: exp.Expr, table: Table, dialect: str, resolver: Resolver,
                     allowed: set[tuple[str, str]], next_cte: int) -> int:
    """An admin's materialized SQL, inlined in a scan: its relations qualified with the source's
    default schema (they are the admin's, so allowed), its CTEs renamed apart from the user's."""
    schema = resolver.default_schema(table.source)
    for rel in classify(query, dialect).relations:
        if not isinstance(rel.this, exp.Identifier):
            continue
        if rel.args.get("db") is None and schema:
            rel.set("db", exp.to_identifier(schema, quoted=True))
        if rel.args.get("db") is not None and rel.args.get("catalog") is None:
            allowed.add((normalized(rel.args["db"], dialect), normalized(rel.this, dialect)))
    return rename_ctes(query, dialect, start=next_cte)


# -- columns and what each table occurrence reads ---------------------------------------------


def _check_columns_and_collect(tree: exp.Query, uses: dict[str, TableUse], refs: dict[int, str], dialect: str,
                               resolver: Resolver) -> None:
    # Relations get plain synthetic names for qualify (ids may need quoting in one dialect and
    # folding in another); their own spelling stays as the alias, so qualified columns resolve.
    synthetic = {table_id: f"agnes_rel_{n}" for n, table_id in enumerate(uses)}
    by_synthetic = {v: k for k, v in synthetic.items()}
    schema: dict[str, object] = {synthetic[table_id]: {name: _schema_type(typ) for name, typ in
                                                        resolver.columns(use.table)}
                                 for table_id, use in uses.items()}
    # Long lists of literals name nothing: one item is enough to resolve their columns, and the
    # copy below need not hold the rest (qualify's cost grows with every node).
    long_lists = [(node, node.args["expressions"]) for node in tree.find_all(exp.In)
                  if len(node.args.get("expressions") or []) > 16
                  and all(isinstance(i, exp.Literal) for i in node.args["expressions"])]
    for node, items in long_lists:
        node.set("expressions", items[:1])
    try:
        qualified, twin = _twin(tree)
    finally:
        for node, items in long_lists:
            node.set("expressions", items)
    for node_id, table_id in refs.items():
        t = twin[node_id]
        if not t.alias:
            t.set("alias", exp.TableAlias(this=t.this.copy()))
        t.set("this", exp.to_identifier(synthetic[table_id]))
    try:
        qualified = qualify(qualified, schema=schema, dialect=dialect, validate_qualify_columns=True,
                            quote_identifiers=False, identify=False, expand_stars=True)
    except OptimizeError as exc:
        raise Rejected("unknown_column", f"{exc}", fragment=_column_fragment(str(exc))) from None
    except RecursionError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to resolve names is the query's
        raise Rejected("unknown_column", f"cannot resolve the query's columns: {exc}") from None
    for scope in traverse_scope(qualified):
        for alias, source in scope.sources.items():
            if not isinstance(source, exp.Table) or source.args.get("db"):
                continue
            found = uses.get(by_synthetic.get(source.name, ""))
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
    out: list[exp.Expr] = []
    stack = [node]
    while stack:  # iterative: AND chains can be long
        item = stack.pop()
        while isinstance(item, exp.Paren):
            item = item.this
        if isinstance(item, exp.And):
            stack.extend((item.right, item.left))
        else:
            out.append(item)
    return out


def _top_limit(tree: exp.Query) -> int | None:
    limit = tree.args.get("limit")
    if isinstance(limit, exp.Limit) and isinstance(limit.expression, exp.Literal) and limit.expression.is_int:
        return int(limit.expression.this)
    return None
