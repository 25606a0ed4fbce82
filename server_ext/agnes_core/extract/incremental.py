"""Incremental extracts: the high-water mark kept with its type, and a run's new rows merged into
the previous file by primary key."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from agnes_core.errors import ValidationError
from agnes_core.extract.parquet_sink import WriteResult
from agnes_core.store import duck
from agnes_core.store.state import dumps, loads


def sql_str(text: str) -> str:
    """A SQL string literal (paths the runtime wrote itself)."""
    return "'" + text.replace("'", "''") + "'"


def _col(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def encode_value(value: Any) -> str:
    """A high-water mark as JSON text that keeps its type."""
    if isinstance(value, bool) or value is None:
        raise ValidationError("incremental_key", f"cannot use {value!r} as an incremental high-water mark")
    if isinstance(value, int):
        kind, text = "int", str(value)
    elif isinstance(value, float):
        kind, text = "float", repr(value)
    elif isinstance(value, Decimal):
        kind, text = "decimal", str(value)
    elif isinstance(value, datetime):
        kind, text = "datetime", value.isoformat()
    elif isinstance(value, date):
        kind, text = "date", value.isoformat()
    else:
        kind, text = "str", str(value)
    return dumps({"type": kind, "value": text})


_DECODERS: dict[str, Callable[[str], Any]] = {
    "int": int, "float": float, "decimal": Decimal, "datetime": datetime.fromisoformat,
    "date": date.fromisoformat, "str": str,
}


def decode_value(text: str) -> Any:
    payload = loads(text)
    return _DECODERS[payload["type"]](payload["value"])


def merge_by_key(old: Path, new: Path, target: Path, primary_key: list[str], new_write: WriteResult) -> WriteResult:
    """Previous rows (minus those replaced by primary key) + the new rows, into ``target``."""
    from agnes_core.extract.parquet_sink import md5_of

    con = duck.connect()
    try:
        con.execute("SET memory_limit = '512MB'")
        if primary_key:
            cond = " AND ".join(f"n.{_col(k)} = o.{_col(k)}" for k in primary_key)
            keep_old = (f"SELECT o.* FROM read_parquet({sql_str(str(old))}) o WHERE NOT EXISTS "
                        f"(SELECT 1 FROM read_parquet({sql_str(str(new))}) n WHERE {cond})")
        else:
            keep_old = f"SELECT * FROM read_parquet({sql_str(str(old))})"
        tmp = target.with_name(f".{target.name}.tmp")
        con.execute(f"COPY ({keep_old} UNION ALL BY NAME SELECT * FROM read_parquet({sql_str(str(new))})) "
                    f"TO {sql_str(str(tmp))} (FORMAT parquet, COMPRESSION zstd)")
        rows = con.execute(f"SELECT count(*) FROM read_parquet({sql_str(str(tmp))})").fetchone()
        schema = con.execute(f"SELECT * FROM read_parquet({sql_str(str(tmp))}) LIMIT 0").to_arrow_table().schema
    finally:
        con.close()
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    return WriteResult(int(rows[0]) if rows else 0, target.stat().st_size, md5_of(target), schema,
                       new_write.max_value)
