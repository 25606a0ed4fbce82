"""The catalog as the kernel shows it: a list of table entries with rich displays."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ._discovery import FRESHNESS_TITLES
from ._display import badge, esc, html_table, human_age, human_bytes, human_count, text_table

if TYPE_CHECKING:
    import pandas as pd

MODE_TITLES = {
    "local": "synced to your workspace",
    "remote": "stays in the source; scanned through the cost gate",
    "materialized": "a scheduled query, synced like a local table",
}


class Catalog:
    """The tables you may use. Iterate it, index it by id, or call :meth:`to_pandas`."""

    def __init__(self, tables: list[dict[str, Any]]) -> None:
        self.tables = tables

    def __len__(self) -> int:
        return len(self.tables)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.tables)

    def __getitem__(self, key: int | str) -> dict[str, Any]:
        if isinstance(key, int):
            return self.tables[key]
        for table in self.tables:
            if table["id"] == key:
                return table
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return any(t["id"] == key for t in self.tables)

    @property
    def ids(self) -> list[str]:
        return [t["id"] for t in self.tables]

    def to_pandas(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.tables)

    def _rows(self) -> list[list[str]]:
        return [[t["id"], t.get("source", ""), t.get("query_mode", ""), human_count(t.get("rows")),
                 human_bytes(t.get("size_bytes")), t.get("freshness") or "", t.get("description", "")]
                for t in self.tables]

    def __repr__(self) -> str:
        if not self.tables:
            return "Agnes catalog: no tables you may use yet."
        headers = ["id", "source", "mode", "rows", "size", "freshness", "description"]
        rows = [[*r[:6], (r[6][:50] + "…") if len(r[6]) > 51 else r[6]] for r in self._rows()]
        return f"Agnes catalog: {len(self.tables)} table(s)\n" + text_table(headers, rows)

    def _repr_html_(self) -> str:
        if not self.tables:
            return "<p>Agnes catalog: no tables you may use yet.</p>"
        rows = []
        for t in self.tables:
            mode = t.get("query_mode", "")
            fresh = t.get("freshness") or ""
            when = t.get("refreshed_at") if mode == "remote" else t.get("updated")
            rows.append([
                f"<code>{esc(t['id'])}</code>", esc(t.get("source", "")), badge(mode, MODE_TITLES.get(mode, "")),
                esc(human_count(t.get("rows"))), esc(human_bytes(t.get("size_bytes"))),
                badge(fresh, FRESHNESS_TITLES.get(fresh, "")) + f" <small>{esc(human_age(when))}</small>",
                esc(t.get("description", "")),
            ])
        return html_table(["table", "source", "mode", "rows", "size", "freshness", "description"], rows,
                          caption=f"Agnes catalog — {len(self.tables)} table(s)",
                          raw_columns=frozenset(range(7)))
