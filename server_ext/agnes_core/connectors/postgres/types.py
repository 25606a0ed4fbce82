"""PostgreSQL column types -> faithful Arrow types, and how to read each column.

A column is read either natively by DuckDB's scanner (``expr`` applies a lossless
DuckDB-side cast when needed), or — when only PostgreSQL can convert it without
loss — with a PostgreSQL-side cast (``pg_cast``), which makes the whole read go
through ``postgres_query``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

SIMPLE = {
    "int2": pa.int16(), "int4": pa.int32(), "int8": pa.int64(), "oid": pa.int64(),
    "float4": pa.float32(), "float8": pa.float64(), "bool": pa.bool_(),
    "text": pa.string(), "varchar": pa.string(), "bpchar": pa.string(), "name": pa.string(), "citext": pa.string(),
    "date": pa.date32(), "timestamp": pa.timestamp("us"), "timestamptz": pa.timestamp("us", tz="UTC"),
    "time": pa.time64("us"), "bytea": pa.binary(), "uuid": pa.uuid(),
}
JSON_TYPES = ("json", "jsonb")
#: Unconstrained numeric has no fixed scale; read as DECIMAL(38, 10) unless configured otherwise.
UNCONSTRAINED_NUMERIC = {"decimal": (pa.decimal128(38, 10), "numeric(38,10)"),
                         "double": (pa.float64(), "float8"),
                         "text": (pa.string(), "text")}


#: The field metadata key holding PostgreSQL's own type name of a column (format_type).
NATIVE_TYPE = b"postgres_type"


@dataclass(frozen=True)
class ColumnPlan:
    name: str
    arrow: pa.DataType
    nullable: bool
    pg_type: str  # format_type(), e.g. numeric(12,2), integer[]
    expr_cast: str | None = None  # a DuckDB-side cast ('JSON', 'VARCHAR')
    pg_cast: str | None = None  # a PostgreSQL-side cast ('numeric(38,10)', 'text')
    description: str | None = None

    @property
    def field(self) -> pa.Field:
        meta = {NATIVE_TYPE: self.pg_type.encode()}
        if self.description:
            meta[b"description"] = self.description.encode()
        return pa.field(self.name, self.arrow, nullable=self.nullable, metadata=meta)


def _numeric(typmod: int, unconstrained: str) -> tuple[pa.DataType, str | None]:
    if typmod < 4:
        return UNCONSTRAINED_NUMERIC[unconstrained]
    precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
    if precision <= 38:
        return pa.decimal128(precision, scale), None
    return pa.string(), "text"  # beyond DECIMAL(38): exact digits as text


def plan_column(name: str, typname: str, typmod: int, nullable: bool, pg_type: str, elem_typname: str | None,
                *, unconstrained_numeric: str = "decimal", description: str | None = None) -> ColumnPlan:
    """How to read one column; unknown types (enums, inet, money, geometry, ...) become text."""
    if typname == "numeric":
        arrow, pg_cast = _numeric(typmod, unconstrained_numeric)
        return ColumnPlan(name, arrow, nullable, pg_type, pg_cast=pg_cast, description=description)
    if typname in SIMPLE:
        return ColumnPlan(name, SIMPLE[typname], nullable, pg_type, description=description)
    if typname in JSON_TYPES:
        return ColumnPlan(name, pa.json_(), nullable, pg_type, expr_cast="JSON", description=description)
    if typname == "interval":
        return ColumnPlan(name, pa.string(), nullable, pg_type, expr_cast="VARCHAR", description=description)
    if elem_typname is not None:
        if elem_typname in SIMPLE and elem_typname not in ("uuid", "bytea"):
            return ColumnPlan(name, pa.list_(SIMPLE[elem_typname]), nullable, pg_type, description=description)
        if elem_typname == "numeric" and typmod >= 4:
            arrow, cast = _numeric(typmod, unconstrained_numeric)
            if cast is None:
                return ColumnPlan(name, pa.list_(arrow), nullable, pg_type, description=description)
        return ColumnPlan(name, pa.list_(pa.string()), nullable, pg_type, pg_cast="text[]", description=description)
    return ColumnPlan(name, pa.string(), nullable, pg_type, pg_cast="text", description=description)
