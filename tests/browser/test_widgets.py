"""The notebook widgets (``agnes_jupyter.widgets``) rendered by JupyterLab's widget manager in
headless Chromium, driven as an analyst (the live server's owner, an admin) would: the freshness
dashboard follows a warm-up started from its own *Re-warm all* button from pending to fresh; the
package browser adds a package to My Stack and syncs (a progress bar, then the report); the estimate
card asks for confirmation, snapshots and shows the snapshot's table. Each ends with a screenshot
in the light and in the dark theme.

Each test undoes what it adds (stack items, snapshots, settings, its notebook and kernel): the live
server is shared with the kernel and notebook suites."""

from __future__ import annotations

import json
import shutil
import urllib.error
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._live import LiveServer

pytestmark = pytest.mark.browser

THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}
EVENTS_SQL = "SELECT country, amount FROM events WHERE country = 'AT'"


# -- helpers (the patterns of tests/browser/test_panel.py) -----------------------------------------


def _open_lab(page: Any, server: LiveServer, path: str = "lab") -> None:
    page.goto(f"{server.url}{path}?reset&token={server.token}")
    page.wait_for_selector("#jp-main-dock-panel", timeout=120_000)


def _set_theme(page: Any, theme: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Theme").first.hover()
    page.locator(".lm-Menu-itemLabel", has_text=theme).first.click()
    page.wait_for_function("t => document.body.dataset.jpThemeName === t", arg=theme, timeout=60_000)


def _notebook(server: LiveServer, name: str, cells: list[str]) -> str:
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": s}
                    for s in cells],
          "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                                      "name": "python3"}},
          "nbformat": 4, "nbformat_minor": 5}
    (server.root / "notebooks" / name).write_text(json.dumps(nb))
    return name


def _open_notebook(page: Any, server: LiveServer, name: str) -> None:
    _open_lab(page, server, f"lab/tree/{name}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)


def _run_all(page: Any) -> None:
    page.locator(".jp-Notebook").first.click()
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


def _shots(page: Any, output_dir: Path, name: str, target: Any) -> None:
    """Screenshots of the page with ``target`` in view, in the dark and then the light theme (the
    theme is a setting of the shared server: it ends as JupyterLab's default)."""
    for theme in ("dark", "light"):
        label = THEMES[theme]
        if page.evaluate("() => document.body.dataset.jpThemeName") != label:
            _set_theme(page, label)
            page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=60_000)
        target.scroll_into_view_if_needed()
        page.screenshot(path=str(output_dir / f"{name}-{theme}.png"))


def _forget(server: LiveServer, notebook: str) -> None:
    """Shut the notebook's kernel down (its widget threads with it) and delete the notebook."""
    sessions = server.request("GET", "api/sessions")
    assert isinstance(sessions, list)
    for session in sessions:
        if session.get("path") == notebook:
            server.request("DELETE", f"api/sessions/{session['id']}")
    (server.root / "notebooks" / notebook).unlink(missing_ok=True)


@pytest.fixture
def page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    page = browser.new_page(viewport={"width": 1400, "height": 950})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.agnes_errors = errors
    yield page
    page.close()
    shutil.rmtree(live_server.root / "notebooks" / ".ipynb_checkpoints", ignore_errors=True)


