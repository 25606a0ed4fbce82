"""The extract runtime: a connector's rows -> Parquet -> extract.duckdb -> sync state.

Layout under the data dir::

    extracts/<source>/extract.duckdb              _meta + one view per local table
    extracts/<source>/data/<table>/<run>.parquet  one file per successful run
    analytics.duckdb                              master views over the current files

Each run writes a *new* file, so nothing a reader can see changes until a new
extract.duckdb, fully written and checkpointed, replaces the old one with one
atomic rename; sync state is committed after that. A crash at any step leaves the
previous extract.duckdb, its files and the sync state readable and consistent. The
previous generation of files is kept for readers still using it; older ones are
deleted.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agnes_core.access.audit import Audit
from agnes_core.connectors import Connector, ReadOptions, TableRef
from agnes_core.errors import AgnesError, AlreadyRunning, Conflict, NotFound, ValidationError
from agnes_core.events import Change, ChangeHub
from agnes_core.extract.parquet_sink import WriteResult, diff_schemas, schema_json, write_parquet
from agnes_core.ids import quote_ident
from agnes_core.registry import Registry, Table
from agnes_core.store import duck
from agnes_core.store.state import StateStore, dumps, iso, loads, utcnow

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

EXTRACTABLE = ("local", "materialized")
DEFAULT_BATCH_ROWS = 131_072


@dataclass
class RunState:
    """A run in flight (also what GET runs shows while it is running)."""

    run_id: str
    table_id: str
    source: str
    trigger: str
    started_by: str | None
    started_at: datetime
    rows_read: int = 0
    done: threading.Event = field(default_factory=threading.Event)


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def encode_value(value: Any) -> str:
    """A high-water mark as JSON text that keeps its type."""
    if isinstance(value, bool) or value is None:
        raise ValidationError("incremental_key", f"cannot use {value!r} as an incremental high-water mark")
    if isinstance(value, int):
        kind, text = "int", str(value)
    elif isinstance(value, float):
        kind, text = "float", repr(value)
    elif isinstance(value, Decimal):
        kind, text = "decimal", str(value)
    elif isinstance(value, datetime):
        kind, text = "datetime", value.isoformat()
    elif isinstance(value, date):
        kind, text = "date", value.isoformat()
    else:
        kind, text = "str", str(value)
    return dumps({"type": kind, "value": text})


_DECODERS: dict[str, Callable[[str], Any]] = {
    "int": int, "float": float, "decimal": Decimal, "datetime": datetime.fromisoformat,
    "date": date.fromisoformat, "str": str,
}


def decode_value(text: str) -> Any:
    payload = loads(text)
    return _DECODERS[payload["type"]](payload["value"])


class ExtractRuntime:
    def __init__(self, data_dir: Path, store: StateStore, registry: Registry, audit: Audit, hub: ChangeHub,
                 connector_for: Callable[[str], Connector]) -> None:
        self.root = data_dir / "extracts"
        self.analytics_path = data_dir / "analytics.duckdb"
        self.store = store
        self.registry = registry
        self.audit = audit
        self.hub = hub
        self.connector_for = connector_for
        self._running: dict[str, RunState] = {}
        self._running_lock = threading.Lock()
        self._source_locks: dict[str, threading.Lock] = {}
        self._analytics_lock = threading.Lock()
        # Registry changes reach the sources' extract.duckdb through one background writer, never
        # inside the request that made them: source -> table ids still to write, and whether the
        # writer is draining them (so a change made while it finishes is never left behind).
        self._pending: dict[str, set[str]] = {}
        self._pending_lock = threading.Lock()
        self._draining = False
        self._writer: Any = None
        self._writer_future: Any = None
        hub.subscribe(self._on_change)
        self._mark_interrupted()

    def _mark_interrupted(self) -> None:
        """Runs left 'running' by a process that died can never finish: record them as failed."""
        with self.store.write() as cur:
            cur.execute("UPDATE extract_runs SET status = 'failed', finished_at = ?, error = ? "
                        "WHERE status = 'running'",
                        [utcnow(), "interrupted: the process running this extract stopped before it finished"])

    # -- public API ---------------------------------------------------------------------

    def running(self, table_id: str | None = None) -> list[RunState]:
        with self._running_lock:
            return [r for r in self._running.values() if table_id in (None, r.table_id)]

    def start(self, table_id: str, *, trigger: str = "manual", actor: str | None = None) -> RunState:
        """Claim the table for a run (single-flight) or raise AlreadyRunning."""
        table = self.registry.get_table(table_id)
        if table.query_mode not in EXTRACTABLE:
            raise Conflict(f"{table_id!r} is a {table.query_mode} table; only local and materialized tables are "
                           "extracted", hint="Change its query_mode, or scan it.", details={"field": "query_mode"})
        with self._running_lock:
            current = self._running.get(table_id)
            if current is not None:
                raise AlreadyRunning(f"an extract of {table_id!r} is already running",
                                     hint="Wait for it to finish; GET admin/tables/{id}/runs shows it.",
                                     details={"run_id": current.run_id, "started_at": iso(current.started_at)})
            state = RunState(uuid.uuid4().hex[:12], table_id, table.source, trigger, actor, utcnow())
            self._running[table_id] = state
        with self.store.write() as cur:
            cur.execute("INSERT INTO extract_runs (run_id, table_id, source, trigger, started_by, status, started_at)"
                        " VALUES (?, ?, ?, ?, ?, 'running', ?)",
                        [state.run_id, table_id, table.source, trigger, actor, state.started_at])
        return state

    def run(self, table_id: str, *, trigger: str = "manual", actor: str | None = None) -> dict[str, Any]:
        """Extract one table now (blocking) and return its run record. Never raises for a
        failing source: the run is recorded as failed with its error."""
        return self.execute(self.start(table_id, trigger=trigger, actor=actor))

    def execute(self, state: RunState) -> dict[str, Any]:
        try:
            table = self.registry.get_table(state.table_id)
            outcome = self._extract(table, state)
            self._finish(state, "succeeded", **outcome)
            self.audit.record(state.started_by, "extract.succeed", f"table/{table.id}", run_id=state.run_id,
                              rows=outcome["rows"], trigger=state.trigger)
            if outcome.get("schema_changes"):
                self.audit.record(state.started_by, "table.schema_change", f"table/{table.id}",
                                  run_id=state.run_id, **outcome["schema_changes"])
            self.hub.publish(Change("extract", "update", frozenset({table.id})))
        except Exception as exc:  # noqa: BLE001 - one failing table must not stop the others
            message = self._describe(exc, state.source)
            log.warning("agnes: extract of %s failed: %s", state.table_id, message)
            self._finish(state, "failed", error=message)
            self.audit.record(state.started_by, "extract.fail", f"table/{state.table_id}", outcome="error",
                              run_id=state.run_id, error=message)
        finally:
            with self._running_lock:
                self._running.pop(state.table_id, None)
            state.done.set()
        return self.get_run(state.run_id)

    def runs(self, table_id: str, limit: int = 50) -> list[dict[str, Any]]:
        self.registry.get_table(table_id)
        rows = self.store.rows("SELECT * FROM extract_runs WHERE table_id = ? ORDER BY started_at DESC, run_id "
                               "LIMIT ?", [table_id, limit])
        live = {r.run_id: r for r in self.running(table_id)}
        return [self._run_json(r, live.get(r["run_id"])) for r in rows]

    def get_run(self, run_id: str) -> dict[str, Any]:
        row = self.store.row("SELECT * FROM extract_runs WHERE run_id = ?", [run_id])
        if row is None:
            raise NotFound(f"no extract run {run_id!r}")
        live = next((r for r in self.running() if r.run_id == run_id), None)
        return self._run_json(row, live)

    def last_runs(self, table_ids: Collection[str] | None = None) -> dict[str, dict[str, Any]]:
        """The latest finished run of every table, or of these (the scheduler, the admin list,
        the catalog)."""
        if table_ids is not None:
            rows = self.store.rows(
                "SELECT * FROM extract_runs WHERE status <> 'running' AND list_contains(?, table_id) "
                "QUALIFY row_number() OVER (PARTITION BY table_id ORDER BY started_at DESC) = 1", [list(table_ids)])
            return {r["table_id"]: r for r in rows}
        rows = self.store.rows(
            "SELECT * FROM extract_runs WHERE status <> 'running' "
            "QUALIFY row_number() OVER (PARTITION BY table_id ORDER BY started_at DESC) = 1")
        return {r["table_id"]: r for r in rows}

    def last_success(self) -> dict[str, datetime]:
        rows = self.store.rows("SELECT table_id, max(started_at) AS at FROM extract_runs "
                               "WHERE status = 'succeeded' GROUP BY table_id")
        return {r["table_id"]: r["at"] for r in rows}

    def sync_state(self, table_id: str) -> dict[str, Any] | None:
        return self.store.row("SELECT * FROM sync_state WHERE table_id = ?", [table_id])

    def schema_changes(self, table_id: str) -> list[dict[str, Any]]:
        rows = self.store.rows("SELECT * FROM schema_changes WHERE table_id = ? ORDER BY detected_at DESC",
                               [table_id])
        return [{"run_id": r["run_id"], "detected_at": iso(r["detected_at"]), "added": loads(r["added"]),
                 "removed": loads(r["removed"]), "type_changed": loads(r["type_changed"])} for r in rows]

    # -- one run ------------------------------------------------------------------------

    def _extract(self, table: Table, state: RunState) -> dict[str, Any]:
        connector = self.connector_for(table.source)
        try:
            return self._extract_with(connector, table, state)
        finally:
            connector.close()

    def _extract_with(self, connector: Connector, table: Table, state: RunState) -> dict[str, Any]:
        folder = self.root / table.source / "data" / table.id
        folder.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temp_files(folder, state.run_id)
        previous = self.sync_state(table.id)
        batch_rows = int(connector.options.get("batch_rows", DEFAULT_BATCH_ROWS))
        incremental = self._incremental(table, previous)

        def progress(rows: int) -> None:
            state.rows_read = rows

        target = folder / f"{state.run_id}.parquet"
        if table.query_mode == "materialized":
            assert table.sql is not None
            batches: Iterator[pa.RecordBatch] = connector.scan(table.sql, batch_size=batch_rows)
            known_schema = None
        else:
            ref = TableRef(table.bucket, table.source_table)
            known_schema = connector.schema(ref)
            options = ReadOptions(batch_size=batch_rows)
            if incremental is not None:
                options.incremental_key, options.incremental_after = incremental
            batches = connector.read(ref, options)
        new_rows_path = folder / f"{state.run_id}.new.parquet" if incremental else target
        written = write_parquet(batches, new_rows_path, schema=known_schema, track_max=table.incremental_key,
                                on_progress=progress)
        rows_read = written.rows
        if incremental is not None:
            assert previous is not None
            written = self._merge(Path(previous["path"]), new_rows_path, target, table.primary_key, written)
            new_rows_path.unlink(missing_ok=True)
        new_schema = schema_json(written.schema)
        changes = diff_schemas(loads(previous["schema_json"]), new_schema) if previous else None
        high_water = written.max_value if table.incremental_key else None
        if incremental is not None and rows_read == 0:
            high_water = incremental[1]  # nothing newer: the mark stays where it was
        self._publish(table, state, target, written, new_schema, changes, high_water)
        return {"rows_read": rows_read, "rows": written.rows, "size_bytes": written.size_bytes,
                "incremental_from": incremental[1] if incremental else None,
                "incremental_to": high_water, "schema_changes": changes}

    def _incremental(self, table: Table, previous: dict[str, Any] | None) -> tuple[str, Any] | None:
        """(key, high-water) when this run may read only newer rows."""
        if not table.incremental_key or table.query_mode != "local" or previous is None:
            return None
        if not Path(previous["path"]).exists():
            return None
        row = self.store.row("SELECT * FROM extract_state WHERE table_id = ?", [table.id])
        if row is None or row["incremental_key"] != table.incremental_key:
            return None  # first run, or the key changed: read everything
        return table.incremental_key, decode_value(row["high_water"])

    def _merge(self, old: Path, new: Path, target: Path, primary_key: list[str], new_write: WriteResult
               ) -> WriteResult:
        """Previous rows (minus those replaced by primary key) + the new rows, into ``target``."""
        from agnes_core.extract.parquet_sink import md5_of

        con = duck.connect()
        try:
            con.execute("SET memory_limit = '512MB'")
            if primary_key:
                cond = " AND ".join(f"n.{_col(k)} = o.{_col(k)}" for k in primary_key)
                keep_old = (f"SELECT o.* FROM read_parquet({_sql_str(str(old))}) o WHERE NOT EXISTS "
                            f"(SELECT 1 FROM read_parquet({_sql_str(str(new))}) n WHERE {cond})")
            else:
                keep_old = f"SELECT * FROM read_parquet({_sql_str(str(old))})"
            tmp = target.with_name(f".{target.name}.tmp")
            con.execute(f"COPY ({keep_old} UNION ALL BY NAME SELECT * FROM read_parquet({_sql_str(str(new))})) "
                        f"TO {_sql_str(str(tmp))} (FORMAT parquet, COMPRESSION zstd)")
            rows = con.execute(f"SELECT count(*) FROM read_parquet({_sql_str(str(tmp))})").fetchone()
            schema = con.execute(f"SELECT * FROM read_parquet({_sql_str(str(tmp))}) LIMIT 0").to_arrow_table().schema
        finally:
            con.close()
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        return WriteResult(int(rows[0]) if rows else 0, target.stat().st_size, md5_of(target), schema,
                           new_write.max_value)

    def _publish(self, table: Table, state: RunState, target: Path, written: WriteResult,
                 new_schema: list[dict[str, Any]], changes: dict[str, Any] | None, high_water: Any) -> None:
        """Swap in the new extract.duckdb, then commit sync state; serialised per source."""
        lock = self._source_locks.setdefault(table.source, threading.Lock())
        now = utcnow()
        entry = {"table_id": table.id, "source": table.source, "run_id": state.run_id, "path": str(target),
                 "md5": written.md5, "rows": written.rows, "size_bytes": written.size_bytes,
                 "schema_json": dumps(new_schema), "extracted_at": now}
        uncompressed, description = _footer_facts(target)
        with lock:
            self._update_source_extract(table.source, {table.id}, override=entry)
            with self.store.write() as cur:
                cur.execute("DELETE FROM sync_state WHERE table_id = ?", [table.id])
                cur.execute("INSERT INTO sync_state (table_id, source, run_id, path, md5, rows, size_bytes, "
                            "schema_json, extracted_at, uncompressed_bytes, source_description) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [entry["table_id"], entry["source"], entry["run_id"], entry["path"], entry["md5"],
                             entry["rows"], entry["size_bytes"], entry["schema_json"], now, uncompressed,
                             description])
                if table.incremental_key and high_water is not None:
                    cur.execute("DELETE FROM extract_state WHERE table_id = ?", [table.id])
                    cur.execute("INSERT INTO extract_state VALUES (?, ?, ?, ?)",
                                [table.id, table.incremental_key, encode_value(high_water), now])
                if changes:
                    cur.execute("INSERT INTO schema_changes VALUES (?, ?, ?, ?, ?, ?, ?)",
                                [uuid.uuid4().hex[:12], table.id, state.run_id, now, dumps(changes["added"]),
                                 dumps(changes["removed"]), dumps(changes["type_changed"])])
        self._update_master_view(table.id, target)
        self._collect_garbage(target.parent, keep={target.name})

    def _finish(self, state: RunState, status: str, *, rows_read: int | None = None, rows: int | None = None,
                size_bytes: int | None = None, incremental_from: Any = None, incremental_to: Any = None,
                schema_changes: dict[str, Any] | None = None, error: str | None = None) -> None:
        with self.store.write() as cur:
            cur.execute(
                "UPDATE extract_runs SET status = ?, finished_at = ?, rows_read = ?, rows = ?, size_bytes = ?, "
                "incremental_from = ?, incremental_to = ?, schema_changes = ?, error = ? WHERE run_id = ?",
                [status, utcnow(), rows_read if rows_read is not None else state.rows_read, rows, size_bytes,
                 None if incremental_from is None else str(incremental_from),
                 None if incremental_to is None else str(incremental_to),
                 dumps(schema_changes) if schema_changes else None, error, state.run_id])

    # -- extract.duckdb and master views -------------------------------------------------

    _META_DDL = """CREATE TABLE _meta (
        table_name VARCHAR NOT NULL, description VARCHAR, rows BIGINT, size_bytes BIGINT,
        extracted_at TIMESTAMP, query_mode VARCHAR NOT NULL, schema_json VARCHAR, path VARCHAR, md5 VARCHAR)"""

    def _build_source_extract(self, source: str, override: dict[str, Any] | None = None) -> Path:
        """Write a complete new extract.duckdb for ``source`` and swap it in atomically.

        Every registered table of the source is listed in ``_meta`` with its own
        ``query_mode``; remote tables have no view and no data, but are never dropped.
        Writes update the file table by table (``_update_source_extract``); this full build
        is for a source without one yet, and for repairs.
        """
        folder = self.root / source
        folder.mkdir(parents=True, exist_ok=True)
        states = {r["table_id"]: r for r in self.store.rows("SELECT * FROM sync_state WHERE source = ?", [source])}
        if override is not None:
            states[override["table_id"]] = override
        tmp = folder / f".extract.duckdb.{uuid.uuid4().hex[:8]}.tmp"
        con = duck.connect(tmp)
        try:
            con.execute(self._META_DDL)
            for table in self.registry.list_tables():
                if table.source == source:
                    self._write_table_entry(con, table, states.get(table.id))
            con.execute("CHECKPOINT")
        finally:
            con.close()
        return self._swap_in(tmp, folder)

    def _update_source_extract(self, source: str, table_ids: set[str] | frozenset[str],
                               override: dict[str, Any] | None = None) -> Path:
        """Bring these tables' views and ``_meta`` rows in the source's extract.duckdb up to date,
        and no other: a copy of the current file gets the changes and is swapped in atomically,
        so a reader sees the old file or the new one. Without a readable current file, a full
        build. The caller holds the source's lock."""
        folder = self.root / source
        target = folder / "extract.duckdb"
        if not target.exists():
            return self._build_source_extract(source, override)
        ids = sorted(table_ids)
        states = {r["table_id"]: r for r in self.store.rows(
            "SELECT * FROM sync_state WHERE source = ? AND list_contains(?, table_id)", [source, ids])}
        if override is not None:
            states[override["table_id"]] = override
        tmp = folder / f".extract.duckdb.{uuid.uuid4().hex[:8]}.tmp"
        try:
            shutil.copyfile(target, tmp)
            con = duck.connect(tmp)
        except Exception:  # unreadable or half-copied: rebuild it whole
            log.warning("agnes: cannot update %s in place; rebuilding it", target, exc_info=True)
            tmp.unlink(missing_ok=True)
            return self._build_source_extract(source, override)
        try:
            con.execute("BEGIN TRANSACTION")
            for table_id in ids:
                con.execute(f"DROP VIEW IF EXISTS {quote_ident(table_id)}")
                con.execute("DELETE FROM _meta WHERE table_name = ?", [table_id])
                table = self.registry.find_table(table_id)
                if table is not None and table.source == source:
                    self._write_table_entry(con, table, states.get(table_id))
            con.execute("COMMIT")
            con.execute("CHECKPOINT")
        except BaseException:
            con.close()
            tmp.unlink(missing_ok=True)
            raise
        con.close()
        return self._swap_in(tmp, folder)

    @staticmethod
    def _write_table_entry(con: Any, table: Table, state: dict[str, Any] | None) -> None:
        """One table's ``_meta`` row, and its view when it has a current extract."""
        if table.query_mode not in EXTRACTABLE:
            state = None
        if state is not None and Path(state["path"]).exists():
            con.execute(f"CREATE VIEW {quote_ident(table.id)} AS "
                        f"SELECT * FROM read_parquet({_sql_str(state['path'])})")
            con.execute("INSERT INTO _meta VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [table.id, table.description, state["rows"], state["size_bytes"], state["extracted_at"],
                         table.query_mode, state["schema_json"], state["path"], state["md5"]])
        else:
            con.execute("INSERT INTO _meta VALUES (?, ?, NULL, NULL, NULL, ?, NULL, NULL, NULL)",
                        [table.id, table.description, table.query_mode])

    @staticmethod
    def _swap_in(tmp: Path, folder: Path) -> Path:
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        target = folder / "extract.duckdb"
        try:
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(folder)
        return target

    def rebuild_source_extract(self, source: str) -> Path:
        """Rewrite the source's extract.duckdb from the registry and sync state (repairs)."""
        lock = self._source_locks.setdefault(source, threading.Lock())
        with lock:
            return self._build_source_extract(source)

    def update_source_extract(self, source: str, table_ids: set[str] | frozenset[str]) -> Path | None:
        """Update these tables' entries in the source's extract.duckdb (None: it has none yet;
        the first extract of the source writes it with every registered table)."""
        lock = self._source_locks.setdefault(source, threading.Lock())
        with lock:
            if not (self.root / source / "extract.duckdb").exists():
                return None
            return self._update_source_extract(source, table_ids)

    def _update_master_view(self, table_id: str, path: Path | None) -> None:
        with self._analytics_lock:
            con = duck.connect(self.analytics_path)
            try:
                if path is None:
                    con.execute(f"DROP VIEW IF EXISTS {quote_ident(table_id)}")
                else:
                    con.execute(f"CREATE OR REPLACE VIEW {quote_ident(table_id)} AS "
                                f"SELECT * FROM read_parquet({_sql_str(str(path))})")
                con.execute("CHECKPOINT")
            finally:
                con.close()

    def rebuild_analytics(self) -> None:
        """Make every master view match the sync state (at start-up; self-healing): one
        connection and one transaction, and only the views whose file changed are replaced."""
        wanted = {row["table_id"]: row["path"] for row in self.store.rows("SELECT table_id, path FROM sync_state")
                  if Path(row["path"]).exists()}
        with self._analytics_lock:
            con = duck.connect(self.analytics_path)
            try:
                current = {name: sql for name, sql in con.execute(
                    "SELECT view_name, sql FROM duckdb_views() WHERE NOT internal AND schema_name = 'main'"
                ).fetchall()}
                con.execute("BEGIN TRANSACTION")
                for table_id, path in wanted.items():
                    if _sql_str(path) not in (current.get(table_id) or ""):
                        con.execute(f"CREATE OR REPLACE VIEW {quote_ident(table_id)} AS "
                                    f"SELECT * FROM read_parquet({_sql_str(path)})")
                con.execute("COMMIT")
                con.execute("CHECKPOINT")
            finally:
                con.close()

    # -- housekeeping -------------------------------------------------------------------

    def _collect_garbage(self, folder: Path, keep: set[str]) -> None:
        """Keep the current file and the one before it; delete older generations."""
        files = sorted((p for p in folder.glob("*.parquet") if not p.name.startswith(".")),
                       key=lambda p: p.stat().st_mtime, reverse=True)
        previous = [p for p in files if p.name not in keep][:1]
        for path in files:
            if path.name not in keep and path not in previous:
                path.unlink(missing_ok=True)

    def _remove_stale_temp_files(self, folder: Path, run_id: str) -> None:
        live = {r.run_id for r in self.running()}
        for path in folder.glob(".*.tmp"):
            if not any(rid in path.name for rid in live):
                path.unlink(missing_ok=True)
        for path in folder.glob("*.new.parquet"):
            if path.name.split(".")[0] not in live:
                path.unlink(missing_ok=True)

    def forget(self, table_id: str, source: str) -> None:
        """Drop everything extracted for a table (deleted, or no longer local)."""
        self._drop_extracted(table_id)
        self.update_source_extract(source, {table_id})

    def _drop_extracted(self, table_id: str) -> None:
        state = self.sync_state(table_id)
        with self.store.write() as cur:
            cur.execute("DELETE FROM sync_state WHERE table_id = ?", [table_id])
            cur.execute("DELETE FROM extract_state WHERE table_id = ?", [table_id])
        self._update_master_view(table_id, None)
        if state is not None:
            shutil.rmtree(self.root / state["source"] / "data" / table_id, ignore_errors=True)

    def _on_change(self, change: Change) -> None:
        """Registered tables changed: update their entries (only theirs) in the extract.duckdb of
        every source they were or are in."""
        if change.kind != "table" or not change.ids:
            return
        sources = set(change.sources)
        for table_id in change.ids:
            table = self.registry.find_table(table_id)
            if table is not None:
                sources.add(table.source)
            state = self.sync_state(table_id)
            if state is not None:
                sources.add(state["source"])
                if change.action == "delete" or table is None or table.query_mode not in EXTRACTABLE:
                    self._drop_extracted(table_id)
        with self._pending_lock:
            for source in sources:
                self._pending.setdefault(source, set()).update(change.ids)
            if not self._draining and self._pending:
                self._draining = True
                if self._writer is None:
                    from concurrent.futures import ThreadPoolExecutor

                    self._writer = ThreadPoolExecutor(1, thread_name_prefix="agnes-extract-db")
                self._writer_future = self._writer.submit(self._drain)

    def _drain(self) -> None:
        """Write pending registry changes into the sources' extract.duckdb, all of one source at
        once (a burst of registrations costs one rewrite per source, not one per table)."""
        while True:
            with self._pending_lock:
                if not self._pending:
                    self._draining = False
                    return
                source, ids = self._pending.popitem()
            try:
                self.update_source_extract(source, ids)
            except Exception:  # logged; the next change or extract writes it again
                log.exception("agnes: could not update the extract.duckdb of source %r", source)

    def flush(self) -> None:
        """Wait until every registry change so far is in the sources' extract.duckdb."""
        while True:
            with self._pending_lock:
                future = self._writer_future
                if not self._draining:
                    return
            if future is not None:
                future.result()

    def close(self) -> None:
        """Write what is pending and stop the writer (before the store closes)."""
        self.flush()
        if self._writer is not None:
            self._writer.shutdown(wait=True)

    def _describe(self, exc: BaseException, source: str) -> str:
        text = exc.message if isinstance(exc, AgnesError) else f"{type(exc).__name__}: {exc}"
        try:
            return self.connector_for(source).redact(text)
        except Exception:  # noqa: BLE001 - the source may be gone; the text has no secret values we know of
            return text

    def _run_json(self, row: dict[str, Any], live: RunState | None) -> dict[str, Any]:
        return {
            "run_id": row["run_id"], "table_id": row["table_id"], "source": row["source"],
            "trigger": row["trigger"], "started_by": row["started_by"], "status": row["status"],
            "started_at": iso(row["started_at"]), "finished_at": iso(row["finished_at"]),
            "rows_read": live.rows_read if live else row["rows_read"], "rows": row["rows"],
            "size_bytes": row["size_bytes"], "incremental_from": row["incremental_from"],
            "incremental_to": row["incremental_to"], "schema_changes": loads(row["schema_changes"]),
            "error": row["error"],
            "duration_ms": int((row["finished_at"] - row["started_at"]).total_seconds() * 1000)
            if row["finished_at"] else int((utcnow() - row["started_at"]).total_seconds() * 1000),
        }


def _col(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def wait_for(state: RunState, timeout: float | None = None) -> bool:
    """Block until a run finishes (for callers that started it in the background)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    return state.done.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))


def _footer_facts(path: Path) -> tuple[int | None, str | None]:
    """(uncompressed bytes, the source's description) of an extract, from its footer."""
    from agnes_core.discovery.parquet_stats import file_description, sizes

    try:
        return sizes([path])[2], file_description(path)
    except (OSError, ValueError):
        log.warning("agnes: cannot read the footer of %s", path, exc_info=True)
        return None, None
