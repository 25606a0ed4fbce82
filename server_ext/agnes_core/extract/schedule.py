"""Schedules for extracts and materializations: ``every 6h`` or a 5-field cron expression (UTC).

Cron expressions are read and stepped by :mod:`cronsim`, which follows Debian's (Vixie) cron to
the letter — including its rule for a day-of-month *and* a day-of-week: either matches when both
are restricted, but a field starting with ``*`` (``*/2``) does not count as restricted."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from agnes_core.errors import ValidationError

#: The shape of a schedule, as openapi.yaml publishes it (parse_schedule checks the rest: units,
#: ranges, expressions that never fire).
SCHEDULE_PATTERN = (r"^([ \t]*[Ee][Vv][Ee][Rr][Yy][ \t]+[0-9]{1,9}[ \t]*[A-Za-z]{1,7}[ \t]*"
                    r"|[ \t]*([0-9A-Za-z*/,\-]+[ \t]+){4}[0-9A-Za-z*/,\-]+[ \t]*)$")
_EVERY_RE = re.compile(r"^\s*every\s+(\d+)\s*(m|min|mins|minutes?|h|hours?|d|days?)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Schedule:
    text: str
    interval_seconds: int | None = None

    def next_after(self, after: datetime) -> datetime:
        """The first run time strictly after ``after`` (naive UTC)."""
        if self.interval_seconds is not None:
            return after + timedelta(seconds=self.interval_seconds)
        from cronsim import CronSim

        return next(CronSim(self.text, after))


def parse_schedule(text: object, field: str = "schedule") -> Schedule:
    """Parse ``every N(m|h|d)`` or a 5-field cron expression; raise ValidationError naming ``field``."""
    if not isinstance(text, str) or not text.strip():
        raise ValidationError(field, "schedule must be a string like 'every 6h' or a cron expression")
    m = _EVERY_RE.match(text)
    if m:
        amount = int(m.group(1))
        seconds = amount * _UNIT_SECONDS[m.group(2)[0].lower()]
        if seconds < 60:
            raise ValidationError(field, "the shortest schedule is every 1m")
        return Schedule(text.strip(), interval_seconds=seconds)
    parts = text.split()
    if len(parts) != 5:
        raise ValidationError(field, f"cannot read schedule {text!r}",
                              hint="Use 'every 30m', 'every 6h', 'every 1d' or a cron expression like '0 */6 * * *'.")
    from cronsim import CronSim, CronSimError

    cron = " ".join(parts)
    try:
        next(CronSim(cron, datetime(2000, 1, 1)))  # also refuses expressions that never fire (31 Feb)
    except (CronSimError, StopIteration) as exc:
        raise ValidationError(field, f"cannot read cron expression {text!r}: {exc or 'it never fires'}",
                              hint="Five fields: minute hour day-of-month month day-of-week, e.g. '0 */6 * * *'.") \
            from None
    return Schedule(cron)
