"""STREAM: changes a source pushes (webhooks) applied to its extracted tables between runs.

A connector turns a pushed request into :class:`StreamChange` s (rows to upsert, keys to delete,
already in the table's terms); this runtime owns everything after that: the files, the lock, the
de-duplication, the ordering and what readers see. Layout, beside the extract's ``data/``::

    extracts/<source>/stream/<table>/stream.json            key, version column, live generations
    extracts/<source>/stream/<table>/g<N>/<YYYY-MM>/<seq>-<id>.parquet   delta files
    extracts/<source>/stream/<table>/g<N>/0000-00/seed.parquet           empty: the glob never matches nothing

Delta files hold the table's columns plus ``_agnes_seq`` (order of application), ``_agnes_version``
(the row's version, e.g. its ``updated``), ``_agnes_deleted`` (a tombstone) and ``_agnes_event``
(the pushed event's identity). Each appears by atomic rename, written under the source's lock, so
a reader sees a change whole or not at all. The table's view in ``extract.duckdb`` (and its master
view in ``analytics.duckdb``) is the main extract with the latest delta of each key laid over it
(:func:`overlay_sql`); the next extract run merges the deltas into its new main file and starts a
new generation in the same swap (:meth:`StreamRuntime.compaction`).

A change is applied once: an event seen before is skipped, and a row's change whose version is not
newer than the row's current version (main extract or deltas) is ignored, so replays and events
that arrive out of order leave the newest state in place.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agnes_core.connectors import Capability, Connector, TableRef
from agnes_core.connectors.base import StreamChange
from agnes_core.errors import BadRequest, NotFound
from agnes_core.extract.incremental import sql_str
from agnes_core.extract.parquet_sink import WriteResult, md5_of
from agnes_core.store import duck

if TYPE_CHECKING:
    import pyarrow as pa

    from agnes_core.extract.extractdb import SourceExtracts
    from agnes_core.registry import Registry, Table
    from agnes_core.store.state import StateStore

log = logging.getLogger(__name__)

#: Delta files a table's live generation may hold before they are folded into one per month (each
#: file costs a reader about 2 ms).
FOLD_AT = 32
#: A main extract up to this many rows has its keys' versions indexed in memory on first use;
#: larger ones are looked up in the file (one query per group of changes).
INDEX_ROWS = 500_000
META_COLUMNS = ("_agnes_seq", "_agnes_version", "_agnes_deleted", "_agnes_event")
STATE_FILE = "stream.json"
SEED_MONTH = "0000-00"
#: The month folder of deltas whose version is not a date or time.
UNDATED = "undated"
#: Generations a fold replaced are deleted this long after the views stopped reading them: a
#: reader that started on the previous views still opens their files.
RETIRE_AFTER_S = 5.0
#: Folds of a table start at most this often (unless its files reach 4 x FOLD_AT): each points the
#: views at a new generation twice.
FOLD_EVERY_S = 0.5


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def stream_folder(main_path: str | Path, table_id: str) -> Path:
    """Where a table's deltas live, from its main extract's path (``<source>/data/<table>/<run>.parquet``)."""
    return Path(main_path).parent.parent.parent / "stream" / table_id


def read_state(folder: Path) -> dict[str, Any] | None:
    try:
        state = json.loads((folder / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and state.get("live") else None


def _globs(folder: Path, state: dict[str, Any]) -> str:
    return "[" + ", ".join(sql_str(str(folder / f"g{g}" / "*" / "*.parquet")) for g in state["live"]) + "]"


def _deltas_sql(folder: Path, state: dict[str, Any]) -> str:
    """The latest delta of each key (tombstones included)."""
    keys = ", ".join(_q(k) for k in state["key"])
    return (f"SELECT * FROM read_parquet({_globs(folder, state)}, union_by_name = true) "
            f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY _agnes_seq DESC) = 1")


def overlay_sql(table_id: str, main_path: str) -> str:
    """The relation a reader queries for a table: its main extract, with the latest delta of each
    key laid over it when the table receives pushed changes."""
    main = f"read_parquet({sql_str(main_path)})"
    folder = stream_folder(main_path, table_id)
    state = read_state(folder)
    if state is None:
        return f"SELECT * FROM {main}"
    on = " AND ".join(f"d.{_q(k)} = m.{_q(k)}" for k in state["key"])
    meta = ", ".join(META_COLUMNS)
    return (f"WITH d AS ({_deltas_sql(folder, state)}) "
            f"SELECT m.* FROM {main} AS m WHERE NOT EXISTS (SELECT 1 FROM d WHERE {on}) "
            f"UNION ALL BY NAME SELECT * EXCLUDE ({meta}) FROM d WHERE NOT _agnes_deleted")


@dataclass
class _Job:
    source: str
    changes: list[StreamChange]
    connector: Connector
    future: Future[dict[str, Any]] = field(default_factory=Future)


@dataclass
class _TableStream:
    """A table's stream state, loaded once from its files and kept while the server runs: the
    latest delta of each key (so versions and current rows need no read of the delta files), the
    events seen, and a DuckDB of its own for lookups in the main extract."""

    table: Table
    folder: Path
    key: tuple[str, ...]
    version: str
    schema: pa.Schema
    state: dict[str, Any]
    main: str | None
    con: Any
    seen: set[str] = field(default_factory=set)
    latest: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)
    #: Versions of main-extract rows looked up so far (None: not in the main extract).
    main_versions: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    seq: int = 0
    #: ``main_versions`` holds every row of the main extract (small enough to index in memory).
    main_indexed: bool = False
    #: Delta files in the live generations (a fold merges them into one per month past FOLD_AT).
    files: int = 0
    #: Generations folds replaced, with when: deleted RETIRE_AFTER_S after it.
    retired: list[tuple[float, list[Path]]] = field(default_factory=list)
    #: When the last fold started.
    folded_at: float = 0.0
    #: A fold of the table's deltas is under way on the fold thread.
    folding: bool = False
    #: The timer that deletes replaced files when their grace time is over.
    expiry: threading.Timer | None = None

    def version_of(self, pk: tuple[Any, ...]) -> Any:
        delta = self.latest.get(pk)
        return delta["_agnes_version"] if delta is not None else self.main_versions.get(pk)

    def close(self) -> None:
        if self.expiry is not None:
            self.expiry.cancel()
        self.con.close()


class StreamRuntime:
    """Applies pushed changes to extracted tables (see the module's text). One lock per source:
    requests that arrive while a write runs are written together by the next one (group commit)."""

    def __init__(self, root: Path, store: StateStore, registry: Registry, db: SourceExtracts) -> None:
        self.root = root
        self.store = store
        self.registry = registry
        self.db = db
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self._queues: dict[str, list[_Job]] = {}
        self._tables: dict[str, _TableStream] = {}
        self._fold_locks: dict[str, threading.Lock] = {}
        self._folds: set[Future[None]] = set()
        self._folder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agnes-stream-fold")

    def lock(self, source: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(source, threading.Lock())

    # -- applying changes -----------------------------------------------------------------------

    def push(self, source: str, connector: Connector, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        """An authenticated pushed request of ``source``: its changes, applied (blocking)."""
        if Capability.STREAM not in connector.capabilities:
            raise BadRequest(f"{connector.type} source {source!r} does not receive pushed changes",
                             hint="Only sources whose connector declares STREAM (jira) take webhooks.",
                             details={"source": source})
        changes = connector.push_changes(headers, body)
        if not changes:
            return {"source": source, "applied": 0, "duplicates": 0, "stale": 0, "tables": []}
        return self.apply(source, connector, changes)

    def apply(self, source: str, connector: Connector, changes: list[StreamChange]) -> dict[str, Any]:
        """Apply ``changes`` (of one pushed event) to the source's registered tables and return
        what happened; NotFound when none of the tables they change is registered."""
        job = _Job(source, changes, connector)
        with self._locks_lock:
            self._queues.setdefault(source, []).append(job)
        with self.lock(source):
            if not job.future.done():
                with self._locks_lock:
                    jobs = self._queues.pop(source, [])
                self._run(source, jobs)
        return job.future.result()

    def _run(self, source: str, jobs: list[_Job]) -> None:
        pending: dict[str, list[dict[str, Any]]] = {}  # table id -> delta rows
        outcomes: list[tuple[_Job, dict[str, Any]]] = []
        try:
            self._prefetch_versions(source, jobs)
        except Exception:  # each job meets (and reports) the failure on its own below
            log.debug("agnes: version prefetch failed", exc_info=True)
        for job in jobs:
            try:
                outcomes.append((job, self._plan(source, job, pending)))
            except BaseException as exc:  # noqa: BLE001 - this request's failure, handed to it
                job.future.set_exception(exc)
        try:
            for table_id, rows in pending.items():
                if rows:
                    self._write(self._tables[table_id], rows)
            for table_id, rows in pending.items():
                if rows and self._tables[table_id].files >= FOLD_AT:
                    self._fold_soon(self._tables[table_id])
        except BaseException as exc:  # noqa: BLE001 - nothing of this group was applied
            for table_id in pending:
                self._drop(table_id)  # reload from the files: the cache ran ahead
            for job, _ in outcomes:
                job.future.set_exception(exc)
            return
        for job, outcome in outcomes:
            job.future.set_result(outcome)

    def _plan(self, source: str, job: _Job, pending: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        """The delta rows of one job's changes (checked against what is already applied)."""
        targets = {c.table: self._targets(source, c.table) for c in job.changes}
        if not any(targets.values()):
            names = ", ".join(sorted(targets))
            raise NotFound(f"no table of source {source!r} is registered for {names}",
                           hint="Register the table (query_mode local) and extract it once; pushed changes then "
                                "keep it current.", details={"source": source, "tables": sorted(targets)})
        applied = duplicates = stale = 0
        touched: set[str] = set()
        for change in job.changes:
            for table in targets[change.table]:
                ts = self._table(table, job.connector)
                rows = pending.setdefault(table.id, [])
                event = f"{change.event_id}"
                if event in ts.seen:
                    duplicates += 1
                    continue
                made = self._rows(ts, change)
                ts.seen.add(event)
                stale += made[1]
                if made[0]:
                    rows.extend(made[0])
                    applied += len(made[0])
                    touched.add(table.id)
        return {"source": source, "applied": applied, "duplicates": duplicates, "stale": stale,
                "tables": sorted(touched)}

    def _prefetch_versions(self, source: str, jobs: list[_Job]) -> None:
        """Look up the main extract's versions of every key the group upserts or deletes, one query
        per table (not one per request)."""
        wanted: dict[str, tuple[_TableStream, set[tuple[Any, ...]]]] = {}
        for job in jobs:
            for change in job.changes:
                for table in self._targets(source, change.table):
                    ts = self._table(table, job.connector)
                    keys = wanted.setdefault(table.id, (ts, set()))[1]
                    for row in (*change.upserts, *change.deletes):
                        if all(row.get(k) is not None for k in ts.key):
                            keys.add(tuple(row[k] for k in ts.key))
        for ts, keys in wanted.values():
            self._load_versions(ts, [pk for pk in keys if pk not in ts.latest and pk not in ts.main_versions])

    def _targets(self, source: str, name: str) -> list[Table]:
        return [t for t in self.registry.list_tables()
                if t.source == source and t.source_table == name and t.bucket is None and t.query_mode == "local"]

    def _rows(self, ts: _TableStream, change: StreamChange) -> tuple[list[dict[str, Any]], int]:
        """Delta rows for one change, and how many of its rows were stale."""
        out: list[dict[str, Any]] = []
        stale = 0
        upserts = [r for r in change.upserts if all(r.get(k) is not None for k in ts.key)]
        deletes = [{k: d.get(k) for k in ts.key} for d in change.deletes]
        if change.replace:
            kept = {tuple(r[k] for k in ts.key) for r in upserts}
            deletes += [dict(zip(ts.key, pk, strict=True)) for pk in self._keys_where(ts, change.replace)
                        if pk not in kept]
        wanted = [tuple(r[k] for k in ts.key) for r in upserts] + [tuple(d[k] for k in ts.key) for d in deletes]
        self._load_versions(ts, [pk for pk in wanted if pk not in ts.latest and pk not in ts.main_versions])
        for row in upserts:
            pk = tuple(row[k] for k in ts.key)
            version = row.get(ts.version) if row.get(ts.version) is not None else change.version
            current = ts.version_of(pk)
            if current is not None and version is not None and not _newer(version, current):
                stale += 1
                continue
            ts.seq += 1
            delta = {**row, "_agnes_seq": ts.seq, "_agnes_version": version, "_agnes_deleted": False,
                     "_agnes_event": change.event_id}
            ts.latest[pk] = delta
            out.append(delta)
        for key in deletes:
            pk = tuple(key[k] for k in ts.key)
            current = ts.version_of(pk)
            if current is not None and change.version is not None and _newer(current, change.version):
                stale += 1
                continue
            ts.seq += 1
            delta = {**key, "_agnes_seq": ts.seq, "_agnes_version": change.version, "_agnes_deleted": True,
                     "_agnes_event": change.event_id}
            ts.latest[pk] = delta
            out.append(delta)
        return out, stale

    def _keys_where(self, ts: _TableStream, where: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Keys of the table's current rows (main extract and deltas) matching ``where``."""
        for name in where:
            if name not in ts.schema.names:
                raise BadRequest(f"table {ts.table.id!r} has no column {name!r}")
        found: set[tuple[Any, ...]] = set()
        if ts.main is not None:
            cond = " AND ".join(f"{_q(n)} = ?" for n in where)
            keys = ", ".join(_q(k) for k in ts.key)
            rows = _tuples(ts.con.execute(f"SELECT {keys} FROM read_parquet({sql_str(ts.main)}) WHERE {cond}",
                                          list(where.values())))
            found = {r for r in rows if r not in ts.latest}
        found |= {pk for pk, row in ts.latest.items()
                  if not row["_agnes_deleted"] and all(row.get(n) == v for n, v in where.items())}
        return sorted(found, key=repr)

    def _load_versions(self, ts: _TableStream, pks: list[tuple[Any, ...]]) -> None:
        """The main extract's version of each key not looked up yet (deltas are in memory)."""
        if not pks:
            return
        if ts.main is not None and not ts.main_indexed:
            keys = ", ".join(_q(k) for k in ts.key)
            values = ", ".join("(" + ", ".join("?" for _ in ts.key) + ")" for _ in pks)
            names = ", ".join(f"_w{i}" for i in range(len(ts.key)))
            on = " AND ".join(f"m.{_q(k)} = w._w{i}" for i, k in enumerate(ts.key))
            rows = _tuples(ts.con.execute(
                f"SELECT {keys}, {_q(ts.version)} FROM read_parquet({sql_str(ts.main)}) AS m "
                f"SEMI JOIN (VALUES {values}) AS w({names}) ON {on}", [v for pk in pks for v in pk]))
            for row in rows:
                ts.main_versions[tuple(row[:-1])] = row[-1]
        for pk in pks:
            ts.main_versions.setdefault(pk, None)

    # -- files ----------------------------------------------------------------------------------

    def _table(self, table: Table, connector: Connector) -> _TableStream:
        """The table's stream state; the first change of a table creates its folder and points its
        views at it."""
        cached = self._tables.get(table.id)
        if cached is not None:  # a run's compaction drops it, so its main extract is current
            return cached
        main = self._main(table.id)
        import pyarrow.parquet as pq

        ref = TableRef(table.bucket, table.source_table)
        how = connector.stream_table(ref)
        key = tuple(table.primary_key) or how.key
        schema = pq.read_schema(main) if main is not None else connector.schema(ref)
        for name in (*key, how.version):
            if name not in schema.names:
                raise BadRequest(f"table {table.id!r} has no column {name!r} to apply pushed changes by",
                                 hint="Set the table's primary_key to columns it has.", details={"table": table.id})
        folder = self.root / table.source / "stream" / table.id
        state = read_state(folder)
        created = state is None
        if state is None:
            state = {"key": list(key), "version": how.version, "live": [1]}
            self._seed(folder, 1, schema, how.version)
            _write_json(folder / STATE_FILE, state)
        con = duck.connect()
        con.execute("SET python_enable_replacements = false")
        ts = _TableStream(table, folder, tuple(state["key"]), str(state["version"]), schema, state, main, con)
        try:
            for row in con.execute(_deltas_sql(folder, state)).to_arrow_table().to_pylist():
                ts.latest[tuple(row[k] for k in ts.key)] = row
            found = con.execute(f"SELECT DISTINCT _agnes_event FROM read_parquet({_globs(folder, state)}, "
                                "union_by_name = true) WHERE _agnes_event IS NOT NULL").fetchall()
            ts.seen = {r[0] for r in found}
            top = con.execute(f"SELECT max(_agnes_seq) FROM read_parquet({_globs(folder, state)}, "
                              "union_by_name = true)").fetchone()
            ts.seq = int(top[0]) if top and top[0] is not None else 0
            ts.files = sum(1 for g in state["live"] for p in (folder / f"g{g}").glob("*/*.parquet")
                           if p.parent.name != SEED_MONTH)
            if main is not None and pq.read_metadata(main).num_rows <= INDEX_ROWS:
                found_versions = pq.read_table(main, columns=[*ts.key, ts.version]).to_pydict()
                columns = [found_versions[k] for k in ts.key]
                ts.main_versions = dict(zip(zip(*columns, strict=True), found_versions[ts.version], strict=True))
                ts.main_indexed = True
        except BaseException:
            con.close()
            raise
        self._tables[table.id] = ts
        if created:
            self._refresh_views(table)
        return ts

    def _main(self, table_id: str) -> str | None:
        row = self.store.row("SELECT path FROM sync_state WHERE table_id = ?", [table_id])
        return str(row["path"]) if row is not None and Path(row["path"]).exists() else None

    def _refresh_views(self, table: Table) -> None:
        main = self._main(table.id)
        if main is not None:
            self.db.update_now(table.source, {table.id})
            self.db.update_master_view(table.id, Path(main))

    @staticmethod
    def _delta_schema(schema: pa.Schema, version: str) -> pa.Schema:
        import pyarrow as pa

        plain = pa.schema([pa.field(f.name, f.type) for f in schema])
        return plain.append(pa.field("_agnes_seq", pa.int64())) \
            .append(pa.field("_agnes_version", schema.field(version).type)) \
            .append(pa.field("_agnes_deleted", pa.bool_())).append(pa.field("_agnes_event", pa.string()))

    def _seed(self, folder: Path, generation: int, schema: pa.Schema, version: str) -> None:
        import pyarrow as pa

        target = folder / f"g{generation}" / SEED_MONTH / "seed.parquet"
        _publish_table(pa.Table.from_pylist([], schema=self._delta_schema(schema, version)), target)

    def _write(self, ts: _TableStream, rows: list[dict[str, Any]]) -> None:
        """One delta file per month of the rows' versions, each by atomic rename. A group's delta is
        a few rows, read whole by every reader: written plain (no compression, dictionary or
        statistics, which cost more than they save at this size)."""
        import pyarrow as pa

        schema = self._delta_schema(ts.schema, ts.version)
        by_month: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            version = row["_agnes_version"]
            month = version.strftime("%Y-%m") if isinstance(version, (datetime, date)) else UNDATED
            by_month.setdefault(month, []).append(row)
        generation = _write_generation(ts.state)
        for month, chunk in sorted(by_month.items()):
            name = f"{chunk[0]['_agnes_seq']:012d}-{uuid.uuid4().hex[:8]}.parquet"
            _publish_table(pa.Table.from_pylist(chunk, schema=schema), ts.folder / f"g{generation}" / month / name,
                           small=True)
            ts.files += 1
        _expire(ts)

    def _fold_soon(self, ts: _TableStream) -> None:
        """Start folding the table's delta files on the fold thread (caller holds the source's
        lock), unless a fold of it is under way or one ran less than FOLD_EVERY_S ago (while the
        files stay under 4 x FOLD_AT)."""
        if ts.folding or (time.monotonic() - ts.folded_at < FOLD_EVERY_S and ts.files < 4 * FOLD_AT):
            return
        try:
            future = self._folder.submit(self._fold, ts)
        except RuntimeError:  # closing: the deltas stay as they are, readable
            return
        ts.folding = True
        ts.folded_at = time.monotonic()
        with self._locks_lock:
            self._folds.add(future)
        future.add_done_callback(self._fold_done)

    def _fold_done(self, future: Future[None]) -> None:
        with self._locks_lock:
            self._folds.discard(future)

    def settle(self) -> None:
        """Wait for the folds under way (tests; closing)."""
        with self._locks_lock:
            folds = list(self._folds)
        for future in folds:
            future.result()

    def fold_lock(self, source: str) -> threading.Lock:
        """Held by a fold for its whole run, and by whatever moves or deletes the deltas under it
        (compaction, forgetting a table) — before the source's lock, never after it."""
        with self._locks_lock:
            return self._fold_locks.setdefault(source, threading.Lock())

    def _fold(self, ts: _TableStream) -> None:
        """The live generations' delta files into a new generation holding one file per month
        with the latest delta of each key (all a reader uses), and the views pointed at it —
        without holding the source's lock but for a few short steps, so deltas keep being written:

        1. the new generation (empty) joins the live ones and the views read it too;
        2. the files there are now are folded into it (readers find those rows twice, under the
           same ``_agnes_seq``, and take one);
        3. under the lock: what was written meanwhile is linked into it, and writes go to it;
        4. the views read only the new generation; the old ones are deleted RETIRE_AFTER_S
           later (a reader that started on the previous views still opens their files).

        A failure leaves the live generations as they were written (readable, complete)."""
        source = ts.table.source
        try:
            with self.fold_lock(source):
                if self._tables.get(ts.table.id) is not ts:  # compacted or forgotten before it began
                    return
                with self.lock(source):
                    if self._tables.get(ts.table.id) is not ts:
                        return
                    old = list(ts.state["live"])
                    new = _next_generation(ts.folder, ts.state)
                    self._seed(ts.folder, new, ts.schema, ts.version)
                    # readers take the new generation in before anything is written to it
                    ts.state = {**ts.state, "live": [*old, new], "write": _write_generation(ts.state)}
                    _write_json(ts.folder / STATE_FILE, ts.state)
                    files = _delta_files(ts.folder, old)
                self._refresh_views(ts.table)
                written = self._fold_files(ts, files, new)
                with self.lock(source):
                    if self._tables.get(ts.table.id) is not ts:
                        return
                    known = set(files)
                    late = [p for p in _delta_files(ts.folder, old) if p not in known]
                    for path in late:  # written during the fold: the same file in the new generation
                        _link(path, ts.folder / f"g{new}" / path.parent.name / path.name)
                    ts.state = {**ts.state, "live": [new], "write": new}
                    _write_json(ts.folder / STATE_FILE, ts.state)
                    ts.files = written + len(late)
                self._refresh_views(ts.table)
                with self.lock(source):
                    ts.retired.append((time.monotonic(), [ts.folder / f"g{g}" for g in old]))
                    _expire(ts)
                    if self._tables.get(ts.table.id) is ts:
                        self._expire_later(ts)
        except Exception:  # the deltas stay as they are, readable; the next write tries again
            log.warning("agnes: folding the pushed changes of %s failed", ts.table.id, exc_info=True)
        finally:
            ts.folding = False

    def _expire_later(self, ts: _TableStream) -> None:
        """Delete the replaced files when their grace time is over even if nothing is pushed after
        the burst that made them (a timer per table; caller holds the source's lock)."""
        if ts.expiry is not None or not ts.retired:
            return

        def expire() -> None:
            with self.lock(ts.table.source):
                ts.expiry = None
                if self._tables.get(ts.table.id) is ts:
                    _expire(ts)
                    self._expire_later(ts)

        ts.expiry = threading.Timer(max(0.0, ts.retired[0][0] + RETIRE_AFTER_S - time.monotonic()) + 0.05, expire)
        ts.expiry.daemon = True
        ts.expiry.start()

    def _fold_files(self, ts: _TableStream, files: list[Path], generation: int) -> int:
        import pyarrow as pa
        import pyarrow.compute as pc

        keys = ", ".join(_q(k) for k in ts.key)
        listed = "[" + ", ".join(sql_str(str(p)) for p in files) + "]"
        con = duck.connect()
        try:
            con.execute("SET threads = 1")
            latest = con.execute(
                f"SELECT * FROM read_parquet({listed}, union_by_name = true) "
                f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY _agnes_seq DESC) = 1 "
                "ORDER BY _agnes_seq").to_arrow_table()
        finally:
            con.close()
        schema = self._delta_schema(ts.schema, ts.version)
        latest = latest.select(schema.names).cast(schema)
        version = latest.column("_agnes_version")
        if pa_temporal(version.type):  # as _write names them: the version's month, else undated
            months = pc.fill_null(pc.strftime(version, format="%Y-%m"), UNDATED)
        else:
            months = pa.chunked_array([pa.array([UNDATED] * latest.num_rows, pa.string())])
        written = 0
        for month in sorted(set(months.to_pylist())):
            chunk = latest.filter(pc.equal(months, month))
            last = chunk.column("_agnes_seq")[-1].as_py()  # named by the newest delta it holds
            _publish_table(chunk, ts.folder / f"g{generation}" / month / f"{last:012d}-fold-{uuid.uuid4().hex[:8]}"
                           ".parquet")
            written += 1
        return written

    # -- compaction (the next extract run) ------------------------------------------------------

    @contextmanager
    def compaction(self, table: Table) -> Iterator[Callable[[Path, WriteResult], WriteResult]]:
        """Hold the source's stream lock around a run's publish: ``merge(target, written)`` lays the
        live deltas over the run's new file and starts a new generation, so the swap that publishes
        the file also points the views at the empty generation. Older generations are deleted once
        the publish succeeded (the one just merged stays for readers of the previous extract)."""
        with self.fold_lock(table.source), self.lock(table.source):
            folder = self.root / table.source / "stream" / table.id
            state = read_state(folder)
            merged: list[int] = []

            def merge(target: Path, written: WriteResult) -> WriteResult:
                if state is None or not any(p.parent.name != SEED_MONTH for g in state["live"]
                                            for p in (folder / f"g{g}").glob("*/*.parquet")):
                    return written
                written = _merge(folder, state, target, written)
                merged.extend(state["live"])
                generation = _next_generation(folder, state)
                import pyarrow.parquet as pq

                self._seed(folder, generation, pq.read_schema(target), str(state["version"]))
                _write_json(folder / STATE_FILE, {**state, "live": [generation], "write": generation})
                return written

            try:
                yield merge
            except BaseException:
                if merged and state is not None:  # the publish failed: the merged deltas stay live
                    _write_json(folder / STATE_FILE, state)
                raise
            finally:
                self._drop(table.id)
            if merged:
                keep = {f"g{g}" for g in [*merged[-1:], *read_state(folder)["live"]]}  # type: ignore[index]
                for path in folder.glob("g*"):
                    if path.name not in keep:
                        shutil.rmtree(path, ignore_errors=True)

    def _drop(self, table_id: str) -> None:
        ts = self._tables.pop(table_id, None)
        if ts is not None:
            ts.close()

    def close(self) -> None:
        self._folder.shutdown(wait=True)
        for table_id in list(self._tables):
            self._drop(table_id)

    def forget(self, source: str, table_id: str) -> None:
        """Drop a table's deltas (the table is gone or no longer local)."""
        with self.fold_lock(source), self.lock(source):
            self._drop(table_id)
            shutil.rmtree(self.root / source / "stream" / table_id, ignore_errors=True)

    def synced(self, table_id: str, state: dict[str, Any]) -> dict[str, Any]:
        """What a kernel syncs of a table (``state``: its sync state): the extract, or — while pushed
        changes wait for the next run — the extract with them applied, written once per set of
        delta files (``synced/<token>.parquet`` by atomic rename, its md5 and rows in a sidecar), so
        ``agnes.sync()`` brings streamed rows to ``agnes.sql`` without waiting for the next run."""
        folder = stream_folder(state["path"], table_id)
        live = read_state(folder)
        if live is None:
            return state
        files = sorted(str(p.relative_to(folder)) for g in live["live"] for p in (folder / f"g{g}").glob("*/*.parquet")
                       if p.parent.name != SEED_MONTH)
        if not files:  # compacted into the extract: the view synced before it is not needed any more
            shutil.rmtree(folder / "synced", ignore_errors=True)
            return state
        token = hashlib.sha256("\n".join([str(state["md5"]), *files]).encode()).hexdigest()[:24]
        out = folder / "synced" / f"{token}.parquet"
        sidecar = out.with_suffix(".json")
        source = str(state.get("source") or Path(state["path"]).parent.parent.parent.name)
        if not sidecar.exists():
            with self.lock(source):  # no compaction or fold moves the deltas while they are read
                if not sidecar.exists():
                    live = read_state(folder)
                    if live is None:
                        return state
                    out.parent.mkdir(parents=True, exist_ok=True)
                    rows = _merge_into(folder, live, Path(state["path"]), out)
                    _write_json(sidecar, {"md5": md5_of(out), "rows": rows, "size_bytes": out.stat().st_size})
                    for old in out.parent.iterdir():  # earlier views; an open download keeps its handle
                        if old.stem != token and not old.name.startswith("."):
                            old.unlink(missing_ok=True)
        facts = json.loads(sidecar.read_text())
        return {**state, "path": str(out), "md5": facts["md5"], "rows": facts["rows"],
                "size_bytes": facts["size_bytes"]}

    def status(self, table_id: str) -> dict[str, Any] | None:
        """Delta files and rows waiting for the next run's compaction (None: no stream)."""
        cached = self._tables.get(table_id)
        if cached is None:
            return None
        files = [p for g in cached.state["live"] for p in (cached.folder / f"g{g}").glob("*/*.parquet")
                 if p.parent.name != SEED_MONTH]
        return {"delta_files": len(files), "seq": cached.seq}


def _tuples(result: Any) -> list[tuple[Any, ...]]:
    """A DuckDB result's rows as tuples, through Arrow: DuckDB's own ``fetchall`` needs ``pytz`` for
    TIMESTAMP WITH TIME ZONE values (a version column), which is not a dependency."""
    table = result.to_arrow_table()
    return list(zip(*(table.column(i).to_pylist() for i in range(table.num_columns)), strict=True))


def _newer(a: Any, b: Any) -> bool:
    try:
        return bool(a > b)
    except TypeError:
        return True


def _merge(folder: Path, state: dict[str, Any], target: Path, written: WriteResult) -> WriteResult:
    """``target`` with the live deltas applied: per key the newer of main row and latest delta wins
    (a tombstone removes the row); main wins only when strictly newer."""
    _merge_into(folder, state, target, target)
    return WriteResult(_rows_of(target), target.stat().st_size, md5_of(target), _schema_of(target), written.max_value)


def _rows_of(path: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def _schema_of(path: Path) -> pa.Schema:
    import pyarrow.parquet as pq

    return pq.read_schema(path)


def _merge_into(folder: Path, state: dict[str, Any], main_path: Path, out: Path) -> int:
    """Write ``main_path`` with the live deltas applied to ``out`` (by atomic rename; ``out`` may be
    ``main_path``); the rows written."""
    target = main_path
    keys = state["key"]
    version = _q(str(state["version"]))
    on = " AND ".join(f"d.{_q(k)} = m.{_q(k)}" for k in keys)
    main = f"read_parquet({sql_str(str(target))})"
    meta = ", ".join(META_COLUMNS)
    tmp = out.with_name(f".{out.name}.stream.tmp")
    sql = (f"WITH d AS ({_deltas_sql(folder, state)}) "
           f"SELECT m.* FROM {main} AS m WHERE NOT EXISTS "
           f"(SELECT 1 FROM d WHERE {on} AND NOT coalesce(m.{version} > d._agnes_version, false)) "
           f"UNION ALL BY NAME SELECT d.* EXCLUDE ({meta}) FROM d WHERE NOT d._agnes_deleted AND NOT EXISTS "
           f"(SELECT 1 FROM {main} AS m WHERE {on} AND coalesce(m.{version} > d._agnes_version, false))")
    import pyarrow.parquet as pq

    schema = pq.read_schema(target)  # kept as it is (types, descriptions): DuckDB would respell lists
    rows = 0
    con = duck.connect()
    writer = None
    try:
        con.execute("SET memory_limit = '512MB'")
        reader = con.execute(f"SELECT * FROM ({sql})").to_arrow_reader(65_536)
        writer = pq.ParquetWriter(tmp, schema, compression="zstd")
        for batch in reader:
            batch = batch.select(schema.names).cast(schema)
            writer.write_batch(batch)
            rows += batch.num_rows
        writer.close()
        writer = None
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        _rename(tmp, out)
    except BaseException:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
        raise
    finally:
        con.close()
    return rows


def _rename(tmp: Path, target: Path) -> None:
    os.replace(tmp, target)


def _publish_table(data: pa.Table, target: Path, small: bool = False) -> None:
    """Write ``data`` to ``target`` through a hidden temp file renamed into place (a reader's glob
    never matches the temp file; a crash leaves none behind where readers look). ``small``: a few
    rows, written without compression, dictionaries or statistics."""
    import pyarrow.parquet as pq

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        if small:
            pq.write_table(data, tmp, compression="none", use_dictionary=False, write_statistics=False)
        else:
            pq.write_table(data, tmp, compression="zstd")
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        _rename(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _expire(ts: _TableStream) -> None:
    """Delete the generations folds replaced at least RETIRE_AFTER_S ago (caller holds the
    source's lock)."""
    now = time.monotonic()
    while ts.retired and now - ts.retired[0][0] >= RETIRE_AFTER_S:
        for path in ts.retired.pop(0)[1]:
            shutil.rmtree(path, ignore_errors=True)


def _write_generation(state: dict[str, Any]) -> int:
    """The generation new delta files go to (the newest live one unless a fold says otherwise)."""
    return int(state.get("write") or state["live"][-1])


def _next_generation(folder: Path, state: dict[str, Any]) -> int:
    found = [int(p.name[1:]) for p in folder.glob("g*") if p.name[1:].isdigit()]
    return max([*state["live"], *found]) + 1


def _delta_files(folder: Path, generations: list[int]) -> list[Path]:
    return [p for g in generations for p in (folder / f"g{g}").glob("*/*.parquet") if p.parent.name != SEED_MONTH]


def _link(source: Path, target: Path) -> None:
    """``target`` as the same file as ``source`` (a hard link; a copy renamed into place where
    links are not possible), appearing whole."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except FileExistsError:
        pass
    except OSError:
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(source, tmp)
        _rename(tmp, target)


def pa_temporal(kind: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_timestamp(kind) or pa.types.is_date(kind))


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}.tmp")
    try:
        tmp.write_text(json.dumps(payload))
        _rename(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
