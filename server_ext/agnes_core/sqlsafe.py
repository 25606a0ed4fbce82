"""SQL fragments handled as sqlglot ASTs: parsed, checked against allow-lists, re-rendered
without comments — never pasted as text."""

from __future__ import annotations

from typing import Any

import sqlglot
from sqlglot import exp

from .errors import ValidationError

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
    try:
        tree = sqlglot.parse_one(text, dialect=dialect, into=exp.Condition)
    except sqlglot.errors.ParseError as exc:
        raise ValidationError(field, f"cannot parse {field}: {exc.errors[0]['description']}") from None
    for node in tree.walk():
        if isinstance(node, (exp.Query, exp.Subquery, exp.Table)):
            raise ValidationError(field, f"a {field} cannot read other tables", fragment=render(node, dialect))
        name = disallowed_function(node)
        if name is not None:
            raise ValidationError(field, f"function {name!r} is not allowed in a {field}",
                                  fragment=render(node, dialect))
    return render(tree, dialect)
