"""The notebook widgets (``agnes_jupyter.widgets``) against the live server: each widget's model —
what the front end is sent — and its plain-text/HTML fallback. The freshness dashboard follows a
real warm-up through the server's stream, stops its thread on ``close()`` and reconnects (saying so)
when the stream drops; the browser and the estimate card do their work through the kernel library.
Rendering in JupyterLab is tests/browser/test_widgets.py's.

The live server is shared by the session: each test undoes what it adds (stack items, packages,
tables, users, settings) and uses unique names."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import agnes_jupyter as agnes
from agnes_jupyter._client import Client
from tests._live import LiveServer

HOSTILE = '<img src=x onerror="window.__agnes_xss=1">'
WAIT = 60.0
EVENTS_SQL = "SELECT country, amount FROM events WHERE country = 'AT'"


def wait_for(condition: Callable[[], Any], timeout: float = WAIT, what: str = "") -> Any:
    """Poll ``condition`` until it is truthy (its value), failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)  # polling a condition with a deadline, not synchronising on a sleep
    raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")


@pytest.fixture
def ws(connected: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "workspace"
    monkeypatch.setenv("AGNES_WORKSPACE", str(root))
    return root


@pytest.fixture
def owner(connected: LiveServer) -> Iterator[Client]:
    """A second client as the server's owner (an admin), for setting things up."""
    client = agnes.connect(connected.url, connected.token, default=False)
    yield client
    client.close()


@pytest.fixture
def widgets_closed() -> Iterator[list[Any]]:
    """Widgets a test opens; each is closed when the test ends (its stream thread stops)."""
    opened: list[Any] = []
    yield opened
    for widget in opened:
        widget.close()


@pytest.fixture
def analyst(connected: LiveServer, owner: Client, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A fresh non-admin user in a group of their own, as the default client; removed afterwards.
    ``cleanup`` collects admin paths the test adds (deleted in reverse order)."""
    name = group = f"wdg_{uuid.uuid4().hex[:10]}"
    owner.post("admin/users", {"username": name})
    owner.post("admin/groups", {"name": group})
    owner.post(f"admin/groups/{group}/members", {"username": name})
    token = owner.post(f"admin/users/{name}/tokens", {"name": "widget tests"})["token"]
    monkeypatch.setenv("AGNES_TOKEN", token)
    client = agnes.connect(connected.url, token)
    assert client.get("me")["is_admin"] is False
    who: dict[str, Any] = {"name": name, "group": group, "client": client, "cleanup": []}
    try:
        yield who
    finally:
        for path in [*reversed(who["cleanup"]), f"admin/groups/{group}", f"admin/users/{name}"]:
            try:
                owner.delete(path)
            except agnes.AgnesError:
                pass


def _fresh_package(owner: Client, analyst: dict[str, Any], requirement: str) -> str:
    """A prod package of the demo's ``orders`` granted to the analyst's group."""
    slug = f"wdg-{uuid.uuid4().hex[:10]}"
    owner.post("admin/packages", {"slug": slug, "title": f"Widget test {slug}", "tables": ["orders"],
                                  "lifecycle": "prod", "tags": ["widgets"]})
    analyst["cleanup"].append(f"admin/packages/{slug}")
    grant = owner.post("admin/grants", {"group": analyst["group"], "resource_type": "package", "resource_id": slug,
                                        "requirement": requirement})
    analyst["cleanup"].append(f"admin/grants/{grant['id']}")
    return slug


# -- freshness -------------------------------------------------------------------------------------


def _open_freshness(opened: list[Any]) -> Any:
    widget = agnes.widgets.freshness()
    opened.append(widget)
    wait_for(lambda: widget.status == "live", what="the stream to be live")
    return widget


def test_freshness_follows_a_warm_up_from_pending_through_warming_to_fresh(
        connected: LiveServer, widgets_closed: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    widget = _open_freshness(widgets_closed)
    assert widget.actions == ["rewarm", "refresh"]
    assert "events" in widget.states
    seen: list[str] = []
    patches: list[dict[str, Any]] = []
    apply, send = widget._apply, widget.send

    def record(event: str, data: dict[str, Any], **kwargs: Any) -> None:
        apply(event, data, **kwargs)
        if not seen or seen[-1] != widget.states.get("events"):
            seen.append(widget.states["events"])

    monkeypatch.setattr(widget, "_apply", record)
    def spy(msg: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        patches.append(msg)
        send(msg, *args, **kwargs)

    monkeypatch.setattr(widget, "send", spy)

    run = widget.rewarm_all().result(timeout=WAIT)
    totals = widget.wait_for_run(run["run_id"], timeout=WAIT)
    assert totals["status"] == "complete"
    assert totals["succeeded"] >= 1
    # The model went through each state, in order, and ended fresh with the table's figures.
    assert seen[seen.index("pending"):][:3] == ["pending", "warming", "fresh"]
    row = widget.row("events")
    assert row["state"] == "fresh"
    status = {t["table_id"]: t for t in connected.get("agnes/v1/metadata/status")["tables"]}
    assert (row["rows"], row["size_bytes"]) == (status["events"]["rows"], status["events"]["size_bytes"])
    assert isinstance(row["ts"], (int, float))
    # The view was sent the changes as patches, and the whole state at the end.
    assert any(r["id"] == "events" and r["state"] == "fresh" for p in patches for r in p.get("rows", []))
    assert {r["id"]: r["state"] for r in widget.rows}["events"] == "fresh"
    assert widget.counts().get("fresh", 0) >= 1
    assert widget.notice.startswith(f"warm-up {run['run_id']} started")


def test_refreshing_one_row_updates_it_through_the_stream(connected: LiveServer, widgets_closed: list[Any]) -> None:
    widget = _open_freshness(widgets_closed)
    before = widget.row("events")["ts"] or 0.0
    answer = widget.refresh("events").result(timeout=WAIT)
    assert answer["state"] == "fresh"
    assert widget.wait(lambda w: (w.row("events")["ts"] or 0.0) > before and w.row("events")["state"] == "fresh",
                       timeout=WAIT)
    assert widget.notice == "events: fresh"
    assert widget.error == {}


def test_row_updates_are_coalesced_into_one_patch(connected: LiveServer, widgets_closed: list[Any],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from agnes_jupyter.widgets import _freshness

    monkeypatch.setattr(_freshness, "FLUSH_SECONDS", 3600.0)  # only the explicit flush below sends
    widget = _freshness.FreshnessWidget(start=False)
    widgets_closed.append(widget)
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(widget, "send", lambda msg, *a, **k: sent.append(msg))
    ids = [f"t{i:03d}" for i in range(500)]
    widget._apply("snapshot", {"tables": [{"table_id": t, "freshness": "never_fetched"} for t in ids],
                               "run": {"status": "never_run"}, "ts": 1.0})
    widget._apply("start", {"run_id": "r1", "kind": "warmup", "total": 500, "ts": 2.0,
                            "rows": [{"table_id": t, "state": "pending"} for t in ids]})
    sent.clear()
    for t in ids:
        widget._apply("row", {"run_id": "r1", "table_id": t, "state": "warming", "error": None, "ts": 3.0})
        widget._apply("row", {"run_id": "r1", "table_id": t, "state": "fresh", "error": None, "ts": 4.0,
                              "metadata": {"table_id": t, "rows": 10, "size_bytes": 2048, "freshness": "fresh",
                                           "refreshed_at": "2026-12-01T00:00:00Z"}})
    assert sent == []  # 1,000 row events, nothing sent yet
    widget.flush()
    assert len(sent) == 1
    assert sent[0]["type"] == "patch"
    assert [(r["id"], r["state"], r["rows"], r["ts"]) for r in sent[0]["rows"]] == [(t, "fresh", 10, 4.0) for t in ids]
    assert widget.counts() == {"fresh": 500}


def test_closing_the_freshness_widget_stops_its_thread_and_closes_the_response(
        connected: LiveServer, widgets_closed: list[Any]) -> None:
    widget = _open_freshness(widgets_closed)
    assert widget.alive
    assert not widget.response_closed
    widget.close()
    assert not widget.alive
    assert widget.response_closed
    assert widget.status == "closed"


def test_re_running_a_cell_closes_the_dashboard_it_made_before(
        connected: LiveServer, widgets_closed: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from agnes_jupyter.widgets import _freshness

    monkeypatch.setattr(_freshness, "_cell_id", lambda: "cell-1")
    first = _open_freshness(widgets_closed)
    second = _open_freshness(widgets_closed)
    assert not first.alive
    assert first.status == "closed"
    assert second.alive
    monkeypatch.setattr(_freshness, "_cell_id", lambda: "cell-2")
    third = _open_freshness(widgets_closed)
    assert second.alive  # another cell's dashboard is left alone
    assert third.alive


def test_a_dropped_stream_reconnects_says_so_and_resyncs(connected: LiveServer, widgets_closed: list[Any]) -> None:
    from agnes_jupyter.widgets import _freshness

    widget = _open_freshness(widgets_closed)
    assert widget.syncs == 1
    said: list[str] = []
    widget.observe(lambda change: said.append(change["new"]), names="status_text")
    first = widget._response
    _freshness._interrupt(first)  # the connection drops (as when the network or a proxy cuts it)
    wait_for(lambda: widget.syncs == 2 and widget.status == "live", what="a resync from a new snapshot")
    assert any(re.fullmatch(r"stream lost \(.+\); reconnecting in 1 s…", text) for text in said), said
    assert widget._response is not first
    assert "events" in widget.states


def test_a_non_admin_sees_only_readable_tables_and_no_buttons(
        connected: LiveServer, owner: Client, analyst: dict[str, Any], widgets_closed: list[Any]) -> None:
    hidden = f"wdg_hidden_{uuid.uuid4().hex[:8]}"
    owner.post("admin/tables", {"id": hidden, "source": "demo", "source_table": "events", "query_mode": "remote"})
    analyst["cleanup"].append(f"admin/tables/{hidden}")
    widget = _open_freshness(widgets_closed)
    assert widget.actions == []
    readable = {t["table_id"] for t in analyst["client"].get("metadata/status")["tables"]}
    assert set(widget.states) == readable
    assert hidden not in widget.states
    assert hidden in {t["table_id"] for t in owner.get("metadata/status")["tables"]}  # it is there for admins
    # The server refuses the action anyway; the widget says so in one line with its hint.
    with pytest.raises(agnes.Forbidden):
        widget.rewarm_all().result(timeout=WAIT)
    assert widget.error["message"].startswith("Forbidden: ")
    assert "Traceback" not in widget._fallback_text()


def test_freshness_fallbacks_escape_hostile_names(connected: LiveServer, widgets_closed: list[Any]) -> None:
    from agnes_jupyter.widgets._freshness import FreshnessWidget

    widget = FreshnessWidget(start=False)
    widgets_closed.append(widget)
    widget._apply("snapshot", {"tables": [{"table_id": HOSTILE, "freshness": "error", "error_msg": HOSTILE}],
                               "run": {"status": "never_run"}})
    data, _ = widget._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    assert HOSTILE not in data["text/html"]
    assert "&lt;img src=x onerror=&quot;window.__agnes_xss=1&quot;&gt;" in data["text/html"]
    assert HOSTILE in data["text/plain"]
    assert "1 error" in data["text/plain"]


# -- browse ----------------------------------------------------------------------------------------


def test_browse_filters_adds_syncs_and_removes_through_the_model(
        ws: Path, owner: Client, analyst: dict[str, Any]) -> None:
    slug = _fresh_package(owner, analyst, "available")
    required = _fresh_package(owner, analyst, "required")
    browser = agnes.widgets.browse()
    assert {slug, required} <= {p.slug for p in browser.packages}
    browser.search.value = slug
    assert [p.slug for p in browser.visible] == [slug]
    browser.search.value = ""
    browser.tag.value = "widgets"
    assert {p.slug for p in browser.visible} == {slug, required}
    browser.tag.value = "(all)"

    assert browser.add(slug) is True
    assert browser.package(slug).in_stack
    assert slug in [p["slug"] for p in analyst["client"].get("stack")["packages"]]
    assert "added to My Stack" in browser.message.value
    browser.show(slug)
    assert "orders" in browser.detail.value
    (card,) = [c for c in browser.cards.children if f"jp-agnes-w-pkg-{slug}" in c._dom_classes]
    assert browser.detail in card.children  # the detail opens under its own card
    browser.show(None)
    assert all(browser.detail not in c.children for c in browser.cards.children)

    report = browser.sync().result(timeout=120)
    assert "orders" in report.downloaded + report.unchanged
    assert (ws / "data" / slug / "orders.parquet").is_file()
    assert browser.report is report
    assert 'data-status="succeeded"' in browser.report_html.value
    assert browser.progress.bar_style == "success"
    assert report.summary() in browser._fallback_text()

    assert browser.remove(slug) is True
    assert not browser.package(slug).in_stack
    assert slug not in [p["slug"] for p in analyst["client"].get("stack")["packages"]]


def test_browse_explains_a_required_package_and_keeps_it(owner: Client, analyst: dict[str, Any]) -> None:
    required = _fresh_package(owner, analyst, "required")
    browser = agnes.widgets.browse()
    browser.search.value = required
    (card,) = browser.cards.children
    controls = card.children[1].children
    assert [c.description for c in controls if hasattr(c, "description") and c.description] == ["Details"]
    assert "required for your group" in controls[1].value
    assert browser.remove(required) is False
    assert browser.error["message"].startswith("RequiredItem: ")
    assert browser.package(required).in_stack
    assert "RequiredItem: " in browser._fallback_text()


def test_browse_fallbacks_escape_hostile_package_text(connected: LiveServer, owner: Client) -> None:
    slug = f"wdg-{uuid.uuid4().hex[:10]}"
    owner.post("admin/packages", {"slug": slug, "title": HOSTILE, "description": HOSTILE, "lifecycle": "prod",
                                  "tables": ["orders"]})
    try:
        browser = agnes.widgets.browse()
        browser.search.value = slug
        data, _ = browser._repr_mimebundle_()
        assert HOSTILE not in data["text/html"]
        assert "&lt;img src=x" in data["text/html"]
        assert HOSTILE in data["text/plain"]
        assert HOSTILE not in "".join(c.children[0].value for c in browser.cards.children)
    finally:
        owner.delete(f"admin/packages/{slug}")


# -- estimate --------------------------------------------------------------------------------------


@pytest.fixture
def confirm_everything(connected: LiveServer) -> Iterator[None]:
    """Every scan needs confirmation (the threshold at 1 byte), restored afterwards."""
    connected.request("PATCH", "agnes/v1/admin/settings", {"limits": {"scan_confirm_bytes": 1}})
    yield
    connected.request("PATCH", "agnes/v1/admin/settings", {"limits": {"scan_confirm_bytes": None}})


def test_the_estimate_card_shows_bytes_rows_cost_verdict_and_budget(ws: Path) -> None:
    card = agnes.widgets.estimate(EVENTS_SQL)
    expected = agnes.estimate(EVENTS_SQL).payload
    limits = expected["limits"]
    assert card.fields == {
        "scan_bytes": expected["scan_bytes"], "result_rows": expected["result_rows"],
        "cost_usd": expected["cost_usd"], "verdict": expected["verdict"],
        "budget_left_bytes": limits["daily_scan_bytes_per_user"] - limits["daily_used_bytes"],
        "confirm_above_bytes": limits["scan_confirm_bytes"]}
    assert "left today" in card.card.value
    data, _ = card._repr_mimebundle_()
    assert data["text/plain"].startswith("Estimate: scans ")
    assert "budget left today" in data["text/plain"]
    assert 'class="agnes-estimate"' in data["text/html"]


def test_a_snapshot_above_the_threshold_asks_first_then_runs_and_shows_its_table(
        ws: Path, confirm_everything: None) -> None:
    name = f"wdg_{uuid.uuid4().hex[:8]}"
    card = agnes.widgets.estimate(EVENTS_SQL)
    assert card.needs_confirmation
    assert card.snapshot_as(name) is None  # it asks first
    assert card.state == "confirming"
    assert card.confirm_box.layout.display == "flex"
    assert "confirmation threshold" in card.confirm_text.value
    assert not (ws / "snapshots" / f"{name}.parquet").exists()
    running = card.confirm()
    assert running is not None
    table = running.result(timeout=120)
    assert card.state == "done"
    assert (ws / "snapshots" / f"{name}.parquet").is_file()
    assert table.count().execute() == agnes.snapshots()[name]["rows"]
    assert f'data-snapshot="{name}"' in card.output.value
    assert "<th>country</th>" in card.output.value
    assert card.progress.bar_style == "success"
    assert f"snapshot {name!r} done" in card._fallback_text()
    # Again under the same name: the snapshot of this query is reused, not scanned again.
    scan_id = agnes.snapshots()[name]["scan_id"]
    again = card.snapshot_as(name)
    assert again is not None
    again.result(timeout=60)
    assert agnes.snapshots()[name]["scan_id"] == scan_id
    assert "reused" in card.progress_text.value
    # Another query under that name is refused, in one line with a hint.
    other = agnes.widgets.estimate("SELECT country FROM events WHERE country = 'DE'")
    assert other.snapshot_as(name) is None
    assert other.error["message"].startswith("SnapshotExists: ")
    assert other.error["hint"]


def test_a_cancelled_confirmation_runs_nothing(ws: Path, confirm_everything: None) -> None:
    name = f"wdg_{uuid.uuid4().hex[:8]}"
    card = agnes.widgets.estimate(EVENTS_SQL)
    assert card.snapshot_as(name) is None
    card.cancel()
    assert card.state == "ready"
    assert card.confirm() is None
    assert not (ws / "snapshots" / f"{name}.parquet").exists()


def test_estimate_errors_are_one_line_with_a_hint_and_escaped(ws: Path) -> None:
    card = agnes.widgets.estimate(EVENTS_SQL)
    assert card.snapshot_as(HOSTILE) is None
    assert card.error["message"].startswith("ValidationError: ")
    data, _ = card._repr_mimebundle_()
    assert HOSTILE not in data["text/html"]
    assert "&lt;img src=x" in data["text/html"]
    assert "Traceback" not in data["text/plain"]
    broken = agnes.widgets.estimate("SELECT * FROM no_such_table_here")
    assert broken.estimate is None
    assert broken.snapshot_button.disabled
    assert broken.error["message"].startswith("Rejected: ")
    assert "no_such_table_here" in broken.error["message"]
    assert "hint: " in broken._fallback_text()


# -- import cost -----------------------------------------------------------------------------------


def test_the_widgets_module_loads_lazily_without_ipywidgets() -> None:
    code = ("import sys, agnes_jupyter as a; w = a.widgets; "
            "print(callable(w.freshness), 'ipywidgets' in sys.modules, 'anywidget' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "False", "False"]
