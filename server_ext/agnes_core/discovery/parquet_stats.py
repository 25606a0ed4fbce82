"""What Parquet footers say without reading data: cached footers, per-column ranges and null
counts (row-group statistics), ranges of Hive partition keys (directory names), sizes on disk
and uncompressed, and the descriptions a file carries (field and key-value metadata).

Used by the lake connector (for its tables) and by discovery (for extracted tables); nothing
here touches a source.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agnes_core.connectors.base import ColumnStats

if TYPE_CHECKING:
    import pyarrow as pa

_FOOTERS: OrderedDict[tuple[str, int, int], Any] = OrderedDict()
_FOOTERS_LOCK = threading.Lock()
_FOOTERS_MAX = 4096
#: Longer string bounds are left out: Parquet writers truncate them, so they are not exact.
MAX_BOUND_CHARS = 200
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
_HIVE_DIR_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
DESCRIPTION_KEY = b"description"


def footer(path: Path) -> Any:
    """The Parquet footer (``FileMetaData``) of ``path``, cached by (path, mtime, size)."""
    import pyarrow.parquet as pq

    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    with _FOOTERS_LOCK:
        found = _FOOTERS.get(key)
        if found is not None:
            _FOOTERS.move_to_end(key)
            return found
    md = pq.ParquetFile(path).metadata
    with _FOOTERS_LOCK:
        _FOOTERS[key] = md
        while len(_FOOTERS) > _FOOTERS_MAX:
            _FOOTERS.popitem(last=False)
    return md


def bound(value: Any) -> Any:
    """A statistic as JSON: numbers, strings, ISO dates and times, exact decimals as strings;
    None for what cannot be shown exactly (bytes, NaN, truncated long strings)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, str):
        return value if len(value) <= MAX_BOUND_CHARS else None
    return None


class _Acc:
    """Running min/max/null count of one column over row groups; ``exact`` until a chunk
    without usable statistics is met."""

    def __init__(self) -> None:
        self.lo: Any = None
        self.hi: Any = None
        self.nulls: int | None = 0
        self.ranged = True

    def add(self, stats: Any, num_rows: int) -> None:
        if stats is None:
            self.ranged, self.nulls = False, None
            return
        if self.nulls is not None:
            self.nulls = self.nulls + stats.null_count if stats.has_null_count else None
        if stats.has_min_max:
            try:
                lo, hi = stats.min, stats.max
                self.lo = lo if self.lo is None or lo < self.lo else self.lo
                self.hi = hi if self.hi is None or hi > self.hi else self.hi
            except (TypeError, ValueError, ArithmeticError):
                self.ranged = False
        elif not (stats.has_null_count and stats.null_count >= num_rows):
            self.ranged = False  # values without bounds: the range is unknown

    def result(self) -> ColumnStats | None:
        lo, hi = (bound(self.lo), bound(self.hi)) if self.ranged else (None, None)
        if lo is None or hi is None:
            lo = hi = None
        if lo is None and self.nulls is None:
            return None
        return ColumnStats(lo, hi, self.nulls, "parquet_footer", False)


def footer_stats(files: Iterable[Path]) -> dict[str, ColumnStats]:
    """Min, max and null count of every top-level column, over every row group of ``files``."""
    accs: dict[str, _Acc] = {}
    for path in files:
        md = footer(path)
        top = [j for j in range(md.num_columns) if md.schema.column(j).path == md.schema.column(j).name]
        for i in range(md.num_row_groups):
            rg = md.row_group(i)
            for j in top:
                chunk = rg.column(j)
                accs.setdefault(chunk.path_in_schema, _Acc()).add(
                    chunk.statistics if chunk.is_stats_set else None, rg.num_rows)
    out = {}
    for name, acc in accs.items():
        found = acc.result()
        if found is not None:
            out[name] = found
    return out


def _typed(values: list[str]) -> list[Any]:
    """Partition values as integers or dates when all of them are, else as text."""
    for parse in (int, dt.date.fromisoformat):
        try:
            return [parse(v) for v in values]
        except ValueError:
            continue
    return list(values)


def hive_stats(folder: Path, files: list[Path], keys: list[str]) -> dict[str, ColumnStats]:
    """Exact ranges of Hive partition keys from the directory names; nulls are the rows under
    ``__HIVE_DEFAULT_PARTITION__`` directories (counted from the footers)."""
    out: dict[str, ColumnStats] = {}
    for depth, key in enumerate(keys):
        values: list[str] = []
        nulls = 0
        for path in files:
            parts = path.relative_to(folder).parts
            m = _HIVE_DIR_RE.match(parts[depth]) if depth < len(parts) - 1 else None
            if m is None or m.group(1) != key:
                continue
            if m.group(2) == HIVE_NULL:
                nulls += footer(path).num_rows
            else:
                values.append(m.group(2))
        typed = _typed(sorted(set(values)))
        lo, hi = (bound(min(typed)), bound(max(typed))) if typed else (None, None)
        out[key] = ColumnStats(lo, hi, nulls, "hive_partitions", False)
    return out


def sizes(files: Iterable[Path]) -> tuple[int, int, int]:
    """(rows, bytes on disk, uncompressed bytes of the column data) of ``files``."""
    rows = disk = raw = 0
    for path in files:
        md = footer(path)
        disk += path.stat().st_size
        rows += md.num_rows
        raw += sum(md.row_group(i).total_byte_size for i in range(md.num_row_groups))
    return rows, disk, raw


def file_description(path: Path) -> str | None:
    """The file's ``description`` key-value metadata, if any."""
    kv = footer(path).metadata or {}
    value = kv.get(DESCRIPTION_KEY)
    return value.decode("utf-8", "replace").strip() or None if value else None


def file_changed_at(path: Path) -> dt.datetime | None:
    """When the file's data last changed in its source (naive UTC), as its connector said
    (``SOURCE_CHANGED_AT_KEY``), or None."""
    from agnes_core.connectors.base import SOURCE_CHANGED_AT_KEY

    value = (footer(path).metadata or {}).get(SOURCE_CHANGED_AT_KEY)
    if not value:
        return None
    try:
        when = dt.datetime.fromisoformat(value.decode("ascii", "replace").replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.astimezone(dt.timezone.utc).replace(tzinfo=None) if when.tzinfo else when


def with_descriptions(schema: pa.Schema, described: pa.Schema | None,
                      table_description: str | None = None) -> pa.Schema:
    """``schema`` with each field's ``description`` taken from the same-named field of
    ``described`` (and the schema's own ``description`` set to ``table_description``)."""
    import pyarrow as pa

    fields = []
    for f in schema:
        text = None
        if described is not None and f.name in described.names:
            meta = described.field(f.name).metadata or {}
            text = meta.get(DESCRIPTION_KEY)
        fields.append(f.with_metadata({**(f.metadata or {}), DESCRIPTION_KEY: text}) if text else f)
    meta = dict(schema.metadata or {})
    if table_description:
        meta[DESCRIPTION_KEY] = table_description.encode()
    return pa.schema(fields, metadata=meta or None)
