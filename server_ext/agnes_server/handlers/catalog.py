"""Analyst discovery routes: ``catalog`` and ``tables/{id}/schema``."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from .base import AgnesHandler


class CatalogHandler(AgnesHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        principal = self.principal
        filters = {k: self.get_query_argument(k, None) for k in ("search", "source", "mode")}
        tables = await self.blocking(lambda: self.core.catalog.entries(principal, **filters))
        self.write_json({"tables": tables, "count": len(tables)})


class TableSchemaHandler(AgnesHandler):
    @web.authenticated
    @authorized
    async def get(self, table_id: str) -> None:
        table = await self.blocking(self.core.readable_table, self.principal, table_id)
        schema = await self.blocking(self.core.table_schema, table)
        self.write_json(schema)
