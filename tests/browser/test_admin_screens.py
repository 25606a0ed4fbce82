"""The admin console's Access, Packages & recipes, Tokens, Audit and Metadata screens, driven in
headless Chromium as an admin: a package granted to a group through the access matrix (cycled to
required, previewed by a dry run, applied as one batch, checked with GET admin/grants); a grant to a
group deleted meanwhile refused with the error on its cell and nothing applied; a token created,
its secret shown once and copied, then revoked; the audit log filtered by user, action and
resource and paged; a package with nine tags refused next to its tags field and a recipe with an
undeclared parameter next to its parameters; a soft delete undone, then restored from the deleted
list; and a warm-up started with *Re-warm all* followed live to complete.

Each test removes what it adds (the live server is shared; packages and recipes are soft-deleted,
the API has no erase) and leaves the light theme on."""

from __future__ import annotations

import shutil
import urllib.error
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._live import LiveServer
from tests.browser.test_panel import HOSTILE, THEMES, _set_theme, _shot

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


def _uid() -> str:
    return uuid.uuid4().hex[:8]


def _open_screen(page: Any, server: LiveServer, screen: str) -> Any:
    """JupyterLab at the console's bookmark for one screen; the screen's root element."""
    page.goto(f"{server.url}lab?reset&token={server.token}&agnes-admin={screen}")
    page.wait_for_selector("#jp-main-dock-panel", timeout=120_000)
    console = page.locator(".jp-agnes-admin-view .jp-agnes-admin")
    console.locator(".jp-agnes-admin-tabs").wait_for(timeout=60_000)
    # The bookmark names the screen; the tab is clicked too, as the view may restore the screen a
    # previous test left (the URL routing itself is the shell's test).
    console.locator(f'.jp-agnes-admin-tab[data-screen="{screen}"]').click()
    console.locator(f'.jp-agnes-admin-tab.jp-mod-current[data-screen="{screen}"]').wait_for(timeout=30_000)
    return console


def _shots(page: Any, output_dir: Path, name: str) -> None:
    """A screenshot in the light theme and one in the dark theme (after the theme change's splash
    has gone); the light theme is left on."""
    _shot(page, output_dir, f"{name}-light")
    _set_theme(page, THEMES["dark"])
    page.locator("#jupyterlab-splash").wait_for(state="detached", timeout=30_000)
    _shot(page, output_dir, f"{name}-dark")
    _set_theme(page, THEMES["light"])
    page.locator("#jupyterlab-splash").wait_for(state="detached", timeout=30_000)


def _quiet(server: LiveServer, method: str, path: str) -> None:
    try:
        server.request(method, path)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code not in (404, 409):
            raise


def _dialog_button(page: Any, label: str) -> None:
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=10_000)
    dialog.locator(".jp-Dialog-button", has_text=label).click()
    dialog.wait_for(state="detached", timeout=10_000)


@pytest.fixture
def group_and_package(live_server: LiveServer) -> Iterator[tuple[str, str]]:
    """A fresh group and a fresh draft package; both removed afterwards (the package soft-deleted)."""
    group, slug = f"grp-{_uid()}", f"pkg-{_uid()}"
    live_server.request("POST", "agnes/v1/admin/groups", {"name": group, "description": "matrix test"})
    live_server.request("POST", "agnes/v1/admin/packages", {"slug": slug, "title": f"Matrix test {slug}"})
    yield group, slug
    for grant in live_server.get(f"agnes/v1/admin/grants?resource_type=package&resource_id={slug}")["grants"]:
        _quiet(live_server, "DELETE", f"agnes/v1/admin/grants/{grant['id']}")
    _quiet(live_server, "DELETE", f"agnes/v1/admin/groups/{group}")
    _quiet(live_server, "DELETE", f"agnes/v1/admin/packages/{slug}")


def _matrix_cell(console: Any, slug: str, group: str) -> Any:
    console.locator(".jp-agnes-admin-matrix-search").fill(slug)
    row = console.locator(f'.jp-agnes-admin-matrix-row[data-item="package/{slug}"]')
    row.wait_for(timeout=30_000)
    return row.locator(f'.jp-agnes-admin-cell[data-group="{group}"]')


