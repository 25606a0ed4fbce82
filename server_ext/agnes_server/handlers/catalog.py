"""Analyst discovery routes: catalog, schema, sample and metadata status.

Existence and access are checked (``readable_table``) before any cache is read.
"""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from agnes_core.discovery import MAX_SAMPLE
from agnes_core.errors import AgnesError, ValidationError

from .base import AgnesHandler


class CatalogHandler(AgnesHandler):
    @web.authenticated
    @authorized
    def get(self) -> None:
        # Served from the in-memory index on the event loop: no store, no source, no thread hop.
        mode = self.get_query_argument("mode", None)
        if mode is not None and mode not in ("local", "remote", "materialized"):
            raise ValidationError("mode", "mode must be local, remote or materialized")
        body = self.core.catalog.response(
            self.principal, search=self.get_query_argument("search", None),
            source=self.get_query_argument("source", None), mode=mode,
            package=self.get_query_argument("package", None))
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(body)


class TableSchemaHandler(AgnesHandler):
    @web.authenticated
    @authorized
    async def get(self, table_id: str) -> None:
        table = self.core.readable_table(self.principal, table_id)
        cached = self.core.discovery.schemas.get(table.id)  # in memory: answered on the loop
        if cached is not None:
            self.write_json(cached)
            return
        try:
            schema = await self.blocking(self.core.discovery.schema, table)
        except AgnesError as exc:
            raise self.core.for_principal(self.principal, exc, [table]) from None
        self.write_json(schema)


class TableSampleHandler(AgnesHandler):
    @web.authenticated
    @authorized
    async def get(self, table_id: str) -> None:
        table = self.core.readable_table(self.principal, table_id)
        n = self.int_arg("n", 5, 1, MAX_SAMPLE)
        try:
            sample = await self.blocking(self.core.discovery.sample, table, n)
        except AgnesError as exc:
            raise self.core.for_principal(self.principal, exc, [table]) from None
        self.write_json(sample)


class MetadataStatusHandler(AgnesHandler):
    @web.authenticated
    @authorized
    def get(self) -> None:
        self.write_json(self.core.metadata_status(self.principal))
