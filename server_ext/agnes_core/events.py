"""In-process change notifications: the registry and access model announce changes here,
and every cache that holds a table subscribes (one invalidation path)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Change:
    """``kind`` is e.g. ``table``, ``source``, ``grant``, ``group``, ``metadata``; ``ids`` the table
    ids touched (empty = possibly all)."""

    kind: str
    action: str
    ids: frozenset[str] = field(default_factory=frozenset)
    #: For table changes: the sources the tables belonged to before and after the change.
    sources: frozenset[str] = field(default_factory=frozenset)


Listener = Callable[[Change], None]


class ChangeHub:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def publish(self, change: Change) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(change)
            except Exception:  # a broken listener must not break the change itself
                log.exception("agnes: change listener failed for %s", change)
