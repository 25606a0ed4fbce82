"""WHERE examples and dialect hints for a table, rendered in its SQL dialect from the AST."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlglot import exp

from .ids import TABLE_ID_RE

DIALECT_HINTS: dict[str, dict[str, Any]] = {
    "duckdb": {"identifier_quote": '"', "string_quote": "'",
               "notes": ["Identifiers are case-insensitive; double-quote names with special characters.",
                         "Dates: DATE '2026-01-31'; timestamps: TIMESTAMP '2026-01-31 12:00:00'."]},
    "postgres": {"identifier_quote": '"', "string_quote": "'",
                 "notes": ["Unquoted identifiers fold to lower case; double-quote mixed-case names.",
                           "Filter on the partition key so PostgreSQL prunes partitions."]},
    "bigquery": {"identifier_quote": "`", "string_quote": "'",
                 "notes": ["Filter on the partitioning column: it decides the bytes billed.",
                           "Clustered columns narrow the scan further when filtered with = or IN."]},
}


def _column(name: str) -> exp.Column:
    return exp.column(name, quoted=not bool(TABLE_ID_RE.match(name)) or name.lower() != name)


def _as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def where_examples(dialect: str, partition_by: list[str] | None, clustered_by: list[str] | None,
                   examples: dict[str, Any] | None) -> list[str]:
    """Predicates that use the table's layout: the last week of partitions, a cluster value."""
    examples = examples or {}
    out: list[str] = []
    for column in (partition_by or [])[:1]:
        value = examples.get(column)
        day = _as_date(value)
        if day is not None:
            since = exp.cast(exp.Literal.string((day - timedelta(days=6)).isoformat()), exp.DataType.Type.DATE)
            out.append(exp.GTE(this=_column(column), expression=since).sql(dialect=dialect))
        elif value is not None:
            out.append(exp.EQ(this=_column(column), expression=exp.convert(value)).sql(dialect=dialect))
    for column in (clustered_by or [])[:1]:
        value = examples.get(column)
        if value is not None and column not in (partition_by or []):
            out.append(exp.EQ(this=_column(column), expression=exp.convert(value)).sql(dialect=dialect))
    if len(out) == 2:
        out.append(exp.and_(*[_parse(o, dialect) for o in out]).sql(dialect=dialect))
    return out


def _parse(sql: str, dialect: str) -> Any:
    import sqlglot

    return sqlglot.parse_one(sql, dialect=dialect)


def dialect_hints(dialect: str, examples: list[str]) -> dict[str, Any]:
    hints = DIALECT_HINTS.get(dialect, DIALECT_HINTS["duckdb"])
    return {"name": dialect, **hints, "where_examples": examples}
