"""JupyterLab in headless Chromium shows the Agnes sidebar with the demo catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._live import LiveServer

pytestmark = pytest.mark.browser


def test_sidebar_lists_the_demo_tables(browser, live_server: LiveServer, output_dir: Path) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{live_server.url}lab?reset&token={live_server.token}")
        page.wait_for_selector(".jp-Launcher", timeout=120_000)

        tab = page.locator('.jp-SideBar [data-id="jp-agnes-sidebar"]')
        tab.click()
        rows = page.locator(".jp-agnes-catalog .jp-agnes-table")
        rows.first.wait_for(timeout=60_000)
        names = rows.locator(".jp-agnes-table-name").all_inner_texts()
        assert {"customers", "events", "orders"} <= set(names)  # other suites may have added tables
        events = page.locator('.jp-agnes-table[data-table-id="events"]')
        assert events.locator(".jp-agnes-mode").inner_text() == "remote"
        demo = page.locator('.jp-agnes-group[data-node="s:demo"]')  # the tree: source, folders, tables
        assert demo.locator(".jp-agnes-group-label").inner_text() == "demo"
        dot = events.locator(".jp-agnes-freshness")
        assert dot.get_attribute("data-freshness") == "fresh"  # warmed at start-up
        assert "rows" in (dot.get_attribute("title") or "")
        assert "rows" in events.locator(".jp-agnes-row-meta").inner_text()
        assert page.locator(".jp-agnes-footer").inner_text() == f"{len(names)} tables"
        page.screenshot(path=str(output_dir / "agnes-sidebar.png"))
        assert errors == []  # no uncaught error in the page while the panel loaded
    finally:
        page.close()


def test_sidebar_refresh_shows_a_newly_registered_table(browser, live_server: LiveServer, output_dir: Path) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        _open_sidebar(page, live_server)
        page.locator(".jp-agnes-catalog .jp-agnes-table").first.wait_for(timeout=60_000)
        live_server.request("POST", "agnes/v1/admin/tables", {
            "id": "fresh_orders", "source": "demo", "source_table": "orders",
            "description": "<b>not bold</b>"})
        try:
            page.locator(".jp-agnes-refresh").click()
            row = page.locator('.jp-agnes-table[data-table-id="fresh_orders"]')
            row.wait_for(timeout=30_000)
            # User text is rendered as text: the title attribute holds the raw string, no <b> element exists.
            assert row.get_attribute("title") == "<b>not bold</b>"
            assert page.locator(".jp-agnes-catalog b").count() == 0
            page.screenshot(path=str(output_dir / "agnes-sidebar-refreshed.png"))
        finally:
            live_server.request("DELETE", "agnes/v1/admin/tables/fresh_orders")
    finally:
        page.close()


@pytest.fixture(scope="module")
def server_without_agnes(tmp_path_factory: pytest.TempPathFactory):
    server = LiveServer(tmp_path_factory.mktemp("no-agnes"), demo=False,
                        extra_args=("--ServerApp.jpserver_extensions={'agnes_server': False}",)).start()
    yield server
    server.stop()


def _open_sidebar(page, server: LiveServer) -> None:
    page.goto(f"{server.url}lab?reset&token={server.token}")
    page.wait_for_selector(".jp-Launcher", timeout=120_000)
    page.locator('.jp-SideBar [data-id="jp-agnes-sidebar"]').click()


def test_sidebar_explains_a_missing_server_extension(browser, server_without_agnes: LiveServer,
                                                     output_dir: Path) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        _open_sidebar(page, server_without_agnes)
        problem = page.locator(".jp-agnes-problem-missing")
        problem.wait_for(timeout=60_000)
        assert "not running in this Jupyter server" in problem.inner_text()
        assert "jupyter server extension list" in problem.locator(".jp-agnes-problem-hint").inner_text()
        page.screenshot(path=str(output_dir / "agnes-sidebar-missing.png"))
    finally:
        page.close()


def test_sidebar_explains_a_version_mismatch(browser, live_server: LiveServer, output_dir: Path) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    # The page sees a server extension of another version (as after an upgrade without restart).
    page.route(lambda url: "/agnes/v1/version" in url, lambda route: route.fulfill(
        status=200, content_type="application/json",
        body='{"name": "agnes-jupyter", "version": "99.0.0", "api": "v1"}'))
    try:
        _open_sidebar(page, live_server)
        problem = page.locator(".jp-agnes-problem-mismatch")
        problem.wait_for(timeout=60_000)
        assert "version 99.0.0" in problem.inner_text()
        assert "Restart JupyterLab" in problem.inner_text()
        assert page.locator(".jp-agnes-catalog").count() == 0
        page.screenshot(path=str(output_dir / "agnes-sidebar-mismatch.png"))
    finally:
        page.close()


def test_agnes_magic_in_a_new_notebook_prints_the_catalog(browser, live_server: LiveServer,
                                                          output_dir: Path) -> None:
    """The kernel JupyterLab starts finds the server with no configuration at all."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.goto(f"{live_server.url}lab?reset&token={live_server.token}")
        page.wait_for_selector(".jp-Launcher", timeout=120_000)
        page.locator('.jp-LauncherCard[data-category="Notebook"]').first.click()
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        # Wait until the kernel is connected and idle (the status bar says so); a cell run before
        # that is silently dropped.
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)
        editor = page.locator(".jp-Cell .cm-content").first
        editor.click()
        page.keyboard.type("%load_ext agnes_jupyter\n%agnes catalog")
        page.keyboard.press("Shift+Enter")
        output = page.locator(".jp-OutputArea-output").first
        try:
            output.wait_for(timeout=60_000)
        except Exception:
            page.screenshot(path=str(output_dir / "agnes-magic-failed.png"))
            raise
        page.wait_for_function(
            "() => [...document.querySelectorAll('.jp-OutputArea-output')]"
            ".some(e => e.innerText.includes('Agnes catalog'))", timeout=60_000)
        text = output.inner_text()
        for table in ("customers", "events", "orders"):
            assert table in text
        page.screenshot(path=str(output_dir / "agnes-magic-in-notebook.png"))
    finally:
        page.close()
