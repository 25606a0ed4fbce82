"""Stable identities: the owner in personal mode, the provider's username otherwise."""

from __future__ import annotations

import pytest

from agnes_core.access.principals import ADMIN_GROUP

from .conftest import ALICE, BOB, agnes_app


async def test_personal_mode_maps_every_jupyter_login_to_the_owner(api, jp_serverapp) -> None:
    # Jupyter's default provider gives each cookie-less token request a fresh anonymous user...
    first = await api("GET", "me")
    second = await api("GET", "me")
    assert first[1]["username"] == second[1]["username"] == "owner"
    assert agnes_app(jp_serverapp).identity.personal


class TestTeamServer:
    @pytest.fixture
    def jp_server_config(self, multiuser_config: dict) -> dict:
        return multiuser_config

    async def test_usernames_come_from_the_identity_provider(self, api) -> None:
        _, alice, _ = await api("GET", "me", token=ALICE)
        _, bob, _ = await api("GET", "me", token=BOB)
        assert (alice["username"], alice["is_admin"]) == ("alice", True)
        assert (bob["username"], bob["display_name"], bob["is_admin"]) == ("bob", "Bob", False)

    async def test_members_of_the_admin_group_are_admins(self, api, jp_serverapp) -> None:
        _, before, _ = await api("GET", "me", token=BOB)
        assert before["is_admin"] is False
        status, _, _ = await api("POST", f"admin/groups/{ADMIN_GROUP}/members", {"username": "bob"}, token=ALICE)
        assert status == 201
        _, after, _ = await api("GET", "me", token=BOB)
        assert after["is_admin"] is True
        assert ADMIN_GROUP in after["groups"]

    async def test_users_are_recorded_when_first_seen(self, api, jp_serverapp) -> None:
        await api("GET", "me", token=BOB)
        core = agnes_app(jp_serverapp).core
        assert core.store.scalar("SELECT display_name FROM users WHERE username = 'bob'") == "Bob"
