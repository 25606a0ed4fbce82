"""The catalog: what a user may use, built from the registry only (never calls a source)."""

from __future__ import annotations

from typing import Any

from .access import Access, Principal
from .registry import Registry, Source, Table

SQL_FLAVORS = {"lake": "duckdb", "postgres": "postgres", "bigquery": "bigquery", "keboola": "snowflake"}


def entry(table: Table, source: Source | None) -> dict[str, Any]:
    source_type = source.type if source else None
    return {
        "id": table.id,
        "name": table.name,
        "description": table.description,
        "source": table.source,
        "source_type": source_type,
        "query_mode": table.query_mode,
        "sql_flavor": "duckdb" if table.query_mode != "remote" else SQL_FLAVORS.get(source_type or "", "duckdb"),
        "folder": table.folder,
    }


class Catalog:
    def __init__(self, registry: Registry, access: Access) -> None:
        self.registry = registry
        self.access = access

    def entries(self, principal: Principal, *, search: str | None = None, source: str | None = None,
                mode: str | None = None) -> list[dict[str, Any]]:
        sources = {s.name: s for s in self.registry.list_sources()}
        readable = self.access.readable_tables(principal)
        out = []
        needle = search.lower() if search else None
        for table in self.registry.list_tables():
            if readable is not None and table.id not in readable:
                continue
            if source and table.source != source:
                continue
            if mode and table.query_mode != mode:
                continue
            if needle and not any(needle in (v or "").lower() for v in (table.id, table.name, table.description)):
                continue
            out.append(entry(table, sources.get(table.source)))
        return out
