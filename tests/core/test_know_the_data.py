"""Knowing the data before scanning it (issue 11): column ranges from metadata, descriptions from
the source and from admins, sizes on disk and uncompressed, and what an estimate counts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from agnes_core.access.principals import EVERYONE, Principal
from agnes_core.core import AgnesCore, CoreSettings
from agnes_core.demo import DESCRIPTIONS, EVENT_DATE_DESCRIPTION, demo_source, demo_tables
from agnes_core.discovery.parquet_stats import footer_stats, hive_stats
from agnes_core.errors import ValidationError

ADMIN = Principal("admin", "Admin", frozenset({EVERYONE}), True)


@pytest.fixture
def core(tmp_path: Path, demo_lake: Path):
    c = AgnesCore(tmp_path / "data", settings=CoreSettings(metadata_refresh_interval_s=3600))
    c.registry.add_source(demo_source(demo_lake))
    for body in demo_tables():
        c.registry.register_table(body)
    yield c
    c.close()


def refresh(core: AgnesCore, kind: str = "refresh") -> None:
    asyncio.run(core.refresher.run(core.refresher.claim(kind)))


def columns(core: AgnesCore, table_id: str) -> dict[str, dict]:
    return {c["name"]: c for c in core.discovery.schema(core.registry.get_table(table_id))["columns"]}


# -- ranges ----------------------------------------------------------------------------------


def test_remote_partition_and_sort_ranges_come_from_footers_and_folders(core: AgnesCore) -> None:
    refresh(core)
    cols = columns(core, "events")
    day = cols["event_date"]
    assert day["partition"] is True
    assert (day["min"], day["max"], day["null_count"]) == ("2026-01-01", "2026-03-01", 0)  # 60 demo days
    assert (day["range_origin"], day["range_approximate"]) == ("hive_partitions", False)
    country = cols["country"]
    assert country["cluster_position"] == 1
    assert (country["min"], country["max"], country["range_origin"]) == ("AT", "US", "parquet_footer")
    assert cols["amount"]["min"] >= 0
    assert cols["ts"]["min"].startswith("2026-01-01T")
    schema = core.discovery.schema(core.registry.get_table("events"))
    assert schema["ranges_as_of"] is not None
    json.dumps(schema)


def test_ranges_are_read_at_refresh_never_on_a_schema_request(core: AgnesCore) -> None:
    cols = columns(core, "events")  # never refreshed: the schema does not go read footers
    assert cols["event_date"]["min"] is None
    assert cols["event_date"]["range_origin"] is None
    refresh(core)  # the refresh publishes a metadata change: the cached schema is rebuilt
    assert columns(core, "events")["event_date"]["min"] == "2026-01-01"


def test_extracted_tables_show_the_ranges_of_their_extract(core: AgnesCore) -> None:
    core.extracts.execute(core.extracts.start("orders", trigger="manual"))
    cols = columns(core, "orders")
    assert (cols["order_id"]["min"], cols["order_id"]["max"], cols["order_id"]["null_count"]) == (1, 250_000, 0)
    assert cols["order_date"]["min"] == "2026-01-01"
    assert cols["order_id"]["range_origin"] == "parquet_footer"


def test_footer_stats_union_row_groups_and_count_nulls(tmp_path: Path) -> None:
    table = pa.table({"n": [5, None, 1, 9, None], "s": ["b", "a", None, "c", "d"], "blob": [b"x"] * 5})
    pq.write_table(table, tmp_path / "a.parquet", row_group_size=2)
    pq.write_table(pa.table({"n": [100], "s": ["z"], "blob": [b"y"]}), tmp_path / "b.parquet")
    stats = footer_stats([tmp_path / "a.parquet", tmp_path / "b.parquet"])
    assert (stats["n"].min, stats["n"].max, stats["n"].null_count) == (1, 100, 2)
    assert (stats["s"].min, stats["s"].max, stats["s"].null_count) == ("a", "z", 1)
    assert stats["blob"].min is None  # bytes have no range shown


def test_a_column_without_statistics_has_no_range(tmp_path: Path) -> None:
    pq.write_table(pa.table({"n": [1, 2]}), tmp_path / "a.parquet", write_statistics=False)
    assert "n" not in footer_stats([tmp_path / "a.parquet"])


def test_hive_ranges_are_typed_and_count_default_partitions(tmp_path: Path) -> None:
    for value in ("2", "10", "__HIVE_DEFAULT_PARTITION__"):
        folder = tmp_path / "t" / f"k={value}"
        folder.mkdir(parents=True)
        pq.write_table(pa.table({"x": [1, 2, 3]}), folder / "part.parquet")
    files = sorted((tmp_path / "t").rglob("*.parquet"))
    k = hive_stats(tmp_path / "t", files, ["k"])["k"]
    assert (k.min, k.max, k.null_count) == (2, 10, 3)  # integers, not "10" < "2"


# -- descriptions ------------------------------------------------------------------------------


def test_parquet_field_metadata_describes_remote_columns(core: AgnesCore) -> None:
    cols = columns(core, "events")
    assert cols["country"]["description"] == DESCRIPTIONS["events"][1]["country"]
    assert cols["country"]["description_origin"] == "source"
    assert cols["event_date"]["description"] == EVENT_DATE_DESCRIPTION  # the demo's admin text
    assert cols["event_date"]["description_origin"] == "admin"


def test_parquet_descriptions_travel_with_the_extract(core: AgnesCore, tmp_path: Path) -> None:
    core.registry.update_table("orders", {"description": ""}, partial=True)  # no admin text: the source's shows
    core.extracts.execute(core.extracts.start("orders", trigger="manual"))
    cols = columns(core, "orders")
    assert cols["amount"]["description"] == "Order total in EUR, VAT included."
    schema = core.discovery.schema(core.registry.get_table("orders"))
    assert (schema["description"], schema["description_origin"]) == (DESCRIPTIONS["orders"][0], "source")
    entry = next(e for e in core.catalog.entries(ADMIN) if e["id"] == "orders")
    assert (entry["description"], entry["description_origin"]) == (DESCRIPTIONS["orders"][0], "source")


def test_admin_text_wins_over_the_source_and_clearing_it_falls_back(core: AgnesCore) -> None:
    refresh(core)
    core.registry.update_table("events", {"description": "",
                                          "column_descriptions": {"country": "Where the user was"}}, partial=True)
    schema = core.discovery.schema(core.registry.get_table("events"))
    assert (schema["description"], schema["description_origin"]) == (DESCRIPTIONS["events"][0], "source")
    cols = {c["name"]: c for c in schema["columns"]}
    assert (cols["country"]["description"], cols["country"]["description_origin"]) == ("Where the user was", "admin")
    entry = next(e for e in core.catalog.entries(ADMIN) if e["id"] == "events")
    assert entry["description"] == DESCRIPTIONS["events"][0]  # from the metadata cache: no source call
    # PATCH changes the named columns only; null removes one (the source's text shows again)
    core.registry.update_table("events", {"column_descriptions": {"country": None, "platform": "Client"}},
                               partial=True)
    table = core.registry.get_table("events")
    assert table.column_descriptions == {"event_date": EVENT_DATE_DESCRIPTION, "platform": "Client"}
    cols = columns(core, "events")
    assert cols["country"]["description_origin"] == "source"
    assert cols["platform"]["description"] == "Client"


def test_changing_only_descriptions_keeps_the_metadata(core: AgnesCore) -> None:
    refresh(core)
    core.registry.update_table("events", {"description": "New words"}, partial=True)
    kept = core.metadata.get("events")
    assert kept is not None
    assert kept.column_stats["event_date"].min == "2026-01-01"
    assert columns(core, "events")["event_date"]["min"] == "2026-01-01"
    entry = next(e for e in core.catalog.entries(ADMIN) if e["id"] == "events")
    assert entry["description"] == "New words"


@pytest.mark.parametrize(("body", "field"), [
    ({"column_descriptions": {"amount": "x" * 1001}}, "column_descriptions.amount"),
    ({"column_descriptions": {"c" * 256: "ok"}}, "column_descriptions column name"),
    ({"column_descriptions": {" ": "ok"}}, "column_descriptions"),
    ({"column_descriptions": ["amount"]}, "column_descriptions"),
    ({"column_descriptions": {"amount": 5}}, "column_descriptions.amount"),
    ({"column_descriptions": {"amount": "bell\x07"}}, "column_descriptions.amount"),
    ({"description": "x" * 4001}, "description"),
])
def test_descriptions_are_validated(core: AgnesCore, body: dict, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        core.registry.update_table("orders", body, partial=True)
    assert err.value.details["field"] == field


# -- sizes and what estimates count -----------------------------------------------------------


def test_the_catalog_labels_sizes_on_disk_and_uncompressed(core: AgnesCore) -> None:
    refresh(core)
    core.extracts.execute(core.extracts.start("orders", trigger="manual"))
    entries = {e["id"]: e for e in core.catalog.entries(ADMIN)}
    for table_id in ("events", "orders"):
        entry = entries[table_id]
        assert entry["size_bytes"] > 0
        assert entry["uncompressed_bytes"] > entry["size_bytes"], table_id  # zstd compresses the demo
    files = sorted(Path(core.registry.get_source("demo").options["path"], "events").rglob("*.parquet"))
    assert entries["events"]["size_bytes"] == sum(f.stat().st_size for f in files)
    assert entries["events"]["uncompressed_bytes"] == sum(
        pq.ParquetFile(f).metadata.row_group(i).total_byte_size for f in files
        for i in range(pq.ParquetFile(f).metadata.num_row_groups))
    assert entries["customers"]["uncompressed_bytes"] is None  # never extracted


def test_the_estimate_says_it_counts_uncompressed_bytes(core: AgnesCore) -> None:
    refresh(core)
    estimate = core.scans.estimate(ADMIN, {"sql": "SELECT country FROM events WHERE event_date = '2026-01-05'"})
    assert estimate["scan_bytes_basis"] == "uncompressed"
    assert estimate["scan_bytes"] > 0
