"""One analyst cannot stall the server: scans stop at their time limit, when their client goes away
and when the server stops; the server runs a bounded number of them on threads of their own; parse
cost and value sizes are bounded; every bad input is a 4xx envelope that is audited and leaves
nothing half-applied. On the demo lake, through a real Jupyter server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pyarrow as pa
import pytest

from agnes_server.routes import ROUTES

from .conftest import BOB, agnes_app, assert_matches_openapi, poll

CROSS_JOIN = "SELECT count(*) AS n FROM events a, events b, events c"


@pytest.fixture
def jp_server_config(multiuser_config: dict) -> dict:
    return multiuser_config




async def grant_events_to_bob(api) -> None:
    await api("GET", "me", token=BOB)
    await api("POST", "admin/grants", {"group": "Everyone", "resource_type": "table", "resource_id": "events",
                                       "requirement": "available"})


async def scan(jp_fetch: Any, body: dict[str, Any], token: str | None = None, **kwargs: Any) -> tuple[int, Any]:
    headers = {"Authorization": f"token {token}"} if token else {}
    response = await jp_fetch("agnes", "v1", "scans", method="POST", body=json.dumps(body), headers=headers,
                              raise_error=False, **kwargs)
    if response.code == 200:
        return 200, pa.ipc.open_stream(response.body).read_all()
    return response.code, json.loads(response.body)


# -- finding 2: time, cancellation, concurrency, threads of their own --------------------------------


@pytest.mark.parametrize("sql", [
    CROSS_JOIN,
    "WITH RECURSIVE r AS (SELECT 1 AS n FROM (SELECT 1 FROM events LIMIT 1) s UNION ALL SELECT n + 1 FROM r) "
    "SELECT count(*) FROM r",
])
async def test_a_scan_past_its_time_limit_is_stopped_with_a_4xx(jp_fetch, api, jp_serverapp, sql: str) -> None:
    status, _, _ = await api("PATCH", "admin/settings", {"limits": {"scan_timeout_seconds": 2}})
    assert status == 200
    status, body = await scan(jp_fetch, {"sql": sql})
    assert status == 400, body
    assert body["error"] in ("scan_timeout", "resources_exceeded")  # an endless CTE may hit memory first
    core = agnes_app(jp_serverapp).core
    assert core.scans.running_count() == 0
    record = core.store.row("SELECT status FROM scans ORDER BY started_at DESC LIMIT 1")
    assert record["status"] in ("timed_out", "failed")


async def test_a_client_that_goes_away_cancels_its_scan(jp_fetch, jp_serverapp) -> None:
    from tornado.httpclient import HTTPClientError

    core = agnes_app(jp_serverapp).core
    with pytest.raises(HTTPClientError):
        await jp_fetch("agnes", "v1", "scans", method="POST", body=json.dumps({"sql": CROSS_JOIN}),
                       request_timeout=1.5)
    record = await poll(lambda: core.store.row("SELECT status FROM scans WHERE status <> 'running'"),
                        "the scan ending after its client left")
    assert record["status"] == "cancelled"
    assert core.scans.running_count() == 0


async def test_the_server_runs_a_bounded_number_of_scans_and_other_routes_never_wait_for_them(
        jp_fetch, api, jp_serverapp) -> None:
    core = agnes_app(jp_serverapp).core
    core.settings.max_concurrent_scans = 2
    await grant_events_to_bob(api)
    bombs = [asyncio.ensure_future(scan(jp_fetch, {"sql": CROSS_JOIN}, token=BOB, request_timeout=120))
             for _ in range(2)]
    try:
        await poll(lambda: core.scans.running_count() == 2, "two scans running")
        status, body, _ = await api("POST", "scans", {"sql": "SELECT country FROM events LIMIT 1"})
        assert (status, body["error"], body["details"]["kind"]) == (429, "quota_exceeded", "server_scans")
        assert_matches_openapi("/scans", "POST", status, body)
        # Schema (a thread of the request pool), catalog and estimates answer while both scans run.
        for path, method, payload in (("tables/events/schema", "GET", None), ("catalog", "GET", None),
                                      ("scans/estimate", "POST", {"sql": "SELECT country FROM events LIMIT 1"})):
            status, _, _ = await api(method, path, payload)
            assert status == 200, path
        assert core.scans.running_count() == 2  # still running: nothing above waited for them
    finally:
        assert core.scans.cancel_all("test over") == 2
        results = await asyncio.gather(*bombs)
    assert all(status == 409 for status, _ in results)
    assert {body["error"] for _, body in results} == {"scan_cancelled"}


# -- finding 3: parse cost is bounded ------------------------------------------------------------------


@pytest.mark.parametrize(("sql", "status", "kind"), [
    ("SELECT country FROM events WHERE country IN (" + ",".join(["'DE'"] * 200_000) + ")", 400, "query_too_long"),
    ("SELECT country FROM events /*" + "x" * 1_500_000 + "*/", 400, "query_too_long"),
    ("SELECT " + "(" * 500 + "amount" + ")" * 500 + " FROM events", 400, "query_too_complex"),
    ("SELECT * FROM " + "(SELECT * FROM " * 80 + "events" + ") s" * 80, 400, "query_too_complex"),
    ("SELECT " + "+".join(["1"] * 20_000) + " FROM events", 400, "query_too_complex"),
    ("SELECT " + "NOT " * 5_000 + "true FROM events", 400, "query_too_complex"),
    ("SELECT country FROM events WHERE " + " OR ".join(f"user_id = {i}" for i in range(2_000)), 200, None),
])
async def test_query_size_and_shape_are_bounded(api, sql: str, status: int, kind: str | None) -> None:
    got, body, _ = await api("POST", "scans/estimate", {"sql": sql})
    assert got == status, body
    if kind is not None:
        assert (body["error"], body["details"]["kind"]) == ("validator_rejected", kind)
        assert body["message"]
        assert_matches_openapi("/scans/estimate", "POST", got, body)


async def test_a_body_above_the_limit_is_refused_unread(api) -> None:
    status, body, _ = await api("POST", "scans/estimate", {"sql": "SELECT 1 -- " + "x" * 3_000_000})
    assert (status, body["error"]) == (413, "payload_too_large")


# -- finding 4: one value cannot exhaust memory -----------------------------------------------------


@pytest.mark.parametrize(("sql", "error"), [
    ("SELECT repeat('x', 1000000000) AS v FROM events LIMIT 1", "validator_rejected"),
    ("SELECT repeat(country, 1000000000) AS v FROM events LIMIT 1", "validator_rejected"),
    ("SELECT " + " || ".join(["session_id"] * 100) + " AS v FROM events", "validator_rejected"),
    ("SELECT repeat('x', CAST(amount * 1000000 AS INTEGER)) AS v FROM events", "value_too_large"),
    ("SELECT lpad(country, CAST(user_id * 100000 AS INTEGER), '*') AS v FROM events", "value_too_large"),
])
async def test_a_value_too_large_to_build_is_refused_before_it_is_built(jp_fetch, sql: str, error: str) -> None:
    status, body = await scan(jp_fetch, {"sql": sql})
    assert (status, body["error"]) == (400, error), body
    if error == "validator_rejected":
        assert body["details"]["kind"] == "value_too_large"


async def test_counts_from_data_within_the_limits_still_run(jp_fetch) -> None:
    status, table = await scan(jp_fetch, {"sql": "SELECT repeat('*', CAST(amount / 100 AS INTEGER)) AS bar, amount "
                                                 "FROM events WHERE amount > 100 ORDER BY amount LIMIT 3"})
    assert status == 200
    for row in table.to_pylist():
        assert row["bar"] == "*" * round(row["amount"] / 100)


# -- finding 6 and 7: bad input is a 4xx, audited, nothing half-applied --------------------------------


@pytest.mark.parametrize(("method", "path", "raw", "field"), [
    ("POST", "scans/estimate", json.dumps({"table": "events", "where": ""}), "where"),
    ("POST", "scans/estimate", json.dumps({"table": "events", "where": "   "}), "where"),
    ("POST", "scans/estimate", "[" * 100_000 + "]" * 100_000, None),
    ("POST", "scans/estimate", '{"sql": ' + '{"a": ' * 50 + "1" + "}" * 50 + "}", "sql.a.a.a.a.a.a.a.a.a.a.a.a.a.a"),
    ("POST", "scans", json.dumps({"table": "events", "where": ""}), "where"),
    ("POST", "admin/users", json.dumps({"username": "mal\u202elory"}), "username"),
    ("POST", "admin/users", json.dumps({"username": "c1\u0085user"}), "username"),
    ("POST", "admin/users", json.dumps({"username": "zero\u200bwidth"}), "username"),
    ("POST", "admin/users", json.dumps({"username": "ok", "display_name": "two\nlines"}), "display_name"),
    ("POST", "admin/groups", json.dumps({"name": "g", "description": "rtl \u202e override"}), "description"),
    ("POST", "tokens", json.dumps({"name": "line\u2028separator"}), "name"),
])
async def test_bad_bodies_are_a_4xx_naming_the_problem(api, method: str, path: str, raw: str,
                                                       field: str | None) -> None:
    status, body, _ = await api(method, path, raw_body=raw.encode())
    assert 400 <= status < 500, body
    assert body["error"] in ("validation_error", "bad_request")
    assert body["message"]
    if field is not None and body["error"] == "validation_error":
        assert body["details"]["field"] == field
    _, users, _ = await api("GET", "admin/users")
    assert not [u for u in users["users"] if u["username"] not in ("alice", "bob", "owner")], "half-applied"


@pytest.mark.parametrize(("path", "params", "field"), [
    ("admin/audit", {"limit": "abc"}, "limit"),
    ("admin/audit", {"limit": "²"}, "limit"),
    ("admin/audit", {"limit": "99999999999999999999999"}, "limit"),
    ("tables/orders/sample", {"n": "١٢"}, "n"),
    ("tables/orders/sample", {"n": "-1"}, "n"),
])
async def test_bad_query_arguments_are_a_400_naming_them(api, path: str, params: dict, field: str) -> None:
    status, body, _ = await api("GET", path, params=params)
    assert (status, body["error"], body["details"]["field"]) == (400, "validation_error", field)


async def test_every_refused_scan_is_audited_whatever_its_text(api) -> None:
    before = await audit_count(api)
    surrogate = b'{"sql": "SELECT \\ud800 FROM events"}'
    nul = b'{"sql": "SELECT 1 \\u0000 FROM events"}'
    for raw in (surrogate, nul, b'{"sql": "SELEC 1"}', b"not json", b'{"sql": 42}'):
        for path in ("scans/estimate", "scans"):
            status, body, _ = await api("POST", path, raw_body=raw)
            assert 400 <= status < 500, body
    assert await audit_count(api) == before + 10
    _, audit, _ = await api("GET", "admin/audit", params={"action": "scan.run", "limit": "5"})
    assert {e["outcome"] for e in audit["entries"]} == {"rejected"}


async def audit_count(api) -> int:
    _, audit, _ = await api("GET", "admin/audit", params={"resource": "scan", "limit": "1000"})
    return len([e for e in audit["entries"] if e["action"] in ("scan.run", "scan.estimate")])


async def test_a_lone_surrogate_reaching_the_core_is_refused_and_audited(jp_serverapp) -> None:
    from agnes_core.access.principals import Principal
    from agnes_core.errors import Rejected

    core = agnes_app(jp_serverapp).core
    owner = Principal("owner", "Owner", frozenset({"Everyone"}), is_admin=True)
    with pytest.raises(Rejected) as err:
        core.scans.estimate(owner, {"sql": "SELECT '\ud800' FROM events"})
    assert err.value.kind == "parse_error"
    assert "surrogate" in err.value.message
    entry = core.audit.entries(action="scan.estimate", limit=1)[0]
    assert (entry["outcome"], entry["details"]["kind"]) == ("rejected", "parse_error")


# -- finding 12: the HTTP details -----------------------------------------------------------------


async def test_every_405_lists_the_allowed_methods(api) -> None:
    for pattern, handler in ROUTES:
        path = pattern.replace("agnes/v1/", "").replace("([^/]+)", "x").replace("\\.", ".").replace("(.*)", "x")
        allowed = handler.allowed_methods()
        missing = next((m for m in ("PATCH", "PUT", "DELETE", "POST", "GET") if m not in allowed), None)
        if missing is None:
            continue
        status, body, response = await api(missing, path, {} if missing in ("POST", "PUT", "PATCH") else None)
        assert status == 405, (path, missing, status)
        assert body["error"] == "method_not_allowed"
        assert response.headers["Allow"] == ", ".join(allowed), path


async def test_a_malformed_multipart_admin_request_is_audited(api, jp_fetch) -> None:
    response = await jp_fetch("agnes", "v1", "admin", "groups", method="POST", body=b"--x\r\nbroken",
                              headers={"Content-Type": "multipart/form-data; boundary=x"}, raise_error=False)
    assert 400 <= response.code < 500
    _, audit, _ = await api("GET", "admin/audit", params={"action": "group.create", "limit": "1"})
    assert audit["entries"][0]["outcome"] == "error"
    assert audit["entries"][0]["details"]["status"] == response.code


async def test_a_token_of_someone_else_is_answered_like_a_missing_one(api) -> None:
    _, created, _ = await api("POST", "tokens", {"name": "alice's"})
    status, others, _ = await api("DELETE", f"tokens/{created['id']}", token=BOB)
    status_missing, missing, _ = await api("DELETE", "tokens/000000000000", token=BOB)
    assert (status, status_missing) == (404, 404)
    assert others["message"].replace(created["id"], "X") == missing["message"].replace("000000000000", "X")
    assert others["details"].keys() == missing["details"].keys()
