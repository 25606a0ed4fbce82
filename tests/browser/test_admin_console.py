"""The Agnes admin console in JupyterLab, driven in headless Chromium: opened from the palette, the
Agnes menu, the panel's Admin button and a bookmarkable URL; a lake source added, tested and
discovered, several of its tables registered in one batch (a duplicate id shown on its row first),
seen in Tables, extracted, their run in the history, one deleted by typing its id, the source
removed after a confirm dialog; a failing source test with its hint (a hostile path shown as
text); the console in a notebook cell; and a non-admin (a real analyst identity: their personal
access token on the Agnes requests) who gets the 403 message.

Each test removes what it adds (the live server is shared) and leaves the light theme on."""

from __future__ import annotations

import shutil
import urllib.error
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._live import LiveServer
from tests.browser.test_panel import (
    HOSTILE,
    THEMES,
    _notebook,
    _open_lab,
    _open_notebook,
    _open_panel,
    _run_all,
    _set_theme,
    _shot,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    page = browser.new_page(viewport={"width": 1500, "height": 950})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.agnes_errors = errors  # type: ignore[attr-defined]
    yield page
    page.close()
    shutil.rmtree(live_server.root / "notebooks" / ".ipynb_checkpoints", ignore_errors=True)


def _shots(page: Any, output_dir: Path, name: str) -> None:
    """A screenshot in the light theme and one in the dark theme; the light theme is left on."""
    _shot(page, output_dir, f"{name}-light")
    _set_theme(page, THEMES["dark"])
    page.locator("#jupyterlab-splash").wait_for(state="detached", timeout=30_000)
    _shot(page, output_dir, f"{name}-dark")
    _set_theme(page, THEMES["light"])
    page.locator("#jupyterlab-splash").wait_for(state="detached", timeout=30_000)


def _open_admin_url(page: Any, server: LiveServer, screen: str | None = None) -> None:
    """JupyterLab at the console's bookmark: /lab?agnes-admin or /lab?agnes-admin=<screen>."""
    flag = "agnes-admin" if screen is None else f"agnes-admin={screen}"
    page.goto(f"{server.url}lab?reset&token={server.token}&{flag}")
    page.wait_for_selector("#jp-main-dock-panel", timeout=120_000)


def _console(page: Any) -> Any:
    console = page.locator(".jp-agnes-admin-view .jp-agnes-admin")
    console.locator(".jp-agnes-admin-tabs").wait_for(timeout=60_000)
    return console


def _tab(console: Any, screen: str) -> None:
    console.locator(f'.jp-agnes-admin-tab[data-screen="{screen}"]').click()
    console.locator(f'.jp-agnes-admin-tab.jp-mod-current[data-screen="{screen}"]').wait_for(timeout=10_000)


def _add_source_form(page: Any, server: LiveServer, name: str) -> tuple[Any, Any]:
    """The console at Sources with its add-a-source form open and the name typed: (console, form)."""
    _open_admin_url(page, server, "sources")
    console = _console(page)
    console.locator(".jp-agnes-admin-add").click()
    form = console.locator(".jp-agnes-admin-add-source")
    form.locator('input[name="name"]').fill(name)
    return console, form


def _test_and_discover(console: Any, source: str) -> Any:
    """Test the source from its row (it answers "Reachable"), then discover it; the discovery
    panel, once its first row is shown."""
    row = console.locator(f'.jp-agnes-admin-source[data-source="{source}"]')
    row.locator(".jp-agnes-admin-test").click()
    ok = console.locator(f'.jp-agnes-admin-outcome[data-outcome-for="{source}"] .jp-agnes-admin-test-ok')
    ok.wait_for(timeout=30_000)
    assert ok.inner_text().startswith("Reachable")
    row.locator(".jp-agnes-admin-discover").click()
    found = console.locator(f'.jp-agnes-admin-discovery[data-source="{source}"]')
    found.locator(".jp-agnes-admin-discovered-row").first.wait_for(timeout=30_000)
    return found


def _quiet_delete(server: LiveServer, path: str) -> None:
    try:
        server.request("DELETE", path)
    except urllib.error.HTTPError as exc:
        if exc.code != 404:
            raise


def _write_lake(root: Path, stems: list[str]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    root.mkdir(parents=True)
    for i, stem in enumerate(stems):
        pq.write_table(pa.table({"id": list(range(10 * (i + 1))), "label": [f"row {n}" for n in range(10 * (i + 1))]}),
                       root / f"{stem}.parquet")
    return root


def test_open_from_the_panel_button_the_palette_the_menu_and_the_url(page: Any, live_server: LiveServer,
                                                                     output_dir: Path) -> None:
    _open_lab(page, live_server)
    _open_panel(page)
    page.locator(".jp-agnes-sidebar .jp-agnes-open-admin").click()
    console = _console(page)
    tabs = console.locator(".jp-agnes-admin-tab").all_inner_texts()
    assert tabs == ["Sources", "Tables", "Access", "Packages & recipes", "Tokens", "Settings", "Audit", "Metadata"]
    assert console.locator(".jp-agnes-admin-title").inner_text() == "Agnes Admin"
    assert console.locator('.jp-agnes-admin-tab.jp-mod-current').inner_text() == "Sources"
    console.locator('.jp-agnes-admin-source[data-source="demo"]').wait_for(timeout=30_000)
    _shots(page, output_dir, "admin-sources")

    # Close it; the palette opens it again.
    page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab[data-id="agnes-admin-console"] .lm-TabBar-tabCloseIcon').click()
    page.locator(".jp-agnes-admin-view").wait_for(state="detached", timeout=10_000)
    page.keyboard.press("Control+Shift+C")
    palette = page.locator("#command-palette .lm-CommandPalette-input")
    palette.wait_for(timeout=10_000)
    palette.fill("Admin Console")
    page.locator("#command-palette .lm-CommandPalette-item", has_text="Admin Console").first.click()
    _console(page)

    # The Agnes menu has it for admins.
    page.locator(".lm-MenuBar-itemLabel", has_text="Agnes").first.click()
    shown = page.locator(".lm-Menu").first.locator(".lm-Menu-item:not(.lm-mod-hidden) .lm-Menu-itemLabel")
    assert "Admin Console" in shown.all_inner_texts()
    page.keyboard.press("Escape")

    # A bookmark: ?agnes-admin=tables opens the console on Tables.
    _open_admin_url(page, live_server, "tables")
    console = _console(page)
    console.locator('.jp-agnes-admin-tab.jp-mod-current[data-screen="tables"]').wait_for(timeout=30_000)
    console.locator('.jp-agnes-admin-regrow[data-table-id="orders"]').wait_for(timeout=30_000)
    _shots(page, output_dir, "admin-tables")
    assert page.agnes_errors == []


def test_add_a_source_discover_bulk_register_extract_and_delete(page: Any, live_server: LiveServer,
                                                                 output_dir: Path) -> None:
    uid = uuid.uuid4().hex[:6]
    source = f"bt_src_{uid}"
    stems = [f"bt{uid}_alpha", f"bt{uid}_beta", f"bt{uid}_gamma"]
    lake = _write_lake(live_server.root / f"lake-{uid}", stems)
    try:
        console, form = _add_source_form(page, live_server, source)
        # A postgres source's DSN is asked for by environment-variable name, and the form says so.
        form.locator('select[name="type"]').select_option("postgres")
        dsn = form.locator('[data-field="secrets.dsn"]')
        assert "NAME of an environment variable" in dsn.inner_text()
        assert dsn.locator("input").get_attribute("placeholder") == "PG_DSN"
        form.locator('select[name="type"]').select_option("lake")
        assert form.locator('[data-field="secrets.dsn"]').count() == 0
        form.locator('input[name="options.path"]').fill(str(lake))
        _shot(page, output_dir, "admin-add-source")
        form.locator('button[type="submit"]').click()
        row = console.locator(f'.jp-agnes-admin-source[data-source="{source}"]')
        row.wait_for(timeout=30_000)
        assert live_server.get(f"agnes/v1/admin/sources/{source}")["options"]["path"] == str(lake)

        found = _test_and_discover(console, source)
        names = [r.get_attribute("data-source-table") for r in found.locator(".jp-agnes-admin-discovered-row").all()]
        assert names == stems
        # Click the first, shift-click the last: a range of three.
        rows = found.locator(".jp-agnes-admin-discovered-row")
        rows.nth(0).locator(".jp-agnes-admin-pick").click()
        rows.nth(2).locator(".jp-agnes-admin-pick").click(modifiers=["Shift"])
        assert found.locator(".jp-agnes-admin-discovery-count").inner_text() == "3 selected"
        # Bulk: every selected table local.
        found.locator(".jp-agnes-admin-bulk-mode").select_option("local")
        found.locator(".jp-agnes-admin-bulk-apply").click()
        assert [s.input_value() for s in found.locator(".jp-agnes-admin-pick-mode").all()] == ["local"] * 3
        found.locator(".jp-agnes-admin-pick-pk").nth(0).fill("id")

        # A duplicate id in the batch: the server refuses it all, and the row is named.
        ids = [f"{stem}" for stem in stems]
        rows.nth(1).locator(".jp-agnes-admin-pick-id").fill(ids[0])
        found.locator(".jp-agnes-admin-register").click()
        error = found.locator(f'.jp-agnes-admin-row-error[data-error-for="{stems[1]}"] .jp-agnes-problem')
        error.wait_for(timeout=30_000)
        assert ids[0] in error.inner_text()
        assert "jp-agnes-admin-pickrow-invalid" in (rows.nth(1).get_attribute("class") or "")
        registered = {t["id"] for t in live_server.get("agnes/v1/admin/tables")["tables"]}
        assert not registered & set(ids)  # nothing half-applied
        _shots(page, output_dir, "admin-discover-duplicate")

        rows.nth(1).locator(".jp-agnes-admin-pick-id").fill(ids[1])
        found.locator(".jp-agnes-admin-register").click()
        notice = console.locator(".jp-agnes-admin-notice", has_text="Registered 3 tables")
        notice.wait_for(timeout=30_000)
        assert all(i in notice.inner_text() for i in ids)
        stored = {t["id"]: t for t in live_server.get("agnes/v1/admin/tables")["tables"]}
        assert {i: stored[i]["query_mode"] for i in ids} == dict.fromkeys(ids, "local")
        assert stored[ids[0]]["primary_key"] == ["id"]
        assert stored[ids[1]]["source_table"] == stems[1]

        # Tables: the three are there; extract one and see its run in the history.
        _tab(console, "tables")
        table = console.locator(f'.jp-agnes-admin-regrow[data-table-id="{ids[0]}"]')
        table.wait_for(timeout=30_000)
        for other in ids[1:]:
            assert console.locator(f'.jp-agnes-admin-regrow[data-table-id="{other}"]').count() == 1
        table.locator(".jp-agnes-admin-extract").click()
        table.locator('.jp-agnes-admin-lastrun[data-status="succeeded"]').wait_for(timeout=60_000)
        history = console.locator(f'.jp-agnes-admin-history[data-table-id="{ids[0]}"]')
        history.locator('.jp-agnes-admin-runrow[data-status="succeeded"]').wait_for(timeout=30_000)
        runs = live_server.get(f"agnes/v1/admin/tables/{ids[0]}/runs")["runs"]
        assert history.locator(".jp-agnes-admin-runrow").first.get_attribute("data-run-id") == runs[0]["run_id"]
        assert runs[0]["rows"] == 10

        # The source grows a column: the next run's history row shows the schema change.
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({"id": list(range(12)), "label": [f"row {n}" for n in range(12)],
                                 "note": ["new"] * 12}), lake / f"{stems[0]}.parquet")
        table.locator(".jp-agnes-admin-extract:not([disabled])").click()
        history.locator('.jp-agnes-admin-runrow[data-status="succeeded"]').nth(1).wait_for(timeout=60_000)
        latest = history.locator(".jp-agnes-admin-runrow").first
        assert latest.locator(".jp-agnes-admin-schema-change").inner_text() == "+ note"
        _shots(page, output_dir, "admin-tables-history")

        # Edit: a schedule the server refuses is shown next to the field; a good one is saved.
        beta = console.locator(f'.jp-agnes-admin-regrow[data-table-id="{ids[1]}"]')
        beta.locator(".jp-agnes-admin-edit").click()
        edit = console.locator(f'.jp-agnes-admin-detail[data-detail-for="{ids[1]}"] .jp-agnes-admin-edit-table')
        edit.locator('input[name="schedule"]').fill("every 3 weeks")
        edit.locator('button[type="submit"]').click()
        refused = edit.locator('[data-field="schedule"] .jp-agnes-problem')
        refused.wait_for(timeout=30_000)
        assert live_server.get(f"agnes/v1/admin/tables/{ids[1]}")["schedule"] is None
        _shot(page, output_dir, "admin-edit-refused")
        edit.locator('input[name="schedule"]').fill("every 12h")
        edit.locator('button[type="submit"]').click()
        console.locator(".jp-agnes-admin-notice", has_text=f"{ids[1]} saved").wait_for(timeout=30_000)
        assert live_server.get(f"agnes/v1/admin/tables/{ids[1]}")["schedule"] == "every 12h"

        # Delete: typing the id enables the button.
        table.locator(".jp-agnes-admin-delete").click()
        confirm = console.locator(f'.jp-agnes-admin-detail[data-detail-for="{ids[2]}"]')
        assert confirm.count() == 0
        confirm = console.locator(f'.jp-agnes-admin-detail[data-detail-for="{ids[0]}"] .jp-agnes-admin-confirm-delete')
        go = confirm.locator(".jp-agnes-admin-confirm-delete-go")
        assert go.is_disabled()
        confirm.locator(".jp-agnes-admin-confirm-input").fill(ids[0][:-1])
        assert go.is_disabled()
        confirm.locator(".jp-agnes-admin-confirm-input").fill(ids[0])
        _shot(page, output_dir, "admin-delete-confirm")
        go.click()
        table.wait_for(state="detached", timeout=30_000)
        assert ids[0] not in {t["id"] for t in live_server.get("agnes/v1/admin/tables")["tables"]}

        # Remove the source (its tables first), confirmed in a dialog.
        for other in ids[1:]:
            live_server.request("DELETE", f"agnes/v1/admin/tables/{other}")
        _tab(console, "sources")
        console.locator(f'.jp-agnes-admin-source[data-source="{source}"] .jp-agnes-admin-remove').click()
        dialog = page.locator(".jp-Dialog")
        dialog.wait_for(timeout=10_000)
        assert source in dialog.inner_text()
        dialog.locator(".jp-mod-warn").click()
        console.locator(f'.jp-agnes-admin-source[data-source="{source}"]').wait_for(state="detached", timeout=30_000)
        assert source not in {s["name"] for s in live_server.get("agnes/v1/admin/sources")["sources"]}
        assert page.agnes_errors == []
    finally:
        for table_id in stems:
            _quiet_delete(live_server, f"agnes/v1/admin/tables/{table_id}")
        _quiet_delete(live_server, f"agnes/v1/admin/sources/{source}")
        shutil.rmtree(lake, ignore_errors=True)


def test_a_failing_source_test_shows_the_connectors_message_and_hint(page: Any, live_server: LiveServer,
                                                                      output_dir: Path) -> None:
    source = f"bt_nowhere_{uuid.uuid4().hex[:6]}"
    path = f"/no/such/{HOSTILE}"  # shown in the options and in the connector's message: as text
    live_server.request("POST", "agnes/v1/admin/sources",
                        {"name": source, "type": "lake", "options": {"path": path}})
    try:
        _open_admin_url(page, live_server)
        console = _console(page)
        row = console.locator(f'.jp-agnes-admin-source[data-source="{source}"]')
        row.locator(".jp-agnes-admin-test").click()
        problem = console.locator(f'.jp-agnes-admin-outcome[data-outcome-for="{source}"] .jp-agnes-problem')
        problem.wait_for(timeout=30_000)
        message = problem.locator(".jp-agnes-problem-message").inner_text()
        assert "does not exist" in message
        assert HOSTILE in message
        assert problem.locator(".jp-agnes-problem-hint").inner_text() == "Fix options.path of the source."
        assert HOSTILE in row.locator(".jp-agnes-admin-options").inner_text()
        assert page.evaluate("window.__agnes_xss") is None
        assert page.locator(".jp-agnes-admin img").count() == 0
        _shots(page, output_dir, "admin-source-test-failed")
    finally:
        _quiet_delete(live_server, f"agnes/v1/admin/sources/{source}")


def test_the_console_renders_in_a_notebook_cell(page: Any, live_server: LiveServer, output_dir: Path) -> None:
    name = _notebook(live_server, f"admin-console-{uuid.uuid4().hex[:6]}.ipynb",
                     ["from agnes_jupyter import admin\nadmin.console('tables')"])
    try:
        _open_notebook(page, live_server, name)
        _run_all(page)
        console = page.locator(".jp-OutputArea-output .jp-agnes-admin")
        console.locator('.jp-agnes-admin-tab.jp-mod-current[data-screen="tables"]').wait_for(timeout=120_000)
        console.locator('.jp-agnes-admin-regrow[data-table-id="orders"]').wait_for(timeout=30_000)
        _tab(console, "sources")
        console.locator('.jp-agnes-admin-source[data-source="demo"]').wait_for(timeout=30_000)
        _shots(page, output_dir, "admin-console-in-a-cell")
        assert page.agnes_errors == []
    finally:
        (live_server.root / "notebooks" / name).unlink(missing_ok=True)


def test_a_non_admin_gets_the_403_message(page: Any, live_server: LiveServer, output_dir: Path) -> None:
    username = f"bt_analyst_{uuid.uuid4().hex[:6]}"
    live_server.request("POST", "agnes/v1/admin/users", {"username": username})
    try:
        token = live_server.request("POST", f"agnes/v1/admin/users/{username}/tokens",
                                    {"name": "browser test"})["token"]  # type: ignore[index]

        # The page is the owner's Jupyter session; every Agnes request carries the analyst's
        # personal access token, so the server itself answers as it does for that analyst.
        def as_analyst(route: Any) -> None:
            route.continue_(headers={**route.request.headers, "authorization": f"token {token}"})

        def is_agnes(url: str) -> bool:
            return "/agnes/v1/" in url

        page.route(is_agnes, as_analyst)
        _open_admin_url(page, live_server)
        forbidden = page.locator(".jp-agnes-admin-view .jp-agnes-admin-forbidden")
        forbidden.wait_for(timeout=60_000)
        assert forbidden.locator("h2").inner_text() == "The Agnes admin console is for admins"
        assert username in forbidden.inner_text()
        assert "ask an Agnes admin" in forbidden.inner_text()
        assert page.locator(".jp-agnes-admin-tabs").count() == 0
        # No Admin button in the panel, no Admin Console in the Agnes menu.
        _open_panel(page)
        page.locator(".jp-agnes-sidebar .jp-agnes-budget").wait_for(timeout=30_000)
        assert page.locator(".jp-agnes-sidebar .jp-agnes-open-admin").count() == 0
        page.locator(".lm-MenuBar-itemLabel", has_text="Agnes").first.click()
        shown = page.locator(".lm-Menu").first.locator(".lm-Menu-item:not(.lm-mod-hidden) .lm-Menu-itemLabel")
        assert "Sync Now" in shown.all_inner_texts()
        assert "Admin Console" not in shown.all_inner_texts()
        page.keyboard.press("Escape")
        page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="Agnes Admin").first.click()
        _shots(page, output_dir, "admin-403")
        page.unroute(is_agnes)
    finally:
        _quiet_delete(live_server, f"agnes/v1/admin/users/{username}")