def test_grant_a_package_to_a_group_through_the_matrix_preview_then_apply(
        page: Any, live_server: LiveServer, output_dir: Path, group_and_package: tuple[str, str]) -> None:
    group, slug = group_and_package
    console = _open_screen(page, live_server, "access")
    cell = _matrix_cell(console, slug, group)
    assert cell.get_attribute("data-level") == "none"
    # One click: available (pending); a second: required (auto-subscribed), still pending.
    cell.click()
    assert cell.get_attribute("data-level") == "available"
    assert cell.get_attribute("data-pending") == "true"
    cell.click()
    assert cell.get_attribute("data-level") == "required"
    assert console.locator(".jp-agnes-admin-pending-count").inner_text() == "1 pending change"
    assert "required: members are subscribed automatically" in console.locator(".jp-agnes-admin-legend").inner_text()
    # Pending is not applied: the server has no grant yet.
    assert live_server.get(f"agnes/v1/admin/grants?group={group}")["grants"] == []

    console.locator(".jp-agnes-admin-review").click()
    change = console.locator(f'.jp-agnes-admin-preview-group[data-group="{group}"] '
                             f'.jp-agnes-admin-preview-change[data-item="package/{slug}"]')
    change.wait_for(timeout=30_000)
    assert change.get_attribute("data-action") == "create"
    assert "none → required" in change.inner_text()
    assert live_server.get(f"agnes/v1/admin/grants?group={group}")["grants"] == []  # a dry run
    _shots(page, output_dir, "admin-access-preview")

    console.locator(".jp-agnes-admin-apply").click()
    console.locator(".jp-agnes-admin-notice", has_text="Applied 1 change.").wait_for(timeout=30_000)
    grants = live_server.get(f"agnes/v1/admin/grants?group={group}")["grants"]
    assert [(g["resource_type"], g["resource_id"], g["requirement"]) for g in grants] == \
        [("package", slug, "required")]
    # The matrix now shows the grant in force, no longer pending.
    cell = _matrix_cell(console, slug, group)
    page.wait_for_function(
        "([s, g]) => { const c = document.querySelector("
        "`.jp-agnes-admin-matrix-row[data-item=\"package/${s}\"] .jp-agnes-admin-cell[data-group=\"${g}\"]`);"
        " return c && c.dataset.level === 'required' && !c.dataset.pending; }",
        arg=[slug, group], timeout=30_000)
    assert console.locator(".jp-agnes-admin-pending-count").inner_text() == "0 pending changes"
    _shots(page, output_dir, "admin-access-applied")
    assert page.agnes_errors == []


def test_a_grant_to_a_group_deleted_meanwhile_shows_its_error_on_the_cell(
        page: Any, live_server: LiveServer, output_dir: Path, group_and_package: tuple[str, str]) -> None:
    group, slug = group_and_package
    console = _open_screen(page, live_server, "access")
    cell = _matrix_cell(console, slug, group)
    cell.click()
    assert cell.get_attribute("data-pending") == "true"
    # Another admin deletes the group while this edit is pending.
    live_server.request("DELETE", f"agnes/v1/admin/groups/{group}")
    console.locator(".jp-agnes-admin-review").click()
    failed = console.locator(".jp-agnes-admin-batch-failed")
    failed.wait_for(timeout=30_000)
    # The error is on the cell its index names, and listed with the group and the item.
    cell = console.locator(f'.jp-agnes-admin-matrix-row[data-item="package/{slug}"] '
                           f'.jp-agnes-admin-cell[data-group="{group}"]')
    assert "jp-agnes-admin-cell-error" in (cell.get_attribute("class") or "")
    item = failed.locator('.jp-agnes-admin-batch-errors li[data-index="0"]')
    assert group in item.inner_text()
    assert slug in item.inner_text()
    assert "Nothing was applied" in failed.inner_text()
    assert console.locator(".jp-agnes-admin-preview").count() == 0
    assert live_server.get(f"agnes/v1/admin/grants?resource_type=package&resource_id={slug}")["grants"] == []
    _shots(page, output_dir, "admin-access-cell-error")
    assert page.agnes_errors == []


