"""An admin connects Jira through the REST API: add the source by environment-variable names, test,
discover, register, extract, and find the tables in the catalog — no secret ever in a response."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests import _jira
from tests._jira import JiraSite, make_issue, serve

from .conftest import assert_matches_openapi

ENV = {"AGNES_T_JIRA_EMAIL": _jira.EMAIL, "AGNES_T_JIRA_TOKEN": _jira.TOKEN, "AGNES_T_JIRA_HOOK": "whsec-admin-1"}
SECRETS = {"email": "AGNES_T_JIRA_EMAIL", "api_token": "AGNES_T_JIRA_TOKEN", "webhook_secret": "AGNES_T_JIRA_HOOK"}


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[JiraSite]:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    with serve(JiraSite([make_issue(n) for n in range(120)])) as running:
        yield running


async def test_add_test_discover_register_extract_and_catalog(api, site: JiraSite) -> None:
    status, connectors, _ = await api("GET", "admin/connectors")
    jira = next(c for c in connectors["connectors"] if c["type"] == "jira")
    assert "stream" in jira["capabilities"]
    assert [s["name"] for s in jira["secrets"]] == ["email", "api_token", "webhook_secret"]

    status, source, _ = await api("POST", "admin/sources", {"name": "jira", "type": "jira", "secrets": SECRETS,
                                                            "options": {"site": site.url, "projects": ["ENG"]}})
    assert status == 201
    assert source["secrets"] == SECRETS

    status, tested, _ = await api("POST", "admin/sources/jira/test")
    assert (status, tested["ok"], tested["account"]) == (200, True, "Ada Lovelace")
    assert_matches_openapi("/admin/sources/{name}/test", "POST", status, tested)

    status, found, _ = await api("POST", "admin/sources/jira/discover")
    assert status == 200
    assert_matches_openapi("/admin/sources/{name}/discover", "POST", status, found)
    tables = {t["source_table"]: t for t in found["tables"]}
    assert set(tables) == {"issues", "comments", "changelog", "attachments", "issue_links", "remote_links"}
    columns = {c["name"]: c["type"] for c in tables["issues"]["columns"]}
    assert (columns["story_point_estimate"], columns["updated"]) == ("DOUBLE", "TIMESTAMP WITH TIME ZONE")

    for name in ("issues", "comments"):
        status, _, _ = await api("POST", "admin/tables", {
            "id": f"jira_{name}", "source": "jira", "source_table": name, "query_mode": "local", "primary_key": "id",
            "incremental_key": "updated" if name == "issues" else "issue_updated",
            "description": f"Jira {name}"})
        assert status == 201
        status, run, _ = await api("POST", f"admin/tables/jira_{name}/extract", params={"wait": "true"})
        assert (status, run["status"]) == (200, "succeeded"), run
        assert_matches_openapi("/admin/tables/{id}/extract", "POST", status, run)
    assert run["rows"] == 240

    # An incremental run asks Jira only for what changed since the high-water mark.
    site.issues[7].fields["updated"] = _jira.jira_time(_jira.BASE_TIME.replace(year=2027))
    site.issues[7].updated = _jira.BASE_TIME.replace(year=2027)
    site.issues[7].fields["summary"] = "Renamed"
    status, run, _ = await api("POST", "admin/tables/jira_issues/extract", params={"wait": "true"})
    assert (run["status"], run["rows_read"], run["rows"]) == ("succeeded", 1, 120)

    status, catalog, _ = await api("GET", "catalog")
    assert_matches_openapi("/catalog", "GET", status, catalog)
    entries = {t["id"]: t for t in catalog["tables"]}
    assert entries["jira_issues"]["rows"] == 120
    assert entries["jira_comments"]["rows"] == 240
    status, schema, _ = await api("GET", "tables/jira_issues/schema")
    assert status == 200
    assert "story_point_estimate" in [c["name"] for c in schema["columns"]]
    status, sample, _ = await api("GET", "tables/jira_issues/sample", params={"n": "100"})
    assert status == 200
    assert sample["origin"] == "extract"
    assert "story_point_estimate" in sample["columns"]

    everything = json.dumps([source, tested, found, catalog])
    for value in ENV.values():
        assert value not in everything
