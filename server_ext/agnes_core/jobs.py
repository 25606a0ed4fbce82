"""Which extracts are due: scheduled local and materialized tables."""

from __future__ import annotations

from datetime import datetime

from .extract import EXTRACTABLE, ExtractRuntime
from .registry import Registry
from .schedule import parse_schedule


def due_tables(registry: Registry, extracts: ExtractRuntime, now: datetime) -> list[str]:
    """Tables whose schedule says they should run now.

    Never run: due at once. Last run failed: due again on the next tick (a failing
    run is retried). Otherwise: when the schedule's next time after the last
    successful run has come.
    """
    last = extracts.last_runs()
    successes = extracts.last_success()
    running = {r.table_id for r in extracts.running()}
    due = []
    for table in registry.list_tables():
        if table.query_mode not in EXTRACTABLE or not table.schedule or table.id in running:
            continue
        run = last.get(table.id)
        if run is None or run["status"] == "failed":
            due.append(table.id)
            continue
        anchor = successes.get(table.id) or table.created_at
        if parse_schedule(table.schedule).next_after(anchor) <= now:
            due.append(table.id)
    return due
