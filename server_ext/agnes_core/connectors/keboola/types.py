"""Keboola column types -> Arrow, from the table detail the Storage API returns.

A column's type comes from, in this order: the typed table's own ``definition`` (``isTyped``
tables: ``definition.columns[].basetype`` and ``definition.type``/``length``/``nullable``), then
the column metadata Keboola and its components write — ``KBC.datatype.basetype`` (STRING,
INTEGER, NUMERIC, FLOAT, BOOLEAN, DATE, TIMESTAMP), ``KBC.datatype.type`` (the backend's type,
e.g. ``NUMBER``, ``TIMESTAMP_NTZ``), ``KBC.datatype.length`` (``38,2`` for NUMERIC) and
``KBC.datatype.nullable`` — with the ``user`` provider's values first (what an admin set in the
UI wins over what a component guessed), then the newest. A column nobody typed is a string.
Descriptions are the ``KBC.description`` metadata of the table and of each column.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from agnes_core.connectors.base import changed_at_metadata

DESCRIPTION = "KBC.description"
BASETYPE = "KBC.datatype.basetype"
NATIVE_TYPE = "KBC.datatype.type"
LENGTH = "KBC.datatype.length"
NULLABLE = "KBC.datatype.nullable"
#: Field metadata keys this connector writes (read back by ``column_type`` and the reader).
FIELD_BASETYPE = b"keboola.basetype"
FIELD_NATIVE = b"keboola.type"
FIELD_DESCRIPTION = b"description"

#: Backend types of timestamps with a zone: Snowflake's TIMESTAMP_TZ/_LTZ, Postgres' TIMESTAMPTZ, BigQuery's
#: TIMESTAMP is not told apart (Keboola's basetype says TIMESTAMP for all): NTZ and plain are naive.
_ZONED_NATIVE = re.compile(r"(^|_)L?TZ\b|TIMESTAMPL?TZ|WITH (LOCAL )?TIME ZONE")
_DECIMAL_LENGTH = re.compile(r"^\s*(\d{1,2})\s*(?:,\s*(\d{1,2})\s*)?$")


def _pick(entries: Sequence[Mapping[str, Any]] | None, key: str) -> str | None:
    """The value of ``key`` among metadata entries: the ``user`` provider's first, else the newest."""
    found = [e for e in entries or () if e.get("key") == key and e.get("value") not in (None, "")]
    if not found:
        return None
    found.sort(key=lambda e: (e.get("provider") == "user", str(e.get("timestamp") or "")), reverse=True)
    return str(found[0]["value"])


def table_description(table: Mapping[str, Any]) -> str:
    return _pick(table.get("metadata"), DESCRIPTION) or ""


def arrow_type(basetype: str | None, native: str | None, length: str | None) -> pa.DataType:
    """The Arrow type of one Keboola column."""
    base = (basetype or "STRING").upper()
    native_up = (native or "").upper()
    if base == "INTEGER":
        return pa.int64()
    if base == "NUMERIC":
        match = _DECIMAL_LENGTH.match(length or "")
        if match:
            precision = max(1, min(38, int(match.group(1))))
            scale = min(precision, int(match.group(2) or 0))
            return pa.int64() if scale == 0 and precision <= 18 else pa.decimal128(precision, scale)
        return pa.float64()  # NUMERIC of unknown scale: a double rather than a guessed decimal
    if base == "FLOAT":
        return pa.float64()
    if base == "BOOLEAN":
        return pa.bool_()
    if base == "DATE":
        return pa.date32()
    if base == "TIMESTAMP":
        return pa.timestamp("us", tz="UTC") if _ZONED_NATIVE.search(native_up) else pa.timestamp("us")
    return pa.string()


