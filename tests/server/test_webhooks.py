"""POST agnes/v1/webhooks/jira/{source}: authenticated by the HMAC-SHA256 signature of the raw body
(never by a Jupyter token), bounded, and applied to the source's extracted tables."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from agnes_core.connectors.jira.webhooks import signature_of
from tests import _jira
from tests._jira import JiraSite, make_issue, serve

from .conftest import assert_matches_openapi

SECRET = "whsec-agnes-test-" + "k3y" * 8
ENV = {"AGNES_T_JIRA_EMAIL": _jira.EMAIL, "AGNES_T_JIRA_TOKEN": _jira.TOKEN, "AGNES_T_JIRA_HOOK": SECRET}
SECRETS = {"email": "AGNES_T_JIRA_EMAIL", "api_token": "AGNES_T_JIRA_TOKEN", "webhook_secret": "AGNES_T_JIRA_HOOK"}
ROUTE = "/webhooks/{type}/{source}"


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[JiraSite]:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    with serve(JiraSite([make_issue(n) for n in range(20)])) as running:
        yield running


async def connect(api, site: JiraSite) -> JiraSite:
    """A jira source with issues and attachments registered and extracted."""
    status, _, _ = await api("POST", "admin/sources", {"name": "jira", "type": "jira", "secrets": SECRETS,
                                                       "options": {"site": site.url, "retry_base_seconds": 0.001}})
    assert status == 201
    for name in ("issues", "attachments"):
        status, _, _ = await api("POST", "admin/tables", {"id": f"jira_{name}", "source": "jira",
                                                          "source_table": name, "query_mode": "local"})
        assert status == 201
        status, run, _ = await api("POST", f"admin/tables/jira_{name}/extract", params={"wait": "true"})
        assert run["status"] == "succeeded", run
    return site


@pytest.fixture
def hook(http_server_client: Any, jp_base_url: str):
    """POST a webhook with no Jupyter token (as Jira sends it) -> (status, json body)."""

    async def send(payload: Any, *, source: str = "jira", kind: str = "jira", signature: str | None = "sign",
                   raw: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        body = raw if raw is not None else json.dumps(payload).encode()
        sent = {"Content-Type": "application/json", **(headers or {})}
        if signature == "sign":
            sent["X-Hub-Signature"] = signature_of(SECRET, body)
        elif signature is not None:
            sent["X-Hub-Signature"] = signature
        response = await http_server_client.fetch(f"{jp_base_url}agnes/v1/webhooks/{kind}/{source}", method="POST",
                                                  body=body, headers=sent, raise_error=False)
        return response.code, json.loads(response.body) if response.body else None

    return send


def query(data_dir: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(data_dir / "extracts" / "jira" / "extract.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def updated(n: int, minute: int, status: str = "Done") -> dict[str, Any]:
    issue = make_issue(n)
    issue.fields["status"] = {"id": "3", "name": status, "statusCategory": {"key": "done", "name": "Done"}}
    issue.fields["updated"] = f"2026-06-01T12:{minute:02d}:00.000+0000"
    return _jira.webhook("jira:issue_updated", issue, timestamp=1_780_315_200_000 + minute * 60_000)


async def test_a_signed_webhook_changes_the_table_without_a_jupyter_token(api, site: JiraSite, hook,
                                                                         agnes_data_dir: Path) -> None:
    await connect(api, site)
    status, body = await hook(updated(3, 5))
    assert status == 200, body
    assert_matches_openapi(ROUTE, "POST", status, body)
    assert body["applied"] >= 1
    assert body["tables"] == ["jira_attachments", "jira_issues"]
    assert query(agnes_data_dir, "SELECT status FROM jira_issues WHERE key = 'ENG-3'") == [("Done",)]


@pytest.mark.parametrize(("case", "signature"), [
    ("missing", None),
    ("invalid", "sha256=" + "0" * 64),
    ("wrong algorithm prefix", "sha1=" + "0" * 40),
    ("no digest", "sha256="),
    ("signed with another secret", "other"),
])
async def test_a_webhook_without_a_valid_signature_is_401(api, site: JiraSite, hook, agnes_data_dir: Path, case: str,
                                                          signature: str | None) -> None:
    await connect(api, site)
    payload = updated(3, 5)
    if signature == "other":
        signature = signature_of("not-the-secret", json.dumps(payload).encode())
    status, body = await hook(payload, signature=signature)
    assert status == 401, (case, body)
    assert_matches_openapi(ROUTE, "POST", status, body)
    assert body["error"] == "unauthorized"
    assert body["hint"]
    assert SECRET not in json.dumps(body)
    assert query(agnes_data_dir, "SELECT status FROM jira_issues WHERE key = 'ENG-3'") == [("To Do",)]


async def test_a_signature_of_another_body_is_401(api, site: JiraSite, hook) -> None:
    await connect(api, site)
    signed_for = json.dumps(updated(3, 5)).encode()
    status, body = await hook(None, raw=json.dumps(updated(3, 6)).encode(), signature=signature_of(SECRET, signed_for))
    assert (status, body["error"]) == (401, "unauthorized")


async def test_a_jupyter_token_does_not_stand_in_for_the_signature(api, site: JiraSite) -> None:
    await connect(api, site)
    status, body, _ = await api("POST", "webhooks/jira/jira", updated(3, 5))  # with the server's token
    assert (status, body["error"]) == (401, "unauthorized")


async def test_a_body_over_the_limit_is_413_before_it_is_read(api, site: JiraSite, hook) -> None:
    await connect(api, site)
    big = b'{"webhookEvent": "jira:issue_updated", "pad": "' + b"x" * (1024 * 1024) + b'"}'
    status, body = await hook(None, raw=big)
    assert status == 413
    assert_matches_openapi(ROUTE, "POST", status, body)
    assert body["error"] == "payload_too_large"


async def test_replayed_and_out_of_order_events_change_nothing(api, site: JiraSite, hook,
                                                               agnes_data_dir: Path) -> None:
    await connect(api, site)
    headers = {"X-Atlassian-Webhook-Identifier": "hook-1"}
    first = await hook(updated(3, 20, "Done"), headers=headers)
    replay = await hook(updated(3, 20, "Done"), headers=headers)
    older = await hook(updated(3, 10, "In Progress"))
    assert first[0] == replay[0] == older[0] == 200
    assert replay[1]["applied"] == 0
    assert replay[1]["duplicates"] == 2
    assert older[1]["applied"] == 0
    assert older[1]["stale"] >= 1
    assert query(agnes_data_dir, "SELECT status FROM jira_issues WHERE key = 'ENG-3'") == [("Done",)]


async def test_a_deleted_issue_is_removed(api, site: JiraSite, hook, agnes_data_dir: Path) -> None:
    await connect(api, site)
    status, _ = await hook(_jira.webhook("jira:issue_deleted", make_issue(3), timestamp=1_780_315_200_000))
    assert status == 200
    assert query(agnes_data_dir, "SELECT count(*) FROM jira_issues WHERE key = 'ENG-3'") == [(0,)]
    assert query(agnes_data_dir, "SELECT count(*) FROM jira_attachments WHERE issue_key = 'ENG-3'") == [(0,)]


async def test_an_event_for_an_unregistered_table_is_404(api, site: JiraSite, hook) -> None:
    await connect(api, site)
    comment = {"id": "9", "body": _jira.adf("hi"), "created": "2026-06-01T12:00:00.000+0000"}
    status, body = await hook(_jira.webhook("comment_created", make_issue(3), timestamp=1_780_315_200_000,
                                            comment=comment))
    assert status == 404
    assert_matches_openapi(ROUTE, "POST", status, body)
    assert body["hint"]


async def test_an_unknown_source_or_type_is_404(api, site: JiraSite, hook) -> None:
    await connect(api, site)
    assert (await hook(updated(3, 5), source="nope"))[0] == 404
    assert (await hook(updated(3, 5), kind="postgres"))[0] == 404


async def test_a_source_without_stream_is_400(hook) -> None:
    status, body = await hook(updated(3, 5), kind="lake", source="demo")
    assert status == 400
    assert_matches_openapi(ROUTE, "POST", status, body)
    assert "STREAM" in body["message"]


async def test_a_source_without_a_webhook_secret_refuses_webhooks(api, site: JiraSite, hook) -> None:
    await api("POST", "admin/sources", {"name": "jira", "type": "jira", "options": {"site": site.url},
                                        "secrets": {k: v for k, v in SECRETS.items() if k != "webhook_secret"}})
    status, body = await hook(updated(3, 5))
    assert (status, body["error"]) == (401, "unauthorized")
    assert "AGNES_T_JIRA" not in body["message"]


async def test_a_body_that_is_not_json_is_400(api, site: JiraSite, hook) -> None:
    await connect(api, site)
    status, body = await hook(None, raw=b"not json")
    assert (status, body["error"]) == (400, "bad_request")


async def test_other_events_are_accepted_and_ignored(api, site: JiraSite, hook) -> None:
    await connect(api, site)
    status, body = await hook({"webhookEvent": "project_created", "timestamp": 1})
    assert status == 200
    assert body["applied"] == 0


async def test_a_sync_brings_pushed_rows_before_the_next_run_and_the_run_takes_over(api, jp_fetch, site: JiraSite,
                                                                                   hook, agnes_data_dir: Path) -> None:
    import hashlib
    import io

    import pyarrow.parquet as pq

    await connect(api, site)
    status, _, _ = await api("PUT", "stack/tables/jira_issues")
    assert status == 200

    async def synced() -> tuple[dict[str, Any], dict[str, str]]:
        _, manifest, _ = await api("GET", "sync/manifest")
        (entry,) = [t for t in manifest["tables"] if t["id"] == "jira_issues"]
        response = await jp_fetch("agnes", "v1", "sync", "tables", "jira_issues", "data")
        data = response.body
        assert hashlib.md5(data, usedforsecurity=False).hexdigest() == entry["md5"]  # what a kernel checks
        statuses = dict(zip(*pq.read_table(io.BytesIO(data), columns=["key", "status"]).to_pydict().values(),
                            strict=True))
        return entry, statuses

    before, statuses = await synced()
    assert statuses["ENG-3"] != "Done"
    status, _ = await hook(updated(3, 5))
    assert status == 200
    pushed, statuses = await synced()
    assert pushed["md5"] != before["md5"]
    assert (statuses["ENG-3"], pushed["rows"]) == ("Done", before["rows"])
    again, _ = await synced()
    assert again["md5"] == pushed["md5"], "one view per set of deltas, not one per request"
    assert len(list(agnes_data_dir.glob("extracts/jira/stream/jira_issues/synced/*.parquet"))) == 1
    status, run, _ = await api("POST", "admin/tables/jira_issues/extract", params={"wait": "true"})
    assert run["status"] == "succeeded", run
    after, statuses = await synced()
    assert statuses["ENG-3"] == "Done"  # compacted into the extract, which is synced itself again
    _, table, _ = await api("GET", "admin/tables/jira_issues/runs")
    assert after["md5"] == table["sync_state"]["md5"]
    assert not list(agnes_data_dir.glob("extracts/jira/stream/jira_issues/synced/*")), "the view synced before goes"
