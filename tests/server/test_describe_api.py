"""Knowing the data before scanning it, over the API: ranges and descriptions in the schema,
admins' descriptions through the admin tables route (403 for others), labelled sizes in the
catalog, and what an estimate counts."""

from __future__ import annotations

from typing import Any

import pytest

from agnes_core.demo import DESCRIPTIONS, EVENT_DATE_DESCRIPTION

from .conftest import ALICE, BOB, assert_matches_openapi


@pytest.fixture
def jp_server_config(multiuser_config: dict) -> dict:
    return multiuser_config


async def _schema_with_ranges(api: Any) -> dict:
    status, refreshed, _ = await api("POST", "admin/metadata/refresh/events", token=ALICE)
    assert status == 200, refreshed
    status, schema, _ = await api("GET", "tables/events/schema", token=ALICE)
    assert status == 200
    assert_matches_openapi("/tables/{id}/schema", "GET", status, schema)
    return schema


async def test_the_schema_shows_ranges_and_descriptions_without_a_scan(api) -> None:
    schema = await _schema_with_ranges(api)
    cols = {c["name"]: c for c in schema["columns"]}
    day = cols["event_date"]
    assert (day["min"], day["max"], day["null_count"], day["range_origin"]) == (
        "2026-01-01", "2026-03-01", 0, "hive_partitions")
    assert (day["description"], day["description_origin"]) == (EVENT_DATE_DESCRIPTION, "admin")
    assert (cols["country"]["description"], cols["country"]["description_origin"]) == (
        DESCRIPTIONS["events"][1]["country"], "source")
    assert cols["country"]["range_approximate"] is False
    assert schema["ranges_as_of"] is not None


async def test_admins_set_descriptions_on_the_admin_tables_route(api) -> None:
    await _schema_with_ranges(api)
    body = {"description": "Events, <b>curated</b>", "column_descriptions": {"country": "Where <i>they</i> were"}}
    status, table, _ = await api("PATCH", "admin/tables/events", body, token=ALICE)
    assert status == 200, table
    assert_matches_openapi("/admin/tables/{id}", "PATCH", status, table)
    assert table["column_descriptions"] == {"country": "Where <i>they</i> were",
                                            "event_date": EVENT_DATE_DESCRIPTION}
    status, schema, _ = await api("GET", "tables/events/schema", token=ALICE)
    cols = {c["name"]: c for c in schema["columns"]}
    assert (cols["country"]["description"], cols["country"]["description_origin"]) == (
        "Where <i>they</i> were", "admin")  # stored as written; views escape it
    assert (schema["description"], schema["description_origin"]) == ("Events, <b>curated</b>", "admin")
    assert cols["event_date"]["min"] == "2026-01-01"  # a description change keeps the metadata
    _, catalog, _ = await api("GET", "catalog", token=ALICE, params={"search": "events"})
    entry = next(e for e in catalog["tables"] if e["id"] == "events")
    assert (entry["description"], entry["description_origin"]) == ("Events, <b>curated</b>", "admin")


async def test_only_admins_may_set_descriptions(api) -> None:
    body = {"column_descriptions": {"country": "bob was here"}}
    status, error, _ = await api("PATCH", "admin/tables/events", body, token=BOB)
    assert status == 403
    assert error["error"] == "forbidden"
    _, table, _ = await api("GET", "admin/tables/events", token=ALICE)
    assert "country" not in table["column_descriptions"]


async def test_descriptions_are_validated_by_length(api) -> None:
    status, error, _ = await api("PATCH", "admin/tables/events",
                                 {"column_descriptions": {"country": "x" * 1001}}, token=ALICE)
    assert status == 400
    assert_matches_openapi("/admin/tables/{id}", "PATCH", status, error)
    status, error, _ = await api("PATCH", "admin/tables/events",
                                 {"column_descriptions": {"c" * 256: "ok"}}, token=ALICE)
    assert status == 400


async def test_the_catalog_labels_sizes_and_the_estimate_its_basis(api) -> None:
    await _schema_with_ranges(api)
    status, catalog, _ = await api("GET", "catalog", token=ALICE)
    assert_matches_openapi("/catalog", "GET", status, catalog)
    events = next(e for e in catalog["tables"] if e["id"] == "events")
    assert events["uncompressed_bytes"] > events["size_bytes"] > 0
    status, estimate, _ = await api("POST", "scans/estimate", {"sql": "SELECT count(*) FROM events"}, token=ALICE)
    assert status == 200, estimate
    assert_matches_openapi("/scans/estimate", "POST", status, estimate)
    assert estimate["scan_bytes_basis"] == "uncompressed"
