"""AgnesCore: the one object that composes the domain for the server and the CLI."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .access import Access, Principal
from .audit import Audit
from .catalog import Catalog
from .connectors import Capability, Connector, TableRef, connector_class
from .errors import NotFound
from .events import Change, ChangeHub
from .extract import ExtractRuntime
from .registry import Registry, Table
from .sqltypes import sql_type
from .store import StateStore
from .tokens import Tokens

log = logging.getLogger(__name__)

STORE_FILE = "system.duckdb"


class AgnesCore:
    def __init__(self, data_dir: str | Path, *, admin_users: Iterable[str] = ()) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = StateStore(self.data_dir / STORE_FILE)
        self.hub = ChangeHub()
        self.audit = Audit(self.store)
        self.registry = Registry(self.store, self.hub)
        self.access = Access(self.store, self.hub, admin_users)
        self.tokens = Tokens(self.store, self.audit)
        self.extracts = ExtractRuntime(self.data_dir, self.store, self.registry, self.audit, self.hub,
                                       self.connector)
        self.catalog = Catalog(self.registry, self.access)
        self.hub.subscribe(self._on_change)

    def _on_change(self, change: Change) -> None:
        if change.kind == "table" and change.action == "delete":
            for table_id in change.ids:
                self.access.delete_grants_for("table", table_id)

    def connector(self, source_name: str) -> Connector:
        source = self.registry.get_source(source_name)
        return connector_class(source.type)(source.name, source.options, source.secrets)

    def readable_table(self, principal: Principal, table_id: str) -> Table:
        """The registered table ``table_id`` if ``principal`` may read it, else NotFound.

        Existence and access are checked here, before any cache or source is touched; a
        table the user may not read is reported exactly like one that does not exist.
        """
        table = self.registry.find_table(table_id)
        if table is None or not self.access.can_read(principal, table_id):
            raise NotFound(f"no table {table_id!r}", hint="agnes.catalog() lists the tables you may use.",
                           details={"table": table_id})
        return table

    def table_ref(self, table: Table) -> TableRef:
        return TableRef(table.bucket, table.source_table)

    def table_schema(self, table: Table) -> dict[str, Any]:
        """Columns of a registered table with their SQL and Arrow types."""
        connector = self.connector(table.source)
        try:
            arrow_schema = connector.schema(self.table_ref(table))
        finally:
            connector.close()
        columns = [
            {"name": f.name, "type": sql_type(f.type, connector.dialect), "arrow_type": str(f.type),
             "nullable": f.nullable,
             "description": (f.metadata or {}).get(b"description", b"").decode() or None}
            for f in arrow_schema
        ]
        return {"id": table.id, "columns": columns}

    def test_source(self, name: str) -> dict[str, Any]:
        connector = self.connector(name)
        try:
            return {"source": name, "ok": True, **connector.test()}
        finally:
            connector.close()

    def discover_source(self, name: str) -> dict[str, Any]:
        """What the source holds, marked with the ids already registered for each table."""
        connector = self.connector(name)
        if Capability.DISCOVER not in connector.capabilities:
            connector.close()
            raise NotFound(f"{connector.type} sources cannot be discovered")
        try:
            found = connector.discover()
        finally:
            connector.close()
        registered: dict[tuple[str | None, str], list[str]] = {}
        for t in self.registry.list_tables():
            if t.source == name:
                registered.setdefault((t.bucket, t.source_table), []).append(t.id)
        return {"source": name, "tables": [
            {"bucket": d.bucket, "source_table": d.name, "entity_type": d.entity_type,
             "description": d.description, "registered_as": registered.get((d.bucket, d.name), []),
             "columns": [{"name": f.name, "type": sql_type(f.type, connector.dialect), "arrow_type": str(f.type),
                          "nullable": f.nullable} for f in d.schema]}
            for d in found]}

    def close(self) -> None:
        self.store.close()
