"""Analyst discovery routes: catalog, schema, sample and metadata status.

Existence and access are checked (``readable_table``) before any cache is read. All of it
runs off the event loop: the catalog index, the grant index and the registry are in memory
most of the time, but any change drops them and the next reader rebuilds them from the store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from jupyter_server.auth.decorator import authorized
from tornado import web

from agnes_core.discovery.schemas import MAX_SAMPLE
from agnes_core.errors import AgnesError, ValidationError
from agnes_core.registry import Table

from .base import AgnesHandler

T = TypeVar("T")


class CatalogHandler(AgnesHandler):
    def filters(self) -> dict[str, str | None]:
        mode = self.get_query_argument("mode", None)
        if mode is not None and mode not in ("local", "remote", "materialized"):
            raise ValidationError("mode", "mode must be local, remote or materialized")
        return {"search": self.get_query_argument("search", None), "source": self.get_query_argument("source", None),
                "mode": mode, "package": self.get_query_argument("package", None)}

    @web.authenticated
    @authorized
    async def get(self) -> None:
        f = self.filters()
        search, source, mode, package = f["search"], f["source"], f["mode"], f["package"]
        # Usually joined from pre-serialised entries; after a change the index rebuilds the
        # changed entries from the store (sync_state, metadata, grants), so it runs in a worker.
        body = await self.blocking(lambda: self.core.catalog.response(
            self.principal, search=search, source=source, mode=mode, package=package))
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(body)


class CatalogIdsHandler(CatalogHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        f = self.filters()
        ids = await self.blocking(lambda: self.core.catalog.ids(self.principal, **f))
        self.write_json({"ids": ids, "count": len(ids)})


class _TableRoute(AgnesHandler):
    def readable(self, table_id: str) -> Table:
        """In a worker: the table, if it exists and the caller may read it (else 404)."""
        return self.core.readable_table(self.principal, table_id)

    def from_source(self, table: Table, fn: Callable[[], T]) -> T:
        """In a worker: ``fn()``, with a source's error reworded for analysts."""
        try:
            return fn()
        except AgnesError as exc:
            raise self.core.for_principal(self.principal, exc, [table]) from None


class TableSchemaHandler(_TableRoute):
    @web.authenticated
    @authorized
    async def get(self, table_id: str) -> None:
        def schema() -> dict[str, Any]:
            table = self.readable(table_id)
            return self.from_source(table, lambda: self.core.discovery.schema(table))

        self.write_json(await self.blocking(schema))


class TableSampleHandler(_TableRoute):
    @web.authenticated
    @authorized
    async def get(self, table_id: str) -> None:
        def sample() -> dict[str, Any]:
            table = self.readable(table_id)
            n = self.int_arg("n", 5, 1, MAX_SAMPLE)  # after the access check, as before any cache read
            return self.from_source(table, lambda: self.core.discovery.sample(table, n))

        self.write_json(await self.blocking(sample))


class MetadataStatusHandler(AgnesHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.blocking(self.core.metadata_status, self.principal))
