"""Gated scans over HTTP: estimate, the gate (confirmation, cap, daily budget, concurrency),
Arrow IPC streaming with truncation, the scan record, and the audit log.

Limits are set on the running app (as AgnesApp traits would set them) so the gate shows on the
small test lake (30,000 events over 60 days)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pyarrow as pa
import pytest

from agnes_core.gate.limits import Limits

from .conftest import agnes_app, assert_matches_openapi


def set_limits(jp_serverapp: Any, **values: int) -> None:
    core = agnes_app(jp_serverapp).core
    core.settings.limits = dataclasses.replace(Limits(), **values)


ONE_DAY = "SELECT country, amount FROM events WHERE event_date = DATE '2026-01-05'"
EVERYTHING = "SELECT * FROM events"


async def test_estimate_matches_the_contract_and_is_audited(api, jp_serverapp, jp_fetch) -> None:
    status, est, _ = await api("POST", "scans/estimate", {"sql": ONE_DAY})
    assert status == 200, est
    assert_matches_openapi("/scans/estimate", "POST", status, est)
    assert est["verdict"] == "ok"
    assert est["tables"][0]["id"] == "events"
    assert est["detail"][0]["files"] == 1  # one Hive partition survives
    assert est["scan_bytes"] > 0
    assert est["cost_usd"] == 0
    _, full, _ = await api("POST", "scans/estimate", {"sql": "SELECT country, amount FROM events"})
    assert full["scan_bytes"] > 30 * est["scan_bytes"]
    entries = agnes_app(jp_serverapp).core.audit.entries(action="scan.estimate")
    mine = [e for e in entries if e["details"]["sql_hash"] == est["sql_hash"]]
    assert [(e["actor"], e["outcome"], e["details"]["estimated_bytes"]) for e in mine] == [
        ("owner", "ok", est["scan_bytes"])]


async def test_structured_form_builds_the_same_query(api) -> None:
    status, est, _ = await api("POST", "scans/estimate", {
        "table": "events", "select": ["country", "amount"], "where": "event_date = DATE '2026-01-05'",
        "order_by": ["amount DESC"], "limit": 5})
    assert status == 200, est
    assert est["sql"].startswith('SELECT "country", "amount" FROM events WHERE')
    assert est["result_rows"] == 5
    status, body, _ = await api("POST", "scans/estimate", {"table": "events", "order_by": ["amount; DROP"]})
    assert (status, body["error"], body["details"]["field"]) == (400, "validation_error", "order_by")


async def test_validator_rejection_is_400_with_kind_and_fragment(api) -> None:
    status, body, _ = await api("POST", "scans", {"sql": "SELECT * FROM events; DELETE FROM events"})
    assert status == 400
    assert_matches_openapi("/scans", "POST", status, body)
    assert (body["error"], body["details"]["kind"]) == ("validator_rejected", "multi_statement")
    status, body, _ = await api("POST", "scans/estimate", {"sql": "SELECT read_text('/etc/passwd') FROM events"})
    assert (status, body["details"]["kind"]) == (400, "table_function")
    assert "read_text" in body["details"]["fragment"].lower()


async def test_scan_streams_arrow_and_records_it(api, jp_serverapp, jp_fetch) -> None:
    response = await _scan(jp_fetch, {"sql": ONE_DAY})
    assert response.code == 200
    assert response.headers["Content-Type"] == "application/vnd.apache.arrow.stream"
    table = pa.ipc.open_stream(response.body).read_all()
    assert table.column_names == ["country", "amount"]
    assert table.num_rows == 500  # 30,000 rows over 60 days
    status, record, _ = await api("GET", f"scans/{response.headers['X-Agnes-Scan-Id']}")
    assert status == 200
    assert_matches_openapi("/scans/{scan_id}", "GET", status, record)
    assert (record["status"], record["rows"], record["truncated"]) == ("succeeded", 500, False)
    assert record["scanned_bytes"] == record["estimated_bytes"] > 0
    assert (record["estimate"]["scan_bytes"], record["estimate"]["verdict"]) == (record["estimated_bytes"], "ok")
    entry = agnes_app(jp_serverapp).core.audit.entries(resource=f"scan/{record['scan_id']}")[0]
    assert (entry["action"], entry["outcome"], entry["details"]["rows"]) == ("scan.run", "succeeded", 500)


async def _scan(jp_fetch, body: dict[str, Any]) -> Any:
    """POST scans, keeping the (binary) body as it came."""
    return await jp_fetch("agnes", "v1", "scans", method="POST", body=json.dumps(body), raise_error=False)


async def test_confirmation_and_cap(api, jp_serverapp, jp_fetch) -> None:
    _, two, _ = await api("POST", "scans/estimate", {"sql": "SELECT amount, user_id FROM events"})
    _, everything, _ = await api("POST", "scans/estimate", {"sql": EVERYTHING})
    assert two["scan_bytes"] < everything["scan_bytes"]
    set_limits(jp_serverapp, scan_confirm_bytes=two["scan_bytes"] - 1, scan_max_bytes=everything["scan_bytes"] - 1)
    status, body, _ = await api("POST", "scans", {"sql": "SELECT amount, user_id FROM events"})
    assert status == 409
    assert_matches_openapi("/scans", "POST", status, body)
    assert body["error"] == "confirmation_required"
    assert body["details"]["estimate"]["verdict"] == "needs_confirmation"
    assert "confirm" in body["hint"]
    response = await _scan(jp_fetch, {"sql": "SELECT amount, user_id FROM events", "confirm": True})
    assert pa.ipc.open_stream(response.body).read_all().num_rows == 30_000
    status, body, _ = await api("POST", "scans", {"sql": EVERYTHING, "confirm": True})
    assert (status, body["error"]) == (400, "scan_too_large")
    assert body["details"]["estimate"]["verdict"] == "too_large"


async def test_daily_budget_counts_scanned_bytes_and_refuses(api, jp_serverapp, jp_fetch) -> None:
    _, est, _ = await api("POST", "scans/estimate", {"sql": ONE_DAY})
    set_limits(jp_serverapp, daily_scan_bytes_per_user=est["scan_bytes"] * 2 + 1)
    for _ in range(2):
        assert (await _scan(jp_fetch, {"sql": ONE_DAY})).code == 200
    status, body, _ = await api("POST", "scans", {"sql": ONE_DAY})
    assert status == 429
    assert_matches_openapi("/scans", "POST", status, body)
    details = body["details"]
    assert (details["kind"], details["current"], details["limit"]) == (
        "daily_bytes", est["scan_bytes"] * 2, est["scan_bytes"] * 2 + 1)
    assert 0 < details["retry_after_seconds"] <= 86_401
    _, again, _ = await api("POST", "scans/estimate", {"sql": ONE_DAY})
    assert again["verdict"] == "over_budget"
    _, me, _ = await api("GET", "me")
    assert me["usage"]["scanned_bytes"] == est["scan_bytes"] * 2


async def test_result_cap_truncates_and_says_so(api, jp_serverapp, jp_fetch) -> None:
    set_limits(jp_serverapp, max_result_rows=1_234)
    response = await _scan(jp_fetch, {"sql": "SELECT country FROM events"})
    assert pa.ipc.open_stream(response.body).read_all().num_rows == 1_234
    _, record, _ = await api("GET", f"scans/{response.headers['X-Agnes-Scan-Id']}")
    assert (record["truncated"], record["rows"]) == (True, 1_234)
    assert "max_result_rows" in record["truncated_reason"]


async def test_a_source_failing_mid_stream_cuts_the_stream_and_records_the_failure(
        api, jp_serverapp, jp_fetch, monkeypatch) -> None:
    from agnes_core.connectors.lake import LakeConnector
    from agnes_core.errors import SourceError

    real_scan = LakeConnector.scan

    def failing_scan(self, sql, batch_size=65_536, tables=(), guard=None):
        batches = real_scan(self, sql, batch_size=10, tables=tables, guard=guard)
        yield next(iter(batches))
        raise SourceError("the lake went away")

    monkeypatch.setattr(LakeConnector, "scan", failing_scan)
    from tornado.simple_httpclient import HTTPStreamClosedError

    with pytest.raises(HTTPStreamClosedError):  # cut before the end of the body: no end-of-stream marker
        await jp_fetch("agnes", "v1", "scans", method="POST", body=json.dumps({"sql": ONE_DAY}))
    core = agnes_app(jp_serverapp).core
    record = core.store.row("SELECT scan_id FROM scans ORDER BY started_at DESC LIMIT 1")
    status, body, _ = await api("GET", f"scans/{record['scan_id']}")
    assert status == 200
    assert (body["status"], body["error"], body["truncated"]) == ("failed", "the lake went away", False)
    assert body["rows"] == 10
    assert core.scans.usage("owner")["scanned_bytes"] == body["estimated_bytes"]  # it did read: charged
