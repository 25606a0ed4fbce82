from __future__ import annotations

from datetime import datetime

import pytest

from agnes_core.errors import ValidationError
from agnes_core.extract.schedule import parse_schedule


def test_every_interval() -> None:
    s = parse_schedule("every 6h")
    assert s.interval_seconds == 6 * 3600
    assert s.next_after(datetime(2026, 1, 1, 0, 0)) == datetime(2026, 1, 1, 6, 0)
    assert parse_schedule("every 30m").interval_seconds == 1800
    assert parse_schedule("every 1 day").interval_seconds == 86400


@pytest.mark.parametrize(
    ("expr", "after", "expected"),
    [
        ("0 */6 * * *", datetime(2026, 1, 1, 1, 5), datetime(2026, 1, 1, 6, 0)),
        ("30 2 * * *", datetime(2026, 1, 1, 2, 30), datetime(2026, 1, 2, 2, 30)),
        ("0 9 * * mon", datetime(2026, 1, 1, 0, 0), datetime(2026, 1, 5, 9, 0)),  # 2026-01-01 is a Thursday
        ("0 0 1 * *", datetime(2026, 1, 15), datetime(2026, 2, 1)),
        ("15,45 * * * *", datetime(2026, 1, 1, 0, 20), datetime(2026, 1, 1, 0, 45)),
        ("0 0 29 2 *", datetime(2026, 3, 1), datetime(2028, 2, 29)),
        # Debian cron: a day-of-month starting with '*' is not a restriction, so this is Mondays
        # (odd-dated ones) only — never Saturday the 3rd or Wednesday the 7th
        ("0 0 */2 * mon", datetime(2026, 1, 1), datetime(2026, 1, 5)),
        ("0 0 */2 * mon", datetime(2026, 1, 5), datetime(2026, 1, 19)),
        # both restricted: either matches (the 1st, or any Friday)
        ("0 12 1,15 * fri", datetime(2026, 1, 1, 12, 0), datetime(2026, 1, 2, 12, 0)),
        ("0 0 * * 7", datetime(2026, 1, 1), datetime(2026, 1, 4)),  # 7 is Sunday too
    ],
)
def test_cron_next_run(expr: str, after: datetime, expected: datetime) -> None:
    assert parse_schedule(expr).next_after(after) == expected


@pytest.mark.parametrize("expr", ["", "every", "every 0h", "every 10s", "* * * *", "61 * * * *", "0 0 31 2 *",
                                  "a b c d e", "*/0 * * * *"])
def test_bad_schedules_name_the_field(expr: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_schedule(expr)
    assert err.value.field == "schedule"
