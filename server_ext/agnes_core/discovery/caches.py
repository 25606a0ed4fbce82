"""A small thread-safe TTL cache (schemas, samples), whose entries can be dropped per table in
time proportional to what is dropped (a refresh of thousands of tables drops one at a time)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

V = TypeVar("V")


class TTLCache(Generic[V]):
    """``group(key)`` names the table a key belongs to (default: the key itself), so
    :meth:`pop_groups` finds a table's entries without looking at the others."""

    def __init__(self, ttl_s: float, max_entries: int = 10_000,
                 group: Callable[[Hashable], Hashable] | None = None) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._data: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._group = group or (lambda key: key)
        self._by_group: dict[Hashable, set[Hashable]] = {}
        self._lock = threading.Lock()
        #: Drops of everything, and of each group: a value computed from what was true before a
        #: drop of its group is not kept (see put).
        self._drops = 0
        self._group_drops: dict[Hashable, int] = {}

    def _drop(self, key: Hashable) -> None:
        del self._data[key]
        members = self._by_group.get(self._group(key))
        if members is not None:
            members.discard(key)
            if not members:
                del self._by_group[self._group(key)]

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            found = self._data.get(key)
            if found is None:
                return None
            expires, value = found
            if time.monotonic() >= expires:
                self._drop(key)
                return None
            self._data.move_to_end(key)
            return value

    def token(self, key: Hashable) -> tuple[int, int]:
        """Take before computing the value of ``key`` to ``put``: the put is skipped when the key's
        group (or everything) was dropped meanwhile — a change the value may predate."""
        with self._lock:
            return self._drops, self._group_drops.get(self._group(key), 0)

    def put(self, key: Hashable, value: V, token: tuple[int, int] | None = None) -> None:
        with self._lock:
            if token is not None and token != (self._drops, self._group_drops.get(self._group(key), 0)):
                return
            self._data[key] = (time.monotonic() + self.ttl_s, value)
            self._data.move_to_end(key)
            self._by_group.setdefault(self._group(key), set()).add(key)
            while len(self._data) > self.max_entries:
                self._drop(next(iter(self._data)))

    def pop_groups(self, groups: Iterable[Hashable]) -> int:
        """Drop every entry of these groups (tables); returns how many."""
        dropped = 0
        with self._lock:
            for group in groups:
                self._group_drops[group] = self._group_drops.get(group, 0) + 1
                for key in list(self._by_group.get(group, ())):
                    self._drop(key)
                    dropped += 1
        return dropped

    def pop_where(self, predicate: Callable[[Hashable], bool]) -> int:
        """Drop every key for which ``predicate(key)`` is true (looks at every key); returns how many."""
        with self._lock:
            self._drops += 1
            doomed = [k for k in self._data if predicate(k)]
            for k in doomed:
                self._drop(k)
            return len(doomed)

    def clear(self) -> None:
        with self._lock:
            self._drops += 1
            self._data.clear()
            self._by_group.clear()

    def __len__(self) -> int:
        return len(self._data)
