"""Arrow batches -> one zstd Parquet file, streamed, with memory bounded by the batch size.

A prefetch thread pulls the next batch from the source while the current one is
encoded (both release the GIL), so reading and writing overlap; the queue holds at
most ``PREFETCH`` batches.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

PREFETCH = 2
_DONE = object()


@dataclass
class WriteResult:
    rows: int
    size_bytes: int
    md5: str
    schema: pa.Schema
    max_value: Any = None  # max of the tracked column (incremental key), None if no rows


def md5_of(path: Path, chunk: int = 8 << 20) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def write_parquet(batches: Iterable[pa.RecordBatch], path: Path, *, schema: pa.Schema | None = None,
                  track_max: str | None = None, on_progress: Callable[[int], None] | None = None) -> WriteResult:
    """Write ``batches`` to ``path`` (created via a hidden temp file, then renamed).

    ``schema``: used when no batch arrives (an empty table still gets a valid file); its
    descriptions (field and schema ``description`` metadata) are written into the file.
    ``track_max``: a column whose maximum is returned (for incremental high-water marks).
    """
    tmp = path.with_name(f".{path.name}.tmp")
    known = schema
    q: queue.Queue[Any] = queue.Queue(maxsize=PREFETCH)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                if stop.is_set():
                    return
                q.put(batch)
            q.put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the writer thread, which re-raises it
            q.put(exc)

    producer = threading.Thread(target=produce, name="agnes-extract-read", daemon=True)
    producer.start()
    writer: pq.ParquetWriter | None = None
    rows = 0
    max_value: Any = None
    try:
        while True:
            item = q.get()
            if item is _DONE:
                break
            if isinstance(item, BaseException):
                raise item
            batch: pa.RecordBatch = item
            if writer is None:
                schema = _described(batch.schema, known)
                writer = pq.ParquetWriter(tmp, schema, compression="zstd")
            if batch.num_rows:
                writer.write_batch(batch)
                rows += batch.num_rows
                if track_max is not None:
                    candidate = pc.max(batch.column(track_max)).as_py()
                    if candidate is not None and (max_value is None or candidate > max_value):
                        max_value = candidate
                if on_progress is not None:
                    on_progress(rows)
        if writer is None:
            if schema is None:
                raise ValueError("the source yielded no batches and no schema is known")
            writer = pq.ParquetWriter(tmp, schema, compression="zstd")
        writer.close()
        writer = None
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        stop.set()
        _drain(q)
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
        raise
    finally:
        producer.join(timeout=5)
    assert schema is not None
    return WriteResult(rows, path.stat().st_size, md5_of(path), schema, max_value)


def _drain(q: queue.Queue[Any]) -> None:
    """Unblock a producer waiting on a full queue."""
    try:
        while True:
            q.get_nowait()
    except queue.Empty:
        pass


def _described(schema: pa.Schema, known: pa.Schema | None) -> pa.Schema:
    """``schema`` carrying the descriptions of ``known`` (the source's schema of the table)."""
    if known is None:
        return schema
    from agnes_core.connectors.base import SOURCE_CHANGED_AT_KEY
    from agnes_core.discovery.parquet_stats import DESCRIPTION_KEY, with_descriptions

    table_text = (known.metadata or {}).get(DESCRIPTION_KEY)
    described = with_descriptions(schema, known, table_text.decode("utf-8", "replace") if table_text else None)
    changed = (known.metadata or {}).get(SOURCE_CHANGED_AT_KEY)
    if changed:  # when the source's data last changed, kept in the file for the catalog
        described = described.with_metadata({**(described.metadata or {}), SOURCE_CHANGED_AT_KEY: changed})
    return described


def schema_json(schema: pa.Schema) -> list[dict[str, Any]]:
    return [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema]


def diff_schemas(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Added, removed and type-changed columns between two schema_json lists; None if equal."""
    before = {c["name"]: c["type"] for c in old}
    after = {c["name"]: c["type"] for c in new}
    added = [n for n in after if n not in before]
    removed = [n for n in before if n not in after]
    changed = [{"name": n, "from": before[n], "to": after[n]} for n in after if n in before and before[n] != after[n]]
    if not (added or removed or changed):
        return None
    return {"added": added, "removed": removed, "type_changed": changed}
