"""The TTL cache drops one table's entries without looking at the others'."""

from __future__ import annotations

from typing import Any

from agnes_core.discovery.caches import TTLCache


def test_pop_groups_drops_only_that_tables_entries_and_never_scans_the_rest() -> None:
    looked: list[Any] = []

    def group(key: Any) -> Any:
        looked.append(key)
        return key[0]

    cache: TTLCache[str] = TTLCache(60, group=group)
    for i in range(1000):
        cache.put((f"t{i}", 5), "x")
        cache.put((f"t{i}", 10), "y")
    looked.clear()
    assert cache.pop_groups(["t7", "nope"]) == 2
    assert cache.get(("t7", 5)) is None
    assert cache.get(("t8", 5)) == "x"
    assert len(cache) == 1998
    assert len(looked) <= 4  # the dropped keys only, not the 2,000 cached


def test_eviction_and_expiry_keep_the_index_in_step() -> None:
    cache: TTLCache[int] = TTLCache(60, max_entries=3)
    for i in range(5):
        cache.put(f"k{i}", i)
    assert len(cache) == 3
    assert cache.pop_groups(["k0", "k1"]) == 0  # evicted ones are gone from the index too
    assert cache.pop_groups(["k4"]) == 1
    expired: TTLCache[int] = TTLCache(0)
    expired.put("a", 1)
    assert expired.get("a") is None
    assert expired.pop_groups(["a"]) == 0


def test_a_value_computed_across_a_drop_is_not_kept() -> None:
    cache: TTLCache[str] = TTLCache(60)
    token, other = cache.token("orders"), cache.token("events")
    cache.pop_groups(["orders"])  # a change of orders lands while values are being computed
    cache.put("orders", "computed from the old registration", token)
    cache.put("events", "another table's", other)
    assert cache.get("orders") is None
    assert cache.get("events") == "another table's"  # its table did not change
    token = cache.token("orders")
    cache.put("orders", "computed after the change", token)
    assert cache.get("orders") == "computed after the change"
    token = cache.token("orders")
    cache.clear()
    cache.put("orders", "computed before everything was dropped", token)
    assert cache.get("orders") is None
