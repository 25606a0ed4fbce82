"""The lake connector: query Parquet and DuckDB files in place with DuckDB."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from agnes_core.connectors.base import (
    Capability,
    ColumnStats,
    Connector,
    DiscoveredTable,
    FormField,
    ReadOptions,
    ScanEstimate,
    ScanGuard,
    TableMetadata,
    TableRead,
    TableRef,
    changed_at_metadata,
)
from agnes_core.connectors.lake.estimate import uniform_schema
from agnes_core.connectors.lake.layout import DUCKDB_SUFFIXES, LakeLocation, classify_folder, locate
from agnes_core.connectors.types import DUCKDB_NOTES
from agnes_core.discovery.parquet_stats import (
    file_description,
    footer,
    footer_stats,
    hive_stats,
    sizes,
    with_descriptions,
)
from agnes_core.errors import AgnesError, SourceError, ValidationError
from agnes_core.ids import PHYSICAL_NAME_RE, quote_ident
from agnes_core.sqlsafe import safe_predicate
from agnes_core.store import duck

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

#: Hive key types per (glob, partition directories): see LakeConnector._hive_types.
_HIVE_TYPES: dict[tuple[str, tuple[str, ...]], dict[str, str]] = {}
_HIVE_TYPES_LOCK = threading.Lock()
#: One in-memory DuckDB per (memory_limit, threads), shared by the lake sources' scans and estimates.
_SHARED: dict[tuple[str, int], duckdb.DuckDBPyConnection] = {}
_SHARED_LOCK = threading.Lock()


def sql_literal(text: str) -> str:
    """A single-quoted SQL string literal (for paths, which DuckDB cannot bind in ATTACH)."""
    return "'" + text.replace("'", "''") + "'"


class LakeConnector(Connector):
    """A folder of Parquet files and DuckDB databases, queried in place by DuckDB.

    Options: ``path`` (the lake root, required), ``memory_limit`` (DuckDB's, default
    ``512MB``), ``threads`` (default DuckDB's), ``limits`` (gate limits, optional).
    """

    type = "lake"
    capabilities = frozenset({Capability.DISCOVER, Capability.READ,
                              Capability.REMOTE, Capability.METADATA, Capability.ESTIMATE, Capability.STATS})
    dialect = "duckdb"
    dialect_notes = DUCKDB_NOTES
    guards_values = True  # DuckDB: error() and strlen(), the defaults
    title = "Lake (Parquet and DuckDB files)"
    option_fields = (
        FormField("path", "The folder of the lake on the server: Parquet files, Hive folders, DuckDB files.",
                  required=True, placeholder="/data/lake"),
        FormField("memory_limit", "DuckDB's memory limit for this source's scans.", placeholder="512MB"),
        FormField("threads", "DuckDB threads for this source (empty: all).", kind="integer"),
    )

    @classmethod
    def validate_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        path = options.get("path")
        if not isinstance(path, str) or not path:
            raise ValidationError("options.path", "lake sources need options.path: the folder of the lake",
                                  hint='e.g. "options": {"path": "/data/lake"}')
        out = dict(options)
        out["path"] = str(Path(path).expanduser())
        return out

    @property
    def root(self) -> Path:
        return Path(self.options["path"])

    # -- DuckDB plumbing ----------------------------------------------------------------

    #: The DuckDB connections and cursors opened last (a call uses one or two), for interrupt().
    _RECENT = 8

    def _opened(self, con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
        recent = self.__dict__.setdefault("_recent", deque(maxlen=self._RECENT))
        recent.append(con)
        return con

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB of its own (for work that ATTACHes database files)."""
        con = duck.connect()
        self._configure(con)
        return self._opened(con)

    def _configure(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute(f"SET memory_limit = {sql_literal(str(self.options.get('memory_limit', '512MB')))}")
        # DuckDB's external file cache keeps read Parquet bytes until memory pressure: measured
        # +230 MB server RSS on a 2.5 GB scan (benchmarks/snapshot.py) for no speed gain.
        con.execute("SET enable_external_file_cache = false")
        if self.options.get("threads"):
            con.execute(f"SET threads = {int(self.options['threads'])}")

    def _shared_cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor on the process's DuckDB for these settings (opening a DuckDB costs ~11 ms,
        a cursor ~10 µs). Concurrent scans share its memory limit, which bounds the server's
        memory better than one limit per scan. Catalog objects go in a scratch catalog of the
        cursor's own (see ``_scratch``); database files are never ATTACHed here."""
        key = (str(self.options.get("memory_limit", "512MB")), int(self.options.get("threads") or 0))
        with _SHARED_LOCK:
            db = _SHARED.get(key)
            if db is None:
                db = duck.connect()
                self._configure(db)
                _SHARED[key] = db
            return self._opened(db.cursor())

    def relation_sql(self, loc: LakeLocation) -> str:
        """A FROM-clause expression reading the table in place."""
        if loc.kind == "duckdb":
            return f"{quote_ident('lake_db')}.{quote_ident(loc.db_schema)}.{quote_ident(loc.db_table)}"
        if loc.kind == "file":
            return f"read_parquet({sql_literal(str(loc.path))})"
        hive = "true" if loc.hive_keys else "false"
        # union_by_name makes DuckDB read every file's schema when binding (17 ms over 90 files);
        # it is only needed when the files' schemas differ (checked on the cached footers).
        union = "false" if uniform_schema(loc.files) else "true"
        return (f"read_parquet({sql_literal(loc.glob)}, hive_partitioning = {hive}, "
                f"union_by_name = {union})")

    def _prepare(self, con: duckdb.DuckDBPyConnection, loc: LakeLocation) -> None:
        if loc.kind == "duckdb":
            con.execute(f"ATTACH {sql_literal(str(loc.path))} AS lake_db (READ_ONLY)")

    def _locate(self, ref: TableRef) -> LakeLocation:
        if not self.root.is_dir():
            raise SourceError(
                f"lake source {self.name!r}: folder {self.root} does not exist",
                hint="Fix options.path of the source, or create the folder.",
                details={"source": self.name, "path": str(self.root)},
            )
        return locate(self.root, ref)

    # -- protocol -----------------------------------------------------------------------

    def test(self) -> dict[str, Any]:
        if not self.root.is_dir():
            raise SourceError(
                f"lake source {self.name!r}: folder {self.root} does not exist or is not a folder",
                hint="Fix options.path of the source.",
                details={"source": self.name, "path": str(self.root)},
            )
        return {"path": str(self.root), "duckdb": duckdb.__version__}

    def discover(self) -> list[DiscoveredTable]:
        self.test()
        found: list[DiscoveredTable] = []
        buckets = [(None, self.root)] + [
            (p.name, p) for p in sorted(self.root.iterdir())
            if p.is_dir() and not p.name.startswith((".", "_")) and PHYSICAL_NAME_RE.match(p.name)
            and classify_folder(p) == "bucket"
        ]
        for bucket, folder in buckets:
            for entry in sorted(folder.iterdir()):
                name = entry.name
                if name.startswith((".", "_")):
                    continue
                if entry.is_file() and name.endswith(".parquet"):
                    stem = name[: -len(".parquet")]
                    if PHYSICAL_NAME_RE.match(stem):
                        found.append(self._discovered(TableRef(bucket, stem)))
                elif entry.is_dir() and PHYSICAL_NAME_RE.match(name) and classify_folder(entry) == "table":
                    found.append(self._discovered(TableRef(bucket, name)))
                elif entry.is_file() and entry.suffix in DUCKDB_SUFFIXES and bucket is None:
                    found.extend(self._discover_duckdb(entry))
        return found

    def _discovered(self, ref: TableRef) -> DiscoveredTable:
        loc = self._locate(ref)
        entity = "partitioned_table" if loc.hive_keys else "table"
        return DiscoveredTable(ref.bucket, ref.name, self.schema(ref), entity)

    def _discover_duckdb(self, path: Path) -> list[DiscoveredTable]:
        if not PHYSICAL_NAME_RE.match(path.name):
            return []
        con = self.connect()
        try:
            con.execute(f"ATTACH {sql_literal(str(path))} AS lake_db (READ_ONLY)")
            rows = con.execute(
                "SELECT schema_name, table_name, 'table' FROM duckdb_tables() WHERE database_name = 'lake_db' "
                "UNION ALL SELECT schema_name, view_name, 'view' FROM duckdb_views() "
                "WHERE database_name = 'lake_db' AND NOT internal ORDER BY 1, 2"
            ).fetchall()
            out = []
            for schema_name, table_name, entity in rows:
                name = table_name if schema_name == "main" else f"{schema_name}.{table_name}"
                if not PHYSICAL_NAME_RE.match(name):
                    continue
                arrow_schema = con.execute(
                    f"SELECT * FROM lake_db.{quote_ident(schema_name)}.{quote_ident(table_name)} LIMIT 0"
                ).to_arrow_table().schema
                out.append(DiscoveredTable(path.name, name, arrow_schema, entity))
            return out
        except duckdb.Error as exc:
            raise SourceError(f"lake source {self.name!r}: cannot read {path.name}: {exc}",
                              hint="Check that the file is a DuckDB database of a compatible version.") from exc
        finally:
            con.close()

    def schema(self, ref: TableRef) -> pa.Schema:
        """The table's schema as DuckDB reads it, with the descriptions the Parquet files carry:
        each field's ``description`` metadata, and the file's ``description`` key as the schema's."""
        loc = self._locate(ref)
        con = self.connect()
        try:
            self._prepare(con, loc)
            schema = con.execute(f"SELECT * FROM {self.relation_sql(loc)} LIMIT 0").to_arrow_table().schema
            if loc.kind == "duckdb" or not loc.files:
                return schema
            first = footer(loc.files[0])
            described = with_descriptions(schema, first.schema.to_arrow_schema(), file_description(loc.files[0]))
            return described.with_metadata({**(described.metadata or {}), **changed_at_metadata(_changed_at(loc))})
        except duckdb.Error as exc:
            raise SourceError(f"lake source {self.name!r}: cannot read {ref.display()}: {exc}",
                              hint="Check the files are valid Parquet.") from exc
        finally:
            con.close()

    def column_types(self, ref: TableRef) -> list[tuple[str, str, bool]]:
        """(name, DuckDB type, nullable) of every column, in order."""
        loc = self._locate(ref)
        con = self.connect()
        try:
            self._prepare(con, loc)
            rows = con.execute(f"DESCRIBE SELECT * FROM {self.relation_sql(loc)}").fetchall()
            return [(r[0], r[1], r[2] != "NO") for r in rows]
        finally:
            con.close()

    def read(self, ref: TableRef, options: ReadOptions) -> Iterator[pa.RecordBatch]:
        loc = self._locate(ref)
        schema = self.schema(ref)
        cols = options.columns or schema.names
        unknown = [c for c in cols if c not in schema.names]
        if unknown:
            raise ValidationError("columns", f"unknown columns {unknown} in {ref.display()}",
                                  hint=f"columns are: {', '.join(schema.names)}")
        select = ", ".join(_quote_any(c) for c in cols)
        sql = f"SELECT {select} FROM {self.relation_sql(loc)}"
        params: list[Any] = []
        where = []
        if options.filter:
            where.append(f"({safe_predicate(options.filter, 'duckdb')})")
        if options.incremental_key and options.incremental_after is not None:
            if options.incremental_key not in schema.names:
                raise ValidationError("incremental_key", f"unknown column {options.incremental_key!r}")
            where.append(f"{_quote_any(options.incremental_key)} > ?")
            params.append(options.incremental_after)
        if where:
            sql += " WHERE " + " AND ".join(where)
        return self._stream(loc, sql, params, options.batch_size)

    def scan(self, sql: str, batch_size: int = 65_536, tables: Sequence[TableRef] = (),
             guard: ScanGuard | None = None) -> Iterator[pa.RecordBatch]:
        """Run a validated query. Each table in ``tables`` is first made addressable by its
        physical name (``<bucket or main>.<name>``) as a view over its files, in a catalog of the
        scan's own; no other name resolves (Python replacement scans are off). DuckDB has no
        statement timeout: the server calls :meth:`interrupt` at ``guard.timeout_s``."""
        locs = [self._locate(ref) for ref in dict.fromkeys(tables)]
        shared = all(loc.kind != "duckdb" for loc in locs)
        con = self._shared_cursor() if shared else self.connect()
        self._scanning = con
        scratch = None
        try:
            con.execute("SET python_enable_replacements = false")
            if shared:
                scratch = _scratch(con)
            self._views(con, locs)
            reader = con.execute(sql).to_arrow_reader(batch_size)
        except AgnesError:
            _release(con, scratch)
            raise
        except duckdb.Error as exc:
            _release(con, scratch)
            raise SourceError(f"lake source {self.name!r}: query failed: {_plain_error(exc)}") from exc
        return _drain(con, reader, scratch)

    def interrupt(self) -> None:
        """``interrupt()`` on the DuckDB connections this connector opened last (a cursor of the
        shared DuckDB interrupts only its own queries)."""
        for con in [getattr(self, "_scanning", None), *list(self.__dict__.get("_recent", ()))]:
            if con is None:
                continue
            try:
                con.interrupt()
            except duckdb.Error:
                pass  # already closed: nothing runs

    def _views(self, con: duckdb.DuckDBPyConnection, locs: list[LakeLocation]) -> None:
        for n, loc in enumerate(locs):
            ref = loc.ref
            schema = quote_ident(ref.bucket or "main")
            if loc.kind == "duckdb":
                alias = f"lake_db{n}"
                con.execute(f"ATTACH {sql_literal(str(loc.path))} AS {alias} (READ_ONLY)")
                relation = f"{alias}.{quote_ident(loc.db_schema)}.{quote_ident(loc.db_table)}"
            else:
                relation = self.relation_sql(loc)
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            con.execute(f"CREATE OR REPLACE VIEW {schema}.{_quote_any(ref.name)} AS SELECT * FROM {relation}")

    def estimate(self, sql: str, reads: list[TableRead]) -> ScanEstimate:
        """Bytes of the referenced columns in the row groups that survive partition and
        row-group pruning, from the Parquet footers (no data is read)."""
        from agnes_core.connectors.lake.estimate import TableCost, estimate_lake

        locs = [self._locate(read.ref) for read in reads]
        con = self.connect() if any(loc.kind == "duckdb" for loc in locs) else self._shared_cursor()
        try:
            parquet = []
            others: list[TableCost] = []
            for read, loc in zip(reads, locs, strict=True):
                if loc.kind == "duckdb":
                    others.append(self._duckdb_cost(con, loc, read))
                    continue
                parquet.append((loc, read, self._hive_types(con, loc)))
            result = estimate_lake(con, parquet)
        except AgnesError:
            raise
        except duckdb.Error as exc:
            raise SourceError(f"lake source {self.name!r}: cannot estimate: {exc}") from exc
        finally:
            con.close()
        for cost in others:
            result.scan_bytes += cost.scan_bytes
            result.rows_read = (result.rows_read or 0) + cost.rows_read
            result.tables.append(cost.to_json())
        return result

    def _hive_types(self, con: duckdb.DuckDBPyConnection, loc: LakeLocation) -> dict[str, str]:
        """DuckDB's types of the Hive keys (inferred from the directory names), kept per layout:
        the inference reads every file's schema, and the answer only changes with the directories."""
        if not loc.hive_keys:
            return {}
        key = (loc.glob, tuple(sorted({str(f.parent) for f in loc.files})))
        with _HIVE_TYPES_LOCK:
            known = _HIVE_TYPES.get(key)
        if known is not None:
            return known
        keys = ", ".join(_quote_any(k) for k in loc.hive_keys)
        rows = con.execute(f"DESCRIBE SELECT {keys} FROM {self.relation_sql(loc)}").fetchall()
        types = {k: next((r[1] for r in rows if r[0] == k), "VARCHAR") for k in loc.hive_keys}
        with _HIVE_TYPES_LOCK:
            if len(_HIVE_TYPES) >= 256:
                _HIVE_TYPES.pop(next(iter(_HIVE_TYPES)))
            _HIVE_TYPES[key] = types
        return types

    def _duckdb_cost(self, con: duckdb.DuckDBPyConnection, loc: LakeLocation, read: TableRead) -> Any:
        """Tables in a DuckDB file: its size estimate, in proportion to the columns read (no
        pruning). Views: the size of every table in the file, an upper bound."""
        from agnes_core.connectors.lake.estimate import TableCost

        con.execute(f"ATTACH {sql_literal(str(loc.path))} AS est_db (READ_ONLY)")
        try:
            row = con.execute(
                "SELECT estimated_size, column_count, estimated_size FROM duckdb_tables() "
                "WHERE database_name = 'est_db' AND schema_name = ? AND table_name = ?",
                [loc.db_schema, loc.db_table]).fetchone()
            rows = con.execute(
                f"SELECT count(*) FROM est_db.{quote_ident(loc.db_schema)}.{quote_ident(loc.db_table)}"
            ).fetchone() if row else None
            if row is None:
                total = con.execute("SELECT coalesce(sum(estimated_size), 0) FROM duckdb_tables() "
                                    "WHERE database_name = 'est_db'").fetchone()
                size = int(total[0]) if total else 0
                return TableCost(read.ref.display(), scan_bytes=size, files=1, files_total=1)
            size, ncols = int(row[0] or 0), max(int(row[1] or 1), 1)
            share = max(len(read.columns), 1) / ncols
            return TableCost(read.ref.display(), scan_bytes=int(size * share),
                             rows_read=int(rows[0]) if rows else 0, files=1, files_total=1)
        finally:
            con.execute("DETACH est_db")

    def _stream(self, loc: LakeLocation, sql: str, params: list[Any], batch_size: int) -> Iterator[pa.RecordBatch]:
        con = self.connect()
        try:
            self._prepare(con, loc)
            reader = con.execute(sql, params).to_arrow_reader(batch_size)
        except duckdb.Error as exc:
            con.close()
            raise SourceError(f"lake source {self.name!r}: cannot read {loc.ref.display()}: {exc}") from exc
        return _drain(con, reader)

    def sample(self, ref: TableRef, n: int) -> pa.Table:
        loc = self._locate(ref)
        con = self.connect()
        try:
            self._prepare(con, loc)
            return con.execute(f"SELECT * FROM {self.relation_sql(loc)} LIMIT {int(n)}").to_arrow_table()
        except duckdb.Error as exc:
            raise SourceError(f"lake source {self.name!r}: cannot read {ref.display()}: {exc}") from exc
        finally:
            con.close()

    def metadata(self, ref: TableRef) -> TableMetadata | None:
        """Rows and bytes from Parquet footers; partitions from the Hive layout; sort order
        from the files' ``sorting_columns``. Best effort: never raises."""
        try:
            loc = self._locate(ref)
            if loc.kind == "duckdb":
                return self._duckdb_metadata(loc)
            return _parquet_metadata(loc)
        except Exception as exc:  # noqa: BLE001 - providers never raise
            reason = self.redact(exc.message if isinstance(exc, AgnesError) else f"{type(exc).__name__}: {exc}")
            log.warning("lake metadata for %s failed: %s", ref.display(), reason)
            return TableMetadata(error=reason)

    def column_stats(self, ref: TableRef) -> dict[str, ColumnStats]:
        """Exact ranges and null counts from the Parquet footers' row-group statistics, and the
        Hive keys' ranges from the directory names. DuckDB database files: none."""
        loc = self._locate(ref)
        if loc.kind == "duckdb":
            return {}
        try:
            out = footer_stats(loc.files)
            if loc.hive_keys:
                out.update(hive_stats(loc.path, loc.files, loc.hive_keys))
            return out
        except (OSError, ValueError) as exc:
            raise SourceError(f"lake source {self.name!r}: cannot read the footers of {ref.display()}: {exc}",
                              hint="Check the files are valid Parquet.") from exc

    def _duckdb_metadata(self, loc: LakeLocation) -> TableMetadata:
        con = self.connect()
        try:
            con.execute(f"ATTACH {sql_literal(str(loc.path))} AS lake_db (READ_ONLY)")
            is_view = con.execute(
                "SELECT count(*) FROM duckdb_views() WHERE database_name='lake_db' AND schema_name=? AND view_name=?",
                [loc.db_schema, loc.db_table],
            ).fetchone()
            cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {self.relation_sql(loc)}").fetchall()]
            if is_view and is_view[0]:
                return TableMetadata(entity_type="view", known_columns=cols)
            # count(*) on a DuckDB table is answered from its row-group statistics.
            rows = con.execute(f"SELECT count(*) FROM {self.relation_sql(loc)}").fetchone()
            return TableMetadata(
                rows=int(rows[0]) if rows else None,
                size_bytes=None,
                entity_type="table",
                known_columns=cols,
            )
        finally:
            con.close()


def _parquet_metadata(loc: LakeLocation) -> TableMetadata:
    """Rows and bytes (on disk and uncompressed) from the footers, Hive keys and their latest value
    from the folder names, the sort order (and its first value) from the first file's
    ``sorting_columns``, the description from the first file's ``description`` key."""
    from agnes_core.connectors.lake.layout import HIVE_DIR_RE

    rows, size, uncompressed = sizes(loc.files)
    sorted_by: list[str] | None = None
    names: list[str] = []
    examples: dict[str, Any] = {}
    if loc.files:
        md = footer(loc.files[0])
        names = [md.schema.column(j).name for j in range(md.num_columns)]
        if md.num_row_groups:
            cols = md.row_group(0).sorting_columns
            if cols:
                sorted_by = [names[c.column_index] for c in cols]
                stats = md.row_group(0).column(cols[0].column_index).statistics
                if stats is not None and stats.has_min_max and isinstance(stats.min, (str, int, float)):
                    examples[sorted_by[0]] = stats.min
    keys = loc.hive_keys
    if keys:
        latest = max((m.group(2) for p in loc.files for part in p.relative_to(loc.path).parts[:1]
                      if (m := HIVE_DIR_RE.match(part)) and m.group(1) == keys[0]), default=None)
        if latest is not None:
            examples[keys[0]] = latest
    return TableMetadata(
        rows=rows,
        size_bytes=size,
        partition_by=keys or None,
        clustered_by=sorted_by,
        entity_type="partitioned_table" if keys else "table",
        known_columns=names + [k for k in keys if k not in names],
        examples=examples,
        description=file_description(loc.files[0]) if loc.files else None,
        uncompressed_bytes=uncompressed,
        changed_at=_changed_at(loc),
    )


def _changed_at(loc: LakeLocation) -> dt.datetime | None:
    """When the table's data last changed: the newest modification time of its files (UTC)."""
    stamps = [p.stat().st_mtime for p in loc.files]
    return dt.datetime.fromtimestamp(max(stamps), dt.timezone.utc) if stamps else None


def _plain_error(exc: BaseException) -> str:
    """DuckDB's message without its suggestions and the echoed query (which names files)."""
    text = str(exc).strip().split("\n\n")[0]
    return text.splitlines()[0] if text else type(exc).__name__


def _quote_any(name: str) -> str:
    """Quote a column name that came from the file's own schema (not from a user)."""
    return '"' + name.replace('"', '""') + '"'


def _scratch(con: duckdb.DuckDBPyConnection) -> str:
    """Give a shared-instance cursor a catalog of its own and make it the default, so the views
    a scan creates (``main.events``, ``bucket.table``) are seen by that scan alone."""
    name = f"agnes_scan_{uuid.uuid4().hex}"
    con.execute(f"ATTACH ':memory:' AS {name}")
    con.execute(f"USE {name}")
    return name


def _release(con: duckdb.DuckDBPyConnection, scratch: str | None) -> None:
    try:
        if scratch is not None:
            con.execute("USE memory")
            con.execute(f"DETACH {scratch}")
    except duckdb.Error:
        pass
    finally:
        con.close()


def _drain(con: duckdb.DuckDBPyConnection, reader: Any, scratch: str | None = None) -> Iterator[pa.RecordBatch]:
    """Yield the reader's batches (at least one, possibly empty, so the schema always arrives)."""
    import pyarrow as pa

    try:
        produced = False
        for batch in reader:
            produced = True
            yield batch
        if not produced:
            yield pa.RecordBatch.from_pylist([], schema=reader.schema)
    finally:
        close = getattr(reader, "close", None)
        try:
            if close is not None:
                close()
        finally:
            _release(con, scratch)
