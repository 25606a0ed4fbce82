"""Admin routes for users, groups, members, grants, tokens and the audit log."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from jupyter_server.auth.decorator import authorized
from tornado import web

from agnes_core.errors import AgnesError, Conflict, Forbidden, NotFound, ValidationError

from .base import AdminHandler


class UsersHandler(AdminHandler):
    audit_kind = "user"

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json({"users": await self.blocking(self.core.access.list_users)})

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body, actor = self.json_body(), self.principal.username
        user = await self.blocking(self.core.access.create_user, body, actor)
        self.set_header("Location", f"{self.request.path.rstrip('/')}/{quote(user['username'], safe='')}")
        self.write_json(user, status=201)


class UserHandler(AdminHandler):
    audit_kind = "user"

    @web.authenticated
    @authorized
    async def get(self, username: str) -> None:
        self.write_json(await self.blocking(self.core.access.get_user, username))

    @web.authenticated
    @authorized
    async def patch(self, username: str) -> None:
        """``{"is_active": false}`` deactivates (tokens stop working); ``true`` reactivates."""
        body = self.json_body()
        unknown = sorted(set(body) - {"is_active"})
        if unknown:
            raise ValidationError(unknown[0], f"unknown field {unknown[0]!r}", hint="PATCH accepts is_active")
        if not isinstance(body.get("is_active"), bool):
            raise ValidationError("is_active", "is_active must be true or false")
        if username == self.principal.username and not body["is_active"]:
            raise Conflict("you cannot deactivate yourself", hint="Ask another admin.",
                           details={"field": "is_active"})
        actor = self.principal.username
        self.write_json(await self.blocking(self.core.access.set_active, username, body["is_active"], actor))

    @web.authenticated
    @authorized
    async def delete(self, username: str) -> None:
        """Users are deactivated, never erased (the audit log keeps naming them)."""
        if username == self.principal.username:
            raise Conflict("you cannot deactivate yourself", hint="Ask another admin.", details={"field": "username"})
        await self.blocking(self.core.access.set_active, username, False, self.principal.username)
        self.set_status(204)
        self.finish()


class UserTokensHandler(AdminHandler):
    audit_kind = "user"
    audit_verbs = {"POST": "issue_token"}

    @web.authenticated
    @authorized
    async def get(self, username: str) -> None:
        await self.blocking(self.core.access.get_user, username)
        self.write_json({"tokens": await self.blocking(self.core.tokens.list, username)})

    @web.authenticated
    @authorized
    async def post(self, username: str) -> None:
        if self.via_access_token:
            raise Forbidden("an access token cannot mint another token",
                            hint="Issue tokens from a logged-in JupyterLab session.")
        body, actor = self.json_body(), self.principal.username
        await self.blocking(self.core.access.get_user, username)
        token = await self.blocking(self.core.tokens.create, username, body, actor)
        self.write_json(token, status=201)


class AdminTokensHandler(AdminHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json({"tokens": await self.blocking(self.core.tokens.list, None)})


class AdminTokenHandler(AdminHandler):
    audit_kind = "token"
    audit_verbs = {"DELETE": "revoke"}

    @web.authenticated
    @authorized
    async def delete(self, token_id: str) -> None:
        await self.blocking(self.core.tokens.revoke, token_id, self.principal.username)
        self.set_status(204)
        self.finish()


class GroupsHandler(AdminHandler):
    audit_kind = "group"

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json({"groups": await self.blocking(self.core.access.list_groups)})

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        group = await self.blocking(self.core.access.create_group, body)
        self.set_header("Location", f"{self.request.path.rstrip('/')}/{quote(group['name'], safe='')}")
        self.write_json(group, status=201)


class GroupHandler(AdminHandler):
    audit_kind = "group"

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.write_json(await self.blocking(self.core.access.get_group, name))

    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await self.blocking(self.core.access.delete_group, name)
        self.set_status(204)
        self.finish()


class GroupMembersHandler(AdminHandler):
    audit_kind = "group"
    audit_verbs = {"POST": "add_member"}

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        group = await self.blocking(self.core.access.get_group, name)
        self.write_json({"group": name, "members": group["members"]})

    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        body = self.json_body()
        self.write_json(await self.blocking(self.core.access.add_member, name, body), status=201)


class GroupMemberHandler(AdminHandler):
    audit_kind = "group"
    audit_verbs = {"DELETE": "remove_member"}

    @web.authenticated
    @authorized
    async def delete(self, name: str, username: str) -> None:
        await self.blocking(self.core.access.remove_member, name, username)
        self.set_status(204)
        self.finish()


class GrantsHandler(AdminHandler):
    audit_kind = "grant"

    @web.authenticated
    @authorized
    async def get(self) -> None:
        filters = {k: self.get_query_argument(k, None) for k in ("group", "resource_type", "resource_id")}
        self.write_json({"grants": await self.blocking(lambda: self.core.access.list_grants(**filters))})

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body, actor = self.json_body(), self.principal.username
        grant = await self.blocking(lambda: self.core.access.create_grant(
            body, actor, resource_exists=self.core.resource_exists))
        self.set_header("Location", f"{self.request.path.rstrip('/')}/{grant['id']}")
        self.write_json(grant, status=201)


class GrantsBatchHandler(AdminHandler):
    """``POST admin/grants:batch``: grant changes checked together (every bad item listed), then
    applied in one transaction with one change notification; ``dry_run`` previews them."""

    audit_kind = "grant"
    audit_verbs = {"POST": "apply_batch"}

    def audit_resource(self) -> str:
        return "grant"

    def _check_request(self) -> None:
        """The body is checked in ``post``, off the loop, every item at once (the document's schema
        would stop at the first bad item; the console shows each one next to its cell)."""

    async def _batch(self) -> None:
        body, actor = await self.blocking(self.json_body), self.principal.username  # large: off the loop
        try:
            result = await self.blocking(lambda: self.core.access.apply_grant_changes(
                body, actor, existing=self.core.existing_resources))
        except AgnesError as exc:
            self.audit_details = {"errors": len(exc.details.get("errors", [])) or 1}
            raise
        if result["dry_run"]:
            self.audit_skip = True  # a preview changes nothing: not audited
        else:
            self.audit_details = {"count": sum(c["action"] != "none" for c in result["changes"]),
                                   "changes": [{k: c[k] for k in ("group", "resource_type", "resource_id", "after",
                                                                  "action")}
                                               for c in result["changes"] if c["action"] != "none"]}
        self.write_json(result)

    @web.authenticated
    @authorized
    async def post(self) -> None:
        await self._batch()


class GrantsBatchEscapedHandler(GrantsBatchHandler):
    """The same route for clients that percent-encode the colon (``grants%3Abatch``: tornado's
    ``url_escape`` does): tornado matches routes on the raw path."""

    @web.authenticated
    @authorized
    async def post(self, rest: str) -> None:
        if rest.upper() != "3ABATCH":
            raise NotFound(f"no Agnes route {self.request.path!r}",
                           hint="GET agnes/v1/openapi.json lists every route.")
        await self._batch()


class GrantHandler(AdminHandler):
    audit_kind = "grant"

    @web.authenticated
    @authorized
    async def get(self, grant_id: str) -> None:
        self.write_json(await self.blocking(self.core.access.get_grant, grant_id))

    @web.authenticated
    @authorized
    async def delete(self, grant_id: str) -> None:
        await self.blocking(self.core.access.delete_grant, grant_id)
        self.set_status(204)
        self.finish()


class AuditHandler(AdminHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        limit = self.int_arg("limit", 100, 1, 1000)
        offset = self.int_arg("offset", 0, 0, 10_000_000)

        def entries() -> dict[str, Any]:
            # One row past the page says whether another page follows.
            rows = self.core.audit.entries(
                resource=self.get_query_argument("resource", None), user=self.get_query_argument("user", None),
                action=self.get_query_argument("action", None), limit=limit + 1, offset=offset,
                since=_time_arg(self, "since"), until=_time_arg(self, "until"))
            more = len(rows) > limit
            return {"entries": rows[:limit], "next_offset": offset + limit if more else None}

        self.write_json(await self.blocking(entries))


_RFC3339_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$")


def _time_arg(handler: AdminHandler, name: str) -> datetime | None:
    """An ISO 8601 query argument as naive UTC (the store's convention), or a 400 naming it."""
    raw = handler.get_query_argument(name, None)
    if not raw:
        return None
    m = _RFC3339_RE.match(raw)
    try:
        if m is None:
            value = datetime.fromisoformat(raw)  # a plain date, or a time without an offset (UTC)
        else:  # RFC 3339, as the document says: any case, any fraction, Z or an offset
            date, time, fraction, offset = m.groups()
            value = datetime.fromisoformat(f"{date}T{time}.{(fraction or '0')[:6]:0<6}"
                                           f"{'+00:00' if offset.upper() == 'Z' else offset}")
    except ValueError:
        raise ValidationError(name, f"{name} must be a time like 2026-11-22T08:00:00Z; got {raw[:40]!r}") from None
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


class SettingsHandler(AdminHandler):
    """Gate limits at run time: configured (AgnesApp traits), stored overrides, and in effect."""

    audit_kind = "settings"

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.blocking(self.core.gate_settings))

    @web.authenticated
    @authorized
    async def patch(self) -> None:
        body = self.json_body()
        self.write_json(await self.blocking(self.core.update_gate_settings, body, self.principal.username))
