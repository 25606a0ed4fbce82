"""The Jira connector against a local server speaking Jira Cloud's REST API v3 (tests/_jira.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa
import pytest

from agnes_core.connectors import ReadOptions, TableRef
from agnes_core.connectors.jira import JiraConnector
from agnes_core.connectors.jira import tables as t
from agnes_core.connectors.jira.webhooks import changes_of, signature_of, verify_signature
from agnes_core.errors import BadRequest, NotFound, SourceError, Unauthorized, ValidationError
from tests import _jira
from tests._jira import JiraSite, make_issue, serve

ENV = {"JIRA_EMAIL": _jira.EMAIL, "JIRA_API_TOKEN": _jira.TOKEN, "JIRA_WEBHOOK_SECRET": "whsec-test-1234567890"}
SECRETS = {"email": "JIRA_EMAIL", "api_token": "JIRA_API_TOKEN", "webhook_secret": "JIRA_WEBHOOK_SECRET"}


def make(site: JiraSite, environ: dict[str, str] | None = None, **options: Any) -> JiraConnector:
    return JiraConnector("jira", {"site": site.url, "retry_base_seconds": 0.001, "retry_max_seconds": 0.01,
                                  **options}, SECRETS, environ=environ or ENV)


@pytest.fixture
def site() -> Iterator[JiraSite]:
    issues = [make_issue(n) for n in range(250)]
    issues[3] = make_issue(3, comments=12, histories=7)
    with serve(JiraSite(issues)) as running:
        yield running


def rows(connector: JiraConnector, table: str, **options: Any) -> list[dict[str, Any]]:
    batches = list(connector.read(TableRef(None, table), ReadOptions(**options)))
    return pa.Table.from_batches(batches).to_pylist() if batches else []


def test_discover_lists_the_six_tables_with_custom_fields_named_after_them(site: JiraSite) -> None:
    found = {d.name: d.schema for d in make(site).discover()}
    assert list(found) == ["issues", "comments", "changelog", "attachments", "issue_links", "remote_links"]
    issues = found["issues"]
    assert issues.field("story_point_estimate").type == pa.float64()
    assert issues.field("sprint").type == pa.list_(pa.string())
    assert issues.field("team_old").type == pa.string()
    assert issues.field("go_live").type == pa.timestamp("us", tz="UTC")
    # "Status" is a standard column already: the custom field keeps its number
    assert issues.field("status_10050").type == pa.string()
    assert issues.field("story_point_estimate").metadata[b"description"] == \
        b"Jira field customfield_10016: Story point estimate"


def test_search_pages_by_next_page_token_until_the_last_page(site: JiraSite) -> None:
    found = rows(make(site), "issues")
    assert len(found) == 250
    searches = [body for method, path, body in site.requests if path == "/rest/api/3/search/jql"]
    assert len(searches) == 3
    assert "nextPageToken" not in searches[0]
    assert all(body.get("nextPageToken") for body in searches[1:])
    assert all("startAt" not in body and body["maxResults"] == 100 for body in searches)
    assert "customfield_10016" in searches[0]["fields"]
    assert "comment" not in searches[0]["fields"]


def test_issues_are_flattened_the_way_analysts_query_them(site: JiraSite) -> None:
    issue = next(r for r in rows(make(site), "issues") if r["key"] == "ENG-5")
    assert issue["id"] == 10005
    assert (issue["status"], issue["status_category"], issue["priority"]) == ("Done", "Done", "Low")
    assert (issue["assignee"], issue["assignee_account_id"]) == ("Alan Turing", _jira.PEOPLE[2][0])
    assert issue["reporter"] == "Ada Lovelace"
    assert (issue["issue_type"], issue["project_key"]) == ("Task", "ENG")
    assert issue["description"] == "Steps to reproduce 5.\nExpected: it works."
    assert issue["created"] == datetime(2026, 3, 1, 14, 0, tzinfo=timezone.utc)
    assert issue["resolution"] == "Done"
    assert issue["resolved"] is not None
    assert issue["labels"] == ["backend", "l0"]
    assert (issue["story_point_estimate"], issue["sprint"], issue["team_old"]) == (None, ["Sprint 2"], "Blue")
    assert issue["parent_key"] == "ENG-0"


def test_comments_beyond_the_inline_page_are_fetched_per_issue(site: JiraSite) -> None:
    found = rows(make(site), "comments")
    assert len(found) == 249 * 2 + 12
    assert site.paths("/rest/api/3/issue/") == ["/rest/api/3/issue/ENG-3/comment"]
    first = next(r for r in found if r["id"] == 300)
    assert (first["issue_key"], first["body"], first["author"]) == ("ENG-3", "Comment 0 on 3", "Ada Lovelace")


def test_changelog_beyond_the_inline_histories_is_fetched_per_issue(site: JiraSite) -> None:
    found = rows(make(site), "changelog")
    assert len(found) == (249 * 2 + 7) * 2
    assert site.paths("/rest/api/3/issue/") == ["/rest/api/3/issue/ENG-3/changelog"]
    searches = [body for _, path, body in site.requests if path == "/rest/api/3/search/jql"]
    assert all(body["expand"] == "changelog" for body in searches)
    status = next(r for r in found if r["history_id"] == 306 and r["item_index"] == 0)
    assert (status["field"], status["from_string"], status["to_string"]) == ("status", "To Do", "In Progress")


def test_attachments_links_and_remote_links(site: JiraSite) -> None:
    connector = make(site)
    attachments = rows(connector, "attachments")
    assert len(attachments) == 250
    assert attachments[0]["filename"] == "screenshot-0.png"
    assert attachments[0]["size"] == 1000
    links = rows(connector, "issue_links")
    assert len(links) == 124
    link = next(r for r in links if r["issue_key"] == "ENG-4")
    assert (link["relation"], link["linked_issue_key"], link["direction"]) == ("blocks", "ENG-3", "outward")
    remote = rows(connector, "remote_links")
    assert len(remote) == 250
    assert remote[7]["url"] == "https://github.com/acme/app/pull/7"
    assert remote[7]["application"] == "GitHub"


def test_incremental_reads_ask_jira_for_updated_in_the_accounts_zone(site: JiraSite) -> None:
    after = site.issues[200].updated
    found = rows(make(site), "issues", incremental_key="updated", incremental_after=after)
    assert [r["key"] for r in found] == [f"ENG-{n}" for n in range(201, 250)]
    jql = next(body["jql"] for _, path, body in site.requests if path == "/rest/api/3/search/jql")
    local = after.astimezone(_jira.ZoneInfo(_jira.ZONE)).strftime("%Y/%m/%d %H:%M")
    assert f'updated >= "{local}"' in jql


def test_rate_limits_are_retried_after_what_jira_says(site: JiraSite) -> None:
    site.fail_next(429, times=2, retry_after="0")
    assert len(rows(make(site), "issues")) == 250
    assert len(site.requests) == 2 + 1 + 3  # two refused, the field list, three pages


def test_server_errors_are_retried_with_back_off(site: JiraSite) -> None:
    site.fail_next(503, times=3)
    assert len(rows(make(site), "attachments")) == 250


def test_retries_are_bounded_then_a_source_error_with_a_hint(site: JiraSite) -> None:
    site.fail_next(502, times=50)
    with pytest.raises(SourceError) as err:
        rows(make(site, max_retries=3), "issues")
    assert "after 3 retries" in err.value.message
    assert err.value.hint
    assert len(site.requests) == 4  # the first call (the field list), tried four times


def test_a_rejected_token_is_a_source_error_without_the_token(site: JiraSite,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = {**ENV, "JIRA_API_TOKEN": "ATATT-wrong-token-value-42"}
    with pytest.raises(SourceError) as err:
        make(site, wrong).test()
    assert "401" in err.value.message
    assert "API token" in (err.value.hint or "")
    assert "ATATT-wrong-token-value-42" not in repr(err.value.details) + err.value.message + caplog.text


def test_unknown_table_and_columns_are_refused(site: JiraSite) -> None:
    connector = make(site)
    with pytest.raises(NotFound):
        connector.schema(TableRef(None, "sprints"))
    with pytest.raises(ValidationError) as err:
        rows(connector, "issues", columns=["nope"])
    assert "columns are" in (err.value.hint or "")


def test_options_are_validated() -> None:
    with pytest.raises(ValidationError) as err:
        JiraConnector("j", {"site": "ftp://x"}, SECRETS, environ=ENV)
    assert err.value.field == "options.site"
    with pytest.raises(ValidationError) as err:
        JiraConnector("j", {"site": "https://x.atlassian.net", "projects": ["eng; drop"]}, SECRETS, environ=ENV)
    assert err.value.field == "options.projects"
    with pytest.raises(ValidationError) as err:
        JiraConnector("j", {"site": "https://x.atlassian.net"}, {"email": "JIRA_EMAIL"}, environ=ENV)
    assert err.value.field == "secrets.api_token"


def test_projects_option_narrows_the_search(site: JiraSite) -> None:
    site.issues.append(make_issue(900, "OPS"))
    assert [r["key"] for r in rows(make(site, projects=["OPS"]), "issues")] == ["OPS-900"]


def test_adf_becomes_plain_text() -> None:
    doc = {"type": "doc", "version": 1, "content": [
        {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Title"}]},
        {"type": "paragraph", "content": [{"type": "text", "text": "Hi "},
                                          {"type": "mention", "attrs": {"id": "1", "text": "@Ada"}},
                                          {"type": "hardBreak"}, {"type": "text", "text": "line two"}]},
        {"type": "bulletList", "content": [
            {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "a"}]}]},
            {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "b"}]}]}]},
        {"type": "codeBlock", "content": [{"type": "text", "text": "x = 1"}]},
        {"type": "paragraph", "content": [{"type": "inlineCard", "attrs": {"url": "https://x.io"}}]}]}
    assert t.adf_text(doc) == "Title\nHi @Ada\nline two\n- a\n- b\nx = 1\nhttps://x.io"
    assert t.adf_text("plain v2 text") == "plain v2 text"
    assert t.adf_text(None) is None


def test_column_names_are_sanitized() -> None:
    assert t.column_name("Story point estimate") == "story_point_estimate"
    assert t.column_name("% done (v2)") == "done_v2"
    assert t.column_name("2nd reviewer") == "cf_2nd_reviewer"
    assert t.column_name("Ünïcode ✓") == "n_code"


def test_metadata_counts_issues_with_the_approximate_count(site: JiraSite) -> None:
    meta = make(site).metadata(TableRef(None, "issues"))
    assert meta is not None
    assert (meta.rows, meta.error) == (250, None)


# -- webhook signatures and mapping (the server route is tested in tests/server/test_webhooks.py) -----


def test_signatures_are_checked_in_constant_time_against_the_raw_body() -> None:
    body = b'{"webhookEvent": "jira:issue_updated"}'
    good = signature_of("s3cret", body)
    verify_signature("s3cret", {"X-Hub-Signature": good}, body)
    verify_signature("s3cret", {"x-hub-signature": good.upper().replace("SHA256", "sha256")}, body)
    for headers in ({}, {"X-Hub-Signature": "sha1=" + good[7:]}, {"X-Hub-Signature": good[:-1] + "0"},
                    {"X-Hub-Signature": "sha256="}, {"X-Hub-Signature": signature_of("other", body)}):
        with pytest.raises(Unauthorized) as err:
            verify_signature("s3cret", headers, body)
        assert err.value.hint
    with pytest.raises(Unauthorized):
        verify_signature("s3cret", {"X-Hub-Signature": good}, body + b" ")


def test_issue_webhooks_map_to_rows_of_every_table_they_carry() -> None:
    import json

    issue = make_issue(8)
    body = json.dumps(_jira.webhook("jira:issue_updated", issue, timestamp=1_780_000_000_000,
                                    changelog={"id": "777", "items": [{"field": "status", "fieldId": "status",
                                                                       "fromString": "To Do", "toString": "Done"}]}))
    changes = changes_of({}, body.encode(), lambda: t.custom_fields(_jira.FIELDS))
    by_table = {c.table: c for c in changes}
    assert set(by_table) == {"issues", "attachments", "issue_links", "changelog"}
    assert by_table["issues"].upserts[0]["key"] == "ENG-8"
    assert by_table["issues"].upserts[0]["story_point_estimate"] == 0.0
    assert by_table["issue_links"].replace == {"issue_id": 10008}
    assert by_table["changelog"].upserts[0]["to_string"] == "Done"
    deleted = changes_of({"X-Atlassian-Webhook-Identifier": "abc"}, json.dumps(
        _jira.webhook("jira:issue_deleted", issue, timestamp=1_780_000_000_001)).encode(), lambda: [])
    assert deleted[0].deletes == [{"id": 10008}]
    assert deleted[0].event_id == "abc:issues"
    assert {c.table for c in deleted if c.replace == {"issue_id": 10008}} == {
        "comments", "changelog", "attachments", "issue_links", "remote_links"}
    with pytest.raises(BadRequest):
        changes_of({}, b"not json", lambda: [])
    assert changes_of({}, b'{"webhookEvent": "project_created"}', lambda: []) == []
