"""The catalog as the kernel shows it: a list of table entries with rich displays."""

from __future__ import annotations

from typing import Any

from ._collection import Collection
from ._discovery import FRESHNESS_TITLES
from ._display import badge, esc, human_age, human_bytes, human_count

MODE_TITLES = {
    "local": "synced to your workspace",
    "remote": "stays in the source; scanned through the cost gate",
    "materialized": "a scheduled query, synced like a local table",
}


def mode_badge(mode: str) -> str:
    return badge(mode, MODE_TITLES.get(mode, ""))


def freshness_html(table: dict[str, Any]) -> str:
    """The freshness badge of a catalog entry and the age of what it counts from."""
    fresh = table.get("freshness") or ""
    if not fresh:
        return ""
    when = table.get("refreshed_at") if table.get("query_mode") == "remote" else table.get("updated")
    return badge(fresh, FRESHNESS_TITLES.get(fresh, "")) + f" <small>{esc(human_age(when))}</small>"


class Catalog(Collection[dict[str, Any]]):
    """The tables you may use. Iterate it, index it by id or position, or call :meth:`to_pandas`.
    Sizes are labelled: ``on disk`` is the stored (compressed) files or pages (``size_bytes``),
    ``uncompressed`` the data's in-memory size (``uncompressed_bytes``), where the source knows it."""

    noun = "table"
    headers = ("id", "source", "mode", "rows", "on disk", "uncompressed", "freshness", "description")
    html_headers = ("table", "source", "mode", "rows", "on disk", "uncompressed", "freshness", "description")
    empty = "Agnes catalog: no tables you may use yet."

    def __init__(self, tables: list[dict[str, Any]]) -> None:
        super().__init__(tables)
        self.tables = self.items

    def _empty_columns(self) -> list[str]:
        return ["id", "name", "description", "source", "query_mode", "rows", "size_bytes", "uncompressed_bytes",
                "freshness", "refreshed_at", "updated", "packages"]

    def _row(self, t: dict[str, Any]) -> list[str]:
        description = t.get("description") or ""
        return [t["id"], t.get("source") or "", t.get("query_mode") or "", human_count(t.get("rows")),
                human_bytes(t.get("size_bytes")), human_bytes(t.get("uncompressed_bytes")), t.get("freshness") or "",
                (description[:50] + "…") if len(description) > 51 else description]

    def _heading(self) -> str:
        return f"Agnes catalog: {len(self.items)} table(s)"

    def _html_heading(self) -> str:
        return f"Agnes catalog — {len(self.items)} table(s)"

    def _html_rows(self) -> list[list[str]]:
        return [[f"<code>{esc(t['id'])}</code>", esc(t.get("source") or ""), mode_badge(t.get("query_mode") or ""),
                 esc(human_count(t.get("rows"))), esc(human_bytes(t.get("size_bytes"))),
                 esc(human_bytes(t.get("uncompressed_bytes"))), freshness_html(t),
                 esc(t.get("description") or "")] for t in self.items]
