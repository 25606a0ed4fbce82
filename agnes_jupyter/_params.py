"""Query parameters: ``:name`` / ``{name}`` placeholders found by their tokens and bound as typed SQL
literals (sqlglot nodes), never pasted as text."""

from __future__ import annotations

import re
from typing import Any

from .errors import ValidationError

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SENTINEL = "__agnes_param_{}__"


def param_names(query: str, dialect: str) -> list[tuple[int, int, str]]:
    """The ``:name`` and ``{name}`` placeholders of a query, found by its tokens (so text in
    strings and comments, ``::`` casts, DuckDB's ``alias: value`` and ``list[a:b]`` slices are
    left alone): (start, end, name) for each."""
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.errors import TokenError
    from sqlglot.tokens import TokenType

    try:
        tokens = Dialect.get_or_raise(dialect).tokenize(query)
    except TokenError:
        return []
    found = []
    depth = 0  # inside [...]: a ':' is a slice
    for i, tok in enumerate(tokens):
        if tok.token_type == TokenType.L_BRACKET:
            depth += 1
        elif tok.token_type == TokenType.R_BRACKET:
            depth = max(0, depth - 1)
        if i + 1 >= len(tokens):
            break
        nxt = tokens[i + 1]
        if not _NAME_RE.match(nxt.text) or nxt.start != tok.end + 1:
            continue
        if tok.token_type == TokenType.COLON and depth == 0:
            prev = tokens[i - 1] if i else None
            # "name:" right before it is DuckDB's prefix alias, not a placeholder
            if prev is None or prev.end != tok.start - 1 or not _NAME_RE.match(prev.text):
                found.append((tok.start, nxt.end, nxt.text))
        elif (tok.token_type == TokenType.L_BRACE and i + 2 < len(tokens)
              and tokens[i + 2].token_type == TokenType.R_BRACE and tokens[i + 2].start == nxt.end + 1):
            found.append((tok.start, tokens[i + 2].end, nxt.text))
    return found


def bind_params(query: str, values: dict[str, Any], dialect: str) -> str:
    """Bind ``:name`` (and ``{name}``) placeholders as typed SQL literals.

    Each placeholder becomes a sentinel identifier and the query is parsed: a sentinel must stand
    where a *value* goes (not a table, a column's qualifier, a function, an ORDER BY / GROUP BY
    position). Each value becomes a sqlglot literal node (text quoted by sqlglot, dates and
    timestamps cast, lists as IN lists or arrays) whose SQL replaces its placeholder in the query's
    own text — the rest of the query is never re-rendered, so nothing of it changes — and the
    result is parsed again. A value is never SQL text."""
    import sqlglot
    from sqlglot import exp

    spans = param_names(query, dialect)
    if not spans:
        return query
    missing = sorted({name for _, _, name in spans} - set(values))
    if missing:
        raise ValidationError(f"no value for the parameter{'s' if len(missing) > 1 else ''} "
                              f"{', '.join(':' + m for m in missing)}",
                              hint="Define it as a Python variable first (or pass params={...}).")
    sentinels = [_SENTINEL.format(i) for i in range(len(spans))]
    text = query
    for (start, end, _), sentinel in reversed(list(zip(spans, sentinels, strict=True))):
        text = text[:start] + sentinel + text[end + 1:]

    def parse(sql: str) -> Any:
        try:
            return sqlglot.parse_one(sql, read=dialect)
        except sqlglot.errors.ParseError as exc:
            err = exc.errors[0] if exc.errors else {}
            raise ValidationError(f"cannot parse the query with its parameters: {err.get('description', exc)} "
                                  f"(line {err.get('line')}, column {err.get('col')})",
                                  hint="A parameter stands for a value, e.g. WHERE country = :country; it cannot "
                                       "name a table or a column.") from None

    def not_a_value(sentinel: str) -> ValidationError:
        label = spans[sentinels.index(sentinel)][2]
        return ValidationError(f"the parameter :{label} is not in the place of a value",
                               hint="Parameters are values (WHERE x = :v, x IN :list, LIMIT :n); they cannot name "
                                    "a table or a column, or be a sort or group position.")

    tree = parse(text)
    places: dict[str, exp.Column] = {}
    for node in tree.walk():
        if not isinstance(node, exp.Identifier) or node.name not in sentinels:
            continue
        column = node.parent
        if not isinstance(column, exp.Column) or column.this is not node or column.table:
            raise not_a_value(node.name)
        holder = column.parent
        if isinstance(holder, (exp.Ordered, exp.Group)) or (
                isinstance(holder, exp.Alias) and isinstance(holder.parent, exp.Group)):
            raise not_a_value(node.name)
        places[node.name] = column
    if len(places) != len(sentinels):
        raise not_a_value(next(s for s in sentinels if s not in places))
    rendered: list[str] = []
    for (_, _, name), sentinel in zip(spans, sentinels, strict=True):
        column = places[sentinel]
        value = values[name]
        parent = column.parent
        in_list = isinstance(parent, exp.In) and parent.expressions == [column]
        in_field = isinstance(parent, exp.In) and parent.args.get("field") is column
        if isinstance(value, (list, tuple, set, frozenset)) and (in_list or in_field):
            items = [_literal(v) for v in (sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value)]
            if not items:
                raise ValidationError(f"the list :{name} is empty", hint="IN () matches nothing: give at least one "
                                                                         "value, or leave the condition out.")
            inner = ", ".join(i.sql(dialect=dialect) for i in items)
            rendered.append(inner if in_list else f"({inner})")
        else:
            rendered.append(_literal(value).sql(dialect=dialect))
    out = query
    for (start, end, _), literal in reversed(list(zip(spans, rendered, strict=True))):
        out = out[:start] + literal + out[end + 1:]
    parse(out)  # still one parseable query
    return out


def _literal(value: Any) -> Any:
    """A Python value as a typed SQL literal node."""
    import datetime as dt
    import decimal
    import math

    from sqlglot import exp

    if hasattr(value, "item") and type(value).__module__ == "numpy":  # numpy scalars
        value = value.item()
    if isinstance(value, bool) or value is None:
        return exp.convert(value)
    if (isinstance(value, float) and not math.isfinite(value)) or (
            isinstance(value, decimal.Decimal) and not value.is_finite()):
        text = "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
        return exp.cast(exp.Literal.string(text), "DOUBLE")
    if isinstance(value, (int, float, decimal.Decimal)):
        return exp.convert(value)
    if isinstance(value, str):
        if "\x00" in value:
            raise ValidationError("a text parameter contains a NUL character", hint="SQL text cannot hold one.")
        return exp.convert(value)
    if isinstance(value, dt.datetime):
        kind = "TIMESTAMPTZ" if value.tzinfo is not None else "TIMESTAMP"
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), kind)
    if isinstance(value, dt.date):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else list(value)
        return exp.Array(expressions=[_literal(v) for v in items])
    raise ValidationError(f"a parameter of type {type(value).__name__} cannot be a SQL literal",
                          hint="Use a number, text, bool, date, datetime, None or a list of those.")
