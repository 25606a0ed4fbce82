"""The issue's story through the REST API on a team server: connect, register, extract, grant, revoke."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._pg import PgCluster

from .conftest import ALICE, BOB, assert_matches_openapi


@pytest.fixture
def jp_server_config(multiuser_config: dict) -> dict:
    return multiuser_config


async def test_connect_register_extract_grant_and_revoke(api, pg_cluster: PgCluster, demo_lake_path: Path) -> None:
    # Connect PostgreSQL (the DSN stays in the environment) and check it.
    status, source, _ = await api("POST", "admin/sources", {"name": "pg", "type": "postgres",
                                                            "secrets": {"dsn": "AGNES_TEST_PG_DSN"}}, token=ALICE)
    assert status == 201
    assert source["secrets"] == {"dsn": "AGNES_TEST_PG_DSN"}
    assert pg_cluster.password not in str(source)
    status, tested, _ = await api("POST", "admin/sources/pg/test", token=ALICE)
    assert status == 200
    assert tested["ok"] is True
    assert_matches_openapi("/admin/sources/{name}/test", "POST", status, tested)
    status, found, _ = await api("POST", "admin/sources/pg/discover", token=ALICE)
    assert_matches_openapi("/admin/sources/{name}/discover", "POST", status, found)
    assert {"orders", "events", "big_orders", "daily"} <= {t["source_table"] for t in found["tables"]}

    # Register tables in all three modes.
    for body in ({"id": "pg_orders", "source": "pg", "bucket": "sales", "source_table": "orders",
                  "query_mode": "local", "schedule": "every 6h", "primary_key": "id"},
                 {"id": "pg_events", "source": "pg", "bucket": "sales", "source_table": "events",
                  "query_mode": "remote"},
                 {"id": "pg_daily_status", "source": "pg", "query_mode": "materialized", "schedule": "0 * * * *",
                  "sql": "SELECT status, count(*) AS n FROM sales.orders GROUP BY status"}):
        status, _, _ = await api("POST", "admin/tables", body, token=ALICE)
        assert status == 201, body
    status, run, response = await api("POST", "admin/tables/pg_orders/extract", params={"wait": "true"}, token=ALICE)
    assert status == 200
    assert run["status"] == "succeeded"
    assert run["rows"] == 1000
    assert_matches_openapi("/admin/tables/{id}/extract", "POST", status, run)
    assert response.headers["Location"].endswith(f"admin/tables/pg_orders/runs/{run['run_id']}")
    status, history, _ = await api("GET", "admin/tables/pg_orders/runs", token=ALICE)
    assert_matches_openapi("/admin/tables/{id}/runs", "GET", status, history)
    assert history["sync_state"]["rows"] == 1000

    # Grant to a group; a member sees the table, a non-member does not.
    await api("POST", "admin/users", {"username": "carol", "display_name": "Carol"}, token=ALICE)
    status, _group, _ = await api("POST", "admin/groups", {"name": "analysts"}, token=ALICE)
    assert status == 201
    await api("GET", "me", token=BOB)  # bob is seen once, like any user logging in
    status, _, _ = await api("POST", "admin/groups/analysts/members", {"username": "bob"}, token=ALICE)
    assert status == 201
    status, grant, _ = await api("POST", "admin/grants", {"group": "analysts", "resource_type": "table",
                                                          "resource_id": "pg_orders", "requirement": "required"},
                                 token=ALICE)
    assert status == 201
    assert grant["id"]
    assert_matches_openapi("/admin/grants", "POST", status, grant)
    _, catalog, _ = await api("GET", "catalog", token=BOB)
    assert [t["id"] for t in catalog["tables"]] == ["pg_orders"]
    status, _, _ = await api("GET", "tables/pg_orders/schema", token=BOB)
    assert status == 200

    status, _, _ = await api("DELETE", f"admin/grants/{grant['id']}", token=ALICE)
    assert status == 204
    _, catalog, _ = await api("GET", "catalog", token=BOB)
    assert catalog["tables"] == []
    status, body, _ = await api("GET", "tables/pg_orders/schema", token=BOB)
    assert status == 404
    assert body["error"] == "not_found"

    # Every admin change above is in the audit log.
    _, audit, _ = await api("GET", "admin/audit", params={"resource": "grant/"}, token=ALICE)
    assert {e["action"] for e in audit["entries"]} >= {"grant.create", "grant.delete"}
    assert_matches_openapi("/admin/audit", "GET", 200, audit)


async def test_removing_a_member_hides_the_groups_tables(api) -> None:
    await api("GET", "me", token=BOB)
    await api("POST", "admin/groups", {"name": "finance"}, token=ALICE)
    await api("POST", "admin/groups/finance/members", {"username": "bob"}, token=ALICE)
    await api("POST", "admin/grants", {"group": "finance", "resource_id": "orders"}, token=ALICE)
    _, catalog, _ = await api("GET", "catalog", token=BOB)
    assert [t["id"] for t in catalog["tables"]] == ["orders"]
    status, _, _ = await api("DELETE", "admin/groups/finance/members/bob", token=ALICE)
    assert status == 204
    _, catalog, _ = await api("GET", "catalog", token=BOB)
    assert catalog["tables"] == []


async def test_everyone_grant_reaches_every_user(api) -> None:
    await api("POST", "admin/grants", {"group": "Everyone", "resource_id": "customers"}, token=ALICE)
    _, catalog, _ = await api("GET", "catalog", token=BOB)
    assert [t["id"] for t in catalog["tables"]] == ["customers"]


async def test_access_validation_errors(api) -> None:
    status, body, _ = await api("POST", "admin/grants", {"group": "nobody", "resource_id": "orders"}, token=ALICE)
    assert status == 404
    assert body["error"] == "not_found"
    status, body, _ = await api("POST", "admin/grants", {"group": "Everyone", "resource_id": "nope"}, token=ALICE)
    assert status == 404  # well-formed, naming a table that is not registered
    assert body["details"]["field"] == "resource_id"
    status, body, _ = await api("POST", "admin/users", {"username": "has space"}, token=ALICE)
    assert status == 400
    assert body["details"]["field"] == "username"
    status, body, _ = await api("POST", "admin/groups", {"name": "Admin"}, token=ALICE)
    assert status == 409
