"""Admin routes for sources, tables and extracts (admin only; the check runs in ``prepare``)."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from agnes_core.errors import AgnesError, NotFound, ValidationError
from agnes_core.registry import MAX_BATCH
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


class ConnectorsHandler(AdminHandler):
    """The installed connectors, each with the form a source of its type takes."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        from agnes_core.connectors import describe_connectors

        self.write_json({"connectors": await self.blocking(describe_connectors)})


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
                    "finished_at": iso(run["finished_at"]), "rows": run["rows"], "error": run["error"]},
                    "running_run_id": running.get(table.id)})
            return out

        self.write_json({"tables": await self.blocking(listing)})

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        table = await self.blocking(self.core.registry.register_table, body)
        self.set_header("Location", self.request.path.rstrip("/") + "/" + table.id)
        self.write_json(table.to_json(), status=201)


class TablesBatchHandler(AdminHandler):
    """``POST admin/tables:batch``: many registrations validated together, then one transaction.

    The body is checked item by item in a worker (a batch of thousands costs more than the event
    loop may be held), against the same schema as ``POST admin/tables``; a refusal names the row
    (``details.index``, ``id``, ``field``) and nothing is registered."""

    audit_kind = "table"
    audit_verbs = {"POST": "register_batch"}

    def _check_request(self) -> None:
        """The body is checked in ``post`` (off the loop)."""

    def audit_resource(self) -> str:
        return "table"

    def _check_item(self, item: dict[str, Any]) -> None:
        from agnes_server.validation import _body_error, _most_specific

        found = self.agnes.requests.operation("POST", "/admin/tables")
        validator = found[0].body_validator if found else None
        if validator is None:
            return
        error = _most_specific(list(validator.iter_errors(item)))
        if error is not None:
            raise _body_error(error)

    async def _batch(self) -> None:
        body = await self.blocking(self.json_body)  # up to 2 MiB parsed and checked: off the loop
        unknown = sorted(set(body) - {"tables"})
        if unknown:
            raise ValidationError(unknown[0], f"unknown field {unknown[0]!r}", hint="The body is {\"tables\": [...]}.")
        tables = body.get("tables")
        if not isinstance(tables, list):
            raise ValidationError("tables", "tables must be a list of registrations (as POST admin/tables takes)",
                                  limit=MAX_BATCH)
        def register() -> list[dict[str, Any]]:
            return [t.to_json() for t in self.core.registry.register_tables(tables, self._check_item)]

        try:
            registered = await self.blocking(register)
        except AgnesError as exc:
            self.audit_details = {"index": exc.details.get("index"), "count": len(tables)}
            raise
        self.audit_details = {"count": len(registered), "ids": [t["id"] for t in registered]}
        self.write_json({"tables": registered, "count": len(registered)}, status=201)


    @web.authenticated
    @authorized
    async def post(self) -> None:
        await self._batch()


class TablesBatchEscapedHandler(TablesBatchHandler):
    """The same route for clients that percent-encode the colon (``tables%3Abatch``: tornado's
    ``url_escape`` does): tornado matches routes on the raw path."""

    @web.authenticated
    @authorized
    async def post(self, rest: str) -> None:
        if rest.upper() != "3ABATCH":
            raise NotFound(f"no Agnes route {self.request.path!r}",
                           hint="GET agnes/v1/openapi.json lists every route.")
        await self._batch()


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
            raise NotFound(f"run {run_id!r} is not a run of {table_id!r}")
        self.write_json(run)


def _sync_state(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"run_id": row["run_id"], "md5": row["md5"], "rows": row["rows"], "size_bytes": row["size_bytes"],
            "extracted_at": iso(row["extracted_at"])}
