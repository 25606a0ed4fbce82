"""The Agnes panel in JupyterLab, driven in headless Chromium as an analyst would: search the
catalog by a column name, open a table (schema, range, preview), insert and run cells, estimate and
snapshot a remote query past the confirmation step, browse packages into My Stack and sync, insert
and run a recipe, and see errors and hostile text shown in place, as text.

Each test undoes what it adds (stack items, snapshots, settings, registry entries): the live server
is shared with the kernel and notebook suites."""

from __future__ import annotations

import json
import shutil
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._live import LiveServer

pytestmark = pytest.mark.browser

THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}
HOSTILE = '<img src=x onerror="window.__agnes_xss=1">'


def _open_lab(page: Any, server: LiveServer, path: str = "lab") -> None:
    page.goto(f"{server.url}{path}?reset&token={server.token}")
    page.wait_for_selector("#jp-main-dock-panel", timeout=120_000)


def _open_panel(page: Any) -> None:
    tab = page.locator('.jp-SideBar [data-id="jp-agnes-sidebar"]')
    tab.wait_for(timeout=60_000)
    if "lm-mod-current" not in (tab.get_attribute("class") or ""):
        tab.click()
    page.locator(".jp-agnes-sidebar").wait_for(timeout=30_000)


def _set_theme(page: Any, theme: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Theme").first.hover()
    page.locator(".lm-Menu-itemLabel", has_text=theme).first.click()
    page.wait_for_function("t => document.body.dataset.jpThemeName === t", arg=theme, timeout=60_000)


def _section(page: Any, name: str) -> None:
    page.locator(f'.jp-agnes-tab[data-section="{name}"]').click()


def _table_ids(page: Any) -> list[str]:
    return [row.get_attribute("data-table-id") for row in page.locator(".jp-agnes-catalog .jp-agnes-table").all()]


def _notebook(server: LiveServer, name: str, cells: list[str] | None = None) -> str:
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": s}
                    for s in (cells or [""])],
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


def _cell_sources(page: Any) -> list[str]:
    return [c.inner_text() for c in page.locator(".jp-Notebook .jp-Cell .jp-InputArea-editor").all()]


def _shot(page: Any, output_dir: Path, name: str) -> None:
    page.screenshot(path=str(output_dir / f"{name}.png"))


@pytest.fixture
def page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    page = browser.new_page(viewport={"width": 1500, "height": 950})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.agnes_errors = errors  # type: ignore[attr-defined]
    yield page
    page.close()
    shutil.rmtree(live_server.root / "notebooks" / ".ipynb_checkpoints", ignore_errors=True)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_search_by_a_column_name_then_open_events_with_the_keyboard(
        page: Any, live_server: LiveServer, output_dir: Path, theme: str) -> None:
    _open_lab(page, live_server)
    _set_theme(page, THEMES[theme])
    _open_panel(page)
    page.locator(".jp-agnes-catalog .jp-agnes-table").first.wait_for(timeout=60_000)
    # The tree: source, folders, tables with mode, freshness, rows and sizes.
    assert page.locator('.jp-agnes-group[data-node="s:demo"]').count() == 1
    events = page.locator('.jp-agnes-table[data-table-id="events"]')
    assert events.locator(".jp-agnes-mode").inner_text() == "remote"
    assert events.locator(".jp-agnes-freshness").get_attribute("data-freshness") == "fresh"
    assert "rows" in events.locator(".jp-agnes-row-meta").inner_text()
    _shot(page, output_dir, f"panel-catalog-tree-{theme}")

    # session_id is a column of events only: the server's search knows column names.
    page.locator(".jp-agnes-search").first.fill("session_id")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-agnes-catalog .jp-agnes-table')]"
        ".map(e => e.dataset.tableId).join(',') === 'events'", timeout=30_000)
    total = len(live_server.get("agnes/v1/catalog")["tables"])
    assert page.locator(".jp-agnes-footer").inner_text() == f"1 of {total} tables"
    _shot(page, output_dir, f"panel-catalog-search-{theme}")

    # Keyboard: focus the list, Enter opens the highlighted table in the main area.
    page.locator(".jp-agnes-vlist").focus()
    page.keyboard.press("Home")
    page.keyboard.press("Enter")
    view = page.locator('.jp-agnes-tableview[data-table-id="events"]')
    view.wait_for(timeout=30_000)
    view.locator('.jp-agnes-schema tr[data-column="event_date"]').wait_for(timeout=30_000)
    assert view.locator('.jp-agnes-schema tr[data-column="event_date"] .jp-agnes-badge').first.inner_text() == "P"
    assert view.locator('.jp-agnes-schema tr[data-column="country"] .jp-agnes-badge').first.inner_text() == "C1"
    schema = live_server.get("agnes/v1/tables/events/schema")
    day = next(c for c in schema["columns"] if c["name"] == "event_date")
    assert view.locator('.jp-agnes-tv-range[data-column="event_date"]').inner_text() == f"{day['min']} … {day['max']}"
    view.locator(".jp-agnes-sample tbody tr").first.wait_for(timeout=30_000)
    assert view.locator(".jp-agnes-sample tbody tr").count() >= 1
    assert "country" in view.locator(".jp-agnes-sample thead").inner_text()
    assert view.locator(".jp-agnes-where-list li").count() >= 1
    _shot(page, output_dir, f"panel-table-detail-{theme}")
    view.locator(".jp-agnes-estimate").wait_for(timeout=30_000)
    view.locator(".jp-agnes-estimate-form").scroll_into_view_if_needed()
    _shot(page, output_dir, f"panel-table-estimate-{theme}")
    assert page.agnes_errors == []


