from __future__ import annotations

from pathlib import Path

import pytest

from agnes_core.access.principals import ADMIN_GROUP, EVERYONE
from agnes_core.core import AgnesCore
from agnes_core.errors import AlreadyExists, Conflict, NotFound, ValidationError


@pytest.fixture
def core(tmp_path: Path, demo_lake: Path):
    c = AgnesCore(tmp_path / "data", admin_users=["root_admin"])
    c.registry.add_source({"name": "demo", "type": "lake", "options": {"path": str(demo_lake)}})
    for tid in ("orders", "customers"):
        c.registry.register_table({"id": tid, "source": "demo", "source_table": tid})
    c.access.create_user({"username": "ann"}, "admin")
    c.access.create_user({"username": "ben"}, "admin")
    c.access.create_group({"name": "analysts"})
    c.access.add_member("analysts", {"username": "ann"})
    yield c
    c.close()


def exists(core: AgnesCore):
    return lambda rtype, rid: core.registry.find_table(rid) is not None


def test_builtin_groups_exist_and_everyone_is_implicit(core: AgnesCore) -> None:
    groups = {g["name"]: g for g in core.access.list_groups()}
    assert {EVERYONE, ADMIN_GROUP, "analysts"} <= set(groups)
    assert groups[EVERYONE]["implicit_members"] is True
    assert EVERYONE in core.access.principal("ben").groups
    with pytest.raises(Conflict):  # every user is a member already
        core.access.add_member(EVERYONE, {"username": "ben"})
    with pytest.raises(Conflict):
        core.access.delete_group(EVERYONE)


def test_grants_decide_what_a_user_may_read(core: AgnesCore) -> None:
    ann, ben = core.access.principal("ann"), core.access.principal("ben")
    assert not core.access.can_read(ann, "orders")
    grant = core.access.create_grant({"group": "analysts", "resource_id": "orders", "requirement": "required"},
                                     "admin", resource_exists=exists(core))
    assert core.access.can_read(ann, "orders")
    assert not core.access.can_read(ben, "orders")
    assert core.access.readable_tables(ann) == {"orders": "required"}
    core.access.create_grant({"group": EVERYONE, "resource_id": "customers"}, "admin", resource_exists=exists(core))
    assert core.access.can_read(ben, "customers")
    core.access.delete_grant(grant["id"])
    assert not core.access.can_read(core.access.principal("ann"), "orders")  # revoked: next check says no


def test_admins_read_everything(core: AgnesCore) -> None:
    assert core.access.readable_tables(core.access.principal("root_admin")) is None
    core.access.add_member(ADMIN_GROUP, {"username": "ben"})
    ben = core.access.principal("ben")
    assert ben.is_admin
    assert core.access.can_read(ben, "orders")


def test_grant_validation(core: AgnesCore) -> None:
    with pytest.raises(NotFound):
        core.access.create_grant({"group": "nobody", "resource_id": "orders"}, "a", resource_exists=exists(core))
    with pytest.raises(NotFound) as missing:  # well-formed, naming nothing registered
        core.access.create_grant({"group": "analysts", "resource_id": "nope"}, "a", resource_exists=exists(core))
    assert missing.value.details["field"] == "resource_id"
    with pytest.raises(ValidationError) as err:
        core.access.create_grant({"group": "analysts", "resource_id": "orders", "requirement": "maybe"}, "a",
                                 resource_exists=exists(core))
    assert err.value.field == "requirement"
    core.access.create_grant({"group": "analysts", "resource_id": "orders"}, "a", resource_exists=exists(core))
    with pytest.raises(AlreadyExists):
        core.access.create_grant({"group": "analysts", "resource_id": "orders"}, "a", resource_exists=exists(core))


def test_deleting_a_table_or_group_removes_its_grants(core: AgnesCore) -> None:
    core.access.create_grant({"group": "analysts", "resource_id": "orders"}, "a", resource_exists=exists(core))
    core.access.create_grant({"group": "analysts", "resource_id": "customers"}, "a", resource_exists=exists(core))
    core.registry.delete_table("orders")
    assert [g["resource_id"] for g in core.access.list_grants()] == ["customers"]
    core.access.delete_group("analysts")
    assert core.access.list_grants() == []


def test_users_are_deactivated_not_erased(core: AgnesCore) -> None:
    core.access.set_active("ben", False, "admin")
    ben = core.access.get_user("ben")
    assert ben["is_active"] is False
    assert ben["deactivated_at"]
    assert core.access.principal("ben").is_active is False
    core.access.set_active("ben", True, "admin")
    assert core.access.principal("ben").is_active is True


def test_membership_changes_are_published(core: AgnesCore) -> None:
    seen = []
    core.hub.subscribe(seen.append)
    core.access.add_member("analysts", {"username": "ben"})
    core.access.remove_member("analysts", "ben")
    assert [(c.kind, c.action) for c in seen] == [("group", "update"), ("group", "update")]
