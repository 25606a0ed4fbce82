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
import shutil
import threading
import uuid
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agnes_core.access.audit import Audit
from agnes_core.connectors import Connector, ReadOptions, TableRef
from agnes_core.errors import AgnesError, AlreadyRunning, Conflict, NotFound
from agnes_core.events import Change, ChangeHub
from agnes_core.extract.extractdb import EXTRACTABLE, SourceExtracts
from agnes_core.extract.incremental import decode_value, encode_value, merge_by_key
from agnes_core.extract.parquet_sink import WriteResult, diff_schemas, schema_json, write_parquet
from agnes_core.extract.stream import StreamRuntime
from agnes_core.registry import Registry, Table, materialized_tables
from agnes_core.store.state import StateStore, dumps, iso, loads, utcnow

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

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


class ExtractRuntime:
    def __init__(self, data_dir: Path, store: StateStore, registry: Registry, audit: Audit, hub: ChangeHub,
                 connector_for: Callable[[str], Connector]) -> None:
        self.db = SourceExtracts(data_dir, store, registry)
        self.root = self.db.root
        #: Pushed changes (STREAM) between runs; compacted into the next run's file.
        self.stream = StreamRuntime(self.root, store, registry, self.db)
        self.store = store
        self.registry = registry
        self.audit = audit
        self.hub = hub
        self.connector_for = connector_for
        self._running: dict[str, RunState] = {}
        self._running_lock = threading.Lock()
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

    def synced_state(self, table_id: str, state: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """What a kernel syncs of the table: its sync state, pointing at the extract with the pushed
        changes applied while some wait for the next run (see StreamRuntime.synced). Should that
        fail, the extract itself (the changes then arrive with the next run)."""
        state = self.sync_state(table_id) if state is None else state
        if state is None:
            return None
        try:
            return self.stream.synced(table_id, state)
        except Exception:
            log.exception("agnes: cannot apply the pushed changes of %s for a sync; syncing its extract", table_id)
            return state

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
            batches: Iterator[pa.RecordBatch] = connector.scan(
                table.sql, batch_size=batch_rows, tables=materialized_tables(table.sql, connector.dialect))
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
            written = merge_by_key(Path(previous["path"]), new_rows_path, target, table.primary_key, written)
            new_rows_path.unlink(missing_ok=True)
        with self.stream.compaction(table) as merge_pushed:  # deltas pushed since the last run
            written = merge_pushed(target, written)
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


    def _publish(self, table: Table, state: RunState, target: Path, written: WriteResult,
                 new_schema: list[dict[str, Any]], changes: dict[str, Any] | None, high_water: Any) -> None:
        """Swap in the new extract.duckdb, then commit sync state; serialised per source."""
        now = utcnow()
        entry = {"table_id": table.id, "source": table.source, "run_id": state.run_id, "path": str(target),
                 "md5": written.md5, "rows": written.rows, "size_bytes": written.size_bytes,
                 "schema_json": dumps(new_schema), "extracted_at": now}
        uncompressed, description, changed_at = _footer_facts(target)
        with self.db.lock(table.source):
            self.db.update(table.source, {table.id}, override=entry)
            with self.store.write() as cur:
                cur.execute("DELETE FROM sync_state WHERE table_id = ?", [table.id])
                cur.execute("INSERT INTO sync_state (table_id, source, run_id, path, md5, rows, size_bytes, "
                            "schema_json, extracted_at, uncompressed_bytes, source_description, source_changed_at) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [entry["table_id"], entry["source"], entry["run_id"], entry["path"], entry["md5"],
                             entry["rows"], entry["size_bytes"], entry["schema_json"], now, uncompressed,
                             description, changed_at])
                if table.incremental_key and high_water is not None:
                    cur.execute("DELETE FROM extract_state WHERE table_id = ?", [table.id])
                    cur.execute("INSERT INTO extract_state VALUES (?, ?, ?, ?)",
                                [table.id, table.incremental_key, encode_value(high_water), now])
                if changes:
                    cur.execute("INSERT INTO schema_changes VALUES (?, ?, ?, ?, ?, ?, ?)",
                                [uuid.uuid4().hex[:12], table.id, state.run_id, now, dumps(changes["added"]),
                                 dumps(changes["removed"]), dumps(changes["type_changed"])])
        self.db.update_master_view(table.id, target)
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
        self.db.update_now(source, {table_id})

    def _drop_extracted(self, table_id: str) -> None:
        state = self.sync_state(table_id)
        with self.store.write() as cur:
            cur.execute("DELETE FROM sync_state WHERE table_id = ?", [table_id])
            cur.execute("DELETE FROM extract_state WHERE table_id = ?", [table_id])
        self.db.update_master_view(table_id, None)
        if state is not None:
            shutil.rmtree(self.root / state["source"] / "data" / table_id, ignore_errors=True)
            self.stream.forget(state["source"], table_id)

    def _on_change(self, change: Change) -> None:
        """Registered tables changed: update their entries (only theirs) in the extract.duckdb of
        every source they were or are in."""
        if change.kind != "table" or not change.ids:
            return
        sources = set(change.sources)
        # One query for every table of the change (a batch registration names thousands).
        states = {r["table_id"]: r for r in self.store.rows(
            "SELECT * FROM sync_state WHERE list_contains(?, table_id)", [sorted(change.ids)])}
        for table_id in change.ids:
            table = self.registry.find_table(table_id)
            if table is not None:
                sources.add(table.source)
            state = states.get(table_id)
            if state is not None:
                sources.add(state["source"])
                if change.action == "delete" or table is None or table.query_mode not in EXTRACTABLE:
                    self._drop_extracted(table_id)
        self.db.update_later(sources, change.ids)

    def flush(self) -> None:
        """Wait until every registry change so far is in the sources' extract.duckdb."""
        self.db.flush()

    def close(self) -> None:
        """Write what is pending and stop the writer (before the store closes)."""
        self.stream.close()
        self.db.close()

    def rebuild_analytics(self) -> None:
        """Make every master view match the sync state (at start-up; self-healing)."""
        self.db.rebuild_analytics()


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


def _footer_facts(path: Path) -> tuple[int | None, str | None, datetime | None]:
    """(uncompressed bytes, the source's description, when its data last changed in the source)
    of an extract, from its footer."""
    from agnes_core.discovery.parquet_stats import file_changed_at, file_description, sizes

    try:
        return sizes([path])[2], file_description(path), file_changed_at(path)
    except (OSError, ValueError):
        log.warning("agnes: cannot read the footer of %s", path, exc_info=True)
        return None, None, None