def test_create_a_token_shown_once_copy_it_then_revoke_it(page: Any, live_server: LiveServer,
                                                          output_dir: Path) -> None:
    me = live_server.get("agnes/v1/me")["username"]
    name = f"browser token {_uid()}"
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url.rstrip("/"))
    console = _open_screen(page, live_server, "tokens")
    try:
        console.locator(".jp-agnes-admin-token-user").select_option(me)
        console.locator(".jp-agnes-admin-token-name").fill(name)
        assert "at most 100 characters" in console.locator('[data-limit="name"]').inner_text()
        console.locator(".jp-agnes-admin-token-create").click()
        secret_box = console.locator(".jp-agnes-admin-secret")
        secret_box.wait_for(timeout=30_000)
        assert "shown only this once" in secret_box.inner_text()
        secret = secret_box.locator(".jp-agnes-admin-secret-value").input_value()
        assert len(secret) >= 20
        secret_box.locator("button", has_text="Copy").click()
        secret_box.locator(".jp-agnes-admin-secret-copied", has_text="Copied").wait_for(timeout=10_000)
        assert page.evaluate("() => navigator.clipboard.readText()") == secret
        row = console.locator(f'.jp-agnes-admin-token-list tr[data-token-name="{name}"]')
        row.wait_for(timeout=30_000)
        _shots(page, output_dir, "admin-tokens-secret-once")
        # The list never carries a secret; after Done the secret is gone from the page.
        assert secret not in str(live_server.get("agnes/v1/admin/tokens"))
        secret_box.locator("button", has_text="Done").click()
        secret_box.wait_for(state="detached", timeout=10_000)
        assert secret not in page.content()

        row.locator(".jp-agnes-admin-revoke").click()
        _dialog_button(page, "Revoke")
        row.wait_for(state="detached", timeout=30_000)  # only active tokens are listed by default
        token = next(t for t in live_server.get("agnes/v1/admin/tokens")["tokens"] if t["name"] == name)
        assert token["state"] == "revoked"
        console.locator(".jp-agnes-admin-check", has_text="Show revoked").click()
        assert "revoked" in row.inner_text()
        _shots(page, output_dir, "admin-tokens-revoked")
        assert page.agnes_errors == []
    finally:
        for t in live_server.get("agnes/v1/admin/tokens")["tokens"]:
            if t["name"] == name and t["state"] == "active":
                _quiet(live_server, "DELETE", f"agnes/v1/admin/tokens/{t['id']}")


def test_filter_the_audit_log_by_user_and_action_and_page_through_it(page: Any, live_server: LiveServer,
                                                                     output_dir: Path) -> None:
    me = live_server.get("agnes/v1/me")["username"]
    prefix = f"adt-{_uid()}"
    # 26 groups created and deleted: 52 audit entries under one resource prefix (a page holds 50).
    names = [f"{prefix}-{i:02d}" for i in range(26)]
    try:
        for n in names:
            live_server.request("POST", "agnes/v1/admin/groups", {"name": n})
        for n in names:
            live_server.request("DELETE", f"agnes/v1/admin/groups/{n}")
        console = _open_screen(page, live_server, "audit")
        rows = console.locator(".jp-agnes-admin-audit-table tbody tr[data-audit-id]")
        rows.first.wait_for(timeout=30_000)

        def apply(user: str, action: str, resource: str) -> None:
            console.locator(".jp-agnes-admin-audit-user").fill(user)
            console.locator(".jp-agnes-admin-audit-action").fill(action)
            console.locator(".jp-agnes-admin-audit-resource").fill(resource)
            console.locator(".jp-agnes-admin-audit-apply").click()

        def actions() -> list[str]:
            return [r.get_attribute("data-action") for r in rows.all()]

        # Who + what (exact action): the 26 creates only, newest first.
        apply(me, "group.create", f"group/{prefix}")
        page.wait_for_function("() => document.querySelectorAll('.jp-agnes-admin-audit-table tr[data-audit-id]')"
                               ".length === 26", timeout=30_000)
        assert set(actions()) == {"group.create"}
        assert {r.get_attribute("data-actor") for r in rows.all()} == {me}
        assert console.locator(".jp-agnes-admin-audit-next").is_disabled()
        # An action prefix: creates and deletes, 52 entries: a page of 50, then 2 older ones.
        apply(me, "group.", f"group/{prefix}")
        page.wait_for_function("() => document.querySelectorAll('.jp-agnes-admin-audit-table tr[data-audit-id]')"
                               ".length === 50", timeout=30_000)
        assert set(actions()) == {"group.create", "group.delete"}
        assert actions()[0] == "group.delete"  # newest first
        assert console.locator(".jp-agnes-admin-audit-range").inner_text() == "Entries 1–50"
        _shots(page, output_dir, "admin-audit-filtered")
        first_page = [r.get_attribute("data-audit-id") for r in rows.all()]
        console.locator(".jp-agnes-admin-audit-next").click()
        page.wait_for_function("() => document.querySelectorAll('.jp-agnes-admin-audit-table tr[data-audit-id]')"
                               ".length === 2", timeout=30_000)
        assert console.locator(".jp-agnes-admin-audit-range").inner_text() == "Entries 51–52"
        assert set(actions()) == {"group.create"}  # the oldest two
        assert not {r.get_attribute("data-audit-id") for r in rows.all()} & set(first_page)
        assert console.locator(".jp-agnes-admin-audit-next").is_disabled()
        console.locator(".jp-agnes-admin-audit-prev").click()
        page.wait_for_function("() => document.querySelectorAll('.jp-agnes-admin-audit-table tr[data-audit-id]')"
                               ".length === 50", timeout=30_000)
        # Another user: no entries under this prefix.
        apply(f"nobody-{_uid()}", "", f"group/{prefix}")
        console.locator(".jp-agnes-admin-empty", has_text="No entries match").wait_for(timeout=30_000)
        assert rows.count() == 0
        assert page.agnes_errors == []
    finally:
        for n in names:
            _quiet(live_server, "DELETE", f"agnes/v1/admin/groups/{n}")


