"""The issue's "done when", end to end: once a user's daily scanned-bytes budget is spent the
next scan is refused — and still refused after the server restarts (the budget lives in the
state store, not in the server's memory)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import agnes_jupyter as agnes
from tests._live import LiveServer

ONE_DAY = "SELECT country, amount FROM events WHERE event_date = DATE '2026-01-05'"


@pytest.fixture
def server(tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path / "budget").start()
    monkeypatch.setenv("AGNES_SERVER_URL", live.url)
    monkeypatch.setenv("AGNES_TOKEN", live.token)
    monkeypatch.setenv("AGNES_WORKSPACE", str(live.workspace))
    agnes.connect()
    try:
        yield live
    finally:
        monkeypatch.setattr(agnes, "_default", None)
        live.stop()


def test_a_spent_daily_budget_refuses_scans_also_after_a_restart(server: LiveServer) -> None:
    one = agnes.estimate(ONE_DAY).scan_bytes
    assert one > 0
    # The admin lowers the demo source's daily budget to one and a half such scans.
    source = server.get("agnes/v1/admin/sources/demo")
    limits = {**source["options"].get("limits", {}), "daily_scan_bytes_per_user": one * 3 // 2}
    server.request("PATCH", "agnes/v1/admin/sources/demo", {"options": {**source["options"], "limits": limits}})

    agnes.snapshot(ONE_DAY, name="day_one", progress=False)
    assert agnes.estimate(ONE_DAY).verdict == "over_budget"
    with pytest.raises(agnes.QuotaExceeded) as refused:
        agnes.snapshot(ONE_DAY, name="day_one_again", progress=False)
    assert refused.value.details["kind"] == "daily_bytes"
    assert refused.value.details["current"] == one
    assert refused.value.details["retry_after_seconds"] > 0

    server.restart()

    with pytest.raises(agnes.QuotaExceeded) as after_restart:
        agnes.snapshot(ONE_DAY, name="day_one_again", progress=False)
    assert (after_restart.value.details["kind"], after_restart.value.details["current"]) == ("daily_bytes", one)
    assert agnes.client().get("me")["usage"]["scanned_bytes"] == one
    assert [s["name"] for s in agnes.snapshots()] == ["day_one"]  # the refused scans wrote nothing
