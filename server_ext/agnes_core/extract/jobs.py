"""Which extracts are due: scheduled local and materialized tables, failing ones backed off."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from agnes_core.extract.extractdb import EXTRACTABLE
from agnes_core.extract.runtime import ExtractRuntime
from agnes_core.extract.schedule import parse_schedule
from agnes_core.registry import Registry

#: The wait before the second retry of a failing extract; it doubles with each failure after.
BACKOFF_BASE = timedelta(minutes=1)
#: The longest wait between two attempts of a failing extract.
BACKOFF_MAX = timedelta(hours=1)


@dataclass(frozen=True)
class Failing:
    """A table whose latest runs failed: how many in a row, and when the last one ended."""

    failures: int
    last_failed_at: datetime


def backoff(failures: int) -> timedelta:
    """The wait after ``failures`` failed runs in a row: none after the first (one quick retry),
    then 1 min, 2 min, 4 min ... up to :data:`BACKOFF_MAX` — a source that hangs or is down is
    not asked again on every tick."""
    if failures <= 1:
        return timedelta(0)
    return min(BACKOFF_BASE * 2 ** min(failures - 2, 30), BACKOFF_MAX)


def failing_tables(extracts: ExtractRuntime) -> dict[str, Failing]:
    """Tables whose runs since their last success (or ever) all failed."""
    rows = extracts.store.rows(
        "SELECT r.table_id, count(*) AS failures, max(coalesce(r.finished_at, r.started_at)) AS last_failed_at "
        "FROM extract_runs r LEFT JOIN (SELECT table_id, max(started_at) AS at FROM extract_runs "
        "WHERE status = 'succeeded' GROUP BY table_id) s ON s.table_id = r.table_id "
        "WHERE r.status = 'failed' AND (s.at IS NULL OR r.started_at > s.at) GROUP BY r.table_id")
    return {r["table_id"]: Failing(int(r["failures"]), r["last_failed_at"]) for r in rows}


def due_tables(registry: Registry, extracts: ExtractRuntime, now: datetime) -> list[str]:
    """Tables whose schedule says they should run now.

    Never run: due at once. Last run failed: due again once its back-off has passed (the next
    tick after one failure, then after :func:`backoff`). Otherwise: when the schedule's next time
    after the last successful run has come.
    """
    last = extracts.last_runs()
    successes = extracts.last_success()
    failing = failing_tables(extracts)
    running = {r.table_id for r in extracts.running()}
    due = []
    for table in registry.list_tables():
        if table.query_mode not in EXTRACTABLE or not table.schedule or table.id in running:
            continue
        run = last.get(table.id)
        if run is None:
            due.append(table.id)
            continue
        if run["status"] == "failed":
            found = failing.get(table.id)
            if found is None or found.last_failed_at + backoff(found.failures) <= now:
                due.append(table.id)
            continue
        anchor = successes.get(table.id) or table.created_at
        if parse_schedule(table.schedule).next_after(anchor) <= now:
            due.append(table.id)
    return due
