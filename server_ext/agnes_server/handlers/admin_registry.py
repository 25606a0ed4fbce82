"""Admin routes for sources, tables and extracts (admin only; the check runs in ``prepare``)."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from agnes_core.store.state import iso

from .base import AdminHandler


class SourcesHandler(AdminHandler):
    audit_kind = "source"

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
    audit_kind = "source"

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
    audit_kind = "table"

    @web.authenticated
    @authorized
    async def get(self) -> None:
        def listing() -> list[dict[str, Any]]:
            last = self.core.extracts.last_runs()
            running = {r.table_id: r.run_id for r in self.core.extracts.running()}
            out = []
            for table in self.core.registry.list_tables():
                run = last.get(table.id)
                out.append({**table.to_json(), "last_run": None if run is None else {
                    "run_id": run["run_id"], "status": run["status"], "started_at": iso(run["started_at"]),
                    "error": run["error"]}, "running_run_id": running.get(table.id)})
            return out

        self.write_json({"tables": await self.blocking(listing)})

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        table = await self.blocking(self.core.registry.register_table, body)
        self.set_header("Location", self.request.path.rstrip("/") + "/" + table.id)
        self.write_json(table.to_json(), status=201)


class TableHandler(AdminHandler):
    audit_kind = "table"

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


class SourceTestHandler(AdminHandler):
    audit_kind = "source"
    audit_verbs = {"POST": "test"}

    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        self.write_json(await self.blocking(self.core.test_source, name))


class SourceDiscoverHandler(AdminHandler):
    audit_kind = "source"
    audit_verbs = {"POST": "discover"}

    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        self.write_json(await self.blocking(self.core.discover_source, name))


class TableExtractHandler(AdminHandler):
    """Start an extract now. 202 with the running run; ``?wait=true`` answers when it ends."""

    audit_kind = "table"
    audit_verbs = {"POST": "extract"}

    @web.authenticated
    @authorized
    async def post(self, table_id: str) -> None:
        actor = self.principal.username
        state = await self.blocking(lambda: self.core.extracts.start(table_id, trigger="manual", actor=actor))
        future = self.agnes.extract_executor.submit(self.core.extracts.execute, state)  # not the request pool
        location = f"{self.request.path.rsplit('/', 1)[0]}/runs/{state.run_id}"
        self.set_header("Location", location)
        if self.get_query_argument("wait", "false").lower() in ("1", "true", "yes"):
            from asyncio import wrap_future

            self.write_json(await wrap_future(future))
            return
        self.write_json(await self.blocking(self.core.extracts.get_run, state.run_id), status=202)


class TableRunsHandler(AdminHandler):
    @web.authenticated
    @authorized
    async def get(self, table_id: str) -> None:
        def runs() -> dict[str, Any]:
            return {"table_id": table_id, "runs": self.core.extracts.runs(table_id),
                    "schema_changes": self.core.extracts.schema_changes(table_id),
                    "sync_state": _sync_state(self.core.extracts.sync_state(table_id))}

        self.write_json(await self.blocking(runs))


class TableRunHandler(AdminHandler):
    @web.authenticated
    @authorized
    async def get(self, table_id: str, run_id: str) -> None:
        run = await self.blocking(self.core.extracts.get_run, run_id)
        if run["table_id"] != table_id:
            from agnes_core.errors import NotFound

            raise NotFound(f"run {run_id!r} is not a run of {table_id!r}")
        self.write_json(run)


def _sync_state(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"run_id": row["run_id"], "md5": row["md5"], "rows": row["rows"], "size_bytes": row["size_bytes"],
            "extracted_at": iso(row["extracted_at"])}
