"""The audit log: who did what to which resource, when, and how it ended."""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import datetime
from typing import Any

from agnes_core.store.state import StateStore, dumps, iso, loads, utcnow

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
        # Entries handed over by code that must not wait for the store (the event loop): written
        # in order by one thread of their own; readers wait for them first.
        self._writer: ThreadPoolExecutor | None = None
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()
        store.before_close(self.close)

    def record(self, actor: str | None, action: str, resource: str, outcome: str = "ok",
               **details: Any) -> None:
        """Append one entry. ``resource`` is a path such as ``table/orders`` or ``grant/ab12``.
        Text that is not valid Unicode (an unpaired surrogate from a hostile request) is stored
        escaped: a refusal is audited whatever its input."""
        self._insert(utcnow(), actor, action, resource, outcome, details)

    def record_later(self, actor: str | None, action: str, resource: str, outcome: str = "ok",
                     **details: Any) -> Future[None]:
        """``record`` without waiting for the store (for the event loop, e.g. a handler's
        ``on_finish``). The entry keeps the time of this call; ``entries`` waits for it, so a
        reader never misses an entry handed over before it asked. Failures are logged."""
        at = utcnow()
        with self._lock:
            if self._writer is None:
                self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agnes-audit")
            future = self._writer.submit(self._insert_logged, at, actor, action, resource, outcome, details)
            self._pending.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def _insert_logged(self, at: datetime, actor: str | None, action: str, resource: str, outcome: str,
                       details: dict[str, Any]) -> None:
        try:
            self._insert(at, actor, action, resource, outcome, details)
        except Exception:  # the response went out long ago; the log says what was lost
            log.exception("agnes: could not write the audit entry %s %s", action, resource)

    def _insert(self, at: datetime, actor: str | None, action: str, resource: str, outcome: str,
                details: dict[str, Any]) -> None:
        with self.store.write() as cur:
            cur.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [uuid.uuid4().hex, at, storable(actor), storable(action), storable(resource),
                         storable(outcome), dumps(details)])

    def flush(self, timeout: float | None = 30.0) -> None:
        """Wait until every entry handed to ``record_later`` so far is written."""
        with self._lock:
            pending = list(self._pending)
        if pending:
            wait(pending, timeout)

    def close(self) -> None:
        """Write what is pending and stop the writer thread (before the store closes)."""
        self.flush()
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.shutdown(wait=True)

    def entries(self, *, resource: str | None = None, user: str | None = None, limit: int = 100,
                action: str | None = None, since: datetime | None = None,
                until: datetime | None = None, offset: int = 0) -> list[dict[str, Any]]:
        """Newest first, ``offset`` entries skipped. ``resource`` is a prefix; ``action`` exact, or a
        prefix when it ends with ``.`` or ``*`` (``table.`` and ``table.*``: every table action);
        ``since`` inclusive, ``until`` exclusive (UTC)."""
        self.flush()
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
        if action and action.endswith(("*", ".")):
            where.append("starts_with(action, ?)")
            params.append(action.rstrip("*"))
        elif action:
            where.append("action = ?")
            params.append(action)
        sql = "SELECT * FROM audit_log" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY occurred_at DESC, id LIMIT ? OFFSET ?"
        rows = self.store.rows(sql, [*params, limit, offset])
        return [{**r, "occurred_at": iso(r["occurred_at"]), "details": loads(r["details"], {})} for r in rows]