def test_insert_an_ibis_cell_and_a_sql_cell_and_run_them(page: Any, live_server: LiveServer,
                                                         output_dir: Path) -> None:
    name = _notebook(live_server, "panel-cells.ipynb")
    try:
        _open_notebook(page, live_server, name)
        _open_panel(page)
        page.locator('.jp-agnes-table[data-table-id="orders"]').click()
        view = page.locator('.jp-agnes-tableview[data-table-id="orders"]')
        view.wait_for(timeout=30_000)
        view.locator(".jp-agnes-insert-ibis").click()
        view.locator(".jp-agnes-ok").wait_for(timeout=30_000)
        view.locator(".jp-agnes-insert-sql").click()
        view.locator(".jp-agnes-ok", has_text="%%agnes").wait_for(timeout=30_000)
        page.wait_for_function(
            "() => document.querySelectorAll('.jp-Notebook .jp-Cell').length >= 3", timeout=30_000)
        page.locator(".lm-DockPanel-tabBar .lm-TabBar-tabLabel", has_text=name).first.click()
        sources = _cell_sources(page)
        assert 'orders = agnes.table("orders")' in sources[0]  # the empty cell took the code
        assert sources[1].strip() == "%load_ext agnes_jupyter"  # the magic needs it: added once, visibly
        assert sources[2].startswith("%%agnes\nSELECT *\nFROM orders")
        _run_all(page)
        result = page.locator(".agnes-result")
        try:
            result.first.wait_for(timeout=120_000)
            page.locator(".jp-OutputArea-output table.dataframe").first.wait_for(timeout=60_000)
        except Exception:
            _shot(page, output_dir, "panel-cells-failed")
            raise
        assert len(result.first.locator("tbody tr").all()) == 10
        assert len(page.locator(".jp-OutputArea-output table.dataframe").first.locator("tbody tr").all()) == 10
        assert "Traceback" not in " ".join(page.locator(".jp-OutputArea-output").all_inner_texts())
        _shot(page, output_dir, "panel-inserted-cells")
    finally:
        (live_server.root / "notebooks" / name).unlink(missing_ok=True)


@pytest.fixture
def confirm_everything(live_server: LiveServer) -> Iterator[None]:
    """Every scan needs confirmation (the threshold at 1 byte), restored afterwards."""
    live_server.request("PATCH", "agnes/v1/admin/settings", {"limits": {"scan_confirm_bytes": 1}})
    yield
    live_server.request("PATCH", "agnes/v1/admin/settings", {"limits": {"scan_confirm_bytes": None}})


def _drop_snapshot(server: LiveServer, name: str) -> None:
    try:
        server.request("DELETE", f"agnes/v1/workspace/snapshots/{name}")
    except urllib.error.HTTPError as exc:
        if exc.code != 404:
            raise


