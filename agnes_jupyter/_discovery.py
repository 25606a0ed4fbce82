"""Schema, sample, describe and freshness as the kernel shows them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._display import badge, esc, html_table, human_age, human_bytes, human_count, text_table

if TYPE_CHECKING:
    import pandas as pd

FRESHNESS_TITLES = {
    "fresh": "refreshed within twice the refresh interval",
    "stale": "not refreshed for more than twice the refresh interval",
    "error": "every attempt to read its metadata failed",
    "never_fetched": "its metadata has not been read yet",
}


class Schema:
    """Columns of a table; ``partition`` and ``cluster_position`` mark its layout."""

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload
        self.columns: list[dict[str, Any]] = payload["columns"]

    @property
    def names(self) -> list[str]:
        return [c["name"] for c in self.columns]

    def to_pandas(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.columns)

    def _layout(self, c: dict[str, Any]) -> str:
        if c["partition"]:
            return "partition"
        return f"cluster {c['cluster_position']}" if c["cluster_position"] else ""

    def __repr__(self) -> str:
        rows = [[c["name"], c["type"], "yes" if c["nullable"] else "no", self._layout(c), c["description"] or ""]
                for c in self.columns]
        head = f"{self.payload['id']}: {len(rows)} columns ({self.payload['sql_flavor']})"
        return head + "\n" + text_table(["column", "type", "nullable", "layout", "description"], rows)

    def _repr_html_(self) -> str:
        rows = [[f"<code>{esc(c['name'])}</code>", f"<code>{esc(c['type'])}</code>",
                 "yes" if c["nullable"] else "no", esc(self._layout(c)), esc(c["description"] or "")]
                for c in self.columns]
        return html_table(["column", "type", "nullable", "layout", "description"], rows,
                          caption=f"{self.payload['id']} — {len(rows)} columns, {self.payload['sql_flavor']} dialect",
                          raw_columns=frozenset(range(5)))


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
    """One table at a glance: what it is, its freshness and size, layout, columns, a sample."""

    def __init__(self, entry: dict[str, Any], schema: Schema, sample: Sample) -> None:
        self.entry = entry
        self.schema = schema
        self.sample = sample

    def _facts(self) -> list[tuple[str, str]]:
        e = self.entry
        facts = [("source", f"{e['source']} ({e['source_type']})"), ("rows", human_count(e["rows"])),
                 ("size", human_bytes(e["size_bytes"]))]
        if e["query_mode"] == "remote":
            facts.append(("metadata refreshed", human_age(e["refreshed_at"])))
        else:
            facts.append(("extracted", human_age(e["updated"])))
        if e["partition_by"]:
            facts.append(("partitioned by", ", ".join(e["partition_by"])))
        if e["clustered_by"]:
            facts.append(("clustered by", ", ".join(e["clustered_by"])))
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
        facts = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{esc(k)}</th><td>{esc(v)}</td></tr>"
                        for k, v in self._facts())
        examples = "".join(f"<li><code>WHERE {esc(w)}</code></li>" for w in e["where_examples"])
        return (
            f"<div class='agnes-describe'><h4 style='margin:0.2em 0'><code>{esc(e['id'])}</code> "
            f"{badge(e['query_mode'])} {badge(e['freshness'], FRESHNESS_TITLES.get(e['freshness'], ''))}</h4>"
            f"<p>{esc(e['description'])}</p><table>{facts}</table>"
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
