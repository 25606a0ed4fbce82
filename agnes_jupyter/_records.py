"""A list of records with a rich notebook display, a text display and ``to_pandas()``."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ._display import esc, html_table, text_table

if TYPE_CHECKING:
    import pandas as pd

Formatter = Callable[[Any], str]


class Records:
    """Rows (dicts) shown as a table; ``columns`` chooses and orders what is displayed."""

    def __init__(self, rows: list[dict[str, Any]], columns: Sequence[str], title: str = "",
                 formatters: dict[str, Formatter] | None = None, raw_html: dict[str, Formatter] | None = None) -> None:
        self.rows = rows
        self.columns = list(columns)
        self.title = title
        self._formatters = formatters or {}
        self._raw_html = raw_html or {}

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.rows[index]

    def to_pandas(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.rows)

    def _cell(self, row: dict[str, Any], column: str) -> str:
        value = row.get(column)
        if column in self._formatters:
            return self._formatters[column](value)
        if value is None:
            return ""
        if isinstance(value, (list, tuple)):
            return ", ".join(str(v) for v in value)
        return str(value)

    def __repr__(self) -> str:
        head = f"{self.title} — {len(self.rows)} row(s)" if self.title else f"{len(self.rows)} row(s)"
        if not self.rows:
            return head
        return head + "\n" + text_table(self.columns, [[self._cell(r, c) for c in self.columns] for r in self.rows])

    def _repr_html_(self) -> str:
        cells = []
        for row in self.rows:
            cells.append([self._raw_html[c](row.get(c)) if c in self._raw_html else esc(self._cell(row, c))
                          for c in self.columns])
        caption = f"{self.title} — {len(self.rows)} row(s)" if self.title else ""
        return html_table(self.columns, cells, caption=caption, raw_columns=frozenset(range(len(self.columns))))
