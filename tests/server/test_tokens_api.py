"""Personal access tokens: issue, use, refuse to mint, revoke, expire, deactivate."""

from __future__ import annotations

import pytest

from .conftest import ALICE, BOB, assert_matches_openapi


@pytest.fixture
def jp_server_config(multiuser_config: dict) -> dict:
    return multiuser_config


async def test_a_token_acts_as_its_user_until_revoked(api) -> None:
    status, created, _ = await api("POST", "tokens", {"name": "my script", "expires_in_days": 7}, token=BOB)
    assert status == 201
    assert_matches_openapi("/tokens", "POST", status, created)
    pat = created["token"]
    status, me, _ = await api("GET", "me", token=pat)
    assert status == 200
    assert me["username"] == "bob"
    _, listed, _ = await api("GET", "tokens", token=BOB)
    assert [t["id"] for t in listed["tokens"]] == [created["id"]]
    assert "token" not in listed["tokens"][0]

    status, body, _ = await api("POST", "tokens", {"name": "another"}, token=pat)
    assert status == 403
    assert "cannot mint" in body["message"]

    status, _, _ = await api("DELETE", f"tokens/{created['id']}", token=BOB)
    assert status == 204
    status, body, _ = await api("GET", "me", token=pat)
    assert status == 401
    assert body["error"] == "unauthorized"
    assert "revoked" in body["message"]


async def test_an_admin_issues_and_revokes_tokens_for_a_user(api) -> None:
    await api("POST", "admin/users", {"username": "dana"}, token=ALICE)
    status, created, _ = await api("POST", "admin/users/dana/tokens", {"name": "team server"}, token=ALICE)
    assert status == 201
    assert created["username"] == "dana"
    status, me, _ = await api("GET", "me", token=created["token"])
    assert me["username"] == "dana"
    assert me["is_admin"] is False
    status, _, _ = await api("DELETE", f"admin/tokens/{created['id']}", token=ALICE)
    assert status == 204
    status, _, _ = await api("GET", "me", token=created["token"])
    assert status == 401


async def test_deactivating_a_user_stops_their_tokens(api) -> None:
    await api("POST", "admin/users", {"username": "erin"}, token=ALICE)
    _, created, _ = await api("POST", "admin/users/erin/tokens", {"name": "t"}, token=ALICE)
    status, _, _ = await api("PATCH", "admin/users/erin", {"is_active": False}, token=ALICE)
    assert status == 200
    status, body, _ = await api("GET", "catalog", token=created["token"])
    assert status == 401
    assert "deactivated" in body["message"]


async def test_a_users_own_tokens_are_theirs_alone(api) -> None:
    _, created, _ = await api("POST", "tokens", {"name": "alice's"}, token=ALICE)
    status, _, _ = await api("DELETE", f"tokens/{created['id']}", token=BOB)
    assert status == 404


async def test_a_personal_access_token_never_reaches_jupyters_own_apis(api, jp_fetch) -> None:
    _, created, _ = await api("POST", "tokens", {"name": "x"}, token=BOB)
    for path in (("api", "contents"), ("api", "kernels"), ("api", "sessions")):
        response = await jp_fetch(*path, headers={"Authorization": f"token {created['token']}"}, raise_error=False)
        assert response.code == 403, path


async def test_first_use_from_an_ip_is_audited(api) -> None:
    _, created, _ = await api("POST", "tokens", {"name": "x"}, token=BOB)
    await api("GET", "me", token=created["token"])
    _, audit, _ = await api("GET", "admin/audit", params={"action": "token.first_use_from_ip"}, token=ALICE)
    assert [e["resource"] for e in audit["entries"]] == [f"token/{created['id']}"]
