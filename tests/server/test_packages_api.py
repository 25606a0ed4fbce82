"""Data packages, grants of packages, Browse, My Stack, the sync manifest and the audit log, on a
team server: alice is an admin (by config), bob is not."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import pytest

from .conftest import ALICE, BOB, assert_matches_openapi

SALES = {"slug": "sales", "title": "Sales", "description": "Orders and the customers who place them.",
         "lifecycle": "prod", "category": "Commerce", "owner_name": "Ann", "owner_team": "Data",
         "tags": ["orders", "revenue"], "long_description": "Every order since 2020.",
         "when_to_use": ["Revenue questions"], "when_not_to_use": ["Web traffic"],
         "example_questions": ["Which country buys most?"], "tables": ["orders", "customers"]}


@pytest.fixture
def jp_server_config(multiuser_config):
    return multiuser_config


def core_of(jp_serverapp: Any) -> Any:
    return next(iter(jp_serverapp.extension_manager.extension_apps["agnes_server"])).core


async def grant(api, resource_type: str, resource_id: str, requirement: str = "available",
                group: str = "Everyone") -> str:
    status, body, _ = await api("POST", "admin/grants", {"group": group, "resource_type": resource_type,
                                                          "resource_id": resource_id, "requirement": requirement},
                                token=ALICE)
    assert status == 201, body
    return str(body["id"])


@pytest.mark.parametrize(("field", "value", "limit"), [
    ("tags", [f"t{i}" for i in range(9)], 8),
    ("tags", ["x" * 31], 30),
    ("long_description", "x" * 4001, 4000),
    ("when_to_use", ["y"] * 9, 8),
    ("when_not_to_use", ["z" * 201], 200),
    ("example_questions", [f"q{i}?" for i in range(13)], 12),
    ("title", "t" * 201, 200),
])
async def test_a_validation_error_names_the_field_and_its_limit(api, field: str, value: Any, limit: int) -> None:
    status, body, _ = await api("POST", "admin/packages", {**SALES, field: value}, token=ALICE)
    assert (status, body["error"]) == (400, "validation_error")
    assert body["details"]["field"] == field
    assert body["details"]["limit"] == limit
    assert str(limit) in body["message"]


@pytest.mark.parametrize(("field", "value", "status"), [
    ("lifecycle", "beta", 400), ("slug", "Not A Slug", 400), ("cover_image_url", "javascript:alert(1)", 400),
    ("colour", "red", 400),
    ("tables", ["no_such_table"], 404),  # well-formed, but names a table that is not registered
])
async def test_bad_package_fields_are_refused_with_the_field(api, field: str, value: Any, status: int) -> None:
    got, body, _ = await api("POST", "admin/packages", {**SALES, field: value}, token=ALICE)
    assert (got, body["details"]["field"]) == (status, field)


async def test_admin_crud_soft_delete_and_restore(api) -> None:
    status, created, _ = await api("POST", "admin/packages", SALES, token=ALICE)
    assert status == 201
    assert_matches_openapi("/admin/packages", "POST", status, created)
    assert created["curated"] is True  # created by an admin
    assert created["new"] is True  # created today
    assert created["tables"] == ["orders", "customers"]
    status, body, _ = await api("POST", "admin/packages", SALES, token=ALICE)
    assert (status, body["error"]) == (409, "already_exists")
    status, body, _ = await api("POST", "admin/packages", SALES, token=BOB)
    assert status == 403

    status, patched, _ = await api("PATCH", "admin/packages/sales", {"tags": ["orders"], "lifecycle": "poc"},
                                   token=ALICE)
    assert (status, patched["tags"], patched["lifecycle"], patched["title"]) == (200, ["orders"], "poc", "Sales")

    status, deleted, _ = await api("DELETE", "admin/packages/sales", token=ALICE)
    assert status == 200
    assert deleted["deleted_at"] is not None
    status, listing, _ = await api("GET", "admin/packages", token=ALICE)
    assert [p["slug"] for p in listing["packages"]] == []
    status, listing, _ = await api("GET", "admin/packages", token=ALICE, params={"include_deleted": "true"})
    assert [p["slug"] for p in listing["packages"]] == ["sales"]
    status, body, _ = await api("PATCH", "admin/packages/sales", {"title": "x"}, token=ALICE)
    assert status == 404  # a deleted package is not edited until restored

    status, restored, _ = await api("POST", "admin/packages/sales/restore", token=ALICE)
    assert (status, restored["deleted_at"], restored["tags"]) == (200, None, ["orders"])
    status, body, _ = await api("POST", "admin/packages/sales/restore", token=ALICE)
    assert (status, body["error"]) == (409, "conflict")  # it exists, and is not deleted
    status, body, _ = await api("POST", "admin/packages/nope/restore", token=ALICE)
    assert status == 404


async def test_browse_stack_and_subscriptions_follow_grants(api) -> None:
    await api("POST", "admin/packages", SALES, token=ALICE)
    await api("POST", "admin/packages", {**SALES, "slug": "drafty", "title": "Draft", "lifecycle": "draft"},
              token=ALICE)
    await api("POST", "admin/packages", {**SALES, "slug": "hidden", "title": "Hidden"}, token=ALICE)

    status, browse, _ = await api("GET", "packages", token=BOB)
    assert (status, browse["packages"]) == (200, [])
    status, ungranted, _ = await api("PUT", "stack/packages/sales", token=BOB)
    status_missing, missing, _ = await api("PUT", "stack/packages/nope", token=BOB)
    # An ungranted package is answered exactly like one that does not exist.
    assert (status, status_missing) == (404, 404)
    assert ungranted["message"].replace("sales", "X") == missing["message"].replace("nope", "X")
    status, body, _ = await api("GET", "catalog", token=BOB)
    assert "orders" not in {t["id"] for t in body["tables"]}

    grant_id = await grant(api, "package", "sales", "available")
    await grant(api, "package", "drafty", "available")
    status, browse, _ = await api("GET", "packages", token=BOB)
    assert_matches_openapi("/packages", "GET", status, browse)
    assert [p["slug"] for p in browse["packages"]] == ["sales"]  # drafts stay hidden from analysts
    sales = browse["packages"][0]
    assert (sales["requirement"], sales["in_stack"], sales["subscribed"]) == ("available", False, False)
    assert {t["id"]: t["readable"] for t in sales["tables"]} == {"orders": True, "customers": True}
    status, body, _ = await api("GET", "catalog", token=BOB)
    assert {"orders", "customers"} <= {t["id"] for t in body["tables"]}  # a package grant grants its tables
    status, body, _ = await api("GET", "packages/hidden", token=BOB)
    assert status == 404
    status, admin_browse, _ = await api("GET", "packages", token=ALICE)
    assert {p["slug"] for p in admin_browse["packages"]} == {"sales", "drafty", "hidden"}

    status, stack, _ = await api("GET", "stack", token=BOB)
    assert (status, stack["packages"]) == (200, [])
    status, stack, _ = await api("PUT", "stack/packages/sales", token=BOB)
    assert status == 200
    assert_matches_openapi("/stack/{kind}/{id}", "PUT", status, stack)
    assert [p["slug"] for p in stack["packages"]] == ["sales"]
    status, _, _ = await api("DELETE", "stack/packages/sales", token=BOB)
    assert status == 204
    status, stack, _ = await api("GET", "stack", token=BOB)
    assert stack["packages"] == []

    await api("DELETE", f"admin/grants/{grant_id}", token=ALICE)
    await grant(api, "package", "sales", "required")
    status, stack, _ = await api("GET", "stack", token=BOB)
    assert [(p["slug"], p["requirement"]) for p in stack["packages"]] == [("sales", "required")]
    status, body, _ = await api("DELETE", "stack/packages/sales", token=BOB)
    assert (status, body["error"]) == (400, "required_item")
    assert body["details"]["groups"] == ["Everyone"]
    assert "required" in body["message"]
    assert body["hint"]

    # Soft delete hides it everywhere at once; restore brings it back with its grant.
    await api("DELETE", "admin/packages/sales", token=ALICE)
    status, stack, _ = await api("GET", "stack", token=BOB)
    assert stack["packages"] == []
    status, body, _ = await api("GET", "catalog", token=BOB)
    assert "orders" not in {t["id"] for t in body["tables"]}
    await api("POST", "admin/packages/sales/restore", token=ALICE)
    status, stack, _ = await api("GET", "stack", token=BOB)
    assert [p["slug"] for p in stack["packages"]] == ["sales"]


async def test_manifest_lists_the_stack_with_md5_and_drops_revoked_tables(api, jp_serverapp, jp_fetch) -> None:
    core = core_of(jp_serverapp)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, core.extracts.execute, core.extracts.start("orders"))
    await api("POST", "admin/packages", {**SALES, "tables": ["orders", "customers", "events"]}, token=ALICE)
    grant_id = await grant(api, "package", "sales", "required")

    status, manifest, _ = await api("GET", "sync/manifest", token=BOB)
    assert_matches_openapi("/sync/manifest", "GET", status, manifest)
    by_id = {t["id"]: t for t in manifest["tables"]}
    assert set(by_id) == {"orders", "customers", "events"}
    data = await jp_fetch("agnes", "v1", "sync", "tables", "orders", "data", headers={"Authorization": f"token {BOB}"})
    assert by_id["orders"]["md5"] == hashlib.md5(data.body, usedforsecurity=False).hexdigest()
    assert by_id["orders"]["size_bytes"] == len(data.body)
    assert by_id["orders"]["rows"] == int(data.headers["X-Agnes-Rows"]) > 0
    assert (by_id["orders"]["packages"], by_id["orders"]["required"]) == (["sales"], True)
    assert (by_id["events"]["query_mode"], by_id["events"]["md5"]) == ("remote", None)
    assert (by_id["customers"]["query_mode"], by_id["customers"]["md5"]) == ("local", None)  # not extracted yet

    await api("DELETE", f"admin/grants/{grant_id}", token=ALICE)
    status, manifest, _ = await api("GET", "sync/manifest", token=BOB)
    assert (status, manifest["tables"]) == (200, [])
    status, _body, _ = await api("GET", "sync/tables/orders/data", token=BOB)
    assert status == 404  # no longer readable: indistinguishable from missing

    # A table granted directly as required is in the stack (and the manifest) too.
    await grant(api, "table", "orders", "required")
    status, manifest, _ = await api("GET", "sync/manifest", token=BOB)
    assert [(t["id"], t["packages"], t["required"]) for t in manifest["tables"]] == [("orders", [], True)]


async def test_audit_records_admin_changes_sync_and_stack_filtered_by_time(api) -> None:
    await api("POST", "admin/packages", SALES, token=ALICE)
    await grant(api, "package", "sales")
    await api("PUT", "stack/packages/sales", token=BOB)
    await api("GET", "sync/manifest", token=BOB)
    status, body, _ = await api("GET", "admin/audit", token=ALICE, params={"resource": "package/"})
    assert [(e["action"], e["actor"], e["outcome"]) for e in body["entries"]] == [("package.create", "alice", "ok")]
    status, body, _ = await api("GET", "admin/audit", token=ALICE, params={"user": "bob"})
    assert [e["action"] for e in body["entries"]] == ["sync.manifest", "stack.add"]
    first = body["entries"][-1]["occurred_at"]
    status, body, _ = await api("GET", "admin/audit", token=ALICE, params={"user": "bob", "since": first})
    assert len(body["entries"]) == 2
    status, body, _ = await api("GET", "admin/audit", token=ALICE, params={"user": "bob", "until": first})
    assert body["entries"] == []
    status, body, _ = await api("GET", "admin/audit", token=ALICE, params={"since": "yesterday"})
    assert (status, body["details"]["field"]) == (400, "since")


async def test_settings_override_the_gate_limits_at_once_and_are_audited(api) -> None:
    status, body, _ = await api("GET", "admin/settings", token=BOB)
    assert status == 403
    status, before, _ = await api("GET", "admin/settings", token=ALICE)
    assert_matches_openapi("/admin/settings", "GET", status, before)
    assert before["overrides"] == {}
    status, body, _ = await api("PATCH", "admin/settings", {"limits": {"scan_confirm_bytes": 0}}, token=ALICE)
    assert (status, body["details"]["field"]) == (400, "limits.scan_confirm_bytes")
    status, after, _ = await api("PATCH", "admin/settings", {"limits": {"scan_confirm_bytes": 12345}}, token=ALICE)
    assert_matches_openapi("/admin/settings", "PATCH", status, after)
    assert (after["limits"]["scan_confirm_bytes"], after["updated_by"]) == (12345, "alice")
    assert after["configured"]["scan_confirm_bytes"] == before["configured"]["scan_confirm_bytes"]
    status, estimate, _ = await api("POST", "scans/estimate", {"sql": "SELECT amount FROM events"}, token=ALICE)
    assert estimate["limits"]["scan_confirm_bytes"] == 12345  # in effect at once
    status, audit, _ = await api("GET", "admin/audit", token=ALICE, params={"resource": "settings"})
    assert [(e["action"], e["outcome"]) for e in audit["entries"]] == [("settings.update", "ok"),
                                                                       ("settings.update", "error")]

    status, back, _ = await api("PATCH", "admin/settings", {"limits": {"scan_confirm_bytes": None}}, token=ALICE)
    assert (back["overrides"], back["limits"]["scan_confirm_bytes"]) == ({}, before["limits"]["scan_confirm_bytes"])


async def test_a_coming_soon_package_is_shown_but_cannot_be_added_and_grants_no_tables(api) -> None:
    await api("POST", "admin/packages", {**SALES, "slug": "soon", "lifecycle": "coming-soon"}, token=ALICE)
    await grant(api, "package", "soon")
    status, browse, _ = await api("GET", "packages", token=BOB)
    assert [p["slug"] for p in browse["packages"]] == ["soon"]
    status, body, _ = await api("PUT", "stack/packages/soon", token=BOB)
    assert (status, body["error"], body["details"]["lifecycle"]) == (400, "not_available", "coming-soon")
    status, body, _ = await api("GET", "catalog", token=BOB)
    assert "orders" not in {t["id"] for t in body["tables"]}


async def test_a_table_granted_available_can_be_added_to_the_stack_directly(api) -> None:
    status, body, _ = await api("PUT", "stack/tables/orders", token=BOB)
    status_missing, missing, _ = await api("PUT", "stack/tables/no_such_table", token=BOB)
    assert (status, status_missing) == (404, 404)  # ungranted and missing are answered alike
    assert body["message"].replace("orders", "X") == missing["message"].replace("no_such_table", "X")
    await grant(api, "table", "orders", "available")
    status, stack, _ = await api("PUT", "stack/tables/orders", token=BOB)
    assert [(t["id"], t["subscribed"], t["required"]) for t in stack["tables"]] == [("orders", True, False)]
    status, manifest, _ = await api("GET", "sync/manifest", token=BOB)
    assert [(t["id"], t["required"]) for t in manifest["tables"]] == [("orders", False)]
    status, _, _ = await api("DELETE", "stack/tables/orders", token=BOB)
    assert status == 204
    status, manifest, _ = await api("GET", "sync/manifest", token=BOB)
    assert manifest["tables"] == []
