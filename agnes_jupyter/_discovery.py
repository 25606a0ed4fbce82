"""Schema, sample, describe and freshness as the kernel shows them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._display import badge, esc, html_table, human_age, human_bytes, human_count, text_table

if TYPE_CHECKING:
    import pandas as pd

#: Theme variables (JupyterLab's light and dark themes alike): text, secondary text, borders.
TEXT = "var(--jp-ui-font-color1)"
MUTED = "var(--jp-ui-font-color2)"
BORDER = "var(--jp-border-color2)"
APPROX = "≈"

RANGE_ORIGINS = {
    "parquet_footer": "Parquet footers (exact)",
    "hive_partitions": "partition folders (exact)",
    "pg_stats": "PostgreSQL statistics (approximate)",
}

FRESHNESS_TITLES = {
    "fresh": "refreshed within twice the refresh interval",
    "stale": "not refreshed for more than twice the refresh interval",
    "error": "every attempt to read its metadata failed",
    "never_fetched": "its metadata has not been read yet",
}


def value_range(c: dict[str, Any]) -> str:
    """``min … max`` of a column as its metadata says (≈ when approximate); "" when unknown."""
    lo, hi = c.get("min"), c.get("max")
    if lo is None and hi is None:
        return ""
    text = str(lo) if lo == hi else f"{lo} … {hi}"
    return f"{APPROX} {text}" if c.get("range_approximate") else text


def null_count(c: dict[str, Any]) -> str:
    n = c.get("null_count")
    if n is None:
        return ""
    return f"{APPROX} {n:,}" if c.get("range_approximate") else f"{n:,}"


class Schema:
    """Columns of a table; ``partition`` and ``cluster_position`` mark its layout, ``min``/``max``
    and ``null_count`` what the source's metadata knows of the values (read without a scan)."""

    HEADERS = ("column", "type", "nullable", "layout", "range", "nulls", "description")

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload
        self.columns: list[dict[str, Any]] = payload["columns"]

    @property
    def names(self) -> list[str]:
        return [c["name"] for c in self.columns]

    def column(self, name: str) -> dict[str, Any]:
        for c in self.columns:
            if c["name"] == name:
                return c
        raise KeyError(name)

    def to_pandas(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.columns)

    def _layout(self, c: dict[str, Any]) -> str:
        if c["partition"]:
            return "partition"
        return f"cluster {c['cluster_position']}" if c["cluster_position"] else ""

    def _cells(self, c: dict[str, Any]) -> list[str]:
        return [c["name"], c["type"], "yes" if c["nullable"] else "no", self._layout(c), value_range(c),
                null_count(c), c.get("description") or ""]

    def ranges_note(self) -> str:
        """Where the ranges come from, and as of when ("" when no column has one)."""
        origins = sorted({c["range_origin"] for c in self.columns if c.get("range_origin")})
        if not origins:
            return ""
        sources = ", ".join(RANGE_ORIGINS.get(o, o) for o in origins)
        when = self.payload.get("ranges_as_of")
        return f"ranges and nulls from {sources}" + (f", as of {human_age(when)}" if when else "") + \
            f"; no scan ({APPROX} = approximate)"

    def __repr__(self) -> str:
        rows = [self._cells(c) for c in self.columns]
        head = f"{self.payload['id']}: {len(rows)} columns ({self.payload['sql_flavor']})"
        note = self.ranges_note()
        return head + "\n" + text_table(list(self.HEADERS), rows) + (f"\n{note}" if note else "")

    def _repr_html_(self) -> str:
        rows = []
        for c in self.columns:
            name, ctype, nullable, layout, vrange, nulls, description = (esc(x) for x in self._cells(c))
            title = "written by an admin" if c.get("description_origin") == "admin" else "from the source"
            rows.append([f"<code>{name}</code>", f"<code>{ctype}</code>", nullable, layout,
                         f"<span style='white-space:nowrap'>{vrange}</span>", nulls,
                         f"<span title='{esc(title)}'>{description}</span>" if description else ""])
        table = html_table(list(self.HEADERS), rows,
                           caption=f"{self.payload['id']} — {len(rows)} columns, {self.payload['sql_flavor']} dialect",
                           raw_columns=frozenset(range(len(self.HEADERS))))
        note = self.ranges_note()
        return (f"<div class='agnes-schema' style='color:{TEXT}'>{table}"
                + (f"<div style='color:{MUTED};font-size:85%'>{esc(note)}</div>" if note else "") + "</div>")


class Sample:
    """A few rows of a table (exact decimals and times arrive as strings)."""

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload
        self.columns: list[str] = payload["columns"]
        self.rows: list[dict[str, Any]] = payload["rows"]

    def to_pandas(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.rows, columns=self.columns)

    def _cells(self) -> list[list[str]]:
        return [["" if r.get(c) is None else str(r.get(c)) for c in self.columns] for r in self.rows]

    def __repr__(self) -> str:
        return f"{self.payload['id']}: {len(self.rows)} sample row(s)\n" + text_table(self.columns, self._cells())

    def _repr_html_(self) -> str:
        return html_table(self.columns, self._cells(),
                          caption=f"{self.payload['id']} — {len(self.rows)} sample row(s) from the "
                                  f"{'extract' if self.payload['origin'] == 'extract' else 'source'}")