@pytest.fixture
def notebook(live_server: LiveServer) -> Iterator[list[str]]:
    """Names of the notebooks a test writes; each is forgotten (kernel and file) afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        _forget(live_server, name)


# -- freshness -------------------------------------------------------------------------------------


def test_freshness_watches_a_warm_up_from_its_rewarm_button_go_from_pending_to_fresh(
        page: Any, live_server: LiveServer, output_dir: Path, notebook: list[str]) -> None:
    name = _notebook(live_server, f"widgets-freshness-{uuid.uuid4().hex[:6]}.ipynb",
                     ["from agnes_jupyter import widgets\nboard = widgets.freshness()\nboard",
                      "import threading\n"
                      "print('streams:', sum(t.name == 'agnes-freshness-stream' for t in threading.enumerate()))",
                      "from agnes_jupyter.widgets import _freshness\n"
                      "_freshness._interrupt(board._response)  # the connection drops, as when a proxy cuts it"])
    notebook.append(name)
    _open_notebook(page, live_server, name)
    cells = page.locator(".jp-Notebook .jp-Cell")
    cells.first.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")  # runs the first cell only; the focus moves to the next
    board = page.locator(".jp-agnes-fr")
    board.wait_for(timeout=60_000)
    board.locator('.jp-agnes-fr-status[data-status="live"]').wait_for(timeout=60_000)
    events = board.locator('tr[data-table-id="events"]')
    events.wait_for(timeout=30_000)
    assert events.locator(".jp-agnes-fr-rows").inner_text().replace(",", "").isdigit()
    # Record every state the events row shows from now on.
    page.evaluate("""() => {
        const row = document.querySelector('.jp-agnes-fr tr[data-table-id="events"]');
        window.__agnes_states = [];
        new MutationObserver(() => {
            const s = row.dataset.state;
            if (window.__agnes_states[window.__agnes_states.length - 1] !== s) window.__agnes_states.push(s);
        }).observe(row, {attributes: true, attributeFilter: ['data-state']});
    }""")
    board.locator(".jp-agnes-fr-rewarm").click()
    # (A warm-up of the demo's three tables takes a fraction of a second: "running" may come and go
    # between two looks, so the test waits for its end, which only this run can bring.)
    try:
        board.locator('.jp-agnes-fr-run[data-status="complete"]').wait_for(timeout=120_000)
    except Exception:
        page.screenshot(path=str(output_dir / "widgets-freshness-failed.png"))
        raise
    page.wait_for_function(
        "() => document.querySelector('.jp-agnes-fr tr[data-table-id=\"events\"]').dataset.state === 'fresh'",
        timeout=30_000)
    states = page.evaluate("() => window.__agnes_states")
    assert "pending" in states
    assert states.index("pending") < len(states) - 1
    assert states[-1] == "fresh"
    assert "warming" not in states or states.index("pending") < states.index("warming")
    counts = board.locator('.jp-agnes-fr-count[data-state="fresh"]').inner_text()
    assert counts.endswith("fresh")
    assert board.locator(".jp-agnes-fr-refresh").count() >= 1  # the admin's per-row button
    assert page.agnes_errors == []
    _shots(page, output_dir, "widgets-freshness", board)

    # Running the cell again replaces the dashboard: the one it made before stops streaming.
    cells.first.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    board.locator('.jp-agnes-fr-status[data-status="live"]').wait_for(timeout=60_000)
    page.keyboard.press("Shift+Enter")  # the second cell counts the stream threads
    cells.nth(1).locator(".jp-OutputArea-output", has_text="streams:").wait_for(timeout=60_000)
    assert cells.nth(1).locator(".jp-OutputArea-output").inner_text().strip() == "streams: 1"

    # The stream drops (the third cell cuts its connection): the widget says so, then is live again.
    page.keyboard.press("Shift+Enter")
    status = board.locator(".jp-agnes-fr-status")
    board.locator('.jp-agnes-fr-status[data-status="reconnecting"]').wait_for(timeout=30_000)
    assert status.inner_text().endswith("reconnecting in 1 s…")
    board.locator('.jp-agnes-fr-status[data-status="live"]').wait_for(timeout=30_000)
    assert board.locator('tr[data-table-id="events"]').get_attribute("data-state") == "fresh"


# -- browse ----------------------------------------------------------------------------------------


def test_browse_adds_a_package_to_my_stack_and_syncs_with_progress_then_the_report(
        page: Any, live_server: LiveServer, output_dir: Path, notebook: list[str]) -> None:
    slug = "product-analytics"
    assert slug not in [p["slug"] for p in live_server.get("agnes/v1/stack")["packages"]]
    name = _notebook(live_server, f"widgets-browse-{uuid.uuid4().hex[:6]}.ipynb",
                     ["from agnes_jupyter import widgets\nbrowser = widgets.browse()\nbrowser"])
    notebook.append(name)
    try:
        _open_notebook(page, live_server, name)
        _run_all(page)
        card = page.locator(f".jp-agnes-w-pkg-{slug}")
        card.wait_for(timeout=60_000)
        # The demo's sales package is granted to everyone as required: explained, no Remove button.
        sales = page.locator(".jp-agnes-w-pkg-sales")
        assert sales.locator(".jp-agnes-w-required").count() == 1
        assert sales.locator(".jp-agnes-w-remove").count() == 0
        card.locator(".jp-agnes-w-add").click()
        page.locator(f".jp-agnes-w-pkg-{slug} .jp-agnes-w-remove").wait_for(timeout=30_000)
        assert slug in [p["slug"] for p in live_server.get("agnes/v1/stack")["packages"]]
        # Record that the progress bar showed before the report did.
        page.evaluate("""() => {
            window.__agnes_progress_first = false;
            const check = () => {
                const bar = document.querySelector('.jp-agnes-w-browse .jp-agnes-w-progress');
                const report = document.querySelector('.jp-agnes-w-browse .jp-agnes-w-done');
                if (bar && getComputedStyle(bar).visibility === 'visible' && !report) {
                    window.__agnes_progress_first = true;
                }
            };
            new MutationObserver(check).observe(document.body, {childList: true, subtree: true, attributes: true});
        }""")
        page.locator(".jp-agnes-w-sync").click()
        report = page.locator('.jp-agnes-w-report .jp-agnes-w-done[data-status="succeeded"]')
        report.wait_for(timeout=120_000)
        assert page.evaluate("() => window.__agnes_progress_first") is True
        assert report.inner_text().startswith("synced ")
        assert (live_server.workspace / "data").is_dir()
        assert page.agnes_errors == []
        _shots(page, output_dir, "widgets-browse-sync", report)
    finally:
        try:
            live_server.request("DELETE", f"agnes/v1/stack/packages/{slug}")
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise


# -- estimate --------------------------------------------------------------------------------------


@pytest.fixture
def confirm_everything(live_server: LiveServer) -> Iterator[None]:
    """Every scan needs confirmation (the threshold at 1 byte), restored afterwards."""
    live_server.request("PATCH", "agnes/v1/admin/settings", {"limits": {"scan_confirm_bytes": 1}})
    yield
    live_server.request("PATCH", "agnes/v1/admin/settings", {"limits": {"scan_confirm_bytes": None}})


def test_estimate_confirms_a_snapshot_and_shows_its_table(
        page: Any, live_server: LiveServer, output_dir: Path, notebook: list[str], confirm_everything: None) -> None:
    snap = f"widget_{uuid.uuid4().hex[:8]}"
    name = _notebook(live_server, f"widgets-estimate-{uuid.uuid4().hex[:6]}.ipynb",
                     [f"from agnes_jupyter import widgets\ncard = widgets.estimate({EVENTS_SQL!r})\ncard"])
    notebook.append(name)
    try:
        _open_notebook(page, live_server, name)
        _run_all(page)
        card = page.locator(".jp-agnes-w-estimate-card")
        card.locator('.agnes-estimate').wait_for(timeout=60_000)
        assert "needs_confirmation" in card.locator(".agnes-estimate").inner_text()
        assert "left today" in card.locator(".agnes-estimate").inner_text()
        card.locator(".jp-agnes-w-name input").fill(snap)
        card.locator(".jp-agnes-w-snapshot").click()
        confirm = card.locator(".jp-agnes-w-confirm")
        confirm.wait_for(state="visible", timeout=30_000)
        assert "confirmation threshold" in confirm.inner_text()
        assert not (live_server.workspace / "snapshots" / f"{snap}.parquet").exists()
        _shots(page, output_dir, "widgets-estimate-confirm", confirm)
        card.locator(".jp-agnes-w-confirm-run").click()
        done = card.locator(f'.jp-agnes-w-result [data-snapshot="{snap}"]')
        done.wait_for(timeout=120_000)
        assert done.locator("table th", has_text="country").count() == 1
        assert done.locator("table tbody tr").count() >= 1
        assert (live_server.workspace / "snapshots" / f"{snap}.parquet").is_file()
        assert page.agnes_errors == []
        _shots(page, output_dir, "widgets-estimate-snapshot", done)
    finally:
        try:
            live_server.request("DELETE", f"agnes/v1/workspace/snapshots/{snap}")
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise


# -- hostile text ----------------------------------------------------------------------------------

HOSTILE = '<img src=x onerror="window.__agnes_xss=1">'


def test_hostile_package_text_and_names_render_as_text_in_the_widgets(
        page: Any, live_server: LiveServer, output_dir: Path, notebook: list[str]) -> None:
    slug = f"wdg-xss-{uuid.uuid4().hex[:8]}"
    live_server.request("POST", "agnes/v1/admin/packages", {"slug": slug, "title": HOSTILE, "description": HOSTILE,
                                                            "lifecycle": "prod", "tables": ["orders"]})
    name = _notebook(live_server, f"widgets-hostile-{uuid.uuid4().hex[:6]}.ipynb", [
        "from agnes_jupyter import widgets\nbrowser = widgets.browse()\nbrowser",
        f"card = widgets.estimate({EVENTS_SQL!r})\ncard.snapshot_as({HOSTILE!r})\ncard",
    ])
    notebook.append(name)
    try:
        _open_notebook(page, live_server, name)
        _run_all(page)
        card = page.locator(f".jp-agnes-w-pkg-{slug}")
        card.wait_for(timeout=60_000)
        assert HOSTILE in card.inner_text()  # shown as the text it is
        assert card.locator("img").count() == 0
        error = page.locator(".jp-agnes-w-estimate-card .jp-agnes-w-error")
        error.wait_for(timeout=60_000)
        assert error.inner_text().startswith("ValidationError: ")
        assert HOSTILE in error.inner_text()
        assert page.locator(".jp-agnes-w-estimate-card img").count() == 0
        assert page.evaluate("() => window.__agnes_xss") is None
        assert page.agnes_errors == []
        _shots(page, output_dir, "widgets-hostile-text", card)
    finally:
        live_server.request("DELETE", f"agnes/v1/admin/packages/{slug}")