def test_a_package_with_nine_tags_and_a_recipe_with_an_undeclared_parameter_are_refused_next_to_the_field(
        page: Any, live_server: LiveServer, output_dir: Path) -> None:
    slug = f"tags-{_uid()}"
    recipe = f"rcp-{_uid()}"
    console = _open_screen(page, live_server, "curation")
    try:
        console.locator(".jp-agnes-admin-new").click()
        form = console.locator(".jp-agnes-admin-package-form")
        form.locator(".jp-agnes-admin-input-slug").fill(slug)
        form.locator(".jp-agnes-admin-input-title").fill("Nine tags")
        form.locator(".jp-agnes-admin-input-tags").fill(", ".join(f"t{i}" for i in range(9)))
        tags = form.locator('.jp-agnes-admin-field[data-field="tags"]')
        # The limit comes from the OpenAPI document; the counter says it is over.
        assert "at most 8 items" in tags.locator(".jp-agnes-admin-field-limit").inner_text()
        assert tags.locator(".jp-agnes-admin-field-usage").inner_text() == "9 / 8"
        form.locator(".jp-agnes-admin-save").click()
        problem = tags.locator(".jp-agnes-problem")
        problem.wait_for(timeout=30_000)
        assert "8" in problem.inner_text()
        assert "tags" in problem.inner_text()
        assert form.locator('.jp-agnes-admin-field[data-field="title"] .jp-agnes-problem').count() == 0
        with pytest.raises(urllib.error.HTTPError) as missing:
            live_server.request("GET", f"agnes/v1/admin/packages/{slug}?include_deleted=true")
        missing.value.close()
        assert missing.value.code == 404
        form.scroll_into_view_if_needed()
        _shots(page, output_dir, "admin-curation-nine-tags")
        form.locator("button", has_text="Cancel").click()

        console.locator('.jp-agnes-admin-segment[data-kind="recipe"]').click()
        console.locator(".jp-agnes-admin-new").click()
        form = console.locator(".jp-agnes-admin-recipe-form")
        form.locator(".jp-agnes-admin-input-slug").fill(recipe)
        form.locator(".jp-agnes-admin-input-title").fill("Undeclared")
        form.locator(".jp-agnes-admin-input-sql").fill("SELECT * FROM orders WHERE amount > :minimum")
        form.locator(".jp-agnes-admin-save").click()
        params = form.locator('.jp-agnes-admin-field[data-field="parameters"]')
        params.locator(".jp-agnes-problem").wait_for(timeout=30_000)
        assert ":minimum" in params.locator(".jp-agnes-problem").inner_text()
        with pytest.raises(urllib.error.HTTPError) as no_recipe:
            live_server.request("GET", f"agnes/v1/admin/recipes/{recipe}?include_deleted=true")
        no_recipe.value.close()
        assert no_recipe.value.code == 404
        _shots(page, output_dir, "admin-curation-undeclared-parameter")
        assert page.agnes_errors == []
    finally:
        _quiet(live_server, "DELETE", f"agnes/v1/admin/packages/{slug}")
        _quiet(live_server, "DELETE", f"agnes/v1/admin/recipes/{recipe}")


