from __future__ import annotations

from pathlib import Path

from .conftest import assert_matches_openapi


async def test_source_crud(api, demo_lake_path: Path, jp_base_url: str) -> None:
    body = {"name": "lake2", "type": "lake", "options": {"path": str(demo_lake_path)}}
    status, created, response = await api("POST", "admin/sources", body)
    assert status == 201
    assert_matches_openapi("/admin/sources", "POST", status, created)
    assert response.headers["Location"] == f"{jp_base_url}agnes/v1/admin/sources/lake2"
    status, listed, _ = await api("GET", "admin/sources")
    assert_matches_openapi("/admin/sources", "GET", status, listed)
    assert [s["name"] for s in listed["sources"]] == ["demo", "lake2"]
    status, patched, _ = await api("PATCH", "admin/sources/lake2", {"options": {"path": "/elsewhere"}})
    assert status == 200
    assert patched["options"]["path"] == "/elsewhere"
    status, conflict, _ = await api("POST", "admin/sources", body)
    assert status == 409
    assert conflict["error"] == "already_exists"
    status, _, _ = await api("DELETE", "admin/sources/lake2")
    assert status == 204
    status, missing, _ = await api("GET", "admin/sources/lake2")
    assert status == 404
    assert missing["error"] == "not_found"


async def test_deleting_a_source_with_tables_is_409(api) -> None:
    status, body, _ = await api("DELETE", "admin/sources/demo")
    assert status == 409
    assert sorted(body["details"]["tables"]) == ["customers", "events", "orders"]


async def test_table_crud(api, jp_base_url: str) -> None:
    body = {"id": "big_orders", "source": "demo", "source_table": "orders", "query_mode": "local",
            "primary_key": ["order_id"], "schedule": "0 */6 * * *", "description": "Orders"}
    status, created, response = await api("POST", "admin/tables", body)
    assert status == 201
    assert_matches_openapi("/admin/tables", "POST", status, created)
    assert response.headers["Location"] == f"{jp_base_url}agnes/v1/admin/tables/big_orders"
    status, got, _ = await api("GET", "admin/tables/big_orders")
    assert_matches_openapi("/admin/tables/{id}", "GET", status, got)
    assert got["primary_key"] == ["order_id"]
    assert got["schedule"] == "0 */6 * * *"
    status, put, _ = await api("PUT", "admin/tables/big_orders", {"source": "demo", "source_table": "orders"})
    assert status == 200
    assert put["schedule"] is None
    assert put["description"] == ""
    status, patched, _ = await api("PATCH", "admin/tables/big_orders", {"folder": "Finance"})
    assert status == 200
    assert patched["folder"] == "Finance"
    status, _, _ = await api("DELETE", "admin/tables/big_orders")
    assert status == 204
    status, _, _ = await api("DELETE", "admin/tables/big_orders")
    assert status == 404


async def test_register_table_errors(api) -> None:
    status, body, _ = await api("POST", "admin/tables", {"id": "x", "source": "nope", "source_table": "orders"})
    assert status == 404  # well-formed, naming a source that does not exist
    assert body["details"]["field"] == "source"
    status, body, _ = await api("POST", "admin/tables", {"id": "orders", "source": "demo", "source_table": "orders"})
    assert status == 409
    assert body["error"] == "already_exists"
    status, body, _ = await api("PATCH", "admin/tables/nope", {"folder": "x"})
    assert status == 404
    for verb in ("PUT", "PATCH"):  # the table exists: a missing source is a bad field, not a 404
        status, body, _ = await api(verb, "admin/tables/orders", {"source": "nope"})
        assert (status, body["error"], body["details"]["field"]) == (400, "validation_error", "source"), verb
    status, orders, _ = await api("GET", "admin/tables/orders")
    assert orders["source"] == "demo"
    status, body, _ = await api("PATCH", "admin/tables/orders", {"id": "renamed"})
    assert status == 400
    assert body["details"]["field"] == "id"
