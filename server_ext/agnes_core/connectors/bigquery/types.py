"""BigQuery column types as Arrow types (what the Storage Read API and REST results give)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

_SCALAR = {
    "INTEGER": pa.int64(), "INT64": pa.int64(), "FLOAT": pa.float64(), "FLOAT64": pa.float64(),
    "BOOLEAN": pa.bool_(), "BOOL": pa.bool_(), "STRING": pa.string(), "BYTES": pa.binary(),
    "DATE": pa.date32(), "DATETIME": pa.timestamp("us"), "TIME": pa.time64("us"),
    "TIMESTAMP": pa.timestamp("us", tz="UTC"), "NUMERIC": pa.decimal128(38, 9), "DECIMAL": pa.decimal128(38, 9),
    "BIGNUMERIC": pa.decimal256(76, 38), "BIGDECIMAL": pa.decimal256(76, 38), "GEOGRAPHY": pa.string(),
    "JSON": pa.string(), "INTERVAL": pa.string(),
}
#: BigQuery's documented logical sizes (bytes per value) for what a query is billed by.
LOGICAL_BYTES = {"INTEGER": 8, "INT64": 8, "FLOAT": 8, "FLOAT64": 8, "BOOLEAN": 1, "BOOL": 1, "DATE": 8,
                 "DATETIME": 8, "TIME": 8, "TIMESTAMP": 8, "NUMERIC": 16, "DECIMAL": 16, "BIGNUMERIC": 32,
                 "BIGDECIMAL": 32, "INTERVAL": 16}
NATIVE_TYPE = b"bigquery_type"


def arrow_type(field: Any) -> pa.DataType:
    """The Arrow type of a ``google.cloud.bigquery.SchemaField``."""
    kind = str(field.field_type).upper()
    if kind in ("RECORD", "STRUCT"):
        inner: pa.DataType = pa.struct([arrow_field(f) for f in field.fields])
    elif kind == "RANGE":
        element = _SCALAR.get(str((getattr(field, "range_element_type", None) and
                                  field.range_element_type.element_type) or "DATE").upper(), pa.date32())
        inner = pa.struct([pa.field("start", element), pa.field("end", element)])
    else:
        inner = _SCALAR.get(kind, pa.string())
    return pa.list_(inner) if field.mode == "REPEATED" else inner


def arrow_field(field: Any) -> pa.Field:
    meta = {NATIVE_TYPE: str(field.field_type).upper().encode()}
    if field.description:
        meta[b"description"] = str(field.description).encode()
    return pa.field(field.name, arrow_type(field), nullable=field.mode != "REQUIRED", metadata=meta)


def arrow_schema(fields: list[Any], description: str | None = None) -> pa.Schema:
    return pa.schema([arrow_field(f) for f in fields],
                     metadata={b"description": description.encode()} if description else None)


def logical_row_bytes(fields: list[Any]) -> int:
    """A row's logical size from the column types (strings and bytes counted at BigQuery's 2-byte
    minimum): a lower bound, used only when the service reports no size."""
    total = 0
    for f in fields:
        kind = str(f.field_type).upper()
        if kind in ("RECORD", "STRUCT"):
            total += logical_row_bytes(list(f.fields))
        else:
            total += LOGICAL_BYTES.get(kind, 2)
    return total