def test_soft_delete_a_package_then_undo_then_restore_from_the_deleted_list(
        page: Any, live_server: LiveServer, output_dir: Path) -> None:
    slug = f"undo-{_uid()}"
    title = f"Undo me {HOSTILE}"
    live_server.request("POST", "agnes/v1/admin/packages", {"slug": slug, "title": title})
    try:
        console = _open_screen(page, live_server, "curation")
        console.locator(".jp-agnes-admin-search").fill(slug)
        row = console.locator(f'.jp-agnes-admin-curation-list tr[data-slug="{slug}"]')
        row.wait_for(timeout=30_000)
        # The title a curator typed is text, never markup.
        assert title in row.inner_text()
        assert row.locator("img").count() == 0
        # Edit: a description and a table, saved with PATCH.
        row.locator(".jp-agnes-admin-edit").click()
        form = console.locator(".jp-agnes-admin-package-form")
        assert form.locator(".jp-agnes-admin-input-slug").is_disabled()  # a slug never changes
        form.locator(".jp-agnes-admin-input-description").fill("Orders, for the undo test")
        form.locator(".jp-agnes-admin-chip-input").fill("orders")
        form.locator(".jp-agnes-admin-chip-input").press("Enter")
        form.locator('.jp-agnes-admin-chip[data-table-id="orders"]').wait_for(timeout=10_000)
        form.locator(".jp-agnes-admin-save").click()
        form.wait_for(state="detached", timeout=30_000)
        saved = live_server.get(f"agnes/v1/admin/packages/{slug}")
        assert saved["description"] == "Orders, for the undo test"
        assert saved["tables"] == ["orders"]
        assert saved["title"] == title
        # The list shows the saved package: one table.
        page.wait_for_function(
            "s => document.querySelector(`.jp-agnes-admin-curation-list tr[data-slug=\"${s}\"] td:nth-child(5)`)"
            "?.textContent === '1'", arg=slug, timeout=30_000)
        row.locator(".jp-agnes-admin-delete").click()
        notice = console.locator(".jp-agnes-admin-notice", has_text="Deleted")
        notice.wait_for(timeout=30_000)
        row.wait_for(state="detached", timeout=30_000)  # deleted ones are hidden by default
        assert live_server.get(f"agnes/v1/admin/packages/{slug}?include_deleted=true")["deleted_at"] is not None
        _shots(page, output_dir, "admin-curation-undo")
        notice.locator("button", has_text="Undo").click()
        row.wait_for(timeout=30_000)
        assert live_server.get(f"agnes/v1/admin/packages/{slug}")["deleted_at"] is None

        # Delete again, then restore from the deleted list.
        row.locator(".jp-agnes-admin-delete").click()
        row.wait_for(state="detached", timeout=30_000)
        console.locator(".jp-agnes-admin-show-deleted").check()
        row.wait_for(timeout=30_000)
        assert "jp-agnes-admin-row-deleted" in (row.get_attribute("class") or "")
        assert "deleted" in row.inner_text()
        _shots(page, output_dir, "admin-curation-deleted-list")
        row.locator(".jp-agnes-admin-restore").click()
        row.locator(".jp-agnes-admin-delete").wait_for(timeout=30_000)
        assert live_server.get(f"agnes/v1/admin/packages/{slug}")["deleted_at"] is None
        assert title in console.locator(".jp-agnes-admin-notice").inner_text()
        assert page.evaluate("() => window.__agnes_xss") is None
        assert page.agnes_errors == []
    finally:
        _quiet(live_server, "DELETE", f"agnes/v1/admin/packages/{slug}")


