"""Admin routes for sources and tables (admin only; the check runs in ``prepare``)."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from .base import AdminHandler


class SourcesHandler(AdminHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        sources = await self.blocking(self.core.registry.list_sources)
        self.write_json({"sources": [s.to_json() for s in sources]})

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        source = await self.blocking(self.core.registry.add_source, body)
        self.set_header("Location", self.request.path.rstrip("/") + "/" + source.name)
        self.write_json(source.to_json(), status=201)


class SourceHandler(AdminHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        source = await self.blocking(self.core.registry.get_source, name)
        self.write_json(source.to_json())

    @web.authenticated
    @authorized
    async def put(self, name: str) -> None:
        body = self.json_body()
        source = await self.blocking(lambda: self.core.registry.update_source(name, body, partial=False))
        self.write_json(source.to_json())

    @web.authenticated
    @authorized
    async def patch(self, name: str) -> None:
        body = self.json_body()
        source = await self.blocking(lambda: self.core.registry.update_source(name, body, partial=True))
        self.write_json(source.to_json())

    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await self.blocking(self.core.registry.delete_source, name)
        self.set_status(204)
        self.finish()


class TablesHandler(AdminHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        tables = await self.blocking(self.core.registry.list_tables)
        self.write_json({"tables": [t.to_json() for t in tables]})

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        table = await self.blocking(self.core.registry.register_table, body)
        self.set_header("Location", self.request.path.rstrip("/") + "/" + table.id)
        self.write_json(table.to_json(), status=201)


class TableHandler(AdminHandler):
    @web.authenticated
    @authorized
    async def get(self, table_id: str) -> None:
        table = await self.blocking(self.core.registry.get_table, table_id)
        self.write_json(table.to_json())

    @web.authenticated
    @authorized
    async def put(self, table_id: str) -> None:
        body = self.json_body()
        table = await self.blocking(lambda: self.core.registry.update_table(table_id, body, partial=False))
        self.write_json(table.to_json())

    @web.authenticated
    @authorized
    async def patch(self, table_id: str) -> None:
        body = self.json_body()
        table = await self.blocking(lambda: self.core.registry.update_table(table_id, body, partial=True))
        self.write_json(table.to_json())

    @web.authenticated
    @authorized
    async def delete(self, table_id: str) -> None:
        await self.blocking(self.core.registry.delete_table, table_id)
        self.set_status(204)
        self.finish()
