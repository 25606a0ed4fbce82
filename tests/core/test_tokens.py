from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from agnes_core.core import AgnesCore
from agnes_core.errors import Unauthorized, ValidationError
from agnes_core.store.state import utcnow


@pytest.fixture
def core(tmp_path: Path):
    c = AgnesCore(tmp_path / "data")
    c.access.create_user({"username": "ann"}, "admin")
    yield c
    c.close()


def test_a_token_is_shown_once_and_stored_as_a_hash(core: AgnesCore, tmp_path: Path) -> None:
    created = core.tokens.create("ann", {"name": "ci", "expires_in_days": 30}, "ann")
    token = created["token"]
    assert token.startswith("agnes_")
    assert "token" not in core.tokens.get(created["id"])
    assert all("token" not in t for t in core.tokens.list("ann"))
    core.store.close()
    assert token.split("_")[-1].encode() not in (tmp_path / "data" / "system.duckdb").read_bytes()


def test_authenticate_revoke_and_expiry(core: AgnesCore) -> None:
    created = core.tokens.create("ann", {"name": "script"}, "ann")
    assert core.tokens.authenticate(created["token"], "10.0.0.1") == ("ann", created["id"])
    with pytest.raises(Unauthorized):
        core.tokens.authenticate(created["token"][:-1] + ("A" if created["token"][-1] != "A" else "B"), None)
    core.tokens.revoke(created["id"], "ann")
    with pytest.raises(Unauthorized) as err:
        core.tokens.authenticate(created["token"], None)
    assert "revoked" in err.value.message
    other = core.tokens.create("ann", {"name": "old"}, "ann")
    with core.store.write() as cur:
        cur.execute("UPDATE tokens SET expires_at = ? WHERE id = ?", [utcnow() - timedelta(seconds=1), other["id"]])
    with pytest.raises(Unauthorized) as err:
        core.tokens.authenticate(other["token"], None)
    assert "expired" in err.value.message


def test_a_deactivated_users_tokens_stop_working(core: AgnesCore) -> None:
    created = core.tokens.create("ann", {"name": "script"}, "ann")
    core.access.set_active("ann", False, "admin")
    with pytest.raises(Unauthorized) as err:
        core.tokens.authenticate(created["token"], None)
    assert "deactivated" in err.value.message


def test_first_use_from_a_new_ip_is_audited_once(core: AgnesCore) -> None:
    created = core.tokens.create("ann", {"name": "script"}, "ann")
    for ip in ("10.0.0.1", "10.0.0.1", "10.0.0.2"):
        core.tokens.authenticate(created["token"], ip)
    entries = core.audit.entries(action="token.first_use_from_ip")
    assert sorted(e["details"]["ip"] for e in entries) == ["10.0.0.1", "10.0.0.2"]


def test_token_validation(core: AgnesCore) -> None:
    for body, field in (({}, "name"), ({"name": "x", "expires_in_days": 0}, "expires_in_days"),
                        ({"name": "x", "expires_in_days": "7"}, "expires_in_days")):
        with pytest.raises(ValidationError) as err:
            core.tokens.create("ann", body, "ann")
        assert err.value.field == field
