from __future__ import annotations

from .conftest import assert_matches_openapi


async def test_catalog_lists_the_demo_tables(api) -> None:
    status, body, _ = await api("GET", "catalog")
    assert status == 200
    assert_matches_openapi("/catalog", "GET", status, body)
    by_id = {t["id"]: t for t in body["tables"]}
    assert set(by_id) == {"orders", "customers", "events"}
    assert body["count"] == 3
    assert by_id["events"]["query_mode"] == "remote"
    assert by_id["events"]["source"] == "demo"
    assert by_id["events"]["source_type"] == "lake"
    assert by_id["orders"]["folder"] == "Sales"


async def test_catalog_filters(api) -> None:
    _, body, _ = await api("GET", "catalog", params={"mode": "remote"})
    assert [t["id"] for t in body["tables"]] == ["events"]
    _, body, _ = await api("GET", "catalog", params={"search": "SIGNUP"})
    assert [t["id"] for t in body["tables"]] == ["customers"]
    _, body, _ = await api("GET", "catalog", params={"source": "other"})
    assert body == {"tables": [], "count": 0}


async def test_schema_of_a_hive_table(api) -> None:
    status, body, _ = await api("GET", "tables/events/schema")
    assert status == 200
    assert_matches_openapi("/tables/{id}/schema", "GET", status, body)
    columns = {c["name"]: c for c in body["columns"]}
    assert columns["event_date"]["type"] == "DATE"
    assert columns["user_id"]["type"] == "BIGINT"
    assert columns["ts"]["arrow_type"] == "timestamp[us]"


async def test_catalog_shows_a_newly_registered_table_without_restart(api) -> None:
    status, _, _ = await api("POST", "admin/tables", {"id": "orders_copy", "source": "demo",
                                                      "source_table": "orders", "description": "copy"})
    assert status == 201
    _, body, _ = await api("GET", "catalog")
    assert "orders_copy" in {t["id"] for t in body["tables"]}