def test_estimate_confirm_and_snapshot_then_see_it_in_snapshots(
        page: Any, live_server: LiveServer, output_dir: Path, confirm_everything: None) -> None:
    name = "panel_at_events"
    _drop_snapshot(live_server, name)
    try:
        _open_lab(page, live_server)
        _open_panel(page)
        page.locator('.jp-agnes-table[data-table-id="events"]').click()
        form = page.locator('.jp-agnes-tableview[data-table-id="events"] .jp-agnes-estimate-form')
        form.wait_for(timeout=30_000)
        form.locator('.jp-agnes-column-choice input[value="country"]').check()
        form.locator('.jp-agnes-column-choice input[value="amount"]').check()
        form.locator(".jp-agnes-where-input").fill("country = 'AT'")
        form.locator(".jp-agnes-name-input").fill(name)
        estimate = form.locator('.jp-agnes-estimate[data-verdict="needs_confirmation"]:not(.jp-agnes-stale)')
        estimate.wait_for(timeout=30_000)
        sql = estimate.locator(".jp-agnes-sql").text_content() or ""
        assert "country" in sql
        assert "'AT'" in sql
        assert "$" in estimate.locator(".jp-agnes-est-cost").inner_text()
        assert "today" in estimate.locator(".jp-agnes-est-budget").inner_text()
        form.locator(".jp-agnes-snapshot-run").click()
        step = form.locator(".jp-agnes-confirm-step")
        step.wait_for(timeout=10_000)
        assert "confirmation threshold" in step.inner_text()
        assert form.locator(".jp-agnes-snapshot-run").inner_text() == "Confirm and snapshot"
        form.scroll_into_view_if_needed()
        _shot(page, output_dir, "panel-snapshot-confirm")
        form.locator(".jp-agnes-snapshot-run").click()
        done = form.locator(".jp-agnes-snapshot-done")
        try:
            done.wait_for(timeout=120_000)
        except Exception:
            _shot(page, output_dir, "panel-snapshot-failed")
            raise
        assert name in done.inner_text()
        assert (live_server.workspace / "snapshots" / f"{name}.parquet").exists()
        _shot(page, output_dir, "panel-snapshot-done")
        _section(page, "snapshots")
        card = page.locator(f'.jp-agnes-snapshot[data-snapshot="{name}"]')
        card.wait_for(timeout=30_000)
        assert "events" in card.locator(".jp-agnes-lineage").inner_text()
        assert page.locator(".jp-agnes-disk").count() == 1
        _shot(page, output_dir, "panel-snapshots")
    finally:
        _drop_snapshot(live_server, name)


def test_add_a_package_to_my_stack_and_sync_with_progress(page: Any, live_server: LiveServer,
                                                          output_dir: Path) -> None:
    slug = "product-analytics"
    try:
        _open_lab(page, live_server)
        _open_panel(page)
        _section(page, "packages")
        card = page.locator(f'.jp-agnes-card[data-package="{slug}"]')
        card.wait_for(timeout=30_000)
        card.locator(".jp-agnes-card-head").click()  # the detail: tables, example questions
        assert "events" in card.locator(".jp-agnes-card-tables").inner_text()
        assert card.locator(".jp-agnes-card-questions li").count() >= 1
        card.locator(".jp-agnes-stack-toggle", has_text="Add to My Stack").click()
        card.locator(".jp-agnes-stack-toggle", has_text="Remove from My Stack").wait_for(timeout=30_000)
        assert slug in [p["slug"] for p in live_server.get("agnes/v1/stack")["packages"]]
        # Required packages are explained, not removable.
        required = page.locator('.jp-agnes-card[data-package="sales"]')
        assert required.locator(".jp-agnes-required-note").count() == 1
        assert required.locator(".jp-agnes-stack-toggle").count() == 0
        # Record that a progress bar was shown while the sync ran.
        page.evaluate("""() => {
            window.__agnes_progress_seen = false;
            new MutationObserver(() => {
                if (document.querySelector('.jp-agnes-sync .jp-agnes-progress')) window.__agnes_progress_seen = true;
            }).observe(document.body, {childList: true, subtree: true});
        }""")
        page.locator(".jp-agnes-sync-now").click()
        report = page.locator(".jp-agnes-sync-report")
        try:
            report.wait_for(timeout=120_000)
        except Exception:
            _shot(page, output_dir, "panel-sync-failed")
            raise
        assert page.evaluate("() => window.__agnes_progress_seen") is True
        assert report.get_attribute("data-status") == "succeeded"
        assert report.locator(".jp-agnes-sync-summary").inner_text().strip() != ""
        assert (live_server.workspace / "data").exists()
        _shot(page, output_dir, "panel-packages-sync")
    finally:
        try:
            live_server.request("DELETE", f"agnes/v1/stack/packages/{slug}")
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise


