"""agnes.schema / sample / describe / freshness and their magics against a live server."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell

import agnes_jupyter as agnes
from tests._live import LiveServer


def test_schema_shows_types_and_layout(connected: LiveServer) -> None:
    schema = agnes.schema("events")
    assert "event_date" in schema.names
    by_name = {c["name"]: c for c in schema.columns}
    assert by_name["user_id"]["type"] == "BIGINT"
    html = schema._repr_html_()
    assert "<code>event_date</code>" in html
    assert "columns" in html
    assert set(schema.to_pandas().columns) >= {"name", "type", "nullable"}


def test_sample_rows_and_pandas(connected: LiveServer) -> None:
    sample = agnes.sample("orders", n=3)
    assert len(sample.rows) == 3
    assert sample.columns[0] == "order_id"
    assert sample.to_pandas().shape == (3, len(sample.columns))
    with pytest.raises(agnes.ValidationError) as err:
        agnes.sample("orders", n=500)
    assert err.value.details["field"] == "n"


def test_describe_combines_entry_schema_and_sample(connected: LiveServer) -> None:
    connected.request("POST", "agnes/v1/admin/metadata/refresh/events")
    d = agnes.describe("events", n=2)
    assert d.entry["id"] == "events"
    assert len(d.sample.rows) == 2
    text = repr(d)
    assert "partitioned by: event_date" in text
    assert "WHERE event_date >=" in text
    html = d._repr_html_()
    assert "agnes-badge" in html
    assert "Filter with the layout" in html
    with pytest.raises(agnes.NotFound):
        agnes.describe("no_such_table")


def test_freshness_report(connected: LiveServer) -> None:
    report = agnes.freshness()
    ids = [t["table_id"] for t in report.tables]
    assert "events" in ids
    assert "fresh" in report.counts() or "never_fetched" in report.counts()
    assert "Metadata freshness" in report._repr_html_()


def test_catalog_display_shows_freshness_badges(connected: LiveServer) -> None:
    html = agnes.catalog()._repr_html_()
    assert "freshness" in html
    assert "agnes-badge" in html


def test_schema_describe_and_freshness_magics(shell: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    shell.run_line_magic("agnes", "schema events")
    assert "events: 7 columns" in capsys.readouterr().out
    shell.run_line_magic("agnes", "describe orders -n 2")
    out = capsys.readouterr().out
    assert out.startswith("orders — local")
    assert "2 sample row(s)" in out
    shell.run_line_magic("agnes", "freshness")
    assert "Metadata freshness" in capsys.readouterr().out
    failed = shell.run_cell("%agnes schema nope")  # fails the cell, in one line and a hint
    assert isinstance(failed.error_in_exec, agnes.NotFound)
    assert failed.error_in_exec.one_line() == "NotFound: no table 'nope' you may read"
    assert failed.error_in_exec.hint == "agnes.catalog() lists the tables you may use."


# -- knowing the data before scanning it (issue 11) -------------------------------------------


def test_schema_shows_ranges_and_descriptions_from_metadata(connected: LiveServer) -> None:
    connected.request("POST", "agnes/v1/admin/metadata/refresh/events")
    schema = agnes.schema("events")
    day = schema.column("event_date")
    assert (day["min"], day["max"], day["range_origin"]) == ("2026-01-01", "2026-03-01", "hive_partitions")
    assert day["description"].startswith("Day of the event (UTC)")  # the demo's admin text
    assert schema.column("amount")["description"].startswith("Order value in EUR")  # Parquet field metadata
    text = repr(schema)
    assert "2026-01-01 … 2026-03-01" in text
    assert "ranges and nulls from" in text
    assert "no scan" in text
    html = schema._repr_html_()
    assert "var(--jp-ui-font-color1)" in html
    assert "2026-01-01 … 2026-03-01" in html


def test_describe_shows_the_partition_range_and_labelled_sizes(connected: LiveServer) -> None:
    connected.request("POST", "agnes/v1/admin/metadata/refresh/events")
    d = agnes.describe("events", n=1)
    text = repr(d)
    assert "partitioned by: event_date (2026-01-01 … 2026-03-01)" in text
    assert "size on disk:" in text
    assert "(compressed)" in text
    assert "uncompressed:" in text
    assert d.entry["uncompressed_bytes"] > d.entry["size_bytes"]
    html = d._repr_html_()
    assert "var(--jp-border-color2)" in html
    assert "#fff" not in html.lower()
