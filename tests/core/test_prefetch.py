"""Reading ahead of the consumer: order kept, errors handed over, memory bounded, and closing
stops the producer and closes the source in the producer's own thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from agnes_core.discovery.prefetch import Prefetch


def test_items_arrive_in_order_and_the_end_is_reported() -> None:
    assert list(Prefetch(iter(range(50)), depth=3)) == list(range(50))
    assert list(Prefetch(iter([]), depth=1)) == []


def test_the_producer_runs_at_most_depth_items_ahead() -> None:
    consumed = 0
    ahead: list[int] = []

    def source() -> Iterator[int]:
        for i in range(200):
            ahead.append(i - consumed)  # produced-but-not-consumed items when this one is made
            yield i

    prefetch = Prefetch(source(), depth=2)
    for _ in prefetch:
        consumed += 1
    # item i is made while up to `depth` wait in the buffer and one is in the consumer's hands
    assert max(ahead) <= 3
    assert consumed == 200


def test_an_error_in_the_source_reaches_the_consumer_after_the_items_before_it() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise RuntimeError("the source broke")

    prefetch = Prefetch(source(), depth=4)
    assert [next(prefetch), next(prefetch)] == [1, 2]
    with pytest.raises(RuntimeError, match="the source broke"):
        next(prefetch)


def test_close_stops_reading_and_closes_the_source_in_the_producer_thread() -> None:
    closed_in: list[str] = []
    produced: list[int] = []

    def source() -> Iterator[int]:
        try:
            for i in range(10**9):
                produced.append(i)
                yield i
        finally:
            closed_in.append(threading.current_thread().name)

    prefetch = Prefetch(source(), depth=2, name="test-producer")
    assert next(prefetch) == 0
    prefetch.close()
    assert closed_in == ["test-producer"]  # close() waited for it
    count = len(produced)
    assert count <= 4
    with pytest.raises(StopIteration):
        next(prefetch)  # nothing buffered survives a close
    assert len(produced) == count


def test_depth_must_be_positive() -> None:
    with pytest.raises(ValueError, match="depth"):
        Prefetch(iter([1]), depth=0)