def test_insert_and_run_a_recipe(page: Any, live_server: LiveServer, output_dir: Path) -> None:
    name = _notebook(live_server, "panel-recipe.ipynb")
    try:
        _open_notebook(page, live_server, name)
        _open_panel(page)
        _section(page, "recipes")
        card = page.locator('.jp-agnes-recipe[data-recipe="top-customers"]')
        card.wait_for(timeout=30_000)
        card.locator(".jp-agnes-card-head").click()
        card.locator('.jp-agnes-param[data-param="country"] input').fill("AT")
        card.locator('.jp-agnes-param[data-param="n"] input').fill("3")
        _shot(page, output_dir, "panel-recipe-form")
        card.locator(".jp-agnes-insert-recipe").click()
        card.locator(".jp-agnes-ok").wait_for(timeout=30_000)
        expected = live_server.request("POST", "agnes/v1/recipes/top-customers/render",
                                       {"params": {"country": "AT", "n": 3}})["cell"]  # type: ignore[index]
        sources = _cell_sources(page)
        assert sources[0].strip() == "%load_ext agnes_jupyter"
        assert sources[1].strip() == expected.strip()  # the same cell recipe().insert() gives
        _run_all(page)
        result = page.locator(".agnes-result")
        try:
            result.first.wait_for(timeout=120_000)
        except Exception:
            _shot(page, output_dir, "panel-recipe-failed")
            raise
        assert len(result.first.locator("tbody tr").all()) == 3
        _shot(page, output_dir, "panel-recipe-run")
    finally:
        (live_server.root / "notebooks" / name).unlink(missing_ok=True)


def test_a_403_and_a_refused_estimate_show_their_message_and_hint_in_place(
        page: Any, live_server: LiveServer, output_dir: Path) -> None:
    envelope = {"error": "forbidden", "message": "You may not use Agnes from this server.",
                "hint": "Ask an admin to add you to a group.", "details": {}}
    def is_catalog(url: str) -> bool:
        return "/agnes/v1/catalog" in url

    page.route(is_catalog, lambda route: route.fulfill(
        status=403, content_type="application/json", body=json.dumps(envelope)))
    _open_lab(page, live_server)
    _open_panel(page)
    problem = page.locator(".jp-agnes-sidebar .jp-agnes-problem")
    problem.wait_for(timeout=60_000)
    assert problem.locator(".jp-agnes-problem-message").inner_text() == envelope["message"]
    assert problem.locator(".jp-agnes-problem-hint").inner_text() == envelope["hint"]
    _shot(page, output_dir, "panel-error-403")
    page.unroute(is_catalog)
    # A WHERE the server refuses: the estimate's 400 shows in the form, the Snapshot button is off.
    page.locator(".jp-agnes-refresh").click()
    page.locator('.jp-agnes-table[data-table-id="events"]').click()
    form = page.locator('.jp-agnes-tableview[data-table-id="events"] .jp-agnes-estimate-form')
    form.wait_for(timeout=30_000)
    form.locator(".jp-agnes-where-input").fill("country = (SELECT 1 FROM orders")
    form.locator(".jp-agnes-problem").wait_for(timeout=30_000)
    assert form.locator(".jp-agnes-problem-message").inner_text() != ""
    assert form.locator(".jp-agnes-snapshot-run").is_disabled()
    _shot(page, output_dir, "panel-error-estimate")


@pytest.fixture
def hostile_texts(live_server: LiveServer) -> Iterator[None]:
    live_server.request("POST", "agnes/v1/admin/tables", {
        "id": "hostile_orders", "source": "demo", "source_table": "orders", "description": HOSTILE})
    live_server.request("POST", "agnes/v1/admin/packages", {
        "slug": "hostile-pkg", "title": HOSTILE, "description": HOSTILE, "tags": ["x"],
        "example_questions": [HOSTILE], "tables": ["hostile_orders"]})
    live_server.request("POST", "agnes/v1/admin/recipes", {
        "slug": "hostile-recipe", "title": HOSTILE, "description": HOSTILE,
        "sql": "SELECT count(*) AS n FROM hostile_orders"})
    yield
    for path in ("admin/recipes/hostile-recipe", "admin/packages/hostile-pkg", "admin/tables/hostile_orders"):
        live_server.request("DELETE", f"agnes/v1/{path}")


