"""Audit entries handed over without waiting (from the event loop) are never missed by readers."""

from __future__ import annotations

import threading
from pathlib import Path

from agnes_core.access.audit import Audit
from agnes_core.store.state import StateStore


def test_entries_handed_over_are_seen_by_the_next_read(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "system.duckdb")
    audit = Audit(store)
    locked, release = threading.Event(), threading.Event()
    writer = threading.Thread(target=lambda: _hold(store, locked, release))
    writer.start()  # the writer lock is busy: the handed-over entries must wait, the caller must not
    assert locked.wait(5)
    try:
        futures = [audit.record_later("ann", "test.later", f"thing/{i}") for i in range(20)]
        assert not any(f.done() for f in futures)
    finally:
        release.set()
        writer.join(5)
    found = audit.entries(action="test.later", limit=100)
    assert sorted(e["resource"] for e in found) == sorted(f"thing/{i}" for i in range(20))
    store.close()


def test_closing_the_store_writes_what_is_pending_first(tmp_path: Path) -> None:
    path = tmp_path / "system.duckdb"
    store = StateStore(path)
    audit = Audit(store)
    for i in range(5):
        audit.record_later("ann", "test.close", f"thing/{i}")
    store.close()
    reopened = StateStore(path)
    assert reopened.scalar("SELECT count(*) FROM audit_log WHERE action = 'test.close'") == 5
    reopened.close()


def _hold(store: StateStore, locked: threading.Event, release: threading.Event) -> None:
    with store.write():
        locked.set()
        release.wait(5)
