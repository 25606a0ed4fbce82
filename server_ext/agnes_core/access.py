"""Who someone is to Agnes: users, groups, members, and the admin role."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .ids import USERNAME_RE, check
from .store import StateStore, utcnow

EVERYONE = "Everyone"
ADMIN_GROUP = "Admin"


@dataclass(frozen=True)
class Principal:
    """The resolved identity of a request: stable username, groups and admin flag."""

    username: str
    display_name: str
    groups: frozenset[str]
    is_admin: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "display_name": self.display_name,
            "groups": sorted(self.groups),
            "is_admin": self.is_admin,
        }


class Access:
    def __init__(self, store: StateStore, admin_users: Iterable[str] = ()) -> None:
        self.store = store
        self.admin_users = frozenset(admin_users)
        self._known_users: set[str] = set()
        self._lock = threading.Lock()

    def ensure_user(self, username: str, display_name: str | None = None) -> None:
        """Record a user the first time they are seen (cheap afterwards)."""
        check(USERNAME_RE, username, "username", "a username without spaces or slashes")
        if username in self._known_users:
            return
        with self._lock:
            if username in self._known_users:
                return
            with self.store.write() as cur:
                if not cur.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchone():
                    cur.execute(
                        "INSERT INTO users (username, display_name, is_active, created_by, created_at)"
                        " VALUES (?, ?, TRUE, NULL, ?)",
                        [username, display_name or username, utcnow()],
                    )
            self._known_users.add(username)

    def groups_of(self, username: str) -> frozenset[str]:
        rows = self.store.rows("SELECT group_name FROM group_members WHERE username = ?", [username])
        return frozenset({EVERYONE, *(r["group_name"] for r in rows)})

    def principal(self, username: str, display_name: str | None = None, *, owner: bool = False) -> Principal:
        """Build the principal for a request. ``owner``: the personal server's owner (always admin)."""
        self.ensure_user(username, display_name)
        groups = self.groups_of(username)
        is_admin = owner or username in self.admin_users or ADMIN_GROUP in groups
        return Principal(username, display_name or username, groups, is_admin)
