"""What a SQL cell answers with: an ibis table that shows its first rows, the total row count,
the time it took and (for remote scans) the bytes scanned."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import ibis.expr.types as ir

from ._display import esc, html_table, human_bytes, human_count, muted, text_table

DEFAULT_ROWS = 10


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")) or abs(value) >= 1e15 or (
                value != 0 and abs(value) < 1e-4):
            return repr(value)
        return f"{value:.4f}".rstrip("0").rstrip(".")  # 75367312.45, 0.5, 3
    if isinstance(value, (dt.date, dt.datetime, decimal.Decimal)):
        return str(value)
    text = str(value)
    return text if len(text) <= 200 else text[:199] + "…"


class ResultTable(ir.Table):
    """An ibis table (filter it, join it, ``to_pandas()`` it) whose notebook display is its first
    rows with the total row count, the elapsed time and what was scanned."""

    __slots__ = ("_agnes",)

    def __init__(self, table: ir.Table, *, rows: int, preview: Any, seconds: float,
                 scanned_bytes: int | None = None, title: str = "") -> None:
        super().__init__(table.op())
        object.__setattr__(self, "_agnes", {"rows": rows, "preview": preview, "seconds": seconds,
                                           "scanned": scanned_bytes, "title": title})

    @property
    def total_rows(self) -> int:
        return int(self._agnes["rows"])

    def _summary(self) -> str:
        info = self._agnes
        shown = info["preview"].num_rows
        parts = [f"{human_count(info['rows'])} row{'s' if info['rows'] != 1 else ''}"]
        if shown < info["rows"]:
            parts[0] += f" (first {shown} shown)"
        parts.append(f"{info['seconds']:.2f} s" if info["seconds"] >= 0.1 else f"{info['seconds'] * 1000:.0f} ms")
        if info["scanned"] is not None:
            parts.append(f"scanned {human_bytes(info['scanned'])}")
        title = f"{info['title']}: " if info["title"] else ""
        return title + " · ".join(parts)

    def _cells(self) -> tuple[list[str], list[list[str]]]:
        preview = self._agnes["preview"]
        headers = list(preview.column_names)
        rows = [[_cell(v) for v in row.values()] for row in preview.to_pylist()]
        return headers, rows

    def __repr__(self) -> str:
        headers, rows = self._cells()
        return self._summary() + ("\n" + text_table(headers, rows) if headers else "")

    def _repr_html_(self) -> str:
        headers, rows = self._cells()
        table = html_table(headers, rows) if headers else ""
        return (f'<div class="agnes-result">{table}<div style="{muted()};font-size:90%">'
                f"{esc(self._summary())}</div></div>")

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": repr(self), "text/html": self._repr_html_()}


def shown(table: ir.Table, n: int, seconds: float, *, title: str = "", scanned_bytes: int | None = None,
          arrow: Any = None) -> ResultTable:
    """``table`` as a :class:`ResultTable`: the first ``n`` rows and the row count (from ``arrow``
    when the whole result is already in memory, else two small queries)."""
    import time

    started = time.perf_counter()
    if arrow is not None:
        rows, preview = arrow.num_rows, arrow.slice(0, n)
    else:
        rows = int(table.count().execute())
        preview = table.limit(n).to_pyarrow() if n > 0 else table.limit(0).to_pyarrow()
    seconds += time.perf_counter() - started
    return ResultTable(table, rows=rows, preview=preview, seconds=seconds, scanned_bytes=scanned_bytes, title=title)
