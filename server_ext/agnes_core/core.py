"""AgnesCore: the one object that composes the domain for the server and the CLI."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agnes_core.access.audit import Audit
from agnes_core.access.principals import Access, Principal
from agnes_core.access.tokens import Tokens
from agnes_core.connectors import Capability, Connector, TableRef, connector_class
from agnes_core.curation.packages import Packages
from agnes_core.curation.recipes import Recipes
from agnes_core.discovery.catalog import CatalogIndex, ExtractStats, extract_stats_from
from agnes_core.discovery.metadata import MetadataCache, fresh_threshold
from agnes_core.discovery.refresh import MetadataRefresher
from agnes_core.discovery.schemas import Discovery
from agnes_core.errors import AgnesError, NotFound
from agnes_core.events import Change, ChangeHub
from agnes_core.extract.runtime import ExtractRuntime
from agnes_core.gate.limits import Limits
from agnes_core.gate.physical import analyst_text, for_analyst
from agnes_core.gate.scans import ScanService
from agnes_core.gate.sqlbounds import SqlLimits
from agnes_core.registry import Registry, Table
from agnes_core.store.state import StateStore

log = logging.getLogger(__name__)

STORE_FILE = "system.duckdb"


@dataclass
class CoreSettings:
    """Tunables the server exposes as AgnesApp traits."""

    metadata_refresh_interval_s: float = 4 * 3600
    metadata_concurrency: int = 4
    metadata_timeout_s: float = 30.0
    cache_ttl_s: float = 3600.0
    limits: Limits = field(default_factory=Limits)
    #: Scans the whole server runs at once (each holds a worker thread and a source session).
    max_concurrent_scans: int = 8
    #: What a scan's SQL may cost to check (size, nesting) and may build (value sizes).
    sql_limits: SqlLimits = field(default_factory=SqlLimits)

    @property
    def fresh_threshold_s(self) -> float:
        return fresh_threshold(self.metadata_refresh_interval_s)


class AgnesCore:
    def __init__(self, data_dir: str | Path, *, admin_users: Iterable[str] = (),
                 settings: CoreSettings | None = None) -> None:
        self.settings = settings or CoreSettings()
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
        self.metadata = MetadataCache(self.store)
        # Built in the order they need each other: every part exists before anything reads it.
        self.packages = Packages(self.store, self.registry, self.access, self.hub, self._sync_infos)
        self.recipes = Recipes(self.store, self.registry, self.access, self.hub)
        self.catalog = CatalogIndex(self.registry, self.access, self.metadata, self.hub, self._extract_stats,
                                    lambda: self.settings.metadata_refresh_interval_s,
                                    packages_of=self.packages.packages_of)
        self.discovery = Discovery(self.registry, self.metadata, self.hub, self.connector, self._extracted_path,
                                   ttl_s=self.settings.cache_ttl_s)
        self.refresher = MetadataRefresher(self.store, self.registry, self.metadata, self.discovery, self.hub,
                                           self.connector, concurrency=self.settings.metadata_concurrency,
                                           timeout_s=self.settings.metadata_timeout_s)
        self.scans = ScanService(self.store, self.registry, self.access, self.metadata, self.audit, self.connector,
                                 self._columns_of, lambda: self.settings.limits,
                                 lambda: self.settings.fresh_threshold_s,
                                 sql_limits=lambda: self.settings.sql_limits,
                                 max_concurrent_scans=lambda: self.settings.max_concurrent_scans)
        self._configured_limits = self.settings.limits
        self._apply_stored_settings()
        self.hub.subscribe(self._on_change)

    def _sync_infos(self) -> dict[str, dict[str, Any]]:
        """What the sync manifest says of every extracted table (md5 computed once per extract)."""
        from agnes_core.store.state import iso

        types = {s.name: s.type for s in self.registry.list_sources()}
        out = {}
        rows = self.store.rows("SELECT table_id, source, path, md5, size_bytes, rows, extracted_at FROM sync_state")
        for row in rows:
            r = self.extracts.synced_state(row["table_id"], row)  # pushed changes included
            assert r is not None
            out[r["table_id"]] = {"md5": r["md5"], "size_bytes": r["size_bytes"], "rows": r["rows"],
                                  "updated": iso(r["extracted_at"]), "source_type": types.get(r["source"])}
        return out

    # -- run-time settings (gate limits): stored overrides of the configured AgnesApp traits --

    def _apply_stored_settings(self) -> None:
        import dataclasses

        from agnes_core.store.state import loads

        row = self.store.row("SELECT value FROM settings WHERE key = 'limits'")
        overrides = loads(row["value"], {}) if row else {}
        self.settings.limits = dataclasses.replace(self._configured_limits, **overrides)

    def gate_settings(self) -> dict[str, Any]:
        from agnes_core.store.state import iso, loads

        row = self.store.row("SELECT * FROM settings WHERE key = 'limits'")
        return {"limits": self.settings.limits.to_json(), "configured": self._configured_limits.to_json(),
                "overrides": loads(row["value"], {}) if row else {},
                "updated_by": row["updated_by"] if row else None,
                "updated_at": iso(row["updated_at"]) if row else None}

    def update_gate_settings(self, body: dict[str, Any], actor: str | None) -> dict[str, Any]:
        """``{"limits": {name: value or null}}``: values replace the configured limits (null goes
        back to them); kept in the store, so they survive a restart."""
        from agnes_core.curation.packages import check_unknown
        from agnes_core.gate.limits import validate_limit_overrides
        from agnes_core.store.state import dumps, utcnow

        check_unknown(body, ("limits",))
        changes = validate_limit_overrides(body.get("limits", {}))
        overrides = dict(self.gate_settings()["overrides"])
        for key, value in changes.items():
            if value is None:
                overrides.pop(key, None)
            else:
                overrides[key] = value
        with self.store.write() as cur:
            cur.execute("INSERT INTO settings VALUES ('limits', ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                        "value = excluded.value, updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                        [dumps(overrides), actor, utcnow()])
        self._apply_stored_settings()
        return self.gate_settings()

    def resource_exists(self, kind: str, rid: str) -> bool:
        """Whether a grantable resource exists (packages and recipes: not deleted)."""
        if kind == "table":
            return self.registry.find_table(rid) is not None
        if kind in ("package", "recipe"):
            table = "packages" if kind == "package" else "recipes"
            found = self.store.row(f"SELECT 1 AS x FROM {table} WHERE slug = ? AND deleted_at IS NULL", [rid])
            return found is not None
        return False

    def existing_resources(self, kind: str, rids: Collection[str]) -> set[str]:
        """Which of these grantable resources exist (packages and recipes: not deleted), in one query."""
        if kind == "table":
            return {rid for rid in rids if self.registry.find_table(rid) is not None}
        if kind in ("package", "recipe"):
            table = "packages" if kind == "package" else "recipes"
            rows = self.store.rows(f"SELECT slug FROM {table} WHERE deleted_at IS NULL AND list_contains(?, slug)",
                                   [sorted(rids)])
            return {r["slug"] for r in rows}
        return set()

    def _columns_of(self, table: Table) -> list[tuple[str, str]]:
        return [(c["name"], c["type"]) for c in self.discovery.schema(table)["columns"]]

    def _on_change(self, change: Change) -> None:
        if change.kind == "table" and change.action in ("delete", "update"):
            for table_id in change.ids:
                if change.action == "delete":
                    self.access.delete_grants_for("table", table_id)
                # Stale numbers for the old address (or a gone table) must not survive.
                self.metadata.forget(table_id)

    def _extracted_path(self, table_id: str) -> Path | None:
        state = self.extracts.sync_state(table_id)
        if state is None or not Path(state["path"]).exists():
            return None
        return Path(state["path"])

    def _extract_stats(self, table_ids: Collection[str] | None) -> dict[str, ExtractStats]:
        """Extract stats of these tables (None: all), in two store queries however many."""
        if table_ids is None:
            rows = self.store.rows("SELECT * FROM sync_state")
        else:
            rows = self.store.rows("SELECT * FROM sync_state WHERE list_contains(?, table_id)", [list(table_ids)])
        last = self.extracts.last_runs(table_ids)
        failed = {tid for tid, run in last.items() if run["status"] == "failed"}
        return extract_stats_from(rows, failed)

    def metadata_status(self, principal: Principal) -> dict[str, Any]:
        """Every remote table the principal may read, never-fetched ones included."""
        from agnes_core.store.state import iso, utcnow

        now = utcnow()
        threshold = self.settings.fresh_threshold_s
        readable = self.access.readable_tables(principal)
        rows = []
        for table in self.registry.list_tables():
            if table.query_mode != "remote" or (readable is not None and table.id not in readable):
                continue
            rows.append(self.metadata_entry(principal, table, now))
        return {"interval_seconds": self.settings.metadata_refresh_interval_s,
                "fresh_threshold_seconds": threshold, "server_time": iso(now), "tables": rows}

    def metadata_entry(self, principal: Principal, table: Table, now: Any = None) -> dict[str, Any]:
        """One remote table's row of ``metadata_status`` (the caller checked that the principal
        may read it): numbers, freshness, and an error text analysts may see."""
        from agnes_core.discovery.metadata import MetaRow
        from agnes_core.store.state import utcnow

        meta = self.metadata.get(table.id) or MetaRow(table.id)
        entry = {**meta.to_json(now or utcnow(), self.settings.fresh_threshold_s), "source": table.source}
        if not principal.is_admin and entry.get("error_msg"):
            entry["error_msg"] = self.analyst_error(entry["error_msg"], table)
        return entry

    def analyst_error(self, text: str, table: Table) -> str:
        """A source's error text without the source's own names (what analysts see)."""
        return analyst_text(text, [table], self.default_schema)

    def default_schema(self, table: Table) -> str:
        """The schema a table without a bucket lives in, in its source."""
        source = self.registry.sources_by_name().get(table.source)
        return connector_class(source.type).default_schema if source else "main"

    def for_principal(self, principal: Principal, exc: AgnesError, tables: list[Table]) -> AgnesError:
        """A source's error as this user may see it: as it is for admins, without the source's own
        names for analysts."""
        return exc if principal.is_admin else for_analyst(exc, tables, self.default_schema)

    def connector(self, source_name: str) -> Connector:
        source = self.registry.get_source(source_name)
        connector = connector_class(source.type)(source.name, source.options, source.secrets)
        connector.call_timeout_s = self.discovery.call_timeout_s  # the server's source_timeout_seconds
        return connector

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
             "columns": [{"name": f.name, "type": connector.column_type(f), "arrow_type": str(f.type),
                          "nullable": f.nullable} for f in d.schema]}
            for d in found]}

    def close(self) -> None:
        self.refresher.close()
        self.extracts.close()
        self.store.close()
