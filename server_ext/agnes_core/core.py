"""AgnesCore: the one object that composes the domain for the server and the CLI."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .access import Access, Principal
from .catalog import Catalog
from .connectors import Connector, TableRef, connector_class
from .errors import NotFound
from .events import ChangeHub
from .registry import Registry, Table
from .sqltypes import sql_type
from .store import StateStore

log = logging.getLogger(__name__)

STORE_FILE = "system.duckdb"


class AgnesCore:
    def __init__(self, data_dir: str | Path, *, admin_users: Iterable[str] = ()) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = StateStore(self.data_dir / STORE_FILE)
        self.hub = ChangeHub()
        self.registry = Registry(self.store, self.hub)
        self.access = Access(self.store, admin_users)
        self.catalog = Catalog(self.registry)

    def connector(self, source_name: str) -> Connector:
        source = self.registry.get_source(source_name)
        return connector_class(source.type)(source.name, source.options, source.secrets)

    def readable_table(self, principal: Principal, table_id: str) -> Table:
        """The registered table ``table_id`` if ``principal`` may read it, else NotFound.

        Existence and access are checked here, before any cache or source is touched.
        """
        table = self.registry.find_table(table_id)
        if table is None:
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

    def close(self) -> None:
        self.store.close()

