"""Arrow types rendered as SQL type names in each dialect analysts see."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.types as pat

_DIALECT_NAMES = {
    "duckdb": {"bool": "BOOLEAN", "int8": "TINYINT", "int16": "SMALLINT", "int32": "INTEGER", "int64": "BIGINT",
               "uint8": "UTINYINT", "uint16": "USMALLINT", "uint32": "UINTEGER", "uint64": "UBIGINT",
               "float16": "FLOAT", "float32": "FLOAT", "float64": "DOUBLE", "string": "VARCHAR",
               "binary": "BLOB", "date": "DATE", "time": "TIME", "timestamp": "TIMESTAMP",
               "timestamptz": "TIMESTAMP WITH TIME ZONE", "interval": "INTERVAL", "json": "JSON",
               "uuid": "UUID", "null": "NULL"},
    "postgres": {"bool": "boolean", "int8": "smallint", "int16": "smallint", "int32": "integer", "int64": "bigint",
                 "uint8": "smallint", "uint16": "integer", "uint32": "bigint", "uint64": "numeric",
                 "float16": "real", "float32": "real", "float64": "double precision", "string": "text",
                 "binary": "bytea", "date": "date", "time": "time", "timestamp": "timestamp",
                 "timestamptz": "timestamptz", "interval": "interval", "json": "jsonb", "uuid": "uuid",
                 "null": "unknown"},
    "bigquery": {"bool": "BOOL", "int8": "INT64", "int16": "INT64", "int32": "INT64", "int64": "INT64",
                 "uint8": "INT64", "uint16": "INT64", "uint32": "INT64", "uint64": "NUMERIC",
                 "float16": "FLOAT64", "float32": "FLOAT64", "float64": "FLOAT64", "string": "STRING",
                 "binary": "BYTES", "date": "DATE", "time": "TIME", "timestamp": "DATETIME",
                 "timestamptz": "TIMESTAMP", "interval": "INTERVAL", "json": "JSON", "uuid": "STRING",
                 "null": "STRING"},
}


_NUMERIC = {
    pa.int8(): "int8", pa.int16(): "int16", pa.int32(): "int32", pa.int64(): "int64",
    pa.uint8(): "uint8", pa.uint16(): "uint16", pa.uint32(): "uint32", pa.uint64(): "uint64",
    pa.float16(): "float16", pa.float32(): "float32", pa.float64(): "float64",
}


def _key(t: pa.DataType) -> str | None:
    if pat.is_boolean(t):
        return "bool"
    if t in _NUMERIC:
        return _NUMERIC[t]
    if pat.is_string(t) or pat.is_large_string(t) or pat.is_string_view(t):
        return "string"
    if pat.is_binary(t) or pat.is_large_binary(t) or pat.is_fixed_size_binary(t) or pat.is_binary_view(t):
        return "binary"
    if pat.is_date(t):
        return "date"
    if pat.is_time(t):
        return "time"
    if pat.is_timestamp(t):
        return "timestamptz" if t.tz else "timestamp"
    if pat.is_interval(t) or pat.is_duration(t):
        return "interval"
    if pat.is_null(t):
        return "null"
    if isinstance(t, pa.ExtensionType):
        name = t.extension_name
        if name.endswith("json"):
            return "json"
        if name.endswith("uuid"):
            return "uuid"
    return None


def sql_type(t: pa.DataType, dialect: str = "duckdb") -> str:
    """The SQL name of an Arrow type in ``dialect`` (duckdb, postgres, bigquery)."""
    names = _DIALECT_NAMES.get(dialect, _DIALECT_NAMES["duckdb"])
    if pat.is_dictionary(t):
        return sql_type(t.value_type, dialect)
    if pat.is_decimal(t):
        return {"postgres": f"numeric({t.precision},{t.scale})", "bigquery": "BIGNUMERIC" if t.precision > 38
                else "NUMERIC"}.get(dialect, f"DECIMAL({t.precision},{t.scale})")
    if pat.is_list(t) or pat.is_large_list(t) or pat.is_fixed_size_list(t):
        inner = sql_type(t.value_type, dialect)
        return {"postgres": f"{inner}[]", "bigquery": f"ARRAY<{inner}>"}.get(dialect, f"{inner}[]")
    if pat.is_struct(t):
        fields = [(t.field(i).name, sql_type(t.field(i).type, dialect)) for i in range(t.num_fields)]
        if dialect == "bigquery":
            return "STRUCT<" + ", ".join(f"{n} {s}" for n, s in fields) + ">"
        if dialect == "postgres":
            return "record"
        return "STRUCT(" + ", ".join(f'"{n}" {s}' for n, s in fields) + ")"
    if pat.is_map(t):
        return f"MAP({sql_type(t.key_type, dialect)}, {sql_type(t.item_type, dialect)})"
    key = _key(t)
    return names.get(key, str(t).upper()) if key else str(t).upper()
