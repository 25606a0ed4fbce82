"""SQL fragments handled as sqlglot ASTs: parsed, checked against allow-lists, re-rendered
without comments — never pasted as text."""

from __future__ import annotations

from typing import Any

import sqlglot
from sqlglot import exp

from agnes_core.errors import ValidationError

#: Scalar functions (sqlglot expression classes) allowed in predicates and queries. Anything
#: else — file readers (read_csv), vendor functions sqlglot does not know (getenv,
#: pg_read_file, current_setting: parsed as Anonymous) — is refused.
SCALAR_FUNCTIONS = frozenset({
    "Abs", "ArrayContains", "Case", "Cast", "Ceil", "Coalesce", "Concat", "Contains", "CurrentDate",
    "CurrentTimestamp", "Date", "DateAdd", "DateDiff", "DateSub", "DateTrunc", "Day", "DayOfWeek", "EndsWith",
    "Extract", "Floor", "Greatest", "If", "Initcap", "Least", "Left", "Length", "Ln", "Lower", "Month", "Nullif",
    "Pow", "Quarter", "RegexpLike", "Replace", "Right", "Round", "Sign", "SplitPart", "Sqrt", "StartsWith",
    "StrToDate", "StrToTime", "Substring", "TimeToStr", "TimeToUnix", "TimestampAdd", "TimestampDiff",
    "TimestampTrunc", "Trim", "TryCast", "TsOrDsAdd", "Upper", "Week", "Year",
})


def render(tree: Any, dialect: str) -> str:
    """Re-render an AST; comments are dropped (they can hide or smuggle text)."""
    return tree.sql(dialect=dialect, comments=False)


def parse_sql(text: str, dialect: str, field: str, *, into: Any = None) -> list[Any]:
    """sqlglot's parse, where any failure to read the text — a syntax error, nesting too deep for
    the parser, or one of sqlglot's own errors on odd input (an unterminated string at the end
    raises IndexError) — is a ValidationError naming ``field``, never a 500. Empty statements are
    dropped."""
    try:
        if into is not None:
            return [sqlglot.parse_one(text, dialect=dialect, into=into)]
        return [s for s in sqlglot.parse(text, dialect=dialect) if s is not None and not isinstance(s, exp.Semicolon)]
    except RecursionError:
        raise ValidationError(field, f"{field} nests too deeply to be read") from None
    except sqlglot.errors.ParseError as exc:
        description = (exc.errors[0].get("description") if exc.errors else None) or str(exc).splitlines()[0]
        raise ValidationError(field, f"cannot parse {field}: {description}") from None
    except sqlglot.errors.TokenError as exc:
        raise ValidationError(field, f"cannot read {field}: {(str(exc).splitlines() or ['?'])[0][:200]}") from None
    except Exception as exc:  # noqa: BLE001 - sqlglot's own failures on odd text are the text's
        raise ValidationError(field, f"cannot parse {field} ({type(exc).__name__})") from None


def disallowed_function(node: Any, allowed: frozenset[str] = SCALAR_FUNCTIONS) -> str | None:
    """The name of a function call that is not allowed, or None. Operators (AND, +, LIKE, ...)
    are syntax, even where sqlglot models them as functions."""
    if isinstance(node, exp.Anonymous):
        return str(node.name)
    if not isinstance(node, exp.Func) or isinstance(node, (exp.Binary, exp.Unary, exp.Predicate)):
        return None
    name = type(node).__name__
    return None if name in allowed else str(node.sql_name())


def safe_predicate(text: str, dialect: str, field: str = "filter") -> str:
    """One boolean expression over columns: no subqueries or tables, only allow-listed
    functions. Returned re-rendered from the AST."""
    (tree,) = parse_sql(text, dialect, field, into=exp.Condition)
    for node in tree.walk():
        if isinstance(node, (exp.Query, exp.Subquery, exp.Table)):
            raise ValidationError(field, f"a {field} cannot read other tables", fragment=render(node, dialect))
        name = disallowed_function(node)
        if name is not None:
            raise ValidationError(field, f"function {name!r} is not allowed in a {field}",
                                  fragment=render(node, dialect))
    return render(tree, dialect)


# -- statement classification (below the registry and the validator: both ask it) ----------------

#: Nodes that write or change state: never in a scan, a recipe or a materialized table's SQL.
WRITE_NODES: tuple[type[exp.Expr], ...] = (
    exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter, exp.Command,
    exp.TruncateTable, exp.Copy, exp.Into, exp.Attach, exp.Detach, exp.Install, exp.Pragma, exp.Use,
    exp.Transaction, exp.Commit, exp.Rollback, exp.Set, exp.LoadData,
)


def first_write(tree: exp.Expr) -> exp.Expr | None:
    """The first node anywhere in ``tree`` that writes or changes state, or None."""
    return next((n for n in tree.walk() if isinstance(n, WRITE_NODES)), None)
