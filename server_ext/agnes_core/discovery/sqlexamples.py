"""WHERE examples and dialect hints for a table, rendered in its SQL dialect from the AST."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlglot import exp

from agnes_core.ids import TABLE_ID_RE


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
    nodes: list[exp.Expr] = []
    for column in (partition_by or [])[:1]:
        value = examples.get(column)
        day = _as_date(value)
        if day is not None:
            since = exp.cast(exp.Literal.string((day - timedelta(days=6)).isoformat()), exp.DataType.Type.DATE)
            nodes.append(exp.GTE(this=_column(column), expression=since))
        elif value is not None:
            nodes.append(exp.EQ(this=_column(column), expression=exp.convert(value)))
    for column in (clustered_by or [])[:1]:
        value = examples.get(column)
        if value is not None and column not in (partition_by or []):
            nodes.append(exp.EQ(this=_column(column), expression=exp.convert(value)))
    if len(nodes) == 2:  # both together, built from the nodes (never by parsing rendered SQL)
        nodes.append(exp.and_(*(n.copy() for n in nodes)))
    return [n.sql(dialect=dialect) for n in nodes]


def dialect_hints(dialect: str, notes: dict[str, Any], examples: list[str]) -> dict[str, Any]:
    """What the schema says about writing SQL for a table: its dialect, the connector's notes
    (quoting, habits of the source) and the WHERE examples."""
    return {"name": dialect, **notes, "where_examples": examples}
