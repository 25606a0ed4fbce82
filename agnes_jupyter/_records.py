"""A list of records with a rich notebook display, a text display and ``to_pandas()``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ._collection import Collection
from ._display import esc

Formatter = Callable[[Any], str]


class Records(Collection[dict[str, Any]]):
    """Rows (dicts) shown as a table; ``columns`` chooses and orders what is displayed, and the
    first column (or ``key``) is the id ``records["..."]`` looks up."""

    noun = "row"
    #: For a page of a longer list (the audit log): the offset of the next page, None on the last.
    next_offset: int | None = None

    def __init__(self, rows: list[dict[str, Any]], columns: Sequence[str], title: str = "",
                 formatters: dict[str, Formatter] | None = None, raw_html: dict[str, Formatter] | None = None,
                 key: str | None = None) -> None:
        super().__init__(rows)
        self.rows = self.items
        self.columns = list(columns)
        self.title = title
        self._key = key or (self.columns[0] if self.columns else "id")
        self._formatters = formatters or {}
        self._raw_html = raw_html or {}

    def _id(self, item: dict[str, Any]) -> str:
        value = item.get(self._key)
        return "" if value is None else str(value)

    def _cell_of(self, row: dict[str, Any], column: str) -> str:
        value = row.get(column)
        if column in self._formatters:
            return self._formatters[column](value)
        return self._cell(value)

    def _headers(self) -> list[str]:
        return self.columns

    def _row(self, item: dict[str, Any]) -> list[str]:
        return [self._cell_of(item, c) for c in self.columns]

    def _heading(self) -> str:
        return f"{self.title} — {len(self.rows)} row(s)" if self.title else f"{len(self.rows)} row(s)"

    def _empty_text(self) -> str:
        return self._heading()

    def _html_rows(self) -> list[list[str]]:
        return [[self._raw_html[c](row.get(c)) if c in self._raw_html else esc(self._cell_of(row, c))
                 for c in self.columns] for row in self.rows]

    def _html_body(self) -> str:
        from ._display import html_table

        return html_table(self.columns, self._html_rows(), caption=self._heading() if self.title else "",
                          raw_columns=frozenset(range(len(self.columns))))
