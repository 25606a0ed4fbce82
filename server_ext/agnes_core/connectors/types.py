"""How a connector names Arrow types in its SQL dialect.

Arrow types are sorted into a few kinds here (generic); each connector class says what each kind
is called in its dialect (``Connector.type_names`` and the compound-type hooks), so the core never
knows a dialect. Extracted tables are queried in the analyst's local DuckDB: they use
:data:`DUCKDB_NAMES` (the lake connector's names too)."""

from __future__ import annotations

from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.types as pat
from sqlglot import exp

#: DuckDB's type names: the lake connector's, and the analyst's local engine's.
DUCKDB_NAMES = {
    "bool": "BOOLEAN", "int8": "TINYINT", "int16": "SMALLINT", "int32": "INTEGER", "int64": "BIGINT",
    "uint8": "UTINYINT", "uint16": "USMALLINT", "uint32": "UINTEGER", "uint64": "UBIGINT",
    "float16": "FLOAT", "float32": "FLOAT", "float64": "DOUBLE", "string": "VARCHAR",
    "binary": "BLOB", "date": "DATE", "time": "TIME", "timestamp": "TIMESTAMP",
    "timestamptz": "TIMESTAMP WITH TIME ZONE", "interval": "INTERVAL", "json": "JSON",
    "uuid": "UUID", "null": "NULL",
}
#: DuckDB's habits, as analysts should know them.
DUCKDB_NOTES: dict[str, Any] = {
    "identifier_quote": '"', "string_quote": "'",
    "notes": ["Identifiers are case-insensitive; double-quote names with special characters.",
              "Dates: DATE '2026-01-31'; timestamps: TIMESTAMP '2026-01-31 12:00:00'."]}
#: The dialect of extracted tables (the kernel's DuckDB).
LOCAL_DIALECT = "duckdb"

_NUMERIC = {
    pa.int8(): "int8", pa.int16(): "int16", pa.int32(): "int32", pa.int64(): "int64",
    pa.uint8(): "uint8", pa.uint16(): "uint16", pa.uint32(): "uint32", pa.uint64(): "uint64",
    pa.float16(): "float16", pa.float32(): "float32", pa.float64(): "float64",
}


def kind(t: pa.DataType) -> str | None:
    """The kind of a scalar Arrow type (a key of ``type_names``), or None."""
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


class TypeNaming:
    """Names Arrow types in one dialect. The defaults are DuckDB's spellings of compound types;
    a connector overrides what its dialect spells differently."""

    type_names: ClassVar[dict[str, str]] = DUCKDB_NAMES
    #: What analysts should know about writing SQL in this dialect (shown with the schema).
    dialect_notes: ClassVar[dict[str, Any]] = {"identifier_quote": '"', "string_quote": "'", "notes": []}

    @classmethod
    def decimal_type(cls, precision: int, scale: int) -> str:
        return f"DECIMAL({precision},{scale})"

    @classmethod
    def list_type(cls, inner: str) -> str:
        return f"{inner}[]"

    @classmethod
    def struct_type(cls, fields: list[tuple[str, str]]) -> str:
        return "STRUCT(" + ", ".join(f'"{n}" {s}' for n, s in fields) + ")"

    @classmethod
    def map_type(cls, key: str, value: str) -> str:
        return f"MAP({key}, {value})"

    @classmethod
    def sql_type(cls, t: pa.DataType) -> str:
        """The SQL name of an Arrow type in this dialect."""
        if pat.is_dictionary(t):
            return cls.sql_type(t.value_type)
        if pat.is_decimal(t):
            return cls.decimal_type(t.precision, t.scale)
        if pat.is_list(t) or pat.is_large_list(t) or pat.is_fixed_size_list(t):
            return cls.list_type(cls.sql_type(t.value_type))
        if pat.is_struct(t):
            return cls.struct_type([(t.field(i).name, cls.sql_type(t.field(i).type)) for i in range(t.num_fields)])
        if pat.is_map(t):
            return cls.map_type(cls.sql_type(t.key_type), cls.sql_type(t.item_type))
        found = kind(t)
        return cls.type_names.get(found, str(t).upper()) if found else str(t).upper()

    #: Whether :meth:`fail_if` and :meth:`byte_length` are written for this dialect (the validator
    #: bounds values built from data counts only where the engine can be stopped from inside).
    guards_values: ClassVar[bool] = False

    @classmethod
    def fail_if(cls, over: exp.Expr, value: exp.Expr, message: str) -> exp.Expr:
        """``value``, or the query stops with ``message`` when ``over`` holds (DuckDB: error())."""
        fail = exp.Anonymous(this="error", expressions=[exp.Literal.string(message)])
        return exp.Case(ifs=[exp.If(this=over, true=fail)], default=value)

    @classmethod
    def byte_length(cls, e: exp.Expr) -> exp.Expr:
        """The size of a value in bytes, in SQL (DuckDB: strlen of its text)."""
        return exp.Anonymous(this="strlen", expressions=[exp.Cast(this=e, to=exp.DataType.build("VARCHAR"))])

    @classmethod
    def column_type(cls, field: pa.Field) -> str:
        """The SQL type of a column as analysts see it (a connector may use what its source said)."""
        return cls.sql_type(field.type)


class LocalTypes(TypeNaming):
    """Extracted tables, as the analyst's DuckDB names their columns."""

    dialect = LOCAL_DIALECT
    dialect_notes = DUCKDB_NOTES
    guards_values = True
