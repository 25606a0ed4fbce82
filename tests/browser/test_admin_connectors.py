"""A Jira source through the admin console, in headless Chromium, against the tests' local Jira
Cloud site: the form asks for the account's email and API token and the webhook secret by the
NAMES of server environment variables (a value that is not a name is refused next to its field,
and the refusal goes when the field is edited); the source is tested and discovered (its six
tables, offered as local only: Jira has no REMOTE), one table registered and extracted.

The live server is shared: the test removes what it adds and leaves the light theme on."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests import _jira
from tests._jira import JiraSite, make_issue, serve
from tests._live import JIRA_EMAIL_VAR, JIRA_TOKEN_VAR, LiveServer
from tests.browser.test_admin_console import (  # noqa: F401 - page: the fixture
    _add_source_form,
    _quiet_delete,
    _shots,
    _tab,
    _test_and_discover,
    page,
)
from tests.browser.test_panel import _shot

pytestmark = pytest.mark.browser


def test_add_a_jira_source_by_variable_names_discover_its_tables_and_extract_one(
        page: Any, live_server: LiveServer, output_dir: Path) -> None:  # noqa: F811 - the fixture
    uid = uuid.uuid4().hex[:6]
    source, table_id = f"bt_jira_{uid}", f"bt_jira_{uid}_issues"
    with serve(JiraSite([make_issue(n) for n in range(120)])) as site:
        try:
            console, form = _add_source_form(page, live_server, source)
            form.locator('select[name="type"]').select_option("jira")
            for secret, placeholder in (("email", "JIRA_EMAIL"), ("api_token", "JIRA_API_TOKEN"),
                                        ("webhook_secret", "JIRA_WEBHOOK_SECRET")):
                field = form.locator(f'[data-field="secrets.{secret}"]')
                assert "NAME of an environment variable" in field.inner_text()
                assert field.locator("input").get_attribute("placeholder") == placeholder
            form.locator('input[name="options.site"]').fill(site.url)
            # The token itself typed where its variable's name belongs: refused next to the field.
            form.locator('[data-field="secrets.email"] input').fill(JIRA_EMAIL_VAR)
            form.locator('[data-field="secrets.api_token"] input').fill(_jira.TOKEN + " !")
            form.locator('button[type="submit"]').click()
            refused = form.locator('[data-field="secrets.api_token"] .jp-agnes-problem')
            refused.wait_for(timeout=10_000)
            assert "not the name of an environment variable" in refused.inner_text()
            assert source not in {s["name"] for s in live_server.get("agnes/v1/admin/sources")["sources"]}
            _shot(page, output_dir, "admin-add-jira-refused")
            form.locator('[data-field="secrets.api_token"] input').fill(JIRA_TOKEN_VAR)
            assert refused.count() == 0  # the problem was about the old value: editing the field clears it
            _shots(page, output_dir, "admin-add-jira-source")
            form.locator('button[type="submit"]').click()
            row = console.locator(f'.jp-agnes-admin-source[data-source="{source}"]')
            row.wait_for(timeout=30_000)
            stored = live_server.get(f"agnes/v1/admin/sources/{source}")
            assert stored["secrets"] == {"email": JIRA_EMAIL_VAR, "api_token": JIRA_TOKEN_VAR}
            assert _jira.TOKEN not in str(stored)

            found = _test_and_discover(console, source)
            rows = found.locator(".jp-agnes-admin-discovered-row")
            assert [r.get_attribute("data-source-table") for r in rows.all()] == [
                "issues", "comments", "changelog", "attachments", "issue_links", "remote_links"]
            # Jira tables can only be extracted (no REMOTE): local is what is proposed, and all there is.
            assert {m.input_value() for m in found.locator(".jp-agnes-admin-pick-mode").all()} == {"local"}
            assert found.locator('.jp-agnes-admin-pick-mode option[value="remote"]').count() == 0
            assert found.locator('.jp-agnes-admin-bulk-mode option[value="remote"]').count() == 0
            issues = rows.nth(0)
            issues.locator(".jp-agnes-admin-pick").click()
            issues.locator(".jp-agnes-admin-pick-id").fill(table_id)
            issues.locator(".jp-agnes-admin-pick-pk").fill("id")
            _shots(page, output_dir, "admin-discover-jira")
            found.locator(".jp-agnes-admin-register").click()
            console.locator(".jp-agnes-admin-notice", has_text="Registered 1 table").wait_for(timeout=30_000)

            _tab(console, "tables")
            table = console.locator(f'.jp-agnes-admin-regrow[data-table-id="{table_id}"]')
            table.wait_for(timeout=30_000)
            table.locator(".jp-agnes-admin-extract").click()
            table.locator('.jp-agnes-admin-lastrun[data-status="succeeded"]').wait_for(timeout=60_000)
            runs = live_server.get(f"agnes/v1/admin/tables/{table_id}/runs")["runs"]
            assert runs[0]["rows"] == 120
            schema = live_server.get(f"agnes/v1/tables/{table_id}/schema")
            assert {"key", "status", "assignee", "story_point_estimate"} <= {c["name"] for c in schema["columns"]}
            _shot(page, output_dir, "admin-jira-extracted")
            assert page.agnes_errors == []
        finally:
            _quiet_delete(live_server, f"agnes/v1/admin/tables/{table_id}")
            _quiet_delete(live_server, f"agnes/v1/admin/sources/{source}")
