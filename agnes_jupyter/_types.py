"""Column types as the schema endpoint sends them (``arrow_type``: pyarrow's own spelling, the
same for every source — the connector on the server maps its dialect's types to Arrow), read
back into pyarrow types and from there into ibis dtypes. No SQL dialect is known here."""

from __future__ import annotations

import re
from typing import Any

_TIMESTAMP = re.compile(r"^timestamp\[(s|ms|us|ns)(?:, tz=(.+))?\]$")
_TIME = re.compile(r"^time(32|64)\[(s|ms|us|ns)\]$")
_DECIMAL = re.compile(r"^decimal(128|256)\((\d+), ?(-?\d+)\)$")
_DURATION = re.compile(r"^duration\[(s|ms|us|ns)\]$")
_FIXED = re.compile(r"^fixed_size_binary\[(\d+)\]$")


def _split_top(text: str) -> list[str]:
    """``a: int64, b: list<item: string>`` -> its top-level comma-separated parts."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "<([":
            depth += 1
        elif ch in ">)]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    if text[start:].strip():
        parts.append(text[start:].strip())
    return parts


def arrow_type(text: str) -> Any:
    """pyarrow type from its string form (``str(pa_type)``); ``ValueError`` if it cannot be read."""
    import pyarrow as pa

    text = text.strip()
    if m := _TIMESTAMP.match(text):
        return pa.timestamp(m.group(1), tz=m.group(2))
    if m := _TIME.match(text):
        return (pa.time32 if m.group(1) == "32" else pa.time64)(m.group(2))
    if m := _DECIMAL.match(text):
        return (pa.decimal128 if m.group(1) == "128" else pa.decimal256)(int(m.group(2)), int(m.group(3)))
    if m := _DURATION.match(text):
        return pa.duration(m.group(1))
    if m := _FIXED.match(text):
        return pa.binary(int(m.group(1)))
    for prefix, make in (("list<", pa.list_), ("large_list<", pa.large_list)):
        if text.startswith(prefix) and text.endswith(">"):
            inner = text[len(prefix):-1]
            field = inner.split(":", 1)[1] if ":" in inner.split("<", 1)[0] else inner
            return make(arrow_type(field))
    if text.startswith("struct<") and text.endswith(">"):
        fields = []
        for part in _split_top(text[len("struct<"):-1]):
            name, _, kind = part.partition(":")
            fields.append(pa.field(name.strip(), arrow_type(kind)))
        return pa.struct(fields)
    if text.startswith("map<") and text.endswith(">"):
        key, value = _split_top(text[len("map<"):-1])
        return pa.map_(arrow_type(key), arrow_type(value))
    return pa.type_for_alias(text)


def ibis_dtype(column: dict[str, Any]) -> Any:
    """The ibis dtype of a column of the schema endpoint (text when its type cannot be read)."""
    import ibis

    try:
        dtype = ibis.dtype(arrow_type(str(column["arrow_type"])))
    except Exception:  # noqa: BLE001 - an exotic type: keep the column usable as text
        dtype = ibis.dtype("string")
    return dtype.copy(nullable=bool(column.get("nullable", True)))
