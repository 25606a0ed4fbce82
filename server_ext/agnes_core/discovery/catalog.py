"""The catalog: what a user may use, from the registry, the metadata cache and extract
stats only — it never calls a source.

Each table's entry is built once into a JSON fragment (plus its search text and the time
its freshness class expires) and rebuilt only when that table changes, so a request
filters by the user's grants and joins bytes.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from agnes_core.access.principals import Access, Principal
from agnes_core.connectors import connector_class
from agnes_core.connectors.types import LOCAL_DIALECT
from agnes_core.discovery.metadata import MetadataCache, MetaRow, fresh_threshold
from agnes_core.events import Change, ChangeHub
from agnes_core.extract.schedule import parse_schedule
from agnes_core.registry import Registry, Source, Table
from agnes_core.store.state import iso, loads, utcnow

EXTRACTED = ("local", "materialized")


@dataclass
class Entry:
    data: dict[str, Any]
    fragment: bytes
    search: str  # lower-cased id, name, description and column names
    packages: frozenset[str]
    valid_until: datetime | None  # when the freshness class would change by time alone


@dataclass
class ExtractStats:
    """The current extract of a local table (None fields: never extracted successfully)."""

    rows: int | None
    size_bytes: int | None
    extracted_at: datetime | None
    columns: list[str]
    last_failed: bool = False
    uncompressed_bytes: int | None = None
    #: The source's description of the table, as carried into the extract.
    description: str | None = None
    #: When the extracted data last changed in the source, as the source said at the extract.
    changed_at: datetime | None = None


def sql_flavor(table: Table, source: Source | None) -> str:
    if table.query_mode in EXTRACTED:
        return LOCAL_DIALECT  # extracted tables are queried in the analyst's local DuckDB
    if source is None:
        return LOCAL_DIALECT
    try:
        return connector_class(source.type).dialect  # the connector declares its dialect
    except Exception:  # noqa: BLE001 - its package is not installed (any more): say the local one
        return LOCAL_DIALECT


class CatalogIndex:
    """The catalog's index: one pre-serialised entry per table, kept sorted by id.

    The index a request reads is always complete: a new one replaces it in one assignment, and
    it is never changed in place. Changes mark table ids pending; a request folds them in before
    answering, in batches of at most ``BATCH`` entries built outside the lock, so no request
    rebuilds the whole index after a write. Admin changes (tables, extracts, packages, sources)
    are folded in before the request answers (it sees its own writes). Metadata changes — a
    refresh makes one per table — are folded in one batch per request, and a request that finds
    another already building answers from the last complete index instead of waiting.
    """

    #: Entries built per step; each step holds the GIL for about a millisecond.
    BATCH = 128

    def __init__(self, registry: Registry, access: Access, metadata: MetadataCache, hub: ChangeHub,
                 extract_stats: Callable[[Collection[str] | None], dict[str, ExtractStats]],
                 interval_s: Callable[[], float],
                 packages_of: Callable[[], dict[str, list[str]]] | None = None) -> None:
        self.registry = registry
        self.access = access
        self.metadata = metadata
        self.extract_stats = extract_stats
        self.interval_s = interval_s
        self.packages_of = packages_of or (lambda: {})
        self._entries: dict[str, Entry] | None = None  # the last complete index; replaced, never mutated
        self._urgent: set[str] = set()  # pending ids a request must fold in before it answers
        self._background: set[str] = set()  # pending ids from metadata refreshes
        self._everything = True  # every registered table is pending (start, or a change without ids)
        self._packages: dict[str, list[str]] | None = None
        self._packages_generation = 0
        self._generation = 0
        self._lock = threading.Lock()  # pending sets, the index reference, the response cache
        self._build_lock = threading.Lock()  # one builder at a time
        # Whole responses per (index generation, grants generation, groups, filters): a user who
        # asks again before anything changed gets the same bytes without a scan.
        self._responses: OrderedDict[tuple[Any, ...], tuple[bytes, datetime | None]] = OrderedDict()
        hub.subscribe(self._on_change)

    # -- invalidation -------------------------------------------------------------------

    def _on_change(self, change: Change) -> None:
        if change.kind == "grant":
            return  # entries do not depend on grants; responses are keyed on the grants' generation
        if change.kind == "package":
            with self._lock:
                self._packages = None
                self._packages_generation += 1
        if change.kind == "metadata" and change.ids:
            self.invalidate(change.ids, urgent=False)
        elif change.kind in ("table", "extract", "package", "source", "metadata"):
            self.invalidate(change.ids or None)

    def warm(self) -> None:
        """Build the whole index now (at start-up, off the request path)."""
        self._index(utcnow(), drain=True)

    def invalidate(self, ids: frozenset[str] | set[str] | None, *, urgent: bool = True) -> None:
        """Rebuild these tables' entries before the next answer (None: all of them). Not
        ``urgent``: fold them in over the next requests (metadata refreshes)."""
        with self._lock:
            self._generation += 1
            self._responses.clear()
            if ids is None:
                self._everything = True
            elif urgent:
                self._urgent |= ids
                self._background -= ids
            else:
                self._background |= ids - self._urgent

    # -- building -----------------------------------------------------------------------

    def _index(self, now: datetime, *, drain: bool = False) -> dict[str, Entry]:
        """The index with pending changes folded in (see the class docstring)."""
        background_steps = 0
        while True:
            with self._lock:
                entries = self._entries
                urgent = self._everything or bool(self._urgent) or entries is None
                pending = urgent or bool(self._background)
            if not pending or (not urgent and not drain and background_steps >= 1):
                assert entries is not None
                return entries
            if urgent or drain:
                self._build_lock.acquire()
            elif not self._build_lock.acquire(blocking=False):
                assert entries is not None
                return entries  # someone is folding in metadata: answer from the last complete index
            try:
                if not urgent:
                    background_steps += 1
                self._step(now)
            finally:
                self._build_lock.release()

    def _step(self, now: datetime) -> None:
        """Fold in up to BATCH pending ids (urgent ones first); holds the build lock."""
        with self._lock:
            base = self._entries
            if self._everything or base is None:
                # Everything: known ids plus registered ones, folded in batch by batch while the
                # previous index (if any) keeps answering.
                self._everything = False
                self._urgent |= set(base or {}) | {t.id for t in self.registry.list_tables()}
                self._background -= self._urgent
                if base is None:
                    base = {}
            source_set = self._urgent if self._urgent else self._background
            # The first build takes everything at once: there is no earlier index to answer from.
            take = len(source_set) if self._entries is None else self.BATCH
            ids = [source_set.pop() for _ in range(min(take, len(source_set)))]
        new = dict(base)
        added = False
        for tid, entry in self._build_entries(ids, now).items():
            if entry is None:
                new.pop(tid, None)
            else:
                added = added or tid not in new
                new[tid] = entry
        if added:
            new = dict(sorted(new.items()))
        with self._lock:
            self._entries = new
            self._generation += 1
            self._responses.clear()

    def _build_entries(self, ids: list[str], now: datetime) -> dict[str, Entry | None]:
        sources = self.registry.sources_by_name()
        tables = {tid: self.registry.find_table(tid) for tid in ids}
        extracted = [tid for tid, t in tables.items() if t is not None and t.query_mode in EXTRACTED]
        stats = self.extract_stats(extracted) if extracted else {}
        packages = self._packages_of()
        threshold = fresh_threshold(self.interval_s())
        out: dict[str, Entry | None] = {}
        for tid, table in tables.items():
            if table is None:
                out[tid] = None
                continue
            meta = self.metadata.get(tid) if table.query_mode not in EXTRACTED else None
            out[tid] = self._build(table, sources.get(table.source), stats.get(tid), meta,
                                   packages.get(tid, []), now, threshold)
        return out

    def _packages_of(self) -> dict[str, list[str]]:
        with self._lock:
            packages, generation = self._packages, self._packages_generation
        if packages is None:
            packages = self.packages_of()
            with self._lock:
                if generation == self._packages_generation:
                    self._packages = packages
        return packages

    def _build(self, table: Table, source: Source | None, stats: ExtractStats | None, meta: MetaRow | None,
               packages: list[str], now: datetime, threshold: float) -> Entry:
        flavor = sql_flavor(table, source)
        columns: list[str] = []
        fresh: str
        refreshed: datetime | None
        if table.query_mode in EXTRACTED:
            fresh, valid_until, refreshed = self._extract_freshness(table, stats, now)
            rows = stats.rows if stats else None
            size = stats.size_bytes if stats else None
            uncompressed = stats.uncompressed_bytes if stats else None
            source_text = stats.description if stats else None
            updated = iso(stats.extracted_at) if stats else None
            partition_by = clustered_by = None
            entity_type: str | None = "table"
            examples: list[str] = []
            columns = stats.columns if stats else []
            changed_at = stats.changed_at if stats else None
        else:
            row = meta or MetaRow(table.id)
            fresh = row.freshness(now, threshold)
            refreshed = row.refreshed_at
            valid_until = refreshed + timedelta(seconds=threshold) if fresh == "fresh" and refreshed else None
            rows, size, updated = row.rows, row.size_bytes, None
            uncompressed, source_text = row.uncompressed_bytes, row.description
            partition_by, clustered_by, entity_type = row.partition_by, row.clustered_by, row.entity_type
            examples = row.where_examples
            columns = row.known_columns
            changed_at = row.changed_at
        description = table.description or source_text or ""
        data = {
            "id": table.id, "name": table.name, "description": description,
            "description_origin": "admin" if table.description else ("source" if source_text else None),
            "source": table.source,
            "source_type": source.type if source else None, "query_mode": table.query_mode, "sql_flavor": flavor,
            "folder": table.folder, "packages": sorted(packages), "rows": rows,
            # size_bytes: on disk (compressed files, or the relation's pages); uncompressed_bytes: the
            # data's logical size, which is what scan estimates count.
            "size_bytes": size, "uncompressed_bytes": uncompressed,
            "partition_by": partition_by, "clustered_by": clustered_by, "entity_type": entity_type,
            "freshness": fresh, "refreshed_at": iso(refreshed), "updated": updated,
            "source_changed_at": iso(changed_at), "where_examples": examples,
        }
        search = " ".join([table.id, table.name, description, *columns]).lower()
        fragment = json.dumps(data, separators=(",", ":")).encode()
        return Entry(data, fragment, search, frozenset(packages), valid_until)

    def _extract_freshness(self, table: Table, stats: ExtractStats | None,
                           now: datetime) -> tuple[str, datetime | None, datetime | None]:
        """Local tables: fresh within twice their schedule's interval of the last extract."""
        if stats is None or stats.extracted_at is None:
            return ("error" if stats is not None and stats.last_failed else "never_fetched"), None, None
        if not table.schedule:
            return "fresh", None, stats.extracted_at
        schedule = parse_schedule(table.schedule)
        due = schedule.next_after(stats.extracted_at)
        limit = stats.extracted_at + 2 * (due - stats.extracted_at)
        if now <= limit:
            return "fresh", limit, stats.extracted_at
        return "stale", None, stats.extracted_at

    # -- reading ------------------------------------------------------------------------

    def _select(self, principal: Principal, search: str | None, source: str | None, mode: str | None,
                package: str | None) -> list[Entry]:
        now = utcnow()
        index = self._index(now)
        readable = self.access.readable_tables(principal)
        needle = search.lower() if search else None
        out: list[Entry] = []
        expired: set[str] = set()
        for tid, entry in index.items():
            if readable is not None and tid not in readable:
                continue
            data = entry.data
            if (source and data["source"] != source) or (mode and data["query_mode"] != mode):
                continue
            if package and package not in entry.packages:
                continue
            if needle and needle not in entry.search:
                continue
            if entry.valid_until is not None and now > entry.valid_until:
                expired.add(tid)
            out.append(entry)
        if expired:  # a freshness class ran out: rebuild just those entries
            self.invalidate(expired)
            index = self._index(now)
            out = [index[e.data["id"]] for e in out if e.data["id"] in index]
        return out

    def entries(self, principal: Principal, *, search: str | None = None, source: str | None = None,
                mode: str | None = None, package: str | None = None) -> list[dict[str, Any]]:
        return [e.data for e in self._select(principal, search, source, mode, package)]

    def ids(self, principal: Principal, *, search: str | None = None, source: str | None = None,
            mode: str | None = None, package: str | None = None) -> list[str]:
        """The ids ``GET catalog`` would list for these filters, in its order."""
        return [e.data["id"] for e in self._select(principal, search, source, mode, package)]

    def response(self, principal: Principal, *, search: str | None = None, source: str | None = None,
                 mode: str | None = None, package: str | None = None) -> bytes:
        """The ``GET catalog`` body, joined from pre-serialised entries."""
        key = (self._generation, self.access.generation, principal.is_admin,
               None if principal.is_admin else principal.groups, search, source, mode, package)
        now = utcnow()
        with self._lock:
            cached = self._responses.get(key)
        if cached is not None and (cached[1] is None or now <= cached[1]):
            return cached[0]
        chosen = self._select(principal, search, source, mode, package)
        body = b'{"tables":[' + b",".join(e.fragment for e in chosen) + b'],"count":' + str(len(chosen)).encode() + b"}"
        expires = min((e.valid_until for e in chosen if e.valid_until is not None), default=None)
        with self._lock:
            if key[0] == self._generation:
                self._responses[key] = (body, expires)
                while len(self._responses) > 256:
                    self._responses.popitem(last=False)
        return body


def extract_stats_from(rows: list[dict[str, Any]], failed: set[str]) -> dict[str, ExtractStats]:
    """Stats from sync-state rows, plus tables whose extracts have only ever failed."""
    out = {r["table_id"]: ExtractStats(r["rows"], r["size_bytes"], r["extracted_at"],
                                       [c["name"] for c in loads(r["schema_json"], [])], r["table_id"] in failed,
                                       r.get("uncompressed_bytes"), r.get("source_description"),
                                       r.get("source_changed_at"))
           for r in rows}
    for table_id in failed - set(out):
        out[table_id] = ExtractStats(None, None, None, [], True)
    return out
