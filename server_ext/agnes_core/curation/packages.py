"""Data packages, My Stack and the sync manifest.

A package is an admin-curated bundle of tables with the text an analyst needs to choose it.
Grants give packages (and with a live ``prod``/``poc`` package, its tables) to groups, as
``required`` or ``available``. Browse lists what a user may see; My Stack is what they have:
their subscriptions plus everything granted to them as ``required``. The sync manifest lists
the tables of My Stack the user may read, with the md5 computed once per extract.

Deleting a package is soft (``deleted_at``): it vanishes from Browse, stacks and grants at once,
and ``restore`` brings it back with its grants and subscriptions intact.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from agnes_core import ids
from agnes_core.access.principals import GRANTING_LIFECYCLES, Access, Principal
from agnes_core.errors import AgnesError, AlreadyExists, BadRequest, Conflict, NotFound, RequiredItem, ValidationError
from agnes_core.events import Change, ChangeHub
from agnes_core.registry import Registry
from agnes_core.store.state import StateStore, dumps, iso, loads, utcnow

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_URL_RE = re.compile("^https?://[^" + ids.WHITESPACE + ids.INVISIBLE + "<>\"']+$")
LIFECYCLES = ("prod", "poc", "coming-soon", "draft")
NEW_FOR = timedelta(days=30)
STACK_KINDS = ("packages", "recipes", "tables")

#: (field, max items, max chars per item) of the list fields.
LIST_FIELDS = {"tags": (8, 30), "when_to_use": (8, 200), "when_not_to_use": (8, 200),
               "example_questions": (12, 200)}
#: (field, max chars) of the text fields; None: optional.
TEXT_FIELDS = {"title": 200, "description": 1000, "category": 64, "owner_name": 128, "owner_team": 128,
               "long_description": 4000, "cover_image_url": 2000}
FIELDS = ("slug", "title", "description", "cover_image_url", "lifecycle", "category", "owner_name",
          "owner_team", "tags", "long_description", "when_to_use", "when_not_to_use", "example_questions",
          "tables")
MAX_TABLES = 500


def check_slug(value: Any, field: str = "slug") -> str:
    if not isinstance(value, str) or not SLUG_RE.match(value):
        raise ValidationError(field, f"{field} must be 1-63 lowercase letters, digits or '-' (starting with a "
                                     f"letter or digit); got {value!r}", hint=f"{field} must match {SLUG_RE.pattern}")
    return value


#: Fields that may hold line breaks; every other text field is one line.
MULTILINE_FIELDS = frozenset({"description", "long_description", "sql"})


def check_text(body: dict[str, Any], field: str, limit: int) -> str | None:
    value = body.get(field)
    if value is None:
        return None
    return ids.text(value, field, limit, multiline=field in MULTILINE_FIELDS)


def check_list(body: dict[str, Any], field: str, max_items: int, max_chars: int) -> list[str]:
    value = body.get(field)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(field, f"{field} must be a list of texts", limit=max_items)
    if len(value) > max_items:
        raise ValidationError(field, f"{field} may hold at most {max_items} items (got {len(value)})",
                              limit=max_items)
    for i, item in enumerate(value):
        if len(item) > max_chars:
            raise ValidationError(field, f"{field}[{i}] may be at most {max_chars} characters (got {len(item)})",
                                  limit=max_chars, index=i)
        ids.text(item, f"{field}[{i}]", max_chars)
        if not item.strip():
            raise ValidationError(field, f"{field}[{i}] is empty", index=i)
    return list(value)


def check_unknown(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ValidationError(unknown[0], f"unknown field {unknown[0]!r}", hint=f"fields are: {', '.join(allowed)}")


class Packages:
    def __init__(self, store: StateStore, registry: Registry, access: Access, hub: ChangeHub,
                 sync_infos: Callable[[], dict[str, dict[str, Any]]]) -> None:
        self.store = store
        self.registry = registry
        self.access = access
        self.hub = hub
        #: every extracted table id -> {"md5", "size_bytes", "rows", "updated", "source_type"}.
        self.sync_infos = sync_infos

    # -- admin --------------------------------------------------------------------------------

    def _validate(self, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ValidationError("body", "expected a JSON object")
        check_unknown(body, FIELDS)
        merged = {**(current or {}), **body}
        values: dict[str, Any] = {"slug": check_slug(merged.get("slug"))}
        if current is not None and body.get("slug", current["slug"]) != current["slug"]:
            raise ValidationError("slug", "a package's slug cannot change", hint="Create a new package instead.")
        title = check_text(merged, "title", TEXT_FIELDS["title"])
        if not title or not title.strip():
            raise ValidationError("title", "title is required", limit=TEXT_FIELDS["title"])
        values["title"] = title
        for field in ("description", "long_description"):
            values[field] = check_text(merged, field, TEXT_FIELDS[field]) or ""
        for field in ("category", "owner_name", "owner_team"):
            values[field] = check_text(merged, field, TEXT_FIELDS[field])
        url = check_text(merged, "cover_image_url", TEXT_FIELDS["cover_image_url"])
        if url and not _URL_RE.match(url):
            raise ValidationError("cover_image_url", "cover_image_url must be an http(s) URL",
                                  limit=TEXT_FIELDS["cover_image_url"])
        values["cover_image_url"] = url or None
        lifecycle = merged.get("lifecycle", "draft")
        if lifecycle not in LIFECYCLES:
            raise ValidationError("lifecycle", f"lifecycle must be one of {', '.join(LIFECYCLES)}")
        values["lifecycle"] = lifecycle
        for field, (items, chars) in LIST_FIELDS.items():
            values[field] = check_list(merged, field, items, chars)
        tables = merged.get("tables") or []
        if not isinstance(tables, list) or not all(isinstance(t, str) for t in tables):
            raise ValidationError("tables", "tables must be a list of registered table ids", limit=MAX_TABLES)
        if len(tables) > MAX_TABLES:
            raise ValidationError("tables", f"tables may hold at most {MAX_TABLES} items (got {len(tables)})",
                                  limit=MAX_TABLES)
        missing = [t for t in tables if self.registry.find_table(t) is None]
        if missing:
            raise NotFound(f"no registered table {missing[0]!r}", hint="Register it first.",
                           details={"field": "tables", "missing": missing})
        values["tables"] = list(dict.fromkeys(tables))
        return values

    def create(self, body: dict[str, Any], actor: str | None) -> dict[str, Any]:
        values = self._validate(body, None)
        now = utcnow()
        with self.store.write() as cur:
            if cur.execute("SELECT deleted_at FROM packages WHERE slug = ?", [values["slug"]]).fetchone():
                raise AlreadyExists(f"a package {values['slug']!r} already exists (perhaps deleted)",
                                    hint="Restore it with POST admin/packages/{slug}/restore, or pick another slug.",
                                    details={"slug": values["slug"]})
            cur.execute(
                "INSERT INTO packages (slug, title, description, cover_image_url, lifecycle, category, owner_name, "
                "owner_team, tags, long_description, when_to_use, when_not_to_use, example_questions, tables, "
                "created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [values["slug"], values["title"], values["description"], values["cover_image_url"],
                 values["lifecycle"], values["category"], values["owner_name"], values["owner_team"],
                 dumps(values["tags"]), values["long_description"], dumps(values["when_to_use"]),
                 dumps(values["when_not_to_use"]), dumps(values["example_questions"]), dumps(values["tables"]),
                 actor, now, now])
        self.hub.publish(Change("package", "create", frozenset(values["tables"])))
        return self.get_admin(values["slug"])

    def update(self, slug: str, body: dict[str, Any], *, partial: bool) -> dict[str, Any]:
        current = self._row(slug, deleted=False)
        base = self._json(current) if partial else {"slug": slug}
        values = self._validate(body, base)
        with self.store.write() as cur:
            cur.execute(
                "UPDATE packages SET title = ?, description = ?, cover_image_url = ?, lifecycle = ?, category = ?, "
                "owner_name = ?, owner_team = ?, tags = ?, long_description = ?, when_to_use = ?, "
                "when_not_to_use = ?, example_questions = ?, tables = ?, updated_at = ? WHERE slug = ?",
                [values["title"], values["description"], values["cover_image_url"], values["lifecycle"],
                 values["category"], values["owner_name"], values["owner_team"], dumps(values["tags"]),
                 values["long_description"], dumps(values["when_to_use"]), dumps(values["when_not_to_use"]),
                 dumps(values["example_questions"]), dumps(values["tables"]), utcnow(), slug])
        touched = frozenset(values["tables"]) | frozenset(loads(current["tables"], []))
        self.hub.publish(Change("package", "update", touched))
        return self.get_admin(slug)

    def delete(self, slug: str, actor: str | None) -> dict[str, Any]:
        row = self._row(slug, deleted=False)
        with self.store.write() as cur:
            cur.execute("UPDATE packages SET deleted_at = ?, deleted_by = ? WHERE slug = ?", [utcnow(), actor, slug])
        self.hub.publish(Change("package", "delete", frozenset(loads(row["tables"], []))))
        return self.get_admin(slug, include_deleted=True)

    def restore(self, slug: str) -> dict[str, Any]:
        row = self._row(slug, deleted=True)
        with self.store.write() as cur:
            cur.execute("UPDATE packages SET deleted_at = NULL, deleted_by = NULL, updated_at = ? WHERE slug = ?",
                        [utcnow(), slug])
        self.hub.publish(Change("package", "restore", frozenset(loads(row["tables"], []))))
        return self.get_admin(slug)

    def list_admin(self, include_deleted: bool = False) -> list[dict[str, Any]]:
        sql = "SELECT * FROM packages" + ("" if include_deleted else " WHERE deleted_at IS NULL") + " ORDER BY slug"
        return [self._json(r) for r in self.store.rows(sql)]

    def get_admin(self, slug: str, *, include_deleted: bool = False) -> dict[str, Any]:
        """One package; a soft-deleted one only with ``include_deleted`` (else 404, like a missing one)."""
        row = self.store.row("SELECT * FROM packages WHERE slug = ?", [slug])
        if row is None or (row["deleted_at"] is not None and not include_deleted):
            raise NotFound(f"no package {slug!r}", details={"slug": slug},
                           hint="GET admin/packages?include_deleted=true lists deleted ones too.")
        return self._json(row)

    def _row(self, slug: str, *, deleted: bool) -> dict[str, Any]:
        row = self.store.row("SELECT * FROM packages WHERE slug = ?", [slug])
        if deleted and row is not None and row["deleted_at"] is None:
            raise Conflict(f"package {slug!r} is not deleted: there is nothing to restore",
                           hint=f"GET admin/packages/{slug} shows it.", details={"slug": slug})
        if row is None or (row["deleted_at"] is not None) != deleted:
            state = "deleted " if deleted else ""
            raise NotFound(f"no {state}package {slug!r}", hint="GET admin/packages?include_deleted=true lists them.",
                           details={"slug": slug})
        return row

    def _json(self, row: dict[str, Any]) -> dict[str, Any]:
        created = row["created_at"]
        return {
            "slug": row["slug"], "title": row["title"], "description": row["description"],
            "cover_image_url": row["cover_image_url"], "lifecycle": row["lifecycle"], "category": row["category"],
            "owner_name": row["owner_name"], "owner_team": row["owner_team"], "tags": loads(row["tags"], []),
            "long_description": row["long_description"], "when_to_use": loads(row["when_to_use"], []),
            "when_not_to_use": loads(row["when_not_to_use"], []),
            "example_questions": loads(row["example_questions"], []), "tables": loads(row["tables"], []),
            # computed, not stored: "curated" while the creator is an admin, "new" for 30 days
            "curated": bool(row["created_by"]) and self.access.is_admin_username(row["created_by"]),
            "new": created is not None and utcnow() - created <= NEW_FOR,
            "created_by": row["created_by"], "created_at": iso(created), "updated_at": iso(row["updated_at"]),
            "deleted_at": iso(row["deleted_at"]), "deleted_by": row["deleted_by"],
        }

    def packages_of(self) -> dict[str, list[str]]:
        """Table id -> slugs of the published (not draft, not deleted) packages holding it."""
        out: dict[str, list[str]] = {}
        for r in self.store.rows("SELECT slug, tables FROM packages WHERE deleted_at IS NULL AND lifecycle <> 'draft' "
                                 "ORDER BY slug"):
            for table_id in loads(r["tables"], []):
                out.setdefault(table_id, []).append(r["slug"])
        return out

    # -- Browse and My Stack --------------------------------------------------------------------

    def _subscriptions(self, username: str, kind: str) -> set[str]:
        return {r["resource_id"] for r in self.store.rows(
            "SELECT resource_id FROM subscriptions WHERE username = ? AND kind = ?", [username, kind])}

    def _visible(self, principal: Principal) -> list[tuple[dict[str, Any], str | None]]:
        """(package, the user's requirement or None) of every package the user may see."""
        granted = self.access.granted(principal, "package")
        out = []
        for row in self.store.rows("SELECT * FROM packages WHERE deleted_at IS NULL ORDER BY slug"):
            requirement = granted.get(row["slug"])
            if principal.is_admin or (requirement is not None and row["lifecycle"] != "draft"):
                out.append((self._json(row), requirement))
        return out

    def _entry(self, pkg: dict[str, Any], requirement: str | None, subscribed: set[str],
               principal: Principal) -> dict[str, Any]:
        readable = self.access.readable_tables(principal)
        tables = []
        for table_id in pkg["tables"]:
            table = self.registry.find_table(table_id)
            if table is None:
                continue
            tables.append({"id": table_id, "name": table.name, "query_mode": table.query_mode,
                           "readable": readable is None or table_id in readable})
        return {**pkg, "tables": tables, "requirement": requirement, "subscribed": pkg["slug"] in subscribed,
                "in_stack": pkg["slug"] in subscribed or requirement == "required"}

    def browse(self, principal: Principal) -> list[dict[str, Any]]:
        subscribed = self._subscriptions(principal.username, "packages")
        return [self._entry(p, r, subscribed, principal) for p, r in self._visible(principal)]

    def get(self, principal: Principal, slug: str) -> dict[str, Any]:
        for pkg, requirement in self._visible(principal):
            if pkg["slug"] == slug:
                return self._entry(pkg, requirement, self._subscriptions(principal.username, "packages"), principal)
        raise NotFound(f"no package {slug!r}", hint="GET packages lists the packages you may use.",
                       details={"slug": slug})

    def stack(self, principal: Principal, recipes: list[dict[str, Any]]) -> dict[str, Any]:
        """My Stack: subscriptions plus everything granted as ``required``. ``recipes`` are the
        recipes the user may see (with ``in_stack``), from the recipes service."""
        packages = [p for p in self.browse(principal) if p["in_stack"]]
        direct = self._subscriptions(principal.username, "tables")
        required = self._required_tables(principal)
        tables = []
        for table_id in sorted(required | direct):
            table = self.registry.find_table(table_id)
            if table is not None and self.access.can_read(principal, table_id):
                tables.append({"id": table_id, "name": table.name, "query_mode": table.query_mode,
                               "subscribed": table_id in direct, "required": table_id in required})
        return {"packages": packages, "recipes": [r for r in recipes if r["in_stack"]], "tables": tables}

    def _readable(self, principal: Principal, table_id: str) -> bool:
        return self.registry.find_table(table_id) is not None and self.access.can_read(principal, table_id)

    def _required_tables(self, principal: Principal) -> set[str]:
        """Tables granted directly (not through a package) to one of the user's groups as required."""
        return {r["resource_id"] for r in self.store.rows(
            "SELECT group_name, resource_id FROM grants WHERE resource_type = 'table' AND requirement = 'required'")
            if r["group_name"] in principal.groups}

    def subscribe(self, principal: Principal, kind: str, rid: str, *,
                  visible_recipe: Callable[[str], str | None]) -> None:
        """Add to My Stack; 404 when the item does not exist *or is not granted to the user* — the
        two are answered alike, so nothing tells a user what exists beyond their grants."""
        self._check_kind(kind)
        if kind == "packages":
            row = self.store.row("SELECT lifecycle FROM packages WHERE slug = ? AND deleted_at IS NULL", [rid])
            if row is None or (not principal.is_admin and (rid not in self.access.granted(principal, "package")
                                                           or row["lifecycle"] == "draft")):
                raise self._missing("package", rid)
            if row["lifecycle"] not in GRANTING_LIFECYCLES and not principal.is_admin:
                raise BadRequest(f"the package {rid!r} is {row['lifecycle']}: it cannot be added yet",
                                 hint="It becomes available when its lifecycle is prod or poc.",
                                 details={"slug": rid, "lifecycle": row["lifecycle"]}, code="not_available")
        elif kind == "recipes":
            if visible_recipe(rid) is None:
                raise self._missing("recipe", rid)
        elif self.registry.find_table(rid) is None or not self.access.can_read(principal, rid):
            raise self._missing("table", rid)
        with self.store.write() as cur:
            cur.execute("INSERT INTO subscriptions VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        [principal.username, kind, rid, utcnow()])

    @staticmethod
    def _missing(what: str, rid: str) -> AgnesError:
        where = "agnes.catalog()" if what == "table" else f"GET {what}s"
        return NotFound(f"no {what} {rid!r} that you may use", hint=f"{where} lists the {what}s you may use; an "
                        "admin grants others.", details={"id": rid})

    def unsubscribe(self, principal: Principal, kind: str, rid: str, *, requirement: str | None) -> None:
        """Remove from My Stack; 400 ``required_item`` for what is granted as required."""
        self._check_kind(kind)
        if requirement == "required":
            groups = self._required_by(principal, kind, rid)
            raise RequiredItem(
                f"{rid!r} is required for {', '.join(groups) or 'your groups'}: it stays in your stack",
                hint="Ask an Agnes admin to change the grant to 'available' if you do not need it.",
                details={"kind": kind, "id": rid, "groups": groups})
        with self.store.write() as cur:
            cur.execute("DELETE FROM subscriptions WHERE username = ? AND kind = ? AND resource_id = ?",
                        [principal.username, kind, rid])

    def requirement(self, principal: Principal, kind: str, rid: str) -> str | None:
        if kind == "packages":
            return self.access.granted(principal, "package").get(rid)
        if kind == "recipes":
            return self.access.granted(principal, "recipe").get(rid)
        return "required" if rid in self._required_tables(principal) else None

    def _required_by(self, principal: Principal, kind: str, rid: str) -> list[str]:
        rtype = {"packages": "package", "recipes": "recipe", "tables": "table"}[kind]
        rows = self.store.rows("SELECT group_name FROM grants WHERE resource_type = ? AND resource_id = ? "
                               "AND requirement = 'required'", [rtype, rid])
        return sorted(r["group_name"] for r in rows if r["group_name"] in principal.groups)

    @staticmethod
    def _check_kind(kind: str) -> None:
        if kind not in STACK_KINDS:
            raise NotFound(f"no stack kind {kind!r}", hint=f"kinds are: {', '.join(STACK_KINDS)}")

    # -- the sync manifest ----------------------------------------------------------------------

    def manifest(self, principal: Principal, recipes: list[dict[str, Any]]) -> dict[str, Any]:
        """The tables of My Stack the user may read, each with what a sync needs to decide."""
        stack = self.stack(principal, recipes)
        packages_of: dict[str, list[str]] = {}
        required: dict[str, bool] = {}
        for pkg in stack["packages"]:
            for t in pkg["tables"]:
                if t["readable"]:
                    packages_of.setdefault(t["id"], []).append(pkg["slug"])
                    required[t["id"]] = required.get(t["id"], False) or pkg["requirement"] == "required"
        for t in stack["tables"]:
            packages_of.setdefault(t["id"], [])
            required[t["id"]] = required.get(t["id"], False) or t["required"]
        for recipe in stack["recipes"]:
            for table_id in recipe["tables"]:
                if self._readable(principal, table_id):
                    packages_of.setdefault(table_id, [])
                    required[table_id] = required.get(table_id, False) or recipe["requirement"] == "required"
        tables = []
        infos = self.sync_infos()
        for table_id in sorted(packages_of):
            table = self.registry.find_table(table_id)
            if table is None or not self.access.can_read(principal, table_id):
                continue
            info = infos.get(table_id, {}) if table.query_mode != "remote" else {}
            tables.append({
                "id": table_id, "query_mode": table.query_mode, "source_type": info.get("source_type")
                or self._source_type(table.source), "md5": info.get("md5"), "size_bytes": info.get("size_bytes"),
                "rows": info.get("rows"), "updated": info.get("updated"), "packages": sorted(packages_of[table_id]),
                "required": required.get(table_id, False)})
        return {"generated_at": iso(utcnow()), "user": principal.username, "tables": tables}

    def _source_type(self, name: str) -> str | None:
        source = self.registry.sources_by_name().get(name)
        return source.type if source else None