def test_rewarm_all_shows_live_progress_to_complete_then_one_row_refreshes(
        page: Any, live_server: LiveServer, output_dir: Path) -> None:
    before = live_server.get("agnes/v1/admin/warmup").get("run_id")
    console = _open_screen(page, live_server, "metadata")
    console.locator('.jp-agnes-admin-stream[data-stream="live"]').wait_for(timeout=60_000)
    events = console.locator('.jp-agnes-admin-metadata-table tr[data-table-id="events"]')
    events.wait_for(timeout=30_000)
    # Record every state the events row and the run show from now on.
    page.evaluate("""() => {
        window.__agnes_states = [];
        window.__agnes_runs = [];
        const root = document.querySelector('.jp-agnes-admin-metadata');
        const note = () => {
            const row = root.querySelector('tr[data-table-id="events"]');
            const run = root.querySelector('.jp-agnes-admin-run');
            const s = row && row.dataset.state;
            if (s && window.__agnes_states[window.__agnes_states.length - 1] !== s) window.__agnes_states.push(s);
            const r = run && `${run.dataset.runId}:${run.dataset.runStatus}`;
            if (r && window.__agnes_runs[window.__agnes_runs.length - 1] !== r) window.__agnes_runs.push(r);
        };
        new MutationObserver(note).observe(root, {attributes: true, subtree: true, childList: true});
    }""")
    console.locator(".jp-agnes-admin-rewarm").click()
    run = console.locator(".jp-agnes-admin-run")
    page.wait_for_function(
        "b => { const r = document.querySelector('.jp-agnes-admin-run');"
        " return r && r.dataset.runId && r.dataset.runId !== b && r.dataset.runStatus === 'complete'; }",
        arg=before or "", timeout=120_000)
    run_id = run.get_attribute("data-run-id")
    assert run_id != before
    states = page.evaluate("() => window.__agnes_states")
    runs = page.evaluate("() => window.__agnes_runs")
    assert f"{run_id}:running" in runs
    assert runs.index(f"{run_id}:running") < runs.index(f"{run_id}:complete")
    # The events row showed this run's progress (pending and/or warming) and ended fresh.
    assert states[-1] == "fresh"
    assert {"pending", "warming"} & set(states)
    total = live_server.get("agnes/v1/admin/warmup")["total"]
    assert run.locator(".jp-agnes-progress-label").inner_text() == f"{total} of {total} tables done"
    assert run.locator('.jp-agnes-admin-count-chip[data-state="fresh"] .jp-agnes-admin-count-n').inner_text() \
        == str(live_server.get("agnes/v1/admin/warmup")["succeeded"])
    _shots(page, output_dir, "admin-metadata-rewarm")

    # One row's Refresh.
    with page.expect_response(lambda r: r.url.split("?")[0].endswith("admin/metadata/refresh/events")) as answer:
        events.locator(".jp-agnes-admin-refresh-one").click()
    assert answer.value.status == 200
    page.wait_for_function("() => !document.querySelector("
                           "'.jp-agnes-admin-metadata tr[data-table-id=\"events\"] .jp-agnes-admin-refresh-one')"
                           ".disabled", timeout=60_000)
    assert events.locator(".jp-agnes-admin-metadata-message").inner_text() == ""
    assert page.agnes_errors == []


def test_a_gate_limit_override_refused_next_to_its_field_then_set_and_reset(
        page: Any, live_server: LiveServer, output_dir: Path) -> None:
    key = "max_result_rows"
    settings = live_server.get("agnes/v1/admin/settings")
    assert key not in settings["overrides"]
    configured = settings["configured"][key]
    console = _open_screen(page, live_server, "settings")
    row = console.locator(f'.jp-agnes-admin-settings-table tr[data-limit="{key}"]')
    row.wait_for(timeout=30_000)
    assert row.locator(".jp-agnes-badge").inner_text() == "configured"
    try:
        row.locator(".jp-agnes-admin-setting-input").fill("0")
        console.locator(".jp-agnes-admin-settings-save").click()
        row.locator(".jp-agnes-problem").wait_for(timeout=30_000)
        assert key in row.locator(".jp-agnes-problem").inner_text()
        assert live_server.get("agnes/v1/admin/settings")["limits"][key] == configured  # nothing applied
        _shots(page, output_dir, "admin-settings-refused")

        wanted = configured + 1
        row.locator(".jp-agnes-admin-setting-input").fill(str(wanted))
        console.locator(".jp-agnes-admin-settings-save").click()
        row.locator(".jp-agnes-badge", has_text="stored override").wait_for(timeout=30_000)
        assert row.locator(".jp-agnes-problem").count() == 0
        assert row.locator(".jp-agnes-admin-setting-value").inner_text() == f"{wanted:,}"
        assert live_server.get("agnes/v1/admin/settings")["overrides"] == {**settings["overrides"], key: wanted}
        _shots(page, output_dir, "admin-settings-override")

        row.locator(".jp-agnes-admin-setting-reset").click()
        row.locator(".jp-agnes-badge", has_text="configured").wait_for(timeout=30_000)
        assert key not in live_server.get("agnes/v1/admin/settings")["overrides"]
        assert page.agnes_errors == []
    finally:
        live_server.request("PATCH", "agnes/v1/admin/settings", {"limits": {key: None}})