def _definition_columns(table: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    definition = table.get("definition") or {}
    out: dict[str, dict[str, Any]] = {}
    for col in definition.get("columns") or ():
        if isinstance(col, dict) and col.get("name"):
            out[str(col["name"])] = col
    return out


def column_field(name: str, table: Mapping[str, Any]) -> pa.Field:
    """One column of a Storage API table detail as an Arrow field (type, nullability, description)."""
    entries = (table.get("columnMetadata") or {}).get(name) or []
    typed = _definition_columns(table).get(name)
    if typed is not None:
        spec = typed.get("definition") or {}
        basetype = typed.get("basetype")
        native, length = spec.get("type"), spec.get("length")
        nullable_text: Any = spec.get("nullable", True)
    else:
        basetype, native = _pick(entries, BASETYPE), _pick(entries, NATIVE_TYPE)
        length, nullable_text = _pick(entries, LENGTH), _pick(entries, NULLABLE)
    t = arrow_type(basetype, native, None if length is None else str(length))
    nullable = not (nullable_text is False or str(nullable_text).strip().lower() in ("0", "false", "no"))
    meta = {FIELD_BASETYPE: str(basetype or "STRING").upper().encode()}
    if native:
        meta[FIELD_NATIVE] = (f"{native}({length})" if length and "(" not in str(native) else str(native)).encode()
    description = _pick(entries, DESCRIPTION)
    if description:
        meta[FIELD_DESCRIPTION] = description.encode()
    # Keboola stores NULL and the empty string alike in its CSV exports: a typed column marked
    # not nullable may still hold empty cells, so only strings keep non-null.
    return pa.field(name, t, nullable=nullable or not pa.types.is_string(t), metadata=meta)


def arrow_schema(table: Mapping[str, Any]) -> pa.Schema:
    """The schema of a Storage API table detail (``columns`` in order), described, with the
    primary key and the source's change times in the schema's metadata."""
    fields = [column_field(str(c), table) for c in table.get("columns") or ()]
    meta: dict[bytes, bytes] = {}
    text = table_description(table)
    if text:
        meta[b"description"] = text.encode()
    if table.get("primaryKey"):
        meta[b"primary_key"] = json.dumps(list(table["primaryKey"])).encode()
    for key in ("lastImportDate", "lastChangeDate"):
        if table.get(key):
            meta[f"keboola.{key}".encode()] = str(table[key]).encode()
    meta.update(changed_at_metadata(changed_at(table)))
    return pa.schema(fields, metadata=meta or None)


def changed_at(table: Mapping[str, Any]) -> dt.datetime | None:
    """When the table's data last changed: ``lastChangeDate`` (else ``lastImportDate``), which the
    Storage API writes as ISO 8601 with an offset (``2024-05-02T10:11:12+0200``), in UTC."""
    for key in ("lastChangeDate", "lastImportDate"):
        value = table.get(key)
        if not isinstance(value, str) or not value:
            continue
        text = value.strip().replace("Z", "+00:00")
        if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():  # +0200 -> +02:00
            text = f"{text[:-2]}:{text[-2:]}"
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            continue
        return when.astimezone(dt.timezone.utc) if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)
    return None


def csv_types(schema: pa.Schema) -> dict[str, pa.DataType]:
    """What the CSV reader converts each column to: zoned timestamps are read as text and
    converted afterwards (Keboola writes ``2024-01-02 03:04:05.000 +0000``, a space before the
    offset, which Arrow's ISO 8601 parser refuses)."""
    return {f.name: (pa.string() if _zoned(f.type) else f.type) for f in schema}


def _zoned(t: pa.DataType) -> bool:
    return pa.types.is_timestamp(t) and t.tz is not None


def finish_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """A batch as the CSV reader gave it, with zoned timestamps converted and the schema's fields."""
    if not any(_zoned(f.type) for f in schema):
        return batch if batch.schema.equals(schema) else pa.RecordBatch.from_arrays(batch.columns, schema=schema)
    columns = []
    for f, col in zip(schema, batch.columns, strict=True):
        if _zoned(f.type):
            col = zoned_timestamps(col, f.type)
        columns.append(col)
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def zoned_timestamps(text: pa.Array, t: pa.DataType) -> pa.Array:
    """Text timestamps with an offset (``+0000``, ``+01:00``, ``Z``, maybe after a space) or none
    (taken as UTC) -> a zoned timestamp array."""
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)  # an empty cell is NULL
    normal = pc.replace_substring_regex(text, r"\s*([+-]\d{2}):?(\d{2})$", r"\1\2")
    has_zone = pc.match_substring_regex(normal, r"([+-]\d{4}|Z)$")
    normal = pc.if_else(has_zone, normal, pc.binary_join_element_wise(normal, "Z", ""))
    return pc.cast(normal, t)
