"""Jira webhooks as changes of the six tables: the signature check (``X-Hub-Signature:
sha256=<hex>``, an HMAC-SHA256 of the raw body by the webhook's secret) and the mapping of
``jira:issue_*`` and ``comment_*`` events to upserts and deletes."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from typing import Any

from agnes_core.connectors.base import StreamChange
from agnes_core.connectors.jira import tables as t
from agnes_core.errors import BadRequest, Unauthorized

SIGNATURE_HEADER = "X-Hub-Signature"
IDENTIFIER_HEADER = "X-Atlassian-Webhook-Identifier"
ISSUE_EVENTS = ("jira:issue_created", "jira:issue_updated", "jira:issue_deleted")
COMMENT_EVENTS = ("comment_created", "comment_updated", "comment_deleted")
_HINT = ("Set the webhook's secret in Jira (Settings > System > WebHooks) to the value of the environment "
         "variable this source names in secrets.webhook_secret.")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    return value


def signature_of(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature`` value Jira sends for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, headers: Mapping[str, str], body: bytes) -> None:
    """Raise Unauthorized unless the header holds the HMAC-SHA256 of ``body`` (constant-time)."""
    given = _header(headers, SIGNATURE_HEADER)
    if not given:
        raise Unauthorized(f"the webhook has no {SIGNATURE_HEADER} header", hint=_HINT)
    method, _, digest = given.strip().partition("=")
    if method.lower() != "sha256" or not digest:
        raise Unauthorized(f"the webhook's {SIGNATURE_HEADER} is not sha256=<hex>", hint=_HINT)
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), digest.strip().lower().encode()):
        raise Unauthorized("the webhook's signature does not match its body", hint=_HINT)


def parse(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest("the webhook's body is not JSON", hint="Jira sends JSON bodies.") from None
    if not isinstance(payload, dict):
        raise BadRequest("the webhook's body must be a JSON object", hint="Jira sends JSON objects.")
    return payload


def changes_of(headers: Mapping[str, str], body: bytes,
               customs: Callable[[], list[t.CustomField]]) -> list[StreamChange]:
    """The changes one webhook makes to the tables (none for events it does not know)."""
    payload = parse(body)
    event = payload.get("webhookEvent")
    if event not in ISSUE_EVENTS + COMMENT_EVENTS:
        return []
    issue = payload.get("issue")
    if not isinstance(issue, dict) or t._int(issue.get("id")) is None:
        raise BadRequest(f"the {event} webhook has no issue", hint="Jira's issue and comment events carry one.")
    at = t.ms_time(payload.get("timestamp"))
    if at is None:
        raise BadRequest(f"the {event} webhook has no timestamp", hint="Jira's webhooks carry one (milliseconds).")
    issue_id = t._int(issue.get("id"))
    found = payload.get("comment")
    comment: dict[str, Any] = found if isinstance(found, dict) else {}
    base = _header(headers, IDENTIFIER_HEADER) or f"{event}:{payload.get('timestamp')}:{issue_id}:{comment.get('id')}"

    def change(table: str, version: Any, **kw: Any) -> StreamChange:
        return StreamChange(table=table, event_id=f"{base}:{table}", version=version, **kw)

    if event == "jira:issue_deleted":
        return [change("issues", at, deletes=[{"id": issue_id}]),
                *(change(name, at, replace={"issue_id": issue_id})
                  for name in ("comments", "changelog", "attachments", "issue_links", "remote_links"))]
    ref = t.issue_ref(issue)
    if event in COMMENT_EVENTS:
        if t._int(comment.get("id")) is None:
            raise BadRequest(f"the {event} webhook has no comment", hint="Jira's comment events carry one.")
        if event == "comment_deleted":
            return [change("comments", at, deletes=[{"id": t._int(comment["id"])}])]
        row = t.comment_row(comment, ref)
        return [change("comments", row["updated"] or at, upserts=[row])]
    fields = issue.get("fields") or {}
    row = t.issue_row(issue, customs())
    version = row["updated"] or at
    out = [change("issues", version, upserts=[row])]
    if "attachment" in fields:
        out.append(change("attachments", version, upserts=t.child_rows("attachments", issue),
                          replace={"issue_id": issue_id}))
    if "issuelinks" in fields:
        out.append(change("issue_links", version, upserts=t.child_rows("issue_links", issue),
                          replace={"issue_id": issue_id}))
    history = payload.get("changelog")
    if isinstance(history, dict) and history.get("items"):
        made = {"id": history.get("id"), "author": payload.get("user"), "created": payload.get("timestamp"),
                "items": history["items"]}
        rows = t.history_rows(made, ref)
        for r in rows:
            r["created"] = at
        out.append(change("changelog", at, upserts=rows))
    return out
