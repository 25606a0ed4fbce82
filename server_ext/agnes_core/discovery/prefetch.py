"""Read ahead of a slow consumer: a thread pulls from an iterator into a small bounded buffer.

A scan's source (DuckDB, a database cursor) only computes the next batch when asked; the
consumer meanwhile serialises and sends the previous one. With a buffer of ``depth`` items the
two overlap while memory stays bounded by ``depth + 2`` items (buffered, being produced, being
consumed). Closing stops the thread and closes the iterator *in that thread* — a generator
cannot be closed from another thread while it runs.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Prefetch(Generic[T]):
    """An iterator over ``source``'s items, produced ahead by a daemon thread."""

    def __init__(self, source: Iterator[T], depth: int = 2, name: str = "agnes-prefetch") -> None:
        if depth < 1:
            raise ValueError("depth must be at least 1")
        self._source = source
        self._depth = depth
        self._items: deque[T] = deque()
        self._error: BaseException | None = None
        self._ended = False  # the producer is done (source exhausted, failed or stopped)
        self._stopped = False  # the consumer closed us
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._produce, name=name, daemon=True)
        self._thread.start()

    def _produce(self) -> None:
        try:
            for item in self._source:
                with self._cond:
                    while len(self._items) >= self._depth and not self._stopped:
                        self._cond.wait()
                    if self._stopped:
                        return
                    self._items.append(item)
                    self._cond.notify_all()
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            with self._cond:
                self._error = exc
        finally:
            close = getattr(self._source, "close", None)
            try:
                if close is not None:
                    close()
            finally:
                with self._cond:
                    self._ended = True
                    self._cond.notify_all()

    def __iter__(self) -> Prefetch[T]:
        return self

    def __next__(self) -> T:
        with self._cond:
            while not self._items and not self._ended:
                self._cond.wait()
            if self._items:
                item = self._items.popleft()
                self._cond.notify_all()
                return item
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            raise StopIteration

    def close(self, timeout: float | None = None) -> None:
        """Stop reading ahead, drop what was buffered, and wait for the source to be closed."""
        with self._cond:
            self._stopped = True
            self._items.clear()
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