class Description:
    """One table at a glance: what it is, its freshness and sizes (on disk and uncompressed),
    its layout with the ranges of its partition and sort columns, columns, a sample."""

    def __init__(self, entry: dict[str, Any], schema: Schema, sample: Sample) -> None:
        self.entry = entry
        self.schema = schema
        self.sample = sample

    def _with_range(self, names: list[str]) -> str:
        parts = []
        for name in names:
            try:
                found = value_range(self.schema.column(name))
            except KeyError:
                found = ""
            parts.append(f"{name} ({found})" if found else name)
        return ", ".join(parts)

    def _facts(self) -> list[tuple[str, str]]:
        e = self.entry
        facts = [("source", f"{e['source']} ({e['source_type']})"), ("rows", human_count(e["rows"])),
                 ("size on disk", f"{human_bytes(e['size_bytes'])} (compressed)" if e["size_bytes"] is not None
                  else human_bytes(None))]
        if e.get("uncompressed_bytes") is not None:
            facts.append(("uncompressed", f"{human_bytes(e['uncompressed_bytes'])} (what scan estimates count)"))
        if e["query_mode"] == "remote":
            facts.append(("metadata refreshed", human_age(e["refreshed_at"])))
        else:
            facts.append(("extracted", human_age(e["updated"])))
        if e.get("source_changed_at"):
            facts.append(("changed in the source", human_age(e["source_changed_at"])))
        if e["partition_by"]:
            facts.append(("partitioned by", self._with_range(e["partition_by"])))
        if e["clustered_by"]:
            facts.append(("clustered by", self._with_range(e["clustered_by"])))
        facts.append(("query in", e["sql_flavor"]))
        return facts

    def __repr__(self) -> str:
        e = self.entry
        lines = [f"{e['id']} — {e['query_mode']}, {e['freshness']}", e["description"] or ""]
        lines += [f"  {k}: {v}" for k, v in self._facts()]
        if e["where_examples"]:
            lines += ["  filter with:"] + [f"    WHERE {w}" for w in e["where_examples"]]
        return "\n".join(lines) + "\n\n" + repr(self.schema) + "\n\n" + repr(self.sample)

    def _repr_html_(self) -> str:
        e = self.entry
        cell = f"border-bottom:1px solid {BORDER};padding:1px 1em 1px 0;text-align:left"
        facts = "".join(f"<tr><th style='{cell};color:{MUTED};font-weight:normal'>{esc(k)}</th>"
                        f"<td style='{cell}'>{esc(v)}</td></tr>" for k, v in self._facts())
        examples = "".join(f"<li><code>WHERE {esc(w)}</code></li>" for w in e["where_examples"])
        origin = e.get("description_origin")
        by = {"admin": "written by an admin", "source": "from the source"}.get(origin or "", "")
        return (
            f"<div class='agnes-describe' style='color:{TEXT}'><h4 style='margin:0.2em 0'><code>{esc(e['id'])}</code> "
            f"{badge(e['query_mode'])} {badge(e['freshness'], FRESHNESS_TITLES.get(e['freshness'], ''))}</h4>"
            f"<p title='{esc(by)}'>{esc(e['description'])}</p>"
            f"<table style='border-collapse:collapse'>{facts}</table>"
            + (f"<p>Filter with the layout:</p><ul>{examples}</ul>" if examples else "")
            + self.schema._repr_html_() + self.sample._repr_html_() + "</div>")


class FreshnessReport:
    """The freshness of every remote table's metadata you may read."""

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload
        self.tables: list[dict[str, Any]] = payload["tables"]

    def to_pandas(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.tables)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.tables:
            out[t["freshness"]] = out.get(t["freshness"], 0) + 1
        return out

    def _summary(self) -> str:
        hours = self.payload["interval_seconds"] / 3600
        counts = ", ".join(f"{n} {k}" for k, n in sorted(self.counts().items())) or "no remote tables"
        return f"Metadata freshness — {counts} (refreshed every {hours:g} h; fresh for twice that)"

    def __repr__(self) -> str:
        rows = [[t["table_id"], t["freshness"], human_age(t["refreshed_at"]), human_count(t["rows"]),
                 human_bytes(t["size_bytes"]), t["error_msg"] or ""] for t in self.tables]
        return self._summary() + "\n" + text_table(["table", "freshness", "refreshed", "rows", "size", "error"], rows)

    def _repr_html_(self) -> str:
        rows = [[f"<code>{esc(t['table_id'])}</code>", badge(t["freshness"], FRESHNESS_TITLES.get(t["freshness"], "")),
                 esc(human_age(t["refreshed_at"])), esc(human_count(t["rows"])), esc(human_bytes(t["size_bytes"])),
                 esc(t["error_msg"] or "")] for t in self.tables]
        return html_table(["table", "freshness", "refreshed", "rows", "size", "last error"], rows,
                          caption=self._summary(), raw_columns=frozenset(range(6)))
