"""Personal access tokens: for scripts, CI and team servers without JupyterHub.

A token reads ``agnes_<id>_<secret>``. Only a SHA-256 of the secret is stored (the
secret is 32 random bytes, so a slow hash adds nothing); the token is shown once.
A revoked or expired token, or one whose user is deactivated, stops working on the
very next request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

from agnes_core import ids
from agnes_core.access.audit import Audit
from agnes_core.errors import NotFound, Unauthorized, ValidationError
from agnes_core.store.state import StateStore, iso, utcnow

TOKEN_RE = re.compile(r"^agnes_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
PREFIX = "agnes_"
MAX_DAYS = 3650
LAST_USED_EVERY_S = 60.0


def looks_like_token(value: str) -> bool:
    return value.startswith(PREFIX)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Tokens:
    def __init__(self, store: StateStore, audit: Audit) -> None:
        self.store = store
        self.audit = audit
        self._last_touch: dict[str, float] = {}
        self._lock = threading.Lock()

    def create(self, username: str, body: dict[str, Any], actor: str) -> dict[str, Any]:
        name = body.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise ValidationError("name", "name is required: up to 100 characters saying what the token is for")
        ids.text(name, "name", 100)
        raw_days = body.get("expires_in_days", 90)
        days = ids.whole_number(raw_days)
        if raw_days is not None and (days is None or not 1 <= days <= MAX_DAYS):
            raise ValidationError("expires_in_days", f"expires_in_days must be a whole number from 1 to {MAX_DAYS}, "
                                  "or null for no expiry", limit=MAX_DAYS)
        token_id = uuid.uuid4().hex[:12]
        secret = secrets.token_urlsafe(32)
        now = utcnow()
        expires = now + timedelta(days=days) if days is not None else None
        with self.store.write() as cur:
            cur.execute("INSERT INTO tokens (id, username, name, secret_hash, created_by, created_at, expires_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [token_id, username, name.strip(), _hash(secret), actor, now, expires])
        self.audit.record(actor, "token.create", f"token/{token_id}", username=username, name=name.strip())
        out = self.get(token_id)
        out["token"] = f"{PREFIX}{token_id}_{secret}"
        return out

    def get(self, token_id: str) -> dict[str, Any]:
        row = self.store.row("SELECT * FROM tokens WHERE id = ?", [token_id])
        if row is None:
            raise NotFound(f"no token {token_id!r}", details={"token": token_id})
        return _json(row)

    def list(self, username: str | None = None) -> list[dict[str, Any]]:
        if username is None:
            rows = self.store.rows("SELECT * FROM tokens ORDER BY created_at DESC")
        else:
            rows = self.store.rows("SELECT * FROM tokens WHERE username = ? ORDER BY created_at DESC", [username])
        return [_json(r) for r in rows]

    def revoke(self, token_id: str, actor: str) -> dict[str, Any]:
        self.get(token_id)
        with self.store.write() as cur:
            cur.execute("UPDATE tokens SET revoked_at = coalesce(revoked_at, ?), revoked_by = coalesce(revoked_by, ?)"
                        " WHERE id = ?", [utcnow(), actor, token_id])
        self.audit.record(actor, "token.revoke", f"token/{token_id}")
        return self.get(token_id)

    def authenticate(self, token: str, ip: str | None) -> tuple[str, str]:
        """(username, token id) for a valid token; Unauthorized otherwise (never says which part failed)."""
        m = TOKEN_RE.match(token)
        row = self.store.row("SELECT t.*, u.is_active FROM tokens t LEFT JOIN users u ON u.username = t.username "
                             "WHERE t.id = ?", [m.group(1)]) if m else None
        if row is None or m is None or not hmac.compare_digest(row["secret_hash"], _hash(m.group(2))):
            raise Unauthorized("invalid access token", hint="Create a new one with POST agnes/v1/tokens.")
        now = utcnow()
        if row["revoked_at"] is not None:
            raise Unauthorized("this access token was revoked", hint="Create a new one.")
        if row["expires_at"] is not None and row["expires_at"] <= now:
            raise Unauthorized("this access token has expired", hint="Create a new one.")
        if row["is_active"] is False:
            raise Unauthorized("the account of this access token is deactivated",
                               hint="Ask an Agnes admin to reactivate it.")
        self._touch(row["id"], row["username"], ip)
        return row["username"], row["id"]

    def _touch(self, token_id: str, username: str, ip: str | None) -> None:
        """Record last use (at most once a minute) and audit the first use from each new IP."""
        with self._lock:
            due = time.monotonic() - self._last_touch.get(f"{token_id}|{ip}", -1e9) > LAST_USED_EVERY_S
            if due:
                self._last_touch[f"{token_id}|{ip}"] = time.monotonic()
        if not due:
            return
        first_from_ip = False
        with self.store.write() as cur:
            cur.execute("UPDATE tokens SET last_used_at = ? WHERE id = ?", [utcnow(), token_id])
            seen = cur.execute("SELECT 1 FROM token_ips WHERE token_id = ? AND ip = ?", [token_id, ip]).fetchone()
            if ip and not seen:
                cur.execute("INSERT INTO token_ips VALUES (?, ?, ?)", [token_id, ip, utcnow()])
                first_from_ip = True
        if first_from_ip:
            self.audit.record(username, "token.first_use_from_ip", f"token/{token_id}", ip=ip)


def _json(row: dict[str, Any]) -> dict[str, Any]:
    now = utcnow()
    expired = row["expires_at"] is not None and row["expires_at"] <= now
    state = "revoked" if row["revoked_at"] else ("expired" if expired else "active")
    return {"id": row["id"], "username": row["username"], "name": row["name"], "state": state,
            "created_at": iso(row["created_at"]), "created_by": row["created_by"],
            "expires_at": iso(row["expires_at"]), "revoked_at": iso(row["revoked_at"]),
            "last_used_at": iso(row["last_used_at"])}
