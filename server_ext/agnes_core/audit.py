"""The audit log: who did what to which resource, when, and how it ended."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from .store import StateStore, dumps, iso, loads, utcnow

log = logging.getLogger(__name__)


def storable(text: str | None) -> str | None:
    """``text`` with unpaired surrogates escaped (``\\ud800``), so any store and log can hold it."""
    if text is None:
        return None
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


class Audit:
    def __init__(self, store: StateStore) -> None:
        self.store = store

    def record(self, actor: str | None, action: str, resource: str, outcome: str = "ok",
               **details: Any) -> None:
        """Append one entry. ``resource`` is a path such as ``table/orders`` or ``grant/ab12``.
        Text that is not valid Unicode (an unpaired surrogate from a hostile request) is stored
        escaped: a refusal is audited whatever its input."""
        with self.store.write() as cur:
            cur.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [uuid.uuid4().hex, utcnow(), storable(actor), storable(action), storable(resource),
                         storable(outcome), dumps(details)])

    def entries(self, *, resource: str | None = None, user: str | None = None, limit: int = 100,
                action: str | None = None, since: datetime | None = None,
                until: datetime | None = None) -> list[dict[str, Any]]:
        """Newest first. ``resource`` is a prefix; ``since`` inclusive, ``until`` exclusive (UTC)."""
        where: list[str] = []
        params: list[Any] = []
        if since is not None:
            where.append("occurred_at >= ?")
            params.append(since)
        if until is not None:
            where.append("occurred_at < ?")
            params.append(until)
        if resource:
            where.append("starts_with(resource, ?)")
            params.append(resource)
        if user:
            where.append("actor = ?")
            params.append(user)
        if action:
            where.append("action = ?")
            params.append(action)
        sql = "SELECT * FROM audit_log" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY occurred_at DESC, id LIMIT ?"
        rows = self.store.rows(sql, [*params, limit])
        return [{**r, "occurred_at": iso(r["occurred_at"]), "details": loads(r["details"], {})} for r in rows]
