"""Each source's ``extract.duckdb`` (``_meta`` and one view per extracted table) and the master
views of ``analytics.duckdb``: written to a copy and swapped in by one atomic rename, updated
table by table (never rebuilt per write), and registry changes written by one background writer
outside the requests that made them."""

from __future__ import annotations

import logging
import os
import shutil
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agnes_core.extract.incremental import sql_str
from agnes_core.extract.stream import overlay_sql, read_state, stream_folder
from agnes_core.ids import quote_ident
from agnes_core.registry import Registry, Table
from agnes_core.store import duck
from agnes_core.store.state import StateStore

log = logging.getLogger(__name__)

#: Query modes whose tables have extracted files (remote tables are listed in _meta only).
EXTRACTABLE = ("local", "materialized")


class SourceExtracts:
    def __init__(self, data_dir: Path, store: StateStore, registry: Registry) -> None:
        self.root = data_dir / "extracts"
        self.analytics_path = data_dir / "analytics.duckdb"
        self.store = store
        self.registry = registry
        self._source_locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self._analytics_lock = threading.Lock()
        # Registry changes reach the sources' extract.duckdb through one background writer, never
        # inside the request that made them: source -> table ids still to write, and whether the
        # writer is draining them (so a change made while it finishes is never left behind).
        self._pending: dict[str, set[str]] = {}
        self._pending_lock = threading.Lock()
        self._draining = False
        self._writer: Any = None
        self._writer_future: Any = None

    def lock(self, source: str) -> threading.Lock:
        """The lock that serialises writes to one source's extract.duckdb."""
        with self._locks_lock:
            return self._source_locks.setdefault(source, threading.Lock())

    _META_DDL = """CREATE TABLE _meta (
        table_name VARCHAR NOT NULL, description VARCHAR, rows BIGINT, size_bytes BIGINT,
        extracted_at TIMESTAMP, query_mode VARCHAR NOT NULL, schema_json VARCHAR, path VARCHAR, md5 VARCHAR)"""

    def build(self, source: str, override: dict[str, Any] | None = None) -> Path:
        """Write a complete new extract.duckdb for ``source`` and swap it in atomically.

        Every registered table of the source is listed in ``_meta`` with its own
        ``query_mode``; remote tables have no view and no data, but are never dropped.
        Writes update the file table by table (:meth:`update`); this full build
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

    def update(self, source: str, table_ids: set[str] | frozenset[str],
                               override: dict[str, Any] | None = None) -> Path:
        """Bring these tables' views and ``_meta`` rows in the source's extract.duckdb up to date,
        and no other: a copy of the current file gets the changes and is swapped in atomically,
        so a reader sees the old file or the new one. Without a readable current file, a full
        build. The caller holds the source's lock."""
        folder = self.root / source
        target = folder / "extract.duckdb"
        if not target.exists():
            return self.build(source, override)
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
            return self.build(source, override)
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
            con.execute(f"CREATE VIEW {quote_ident(table.id)} AS {overlay_sql(table.id, str(state['path']))}")
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

    def rebuild(self, source: str) -> Path:
        """Rewrite the source's extract.duckdb from the registry and sync state (repairs)."""
        with self.lock(source):
            return self.build(source)

    def update_now(self, source: str, table_ids: set[str] | frozenset[str]) -> Path | None:
        """Update these tables' entries in the source's extract.duckdb (None: it has none yet;
        the first extract of the source writes it with every registered table)."""
        with self.lock(source):
            if not (self.root / source / "extract.duckdb").exists():
                return None
            return self.update(source, table_ids)

    def update_master_view(self, table_id: str, path: Path | None) -> None:
        with self._analytics_lock:
            con = duck.connect(self.analytics_path)
            try:
                if path is None:
                    con.execute(f"DROP VIEW IF EXISTS {quote_ident(table_id)}")
                else:
                    con.execute(f"CREATE OR REPLACE VIEW {quote_ident(table_id)} AS {overlay_sql(table_id, str(path))}")
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
                    if sql_str(path) not in (current.get(table_id) or "") \
                            or read_state(stream_folder(path, table_id)) is not None:
                        con.execute(f"CREATE OR REPLACE VIEW {quote_ident(table_id)} AS {overlay_sql(table_id, path)}")
                con.execute("COMMIT")
                con.execute("CHECKPOINT")
            finally:
                con.close()

    def update_later(self, sources: Iterable[str], table_ids: Iterable[str]) -> None:
        """Queue these tables' entries for the background writer (one rewrite per source per burst)."""
        ids = set(table_ids)
        with self._pending_lock:
            for source in sources:
                self._pending.setdefault(source, set()).update(ids)
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
                self.update_now(source, ids)
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


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
