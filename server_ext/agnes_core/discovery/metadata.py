"""The metadata cache of remote tables: last-known-good numbers, errors, and freshness.

Rows live in the state store (so they survive restarts) and in memory (so the catalog
never waits for the store, let alone a source). A failed refresh keeps the last good
values and records ``error_at`` / ``error_msg``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from agnes_core.connectors import ColumnStats, TableMetadata
from agnes_core.discovery.sqlexamples import where_examples
from agnes_core.store.state import StateStore, dumps, iso, loads, naive_utc, utcnow

FRESHNESS = ("fresh", "stale", "error", "never_fetched")
DEFAULT_INTERVAL_S = 4 * 3600


def fresh_threshold(interval_s: float) -> float:
    """Twice the refresh interval: one failed refresh does not make numbers stale."""
    return 2 * (interval_s if interval_s > 0 else DEFAULT_INTERVAL_S)


def freshness(refreshed_at: datetime | None, error_at: datetime | None, now: datetime, threshold_s: float) -> str:
    """``fresh`` within the threshold (inclusive), ``stale`` beyond, ``error`` when attempts
    failed and none ever succeeded, ``never_fetched`` otherwise."""
    if refreshed_at is None:
        return "error" if error_at is not None else "never_fetched"
    return "fresh" if now - refreshed_at <= timedelta(seconds=threshold_s) else "stale"


@dataclass
class MetaRow:
    table_id: str
    rows: int | None = None
    size_bytes: int | None = None
    partition_by: list[str] | None = None
    clustered_by: list[str] | None = None
    entity_type: str | None = None
    known_columns: list[str] = field(default_factory=list)
    examples: dict[str, Any] = field(default_factory=dict)
    where_examples: list[str] = field(default_factory=list)
    refreshed_at: datetime | None = None
    attempted_at: datetime | None = None
    error_at: datetime | None = None
    error_msg: str | None = None
    #: The source's own description of the table (admins' text in the registry wins over it).
    description: str | None = None
    uncompressed_bytes: int | None = None
    #: When the data last changed in the source (naive UTC), when it says.
    changed_at: datetime | None = None
    #: Per column: what the source's metadata says of its values (see ColumnStats).
    column_stats: dict[str, ColumnStats] = field(default_factory=dict)

    def freshness(self, now: datetime, threshold_s: float) -> str:
        return freshness(self.refreshed_at, self.error_at, now, threshold_s)

    def to_json(self, now: datetime, threshold_s: float) -> dict[str, Any]:
        return {
            "table_id": self.table_id, "rows": self.rows, "size_bytes": self.size_bytes,
            "uncompressed_bytes": self.uncompressed_bytes,
            "partition_by": self.partition_by, "clustered_by": self.clustered_by, "entity_type": self.entity_type,
            "known_columns": self.known_columns, "refreshed_at": iso(self.refreshed_at),
            "attempted_at": iso(self.attempted_at), "error_at": iso(self.error_at), "error_msg": self.error_msg,
            "freshness": self.freshness(now, threshold_s), "source_changed_at": iso(self.changed_at),
        }


class MetadataCache:
    def __init__(self, store: StateStore) -> None:
        self.store = store
        self._rows: dict[str, MetaRow] | None = None
        self._lock = threading.Lock()

    def _load(self) -> dict[str, MetaRow]:
        rows = self._rows
        if rows is None:
            with self._lock:
                if self._rows is None:
                    self._rows = {r["table_id"]: _row(r) for r in self.store.rows("SELECT * FROM metadata_cache")}
                rows = self._rows
        return rows

    def get(self, table_id: str) -> MetaRow | None:
        return self._load().get(table_id)

    def all(self) -> dict[str, MetaRow]:
        return dict(self._load())

    def record_success(self, table_id: str, meta: TableMetadata, dialect: str,
                       column_stats: dict[str, ColumnStats] | None = None) -> MetaRow:
        """Store fresh metadata; WHERE examples are rendered now, in ``dialect``, so the catalog
        never renders SQL on a request. ``column_stats`` None keeps the last known ones."""
        now = utcnow()
        examples = where_examples(dialect, meta.partition_by, meta.clustered_by, meta.examples)
        if column_stats is None:
            previous = self.get(table_id)
            column_stats = previous.column_stats if previous else {}
        row = MetaRow(table_id, meta.rows, meta.size_bytes, meta.partition_by, meta.clustered_by, meta.entity_type,
                      list(meta.known_columns), dict(meta.examples), examples, refreshed_at=now, attempted_at=now,
                      description=meta.description, uncompressed_bytes=meta.uncompressed_bytes,
                      changed_at=naive_utc(meta.changed_at), column_stats=dict(column_stats))
        self._save(row)
        return row

    def record_failure(self, table_id: str, message: str) -> MetaRow:
        """Keep the last good values; note when and why this attempt failed."""
        now = utcnow()
        previous = self.get(table_id)
        row = MetaRow(table_id) if previous is None else MetaRow(**{**previous.__dict__})
        row.attempted_at, row.error_at, row.error_msg = now, now, message[:2000]
        self._save(row)
        return row

    def forget(self, table_id: str) -> None:
        with self.store.write() as cur:
            cur.execute("DELETE FROM metadata_cache WHERE table_id = ?", [table_id])
        with self._lock:
            if self._rows is not None:
                self._rows.pop(table_id, None)

    def _save(self, row: MetaRow) -> None:
        with self.store.write() as cur:
            cur.execute("DELETE FROM metadata_cache WHERE table_id = ?", [row.table_id])
            cur.execute("INSERT INTO metadata_cache (table_id, rows, size_bytes, partition_by, clustered_by, "
                        "entity_type, known_columns, examples, refreshed_at, attempted_at, error_at, error_msg, "
                        "description, uncompressed_bytes, column_stats, source_changed_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [row.table_id, row.rows, row.size_bytes, _json_or_null(row.partition_by),
                         _json_or_null(row.clustered_by), row.entity_type, dumps(row.known_columns),
                         dumps({"values": row.examples, "where": row.where_examples}), row.refreshed_at,
                         row.attempted_at, row.error_at, row.error_msg, row.description, row.uncompressed_bytes,
                         dumps({k: v.to_json() for k, v in row.column_stats.items()}), row.changed_at])
        with self._lock:
            if self._rows is not None:
                self._rows[row.table_id] = row


def _json_or_null(value: Any) -> str | None:
    return None if value is None else dumps(value)


def _row(r: dict[str, Any]) -> MetaRow:
    examples = loads(r["examples"], {})
    stats = loads(r.get("column_stats"), {}) or {}
    return MetaRow(r["table_id"], r["rows"], r["size_bytes"], loads(r["partition_by"]), loads(r["clustered_by"]),
                   r["entity_type"], loads(r["known_columns"], []), examples.get("values", {}),
                   examples.get("where", []), r["refreshed_at"], r["attempted_at"], r["error_at"], r["error_msg"],
                   r.get("description"), r.get("uncompressed_bytes"), r.get("source_changed_at"),
                   {k: ColumnStats.from_json(v) for k, v in stats.items() if isinstance(v, dict)})
