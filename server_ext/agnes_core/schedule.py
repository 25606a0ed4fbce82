"""Schedules for extracts and materializations: ``every 6h`` or a 5-field cron expression (UTC)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from .errors import ValidationError

#: The shape of a schedule, as openapi.yaml publishes it (parse_schedule checks the rest: units,
#: ranges, expressions that never fire).
SCHEDULE_PATTERN = (r"^([ \t]*[Ee][Vv][Ee][Rr][Yy][ \t]+[0-9]{1,9}[ \t]*[A-Za-z]{1,7}[ \t]*"
                    r"|[ \t]*([0-9A-Za-z*/,\-]+[ \t]+){4}[0-9A-Za-z*/,\-]+[ \t]*)$")
_EVERY_RE = re.compile(r"^\s*every\s+(\d+)\s*(m|min|mins|minutes?|h|hours?|d|days?)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400}
_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 6))
_NAMES = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10,
    "nov": 11, "dec": 12, "sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6,
}


@dataclass(frozen=True)
class Schedule:
    text: str
    interval_seconds: int | None = None
    cron: tuple[frozenset[int], ...] | None = None
    dom_star: bool = True
    dow_star: bool = True

    def next_after(self, after: datetime) -> datetime:
        """The first run time strictly after ``after`` (naive UTC)."""
        if self.interval_seconds is not None:
            return after + timedelta(seconds=self.interval_seconds)
        assert self.cron is not None
        minutes, hours, doms, months, dows = self.cron
        t = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = after + timedelta(days=366 * 5)
        while t <= limit:
            if t.month not in months:
                t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
                continue
            if not self._day_matches(t, doms, dows):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
                continue
            if t.hour not in hours:
                t = t.replace(minute=0) + timedelta(hours=1)
                continue
            if t.minute not in minutes:
                t += timedelta(minutes=1)
                continue
            return t
        raise ValidationError("schedule", f"cron expression {self.text!r} never fires")

    def _day_matches(self, t: datetime, doms: frozenset[int], dows: frozenset[int]) -> bool:
        dow = (t.weekday() + 1) % 7  # cron: 0 = Sunday
        if self.dom_star or self.dow_star:  # cron's rule: both restricted -> either matches
            return t.day in doms and dow in dows
        return t.day in doms or dow in dows

    def is_due(self, last_run: datetime | None, now: datetime, created_at: datetime) -> bool:
        anchor = last_run or created_at
        if last_run is None and self.interval_seconds is not None:
            return True  # never run: run on the first tick
        return self.next_after(anchor) <= now


def _parse_field(text: str, index: int) -> tuple[frozenset[int], bool]:
    name, lo, hi = _FIELDS[index]
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"bad step in {name}: {text!r}")
            step = int(step_text)
        if part == "*":
            start, end = lo, hi
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _value(a, name), _value(b, name)
        else:
            start = _value(part, name)
            end = hi if step > 1 else start
        if index == 4 and end == 7:
            end = 6
            values.add(0)
        if not (lo <= start <= hi and lo <= end <= hi and start <= end):
            raise ValueError(f"{name} out of range {lo}-{hi}: {text!r}")
        values.update(range(start, end + 1, step))
    return frozenset(values), text == "*"


def _value(text: str, name: str) -> int:
    text = text.lower()
    if text in _NAMES:
        return _NAMES[text]
    if not text.isdigit():
        raise ValueError(f"bad {name}: {text!r}")
    value = int(text)
    return 0 if name == "day of week" and value == 7 else value


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
    try:
        parsed = [_parse_field(p, i) for i, p in enumerate(parts)]
    except ValueError as exc:
        raise ValidationError(field, f"cannot read cron expression {text!r}: {exc}") from exc
    schedule = Schedule(text.strip(), cron=tuple(p[0] for p in parsed),
                        dom_star=parsed[2][1], dow_star=parsed[4][1])
    schedule.next_after(datetime(2000, 1, 1))  # rejects expressions that never fire (e.g. 31 Feb)
    return schedule
