"""Schema and sample of a table, cached (TTL) and flushed on change.

Callers check existence and access first (``AgnesCore.readable_table``); only then is a
cache read. Local tables answer from their extracted Parquet file (no source call);
remote ones from the source, by its cheapest path, and the answer is cached. Every source
call is bounded by ``call_timeout_s`` (stopped in the source then: ``connectors.calls``).
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agnes_core.connectors import ColumnStats, Connector, TableRef, calls
from agnes_core.connectors.types import LOCAL_DIALECT, LocalTypes, TypeNaming
from agnes_core.discovery.caches import TTLCache
from agnes_core.discovery.metadata import MetadataCache, MetaRow
from agnes_core.discovery.parquet_stats import footer_stats
from agnes_core.discovery.sqlexamples import dialect_hints
from agnes_core.events import Change, ChangeHub
from agnes_core.registry import Registry, Table, materialized_select, materialized_tables
from agnes_core.store import duck
from agnes_core.store.state import iso

if TYPE_CHECKING:
    import pyarrow as pa

MAX_SAMPLE = 100


def json_value(value: Any) -> Any:
    """A JSON-safe rendering of an Arrow value (exact decimals as strings, ISO times)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return "base64:" + base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    return str(value)


class Discovery:
    def __init__(self, registry: Registry, metadata: MetadataCache, hub: ChangeHub,
                 connector_for: Callable[[str], Connector], extracted_path: Callable[[str], Path | None],
                 ttl_s: float = 3600) -> None:
        self.registry = registry
        self.metadata = metadata
        self.connector_for = connector_for
        self.extracted_path = extracted_path
        self.schemas: TTLCache[dict[str, Any]] = TTLCache(ttl_s)
        self.samples: TTLCache[dict[str, Any]] = TTLCache(ttl_s, group=_table_of)  # keys are (id, n)
        #: Wall time each schema or sample call to a source may take.
        self.call_timeout_s: float | None = calls.DEFAULT_CALL_TIMEOUT_S
        hub.subscribe(self._on_change)

    def _connector(self, source: str) -> Connector:
        connector = self.connector_for(source)
        connector.call_timeout_s = self.call_timeout_s
        return connector

    def _on_change(self, change: Change) -> None:
        if change.kind == "metadata" and change.ids:  # ranges and the source's description
            self.schemas.pop_groups(change.ids)
        elif change.kind in ("table", "grant", "extract", "source"):
            if change.ids:
                self.flush(change.ids)
            elif change.kind in ("source", "table"):
                self.schemas.clear()
                self.samples.clear()

    def flush(self, ids: frozenset[str] | set[str]) -> None:
        self.schemas.pop_groups(ids)
        self.samples.pop_groups(ids)

    # -- schema -------------------------------------------------------------------------

    def schema(self, table: Table) -> dict[str, Any]:
        cached = self.schemas.get(table.id)
        if cached is None:
            token = self.schemas.token(table.id)  # a change while it is computed: returned, not kept
            cached = self._schema(table)
            self.schemas.put(table.id, cached, token)
        return cached

    def _arrow_schema(self, table: Table) -> tuple[Any, type[TypeNaming], str]:
        """(schema, the connector class naming its column types, its dialect)."""
        path = self.extracted_path(table.id) if table.query_mode != "remote" else None
        if path is not None:
            import pyarrow.parquet as pq

            return pq.read_schema(path), LocalTypes, LOCAL_DIALECT
        connector = self._connector(table.source)
        try:
            if table.query_mode == "materialized":
                assert table.sql is not None
                sql = materialized_select(table.sql, connector.dialect, 0)
                refs = materialized_tables(table.sql, connector.dialect)
                found = calls.run_bounded(connector, "schema",
                                          lambda: _first(connector.scan(sql, tables=refs)).schema,
                                          self.call_timeout_s)
                return found, LocalTypes, LOCAL_DIALECT
            return connector.schema(TableRef(table.bucket, table.source_table)), type(connector), connector.dialect
        finally:
            connector.close()

    def _schema(self, table: Table) -> dict[str, Any]:
        arrow_schema, naming, dialect = self._arrow_schema(table)
        meta = self.metadata.get(table.id) if table.query_mode == "remote" else None
        partition_by = (meta.partition_by if meta else None) or []
        clustered_by = (meta.clustered_by if meta else None) or []
        flavor = dialect if table.query_mode == "remote" else LOCAL_DIALECT
        stats, as_of = self._column_stats(table, meta)
        own = table.column_descriptions
        columns = []
        for f in arrow_schema:
            fmeta = f.metadata or {}
            from_source = _text(fmeta.get(b"description"))
            described = own.get(f.name) or from_source
            st = stats.get(f.name)
            columns.append({
                "name": f.name,
                "type": naming.column_type(f),
                "arrow_type": str(f.type),
                "nullable": f.nullable,
                "description": described,
                "description_origin": ("admin" if own.get(f.name) else "source") if described else None,
                "partition": f.name in partition_by,
                "cluster_position": clustered_by.index(f.name) + 1 if f.name in clustered_by else None,
                "min": st.min if st else None,
                "max": st.max if st else None,
                "null_count": st.null_count if st else None,
                "range_origin": st.origin if st and (st.min is not None or st.null_count is not None) else None,
                "range_approximate": st.approximate if st else None,
            })
        examples = meta.where_examples if meta else []
        source_text = _text((arrow_schema.metadata or {}).get(b"description")) or (meta.description if meta else None)
        return {"id": table.id, "query_mode": table.query_mode, "sql_flavor": flavor, "columns": columns,
                "partition_by": partition_by, "clustered_by": clustered_by,
                "entity_type": (meta.entity_type if meta else None) or "table",
                "description": table.description or source_text or None,
                "description_origin": "admin" if table.description else ("source" if source_text else None),
                "ranges_as_of": as_of,
                "dialect": dialect_hints(flavor, naming.dialect_notes, examples)}

    def _column_stats(self, table: Table, meta: MetaRow | None) -> tuple[dict[str, ColumnStats], str | None]:
        """Column ranges without a scan: remote tables from the metadata cache (what the source's
        metadata said at its last refresh), extracted ones from their Parquet file's footer."""
        if table.query_mode == "remote":
            return (meta.column_stats, iso(meta.refreshed_at)) if meta else ({}, None)
        path = self.extracted_path(table.id)
        if path is None:
            return {}, None
        try:
            when = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)
            return footer_stats([path]), iso(when)
        except (OSError, ValueError):
            return {}, None

    # -- sample -------------------------------------------------------------------------

    def sample(self, table: Table, n: int) -> dict[str, Any]:
        key = (table.id, n)
        cached = self.samples.get(key)
        if cached is None:
            token = self.samples.token(key)
            cached = self._sample(table, n)
            self.samples.put(key, cached, token)
        return cached

    def _sample(self, table: Table, n: int) -> dict[str, Any]:
        path = self.extracted_path(table.id) if table.query_mode != "remote" else None
        if path is not None:
            con = duck.connect()
            try:
                result = con.execute("SELECT * FROM read_parquet(?) LIMIT ?", [str(path), n]).to_arrow_table()
            finally:
                con.close()
            origin = "extract"
        else:
            connector = self._connector(table.source)
            try:
                if table.query_mode == "materialized":
                    assert table.sql is not None
                    sql = materialized_select(table.sql, connector.dialect, n)
                    refs = materialized_tables(table.sql, connector.dialect)
                    result = calls.run_bounded(connector, "sample", lambda: _first(connector.scan(sql, tables=refs)),
                                               self.call_timeout_s)
                else:
                    result = connector.sample(TableRef(table.bucket, table.source_table), n)
            finally:
                connector.close()
            origin = "source"
        return {"id": table.id, "n": n, "origin": origin, "columns": result.schema.names,
                "rows": [{k: json_value(v) for k, v in row.items()} for row in result.to_pylist()]}


def _text(value: bytes | None) -> str | None:
    """A description from Arrow metadata (None when absent or blank)."""
    if not value:
        return None
    return value.decode("utf-8", "replace").strip() or None


def _first(batches: Any) -> pa.Table:
    import pyarrow as pa

    return pa.Table.from_batches(list(batches))


def _table_of(key: Any) -> Any:
    """The table a sample cache key ``(id, n)`` belongs to."""
    return key[0]