def test_create_a_group_add_and_remove_a_member_then_delete_the_group_after_a_confirm(
        page: Any, live_server: LiveServer, output_dir: Path) -> None:
    me = live_server.get("agnes/v1/me")["username"]
    group = f"ui-{_uid()}"
    console = _open_screen(page, live_server, "access")
    try:
        form = console.locator(".jp-agnes-admin-new-group")
        form.locator(".jp-agnes-admin-group-name-input").fill(group)
        form.locator("button", has_text="Create group").click()
        members = console.locator(f'.jp-agnes-admin-members[data-group="{group}"]')
        members.wait_for(timeout=30_000)  # the new group is selected
        assert live_server.get(f"agnes/v1/admin/groups/{group}")["members"] == []
        # A column for the new group in the matrix.
        console.locator(f'.jp-agnes-admin-matrix-col[data-group="{group}"]').wait_for(timeout=30_000)

        members.locator(".jp-agnes-admin-member-select").select_option(me)
        members.locator(".jp-agnes-admin-add-member-btn").click()
        members.locator(f'li[data-member="{me}"]').wait_for(timeout=30_000)
        assert live_server.get(f"agnes/v1/admin/groups/{group}")["members"] == [me]
        assert "1 member" in console.locator(f'.jp-agnes-admin-group-item[data-group="{group}"]').inner_text()
        _shots(page, output_dir, "admin-access-members")

        members.locator(f'li[data-member="{me}"] .jp-agnes-admin-remove-member').click()
        _dialog_button(page, "Remove")
        members.locator(f'li[data-member="{me}"]').wait_for(state="detached", timeout=30_000)
        assert live_server.get(f"agnes/v1/admin/groups/{group}")["members"] == []

        # Delete asks first; Cancel keeps the group.
        members.locator(".jp-agnes-admin-delete-group").click()
        _dialog_button(page, "Cancel")
        assert live_server.get(f"agnes/v1/admin/groups/{group}")["name"] == group
        members.locator(".jp-agnes-admin-delete-group").click()
        _dialog_button(page, "Delete group")
        console.locator(f'.jp-agnes-admin-group-item[data-group="{group}"]').wait_for(state="detached",
                                                                                      timeout=30_000)
        with pytest.raises(urllib.error.HTTPError) as gone:
            live_server.request("GET", f"agnes/v1/admin/groups/{group}")
        gone.value.close()
        assert gone.value.code == 404
        assert page.agnes_errors == []
    finally:
        _quiet(live_server, "DELETE", f"agnes/v1/admin/groups/{group}")


def test_the_metadata_stream_dropping_says_so_and_reconnects_with_back_off(
        page: Any, live_server: LiveServer, output_dir: Path) -> None:
    attempts: list[str] = []

    def refuse(route: Any) -> None:
        attempts.append(route.request.url)
        route.abort()

    page.route("**/agnes/v1/admin/warmup/stream*", refuse)
    console = _open_screen(page, live_server, "metadata")
    lost = console.locator('.jp-agnes-admin-stream[data-stream="reconnecting"]')
    lost.wait_for(timeout=60_000)
    assert "Live updates lost — reconnecting in" in lost.inner_text()
    page.wait_for_function("() => /attempt [2-9]/.test(document.querySelector("
                           "'.jp-agnes-admin-stream[data-stream=\"reconnecting\"]')?.textContent ?? '')",
                           timeout=60_000)
    assert len(attempts) >= 2
    # Without the stream the screen still shows the last run, as GET admin/warmup has it.
    console.locator('.jp-agnes-admin-run[data-run-status="complete"]').wait_for(timeout=30_000)
    _shots(page, output_dir, "admin-metadata-stream-lost")
    # The server is reachable again: the next attempt connects and the screen says Live.
    page.unroute("**/agnes/v1/admin/warmup/stream*")
    console.locator('.jp-agnes-admin-stream[data-stream="live"]').wait_for(timeout=60_000)
    assert page.agnes_errors == []