def test_hostile_text_renders_as_text_everywhere(page: Any, live_server: LiveServer, output_dir: Path,
                                                 hostile_texts: None) -> None:
    _open_lab(page, live_server)
    _open_panel(page)
    page.locator(".jp-agnes-search").first.fill("hostile")
    row = page.locator('.jp-agnes-table[data-table-id="hostile_orders"]')
    row.wait_for(timeout=30_000)
    assert row.get_attribute("title") == HOSTILE
    row.click()
    view = page.locator('.jp-agnes-tableview[data-table-id="hostile_orders"]')
    view.wait_for(timeout=30_000)
    assert view.locator(".jp-agnes-tv-desc").inner_text() == HOSTILE
    _section(page, "packages")
    card = page.locator('.jp-agnes-card[data-package="hostile-pkg"]')
    card.wait_for(timeout=30_000)
    card.locator(".jp-agnes-card-head").click()
    assert card.locator(".jp-agnes-card-title").inner_text() == HOSTILE
    _section(page, "recipes")
    recipe = page.locator('.jp-agnes-recipe[data-recipe="hostile-recipe"]')
    recipe.wait_for(timeout=30_000)
    assert recipe.locator(".jp-agnes-card-title").inner_text() == HOSTILE
    _shot(page, output_dir, "panel-hostile-text")
    assert page.locator(".jp-agnes-sidebar img, .jp-agnes-tableview img").count() == 0
    assert page.evaluate("() => window.__agnes_xss") is None


def test_a_table_removed_while_its_view_is_open_and_a_server_gone_say_so_in_place(
        page: Any, live_server: LiveServer, output_dir: Path) -> None:
    live_server.request("POST", "agnes/v1/admin/tables", {
        "id": "short_lived", "source": "demo", "source_table": "orders", "description": "about to go"})
    try:
        _open_lab(page, live_server)
        _open_panel(page)
        page.locator('.jp-agnes-table[data-table-id="short_lived"]').click()
        view = page.locator('.jp-agnes-tableview[data-table-id="short_lived"]')
        view.locator(".jp-agnes-tv-desc").wait_for(timeout=30_000)
    finally:
        live_server.request("DELETE", "agnes/v1/admin/tables/short_lived")
    page.locator(".jp-agnes-refresh").click()
    gone = view.locator(".jp-agnes-problem")
    gone.wait_for(timeout=30_000)
    assert "short_lived" in gone.inner_text()
    assert "revoked" in gone.locator(".jp-agnes-problem-hint").inner_text()
    assert page.locator('.jp-agnes-table[data-table-id="short_lived"]').count() == 0
    _shot(page, output_dir, "panel-table-removed")

    # The server stops answering: the panel keeps what it showed and says why above it.
    def is_agnes(url: str) -> bool:
        return "/agnes/v1/" in url

    page.route(is_agnes, lambda route: route.abort("connectionrefused"))
    page.locator(".jp-agnes-refresh").click()
    problem = page.locator(".jp-agnes-sidebar > .jp-agnes-problem")
    problem.wait_for(timeout=30_000)
    assert "Could not reach the Jupyter server" in problem.inner_text()
    assert page.locator('.jp-agnes-table[data-table-id="events"]').count() == 1
    _shot(page, output_dir, "panel-server-gone")
    page.unroute(is_agnes)
    page.locator(".jp-agnes-refresh").click()
    problem.wait_for(state="detached", timeout=30_000)


def test_the_context_menu_and_the_agnes_menu_reach_the_actions(page: Any, live_server: LiveServer,
                                                               output_dir: Path) -> None:
    _open_lab(page, live_server)
    _open_panel(page)
    page.locator('.jp-agnes-table[data-table-id="events"]').click(button="right")
    menu = page.locator(".lm-Menu").first
    menu.wait_for(timeout=10_000)
    labels = menu.locator(".lm-Menu-item:not(.lm-mod-hidden) .lm-Menu-itemLabel").all_inner_texts()
    for label in ("Open Table", "Insert ibis Code", "Insert %%agnes Cell", "Copy Table Id", "Add to My Stack",
                  "Estimate & Snapshot…"):
        assert label in labels
    _shot(page, output_dir, "panel-context-menu")
    menu.locator(".lm-Menu-itemLabel", has_text="Estimate & Snapshot").click()
    page.locator('.jp-agnes-tableview[data-table-id="events"] .jp-agnes-estimate-form').wait_for(timeout=30_000)
    # Local tables have no Estimate & snapshot: the context menu does not offer it.
    page.locator('.jp-agnes-table[data-table-id="orders"]').click(button="right")
    shown = page.locator(".lm-Menu").first.locator(".lm-Menu-item:not(.lm-mod-hidden) .lm-Menu-itemLabel")
    assert "Open Table" in shown.all_inner_texts()
    assert "Estimate & Snapshot…" not in shown.all_inner_texts()
    page.keyboard.press("Escape")
    page.locator(".lm-MenuBar-itemLabel", has_text="Agnes").first.click()
    assert "Sync Now" in page.locator(".lm-Menu").first.locator(".lm-Menu-itemLabel").all_inner_texts()
