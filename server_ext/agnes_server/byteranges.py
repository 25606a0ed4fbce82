"""Conditional and partial GETs of a file: ``If-None-Match`` against a strong ETag and one
``Range`` (RFC 9110 §13.1.2, §14.2). Small and pure, so every case is tested on its own."""

from __future__ import annotations

import re

from agnes_core.errors import AgnesError

_RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


def not_modified(if_none_match: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (weak comparison, as GET uses) or is ``*``."""
    if not if_none_match:
        return False
    wanted = etag.removeprefix("W/")
    tags = (t.strip() for t in if_none_match.split(","))
    return any(tag == "*" or tag.removeprefix("W/") == wanted for tag in tags)


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive ``(start, end)`` a ``Range`` header asks of a ``size``-byte file, or ``None``
    for the whole file. Only one range is served; a range that cannot be satisfied (or several)
    raises ``range_not_satisfiable`` with the size, which the handler answers with 416."""
    if header is None or not header.strip():
        return None
    m = _RANGE_RE.match(header)
    if m is None or (not m.group(1) and not m.group(2)):
        raise AgnesError("only one byte range like 'bytes=100-' is supported", code="range_not_satisfiable",
                         details={"size": size})
    if m.group(1):
        start = int(m.group(1))
        end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
        if m.group(2) and int(m.group(2)) < start:
            raise AgnesError(f"range {header.strip()!r} ends before it starts", code="range_not_satisfiable",
                             details={"size": size})
    else:  # a suffix: the last N bytes
        suffix = int(m.group(2))
        if suffix == 0:
            raise AgnesError("a suffix range of 0 bytes selects nothing", code="range_not_satisfiable",
                             details={"size": size})
        start, end = max(size - suffix, 0), size - 1
    if start >= size:
        raise AgnesError(f"range {header.strip()!r} is outside the file's {size} bytes", code="range_not_satisfiable",
                         details={"size": size})
    return start, end
