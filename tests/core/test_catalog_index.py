"""The catalog index: folded in table by table, and always answering from a complete index."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from agnes_core.access.principals import EVERYONE, Principal
from agnes_core.connectors import TableMetadata
from agnes_core.core import AgnesCore
from agnes_core.events import Change

ADMIN = Principal("admin", "Admin", frozenset({EVERYONE}), True)


@pytest.fixture
def core(tmp_path: Path, demo_lake: Path):
    c = AgnesCore(tmp_path / "data")
    c.registry.add_source({"name": "demo", "type": "lake", "options": {"path": str(demo_lake)}})
    for i in range(300):
        c.registry.register_table({"id": f"t{i:03d}", "source": "demo", "source_table": "orders",
                                   "query_mode": "remote"})
    yield c
    c.close()


def rows_of(core: AgnesCore) -> dict[str, int | None]:
    return {e["id"]: e["rows"] for e in core.catalog.entries(ADMIN)}


def refreshed(core: AgnesCore, table_id: str, rows: int) -> None:
    """What the metadata refresher does for one table."""
    core.metadata.record_success(table_id, TableMetadata(rows=rows, size_bytes=rows), "duckdb")
    core.hub.publish(Change("metadata", "update", frozenset({table_id})))


def count_builds(core: AgnesCore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sizes: list[int] = []
    real = core.catalog._build_entries

    def spy(ids: list[str], now):  # type: ignore[no-untyped-def]
        sizes.append(len(ids))
        return real(ids, now)

    monkeypatch.setattr(core.catalog, "_build_entries", spy)
    return sizes


def test_a_registration_rebuilds_only_the_new_tables_entry(core: AgnesCore, monkeypatch: pytest.MonkeyPatch) -> None:
    core.catalog.warm()
    sizes = count_builds(core, monkeypatch)
    core.registry.register_table({"id": "a_first", "source": "demo", "source_table": "orders",
                                  "query_mode": "remote"})
    ids = [e["id"] for e in core.catalog.entries(ADMIN)]
    assert ids[0] == "a_first"
    assert ids == sorted(ids)
    assert sizes == [1]


def test_metadata_changes_are_folded_in_one_batch_per_request(core: AgnesCore) -> None:
    core.catalog.warm()
    batch = core.catalog.BATCH
    for i in range(batch + 10):
        refreshed(core, f"t{i:03d}", 1000 + i)
    first = rows_of(core)
    assert sum(1 for i in range(batch + 10) if first[f"t{i:03d}"] == 1000 + i) == batch
    second = rows_of(core)
    assert all(second[f"t{i:03d}"] == 1000 + i for i in range(batch + 10))


def test_admin_changes_are_folded_in_before_answering_even_behind_metadata(core: AgnesCore) -> None:
    core.catalog.warm()
    for i in range(250):
        refreshed(core, f"t{i:03d}", 7)
    core.registry.update_table("t299", {"description": "changed by an admin"}, partial=True)
    entry = next(e for e in core.catalog.entries(ADMIN) if e["id"] == "t299")
    assert entry["description"] == "changed by an admin"


def test_during_a_refresh_the_catalog_answers_from_the_last_complete_index(core: AgnesCore) -> None:
    core.catalog.warm()
    before = core.catalog.response(ADMIN)
    refreshed(core, "t005", 555)
    # Another thread is folding in a batch: a request does not wait for it.
    entered, release = threading.Event(), threading.Event()
    real = core.catalog._build_entries

    def slow(ids, now):  # type: ignore[no-untyped-def]
        entered.set()
        release.wait(30)
        return real(ids, now)

    core.catalog._build_entries = slow  # type: ignore[method-assign]
    builder = threading.Thread(target=core.catalog.entries, args=(ADMIN,))
    builder.start()
    assert entered.wait(30)
    refreshed(core, "t006", 666)
    during = core.catalog.response(ADMIN)
    assert during == before  # complete, and as it was before the refresh's rows
    release.set()
    builder.join(30)
    core.catalog._build_entries = real  # type: ignore[method-assign]
    after = rows_of(core)
    assert (after["t005"], after["t006"]) == (555, 666)


def test_a_refresh_of_every_table_never_rebuilds_the_whole_index(core: AgnesCore,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    core.catalog.warm()
    sizes = count_builds(core, monkeypatch)
    for i in range(300):
        refreshed(core, f"t{i:03d}", i)
        if i % 20 == 0:
            core.catalog.response(ADMIN, search=str(i))
    for _ in range(300 // core.catalog.BATCH + 1):  # each request folds in at most one more batch
        if all(v == int(k[1:]) for k, v in rows_of(core).items()):
            break
    assert all(v == int(k[1:]) for k, v in rows_of(core).items())
    assert max(sizes) <= core.catalog.BATCH
    assert sum(sizes) == 300  # each refreshed table built once


def test_a_full_invalidation_keeps_answering_with_every_table(core: AgnesCore) -> None:
    core.catalog.warm()
    core.catalog.invalidate(None)
    assert len(core.catalog.entries(ADMIN)) == 300
    core.registry.delete_table("t000")
    core.catalog.invalidate(None)
    assert "t000" not in rows_of(core)
    assert len(rows_of(core)) == 299
