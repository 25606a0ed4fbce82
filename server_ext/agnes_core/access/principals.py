"""Who may use what: users, groups, members, grants, and the admin role.

A table is readable by a user when the user is an admin, or when a grant gives the
table to one of the user's groups (every user is in ``Everyone``) — directly, or through a
granted data package (a live ``prod`` or ``poc`` package grants its tables with the
package's requirement). Packages and recipes are granted the same way. Grants are held in an
in-memory index rebuilt on every change, so a revoked grant takes effect on the very next
request.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from agnes_core import ids
from agnes_core.errors import AgnesError, AlreadyExists, Conflict, Forbidden, NotFound, ValidationError
from agnes_core.events import Change, ChangeHub
from agnes_core.ids import GROUP_RE, check
from agnes_core.store.state import StateStore, iso, loads, utcnow

EVERYONE = "Everyone"
ADMIN_GROUP = "Admin"
BUILTIN_GROUPS = {EVERYONE: "Every user (membership is implicit)", ADMIN_GROUP: "Agnes admins"}
REQUIREMENTS = ("required", "available")
RESOURCE_TYPES = ("table", "package", "recipe")
#: The most changes one ``POST admin/grants:batch`` applies.
MAX_GRANT_CHANGES = 5000
#: Package lifecycles whose grants give their tables (``coming-soon`` and ``draft`` give none).
GRANTING_LIFECYCLES = ("prod", "poc")


@dataclass(frozen=True)
class Principal:
    """The resolved identity of a request: stable username, groups and admin flag."""

    username: str
    display_name: str
    groups: frozenset[str]
    is_admin: bool
    is_active: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "display_name": self.display_name,
            "groups": sorted(self.groups),
            "is_admin": self.is_admin,
        }


class Access:
    def __init__(self, store: StateStore, hub: ChangeHub, admin_users: Iterable[str] = ()) -> None:
        self.store = store
        self.hub = hub
        self.admin_users = frozenset(admin_users)
        self._known_users: set[str] = set()
        self._owners: set[str] = set()  # the personal server's owner(s) seen since start
        self._lock = threading.Lock()
        # kind -> group -> {id: requirement}; rebuilt lazily after any change. The generation
        # counter stops a build that overlapped an invalidation from storing stale grants.
        self._grants: dict[str, dict[str, dict[str, str]]] | None = None
        self._generation = 0
        self._ensure_builtin_groups()
        hub.subscribe(self._on_change)

    def _on_change(self, change: Change) -> None:
        if change.kind in ("grant", "group", "table", "package", "recipe"):
            self._invalidate_grants()
        if change.kind == "user":
            self._known_users.clear()
            self._invalidate_grants()  # a deactivated user's open streams look again (generation moves)

    def _ensure_builtin_groups(self) -> None:
        with self.store.write() as cur:
            for name, description in BUILTIN_GROUPS.items():
                if not cur.execute("SELECT 1 FROM groups WHERE name = ?", [name]).fetchone():
                    cur.execute("INSERT INTO groups VALUES (?, ?, ?)", [name, description, utcnow()])

    # -- users ----------------------------------------------------------------------------

    def ensure_user(self, username: str, display_name: str | None = None) -> None:
        """Record a user the first time they are seen (cheap afterwards)."""
        ids.username(username)
        if username in self._known_users:
            return
        with self._lock, self.store.write() as cur:
            if not cur.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchone():
                cur.execute(
                    "INSERT INTO users (username, display_name, is_active, created_by, created_at)"
                    " VALUES (?, ?, TRUE, NULL, ?)",
                    [username, display_name or username, utcnow()],
                )
            self._known_users.add(username)

    def is_active(self, username: str) -> bool:
        row = self.store.row("SELECT is_active FROM users WHERE username = ?", [username])
        return bool(row is None or row["is_active"])

    def create_user(self, body: dict[str, Any], actor: str | None) -> dict[str, Any]:
        username = ids.username(body.get("username"))
        display_name = ids.text(body.get("display_name") or username, "display_name", 128)
        with self.store.write() as cur:
            if cur.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchone():
                raise AlreadyExists(f"user {username!r} already exists", details={"username": username})
            cur.execute("INSERT INTO users (username, display_name, is_active, created_by, created_at)"
                        " VALUES (?, ?, TRUE, ?, ?)", [username, display_name, actor, utcnow()])
        self.hub.publish(Change("user", "create"))
        return self.get_user(username)

    def list_users(self) -> list[dict[str, Any]]:
        rows = self.store.rows("SELECT * FROM users ORDER BY username")
        members = self._memberships()
        return [_user_json(r, members.get(r["username"], [])) for r in rows]

    def get_user(self, username: str) -> dict[str, Any]:
        row = self.store.row("SELECT * FROM users WHERE username = ?", [username])
        if row is None:
            raise NotFound(f"no user {username!r}", hint="GET admin/users lists them.", details={"username": username})
        return _user_json(row, self._memberships().get(username, []))

    def set_active(self, username: str, active: bool, actor: str | None) -> dict[str, Any]:
        self.get_user(username)
        with self.store.write() as cur:
            cur.execute("UPDATE users SET is_active = ?, deactivated_at = ?, deactivated_by = ? WHERE username = ?",
                        [active, None if active else utcnow(), None if active else actor, username])
        self.hub.publish(Change("user", "update"))
        return self.get_user(username)

    def _memberships(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for r in self.store.rows("SELECT group_name, username FROM group_members ORDER BY group_name"):
            out.setdefault(r["username"], []).append(r["group_name"])
        return out

    # -- principals ---------------------------------------------------------------------

    def groups_of(self, username: str) -> frozenset[str]:
        rows = self.store.rows("SELECT group_name FROM group_members WHERE username = ?", [username])
        return frozenset({EVERYONE, *(r["group_name"] for r in rows)})

    def principal(self, username: str, display_name: str | None = None, *, owner: bool = False) -> Principal:
        """Build the principal for a request. ``owner``: the personal server's owner (always admin)."""
        self.ensure_user(username, display_name)
        groups = self.groups_of(username)
        if owner:
            self._owners.add(username)
        is_admin = owner or username in self.admin_users or ADMIN_GROUP in groups
        return Principal(username, display_name or username, groups, is_admin, self.is_active(username))

    def is_admin_username(self, username: str) -> bool:
        """Whether ``username`` is an admin now (configured, in the Admin group, or the owner)."""
        if username in self.admin_users or username in self._owners:
            return True
        return self.store.row("SELECT 1 AS x FROM group_members WHERE group_name = ? AND username = ?",
                              [ADMIN_GROUP, username]) is not None

    # -- groups and members -------------------------------------------------------------

    def create_group(self, body: dict[str, Any]) -> dict[str, Any]:
        name = check(GROUP_RE, body.get("name"), "name", "a group name (letters, digits, ' ', '_', '.', '-')")
        description = ids.text(body.get("description") or "", "description", 1000, multiline=True)
        with self.store.write() as cur:
            if cur.execute("SELECT 1 FROM groups WHERE name = ?", [name]).fetchone():
                raise AlreadyExists(f"group {name!r} already exists", details={"group": name})
            cur.execute("INSERT INTO groups VALUES (?, ?, ?)", [name, description, utcnow()])
        self.hub.publish(Change("group", "create"))
        return self.get_group(name)

    def list_groups(self) -> list[dict[str, Any]]:
        members: dict[str, list[str]] = {}
        for r in self.store.rows("SELECT group_name, username FROM group_members ORDER BY username"):
            members.setdefault(r["group_name"], []).append(r["username"])
        return [_group_json(r, members.get(r["name"], []))
                for r in self.store.rows("SELECT * FROM groups ORDER BY name")]

    def get_group(self, name: str) -> dict[str, Any]:
        row = self.store.row("SELECT * FROM groups WHERE name = ?", [name])
        if row is None:
            raise NotFound(f"no group {name!r}", hint="GET admin/groups lists them.", details={"group": name})
        members = [r["username"] for r in
                   self.store.rows("SELECT username FROM group_members WHERE group_name = ? ORDER BY username", [name])]
        return _group_json(row, members)

    def delete_group(self, name: str) -> None:
        self.get_group(name)
        if name in BUILTIN_GROUPS:
            raise Conflict(f"the built-in group {name!r} cannot be deleted")
        with self.store.write() as cur:
            cur.execute("DELETE FROM group_members WHERE group_name = ?", [name])
            cur.execute("DELETE FROM grants WHERE group_name = ?", [name])
            cur.execute("DELETE FROM groups WHERE name = ?", [name])
        self.hub.publish(Change("group", "delete"))

    def add_member(self, group: str, body: dict[str, Any]) -> dict[str, Any]:
        self.get_group(group)
        if group == EVERYONE:
            raise Conflict("every user is in Everyone already; it has no stored members",
                           details={"field": "group"})
        username = ids.username(body.get("username"))
        self.get_user(username)
        with self.store.write() as cur:
            if cur.execute("SELECT 1 FROM group_members WHERE group_name = ? AND username = ?",
                           [group, username]).fetchone():
                raise AlreadyExists(f"{username!r} is already in {group!r}")
            cur.execute("INSERT INTO group_members VALUES (?, ?, ?)", [group, username, utcnow()])
        self.hub.publish(Change("group", "update"))
        return self.get_group(group)

    def remove_member(self, group: str, username: str) -> None:
        self.get_group(group)
        with self.store.write() as cur:
            found = cur.execute("SELECT 1 FROM group_members WHERE group_name = ? AND username = ?",
                                [group, username]).fetchone()
            if not found:
                raise NotFound(f"{username!r} is not a member of {group!r}")
            cur.execute("DELETE FROM group_members WHERE group_name = ? AND username = ?", [group, username])
        self.hub.publish(Change("group", "update"))

    # -- grants -------------------------------------------------------------------------

    def create_grant(self, body: dict[str, Any], actor: str | None, *, resource_exists: Any) -> dict[str, Any]:
        unknown = sorted(set(body) - {"group", "resource_type", "resource_id", "requirement"})
        if unknown:
            raise ValidationError(unknown[0], f"unknown field {unknown[0]!r}")
        group = body.get("group")
        if not isinstance(group, str):
            raise ValidationError("group", "group is required")
        self.get_group(group)
        rtype = body.get("resource_type", "table")
        if rtype not in RESOURCE_TYPES:
            raise ValidationError("resource_type", f"resource_type must be one of {', '.join(RESOURCE_TYPES)}")
        rid = body.get("resource_id")
        if not isinstance(rid, str):
            raise ValidationError("resource_id", "resource_id is required")
        if not resource_exists(rtype, rid):
            raise NotFound(f"no {rtype} {rid!r}", hint="Register it first.", details={"field": "resource_id"})
        requirement = body.get("requirement", "available")
        if requirement not in REQUIREMENTS:
            raise ValidationError("requirement", f"requirement must be one of {', '.join(REQUIREMENTS)}")
        grant_id = uuid.uuid4().hex[:12]
        with self.store.write() as cur:
            existing = cur.execute(
                "SELECT id FROM grants WHERE group_name = ? AND resource_type = ? AND resource_id = ?",
                [group, rtype, rid]).fetchone()
            if existing:
                raise AlreadyExists(f"{group!r} already has a grant on {rtype} {rid!r}",
                                    hint="Delete it first to change the requirement.", details={"id": existing[0]})
            cur.execute("INSERT INTO grants VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [grant_id, group, rtype, rid, requirement, actor, utcnow()])
        self.hub.publish(Change("grant", "create", self._tables_of(rtype, rid)))
        return self.get_grant(grant_id)

    def plan_grant_changes(self, body: dict[str, Any], *, existing: Any) -> list[dict[str, Any]]:
        """What a batch of grant changes would do, every item checked first: ``changes`` is a list of
        ``{group, resource_type, resource_id, requirement}`` (``requirement: null``: no grant).
        ``existing(kind, ids)`` answers which of ``ids`` exist. Every bad item is listed in one
        error (``details.errors``: index, field, message); 404 when every problem is an unknown
        group or resource, else 400."""
        changes = body.get("changes")
        if not isinstance(changes, list) or not changes:
            raise ValidationError("changes", "changes must be a non-empty list", limit=MAX_GRANT_CHANGES)
        if len(changes) > MAX_GRANT_CHANGES:
            raise ValidationError("changes", f"a batch holds at most {MAX_GRANT_CHANGES} changes (got {len(changes)})",
                                  hint="Split it into several batches.", limit=MAX_GRANT_CHANGES)
        groups = {r["name"] for r in self.store.rows("SELECT name FROM groups")}
        wanted: dict[str, set[str]] = {kind: set() for kind in RESOURCE_TYPES}
        for item in changes:
            if isinstance(item, dict) and item.get("resource_type") in RESOURCE_TYPES \
                    and isinstance(item.get("resource_id"), str):
                wanted[item["resource_type"]].add(item["resource_id"])
        found = {kind: existing(kind, ids) if ids else set() for kind, ids in wanted.items()}
        errors: list[dict[str, Any]] = []
        missing_only = True
        seen: dict[tuple[str, str, str], int] = {}
        plan: list[tuple[str, str, str, str | None]] = []

        def bad(index: int, field: str, message: str, *, missing: bool = False) -> None:
            nonlocal missing_only
            missing_only = missing_only and missing
            errors.append({"index": index, "field": field, "message": message})

        for index, item in enumerate(changes):
            if not isinstance(item, dict):
                bad(index, "changes", "each change must be an object")
                continue
            before = len(errors)
            unknown = sorted(set(item) - {"group", "resource_type", "resource_id", "requirement"})
            for key in unknown:
                bad(index, key, f"unknown field {key!r}")
            group, rtype, rid = item.get("group"), item.get("resource_type"), item.get("resource_id")
            requirement = item.get("requirement")
            if not isinstance(group, str) or not group:
                bad(index, "group", "group is required")
            elif group not in groups:
                bad(index, "group", f"no group {group!r} (deleted, or never created)", missing=True)
            if rtype not in RESOURCE_TYPES:
                bad(index, "resource_type", f"resource_type must be one of {', '.join(RESOURCE_TYPES)}")
            if not isinstance(rid, str) or not rid:
                bad(index, "resource_id", "resource_id is required")
            elif rtype in RESOURCE_TYPES and rid not in found[rtype]:
                bad(index, "resource_id", f"no {rtype} {rid!r}", missing=True)
            if "requirement" not in item:
                bad(index, "requirement", "requirement is required: required, available or null (no grant)")
            elif requirement is not None and requirement not in REQUIREMENTS:
                bad(index, "requirement", f"requirement must be one of {', '.join(REQUIREMENTS)} or null")
            if len(errors) > before:
                continue
            key = (str(group), str(rtype), str(rid))  # all three checked above
            if key in seen:
                bad(index, "resource_id", f"{rtype} {rid!r} for {group!r} is already changed by item {seen[key]}")
                continue
            seen[key] = index
            plan.append((*key, requirement))
        if errors:
            raise AgnesError(f"{len(errors)} of {len(changes)} change(s) cannot be applied; nothing was changed",
                             hint="Fix the listed items (details.errors) and send the batch again.",
                             details={"errors": errors}, code="not_found" if missing_only else "validation_error")
        current = {(r["group_name"], r["resource_type"], r["resource_id"]): r["requirement"]
                   for r in self.store.rows("SELECT group_name, resource_type, resource_id, requirement FROM grants")}
        out = []
        for group, rtype, rid, requirement in plan:
            before_req = current.get((group, rtype, rid))
            action = ("none" if before_req == requirement else "create" if before_req is None
                      else "delete" if requirement is None else "update")
            out.append({"group": group, "resource_type": rtype, "resource_id": rid, "before": before_req,
                        "after": requirement, "action": action})
        return out

    def apply_grant_changes(self, body: dict[str, Any], actor: str | None, *, existing: Any) -> dict[str, Any]:
        """Check and (unless ``dry_run``) apply a batch of grant changes in one transaction with one
        change notification; returns the preview ``{dry_run, applied, changes}``."""
        unknown = sorted(set(body) - {"changes", "dry_run"})
        if unknown:
            raise ValidationError(unknown[0], f"unknown field {unknown[0]!r}", hint="allowed fields: changes, dry_run")
        dry_run = body.get("dry_run", False)
        if not isinstance(dry_run, bool):
            raise ValidationError("dry_run", "dry_run must be true or false")
        changes = self.plan_grant_changes(body, existing=existing)
        todo = [c for c in changes if c["action"] != "none"]
        if dry_run or not todo:
            return {"dry_run": dry_run, "applied": False, "changes": changes}
        now = utcnow()
        with self.store.write() as cur:
            for c in todo:
                where = [c["group"], c["resource_type"], c["resource_id"]]
                if c["action"] == "delete":
                    cur.execute("DELETE FROM grants WHERE group_name = ? AND resource_type = ? AND resource_id = ?",
                                where)
                elif c["action"] == "update":
                    cur.execute("UPDATE grants SET requirement = ?, created_by = ?, created_at = ? "
                                "WHERE group_name = ? AND resource_type = ? AND resource_id = ?",
                                [c["after"], actor, now, *where])
                else:
                    cur.execute("INSERT INTO grants VALUES (?, ?, ?, ?, ?, ?, ?)",
                                [uuid.uuid4().hex[:12], *where, c["after"], actor, now])
        tables: set[str] = set()
        for c in todo:
            tables |= self._tables_of(c["resource_type"], c["resource_id"])
        self.hub.publish(Change("grant", "batch", frozenset(tables)))
        return {"dry_run": False, "applied": True, "changes": changes}

    def list_grants(self, *, group: str | None = None, resource_type: str | None = None,
                    resource_id: str | None = None) -> list[dict[str, Any]]:
        where, params = [], []
        for column, value in (("group_name", group), ("resource_type", resource_type), ("resource_id", resource_id)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        sql = "SELECT * FROM grants" + (" WHERE " + " AND ".join(where) if where else "")
        return [_grant_json(r) for r in self.store.rows(sql + " ORDER BY created_at, id", params)]

    def get_grant(self, grant_id: str) -> dict[str, Any]:
        row = self.store.row("SELECT * FROM grants WHERE id = ?", [grant_id])
        if row is None:
            raise NotFound(f"no grant {grant_id!r}", hint="GET admin/grants lists them.", details={"grant": grant_id})
        return _grant_json(row)

    def delete_grant(self, grant_id: str) -> dict[str, Any]:
        grant = self.get_grant(grant_id)
        with self.store.write() as cur:
            cur.execute("DELETE FROM grants WHERE id = ?", [grant_id])
        self.hub.publish(Change("grant", "delete", self._tables_of(grant["resource_type"], grant["resource_id"])))
        return grant

    def _tables_of(self, kind: str, rid: str) -> frozenset[str]:
        """The tables a grant on (kind, rid) reaches: caches of these are invalidated."""
        if kind == "table":
            return frozenset({rid})
        if kind == "package":
            row = self.store.row("SELECT tables FROM packages WHERE slug = ?", [rid])
            return frozenset(loads(row["tables"], [])) if row else frozenset()
        return frozenset()

    def delete_grants_for(self, resource_type: str, resource_id: str) -> None:
        with self.store.write() as cur:
            cur.execute("DELETE FROM grants WHERE resource_type = ? AND resource_id = ?", [resource_type, resource_id])
        self._invalidate_grants()

    @property
    def generation(self) -> int:
        """Changes whenever any grant, group, table or user changes (caches key on it)."""
        return self._generation

    def _invalidate_grants(self) -> None:
        with self._lock:
            self._generation += 1
            self._grants = None

    def _grant_index(self) -> dict[str, dict[str, dict[str, str]]]:
        index = self._grants
        if index is not None:
            return index
        generation = self._generation
        index = {kind: {} for kind in RESOURCE_TYPES}

        def put(kind: str, group: str, rid: str, requirement: str) -> None:
            held = index[kind].setdefault(group, {})
            if held.get(rid) != "required":
                held[rid] = requirement

        packages = {r["slug"]: (r["lifecycle"], loads(r["tables"], []))
                    for r in self.store.rows("SELECT slug, lifecycle, tables FROM packages WHERE deleted_at IS NULL")}
        recipes = {r["slug"] for r in self.store.rows("SELECT slug FROM recipes WHERE deleted_at IS NULL")}
        for r in self.store.rows("SELECT group_name, resource_type, resource_id, requirement FROM grants"):
            group, kind, rid, requirement = r["group_name"], r["resource_type"], r["resource_id"], r["requirement"]
            if kind == "package":
                if rid not in packages:
                    continue  # soft-deleted: its grants wait for a restore
                put("package", group, rid, requirement)
                lifecycle, tables = packages[rid]
                if lifecycle in GRANTING_LIFECYCLES:
                    for table_id in tables:
                        put("table", group, table_id, requirement)
            elif kind == "recipe":
                if rid in recipes:
                    put("recipe", group, rid, requirement)
            else:
                put("table", group, rid, requirement)
        with self._lock:
            if generation == self._generation:
                self._grants = index
        return index

    def granted(self, principal: Principal, kind: str) -> dict[str, str]:
        """Id -> requirement of what the principal's groups are granted of ``kind`` (``table``,
        ``package``, ``recipe``), admins included (their My Stack starts from their grants)."""
        index = self._grant_index()[kind]
        out: dict[str, str] = {}
        for group in principal.groups:
            for rid, requirement in index.get(group, {}).items():
                if out.get(rid) != "required":
                    out[rid] = requirement
        return out

    def readable_tables(self, principal: Principal) -> dict[str, str] | None:
        """Table id -> requirement for the principal's grants; None means every table (admins)."""
        if principal.is_admin:
            return None
        return self.granted(principal, "table")

    def can_read(self, principal: Principal, table_id: str) -> bool:
        readable = self.readable_tables(principal)
        return readable is None or table_id in readable

    def require_active(self, principal: Principal) -> None:
        if not principal.is_active:
            raise Forbidden(f"the account {principal.username!r} is deactivated",
                            hint="Ask an Agnes admin to reactivate it.")


def _user_json(row: dict[str, Any], groups: list[str]) -> dict[str, Any]:
    return {"username": row["username"], "display_name": row["display_name"], "is_active": bool(row["is_active"]),
            "groups": sorted({EVERYONE, *groups}), "created_at": iso(row["created_at"]),
            "created_by": row["created_by"], "deactivated_at": iso(row.get("deactivated_at"))}


def _group_json(row: dict[str, Any], members: list[str]) -> dict[str, Any]:
    return {"name": row["name"], "description": row["description"], "members": members,
            "implicit_members": row["name"] == EVERYONE, "created_at": iso(row["created_at"])}


def _grant_json(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "group": row["group_name"], "resource_type": row["resource_type"],
            "resource_id": row["resource_id"], "requirement": row["requirement"], "created_by": row["created_by"],
            "created_at": iso(row["created_at"])}
