"""The admin console's batch routes (tables:batch, grants:batch), the analysts' metadata event
stream, and audit paging, on a team server (alice is admin, bob is not)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient

from agnes_core.events import Change

from .conftest import ALICE, BOB, agnes_app, assert_matches_openapi, poll


@pytest.fixture
def jp_server_config(multiuser_config: dict) -> dict:
    multiuser_config["AgnesApp"]["sse_keepalive_seconds"] = 0.5
    return multiuser_config


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


async def _post_literal(jp_http_port: int, jp_base_url: str, path: str, body: Any, token: str) -> tuple[int, Any]:
    """POST to a path with its ':' as written (jp_fetch percent-encodes it), as browsers send it."""
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}agnes/v1/{path}"
    response = await AsyncHTTPClient().fetch(url, method="POST", body=json.dumps(body), raise_error=False,
                                             headers={"Authorization": f"token {token}"})
    return response.code, json.loads(response.body) if response.body else None


def _count_changes(jp_serverapp: Any, kind: str) -> list[Change]:
    seen: list[Change] = []
    agnes_app(jp_serverapp).core.hub.subscribe(lambda c: seen.append(c) if c.kind == kind else None)
    return seen


async def _registered(api, ids: list[str]) -> list[str]:
    _, listing, _ = await api("GET", "admin/tables", token=ALICE)
    return [t["id"] for t in listing["tables"] if t["id"] in ids]


# -- tables:batch -----------------------------------------------------------------------------


async def test_a_batch_registers_tables_of_two_sources_at_once(api, jp_serverapp, jp_http_port, jp_base_url,
                                                               demo_lake_path: Path) -> None:
    status, _, _ = await api("POST", "admin/sources", {"name": "lake2", "type": "lake",
                                                       "options": {"path": str(demo_lake_path)}}, token=ALICE)
    assert status == 201
    core = agnes_app(jp_serverapp).core
    writes: list[tuple[str, frozenset[str]]] = []
    update_now = core.extracts.db.update_now

    def counted(source: str, ids: Any) -> Any:
        writes.append((source, frozenset(ids)))
        return update_now(source, ids)

    core.extracts.db.update_now = counted  # type: ignore[method-assign]
    changes = _count_changes(jp_serverapp, "table")
    ids = [_unique("b") for _ in range(5)]
    body = {"tables": [
        {"id": ids[0], "source": "demo", "source_table": "orders", "primary_key": "order_id"},
        {"id": ids[1], "source": "demo", "source_table": "customers", "schedule": "every 6h"},
        {"id": ids[2], "source": "demo", "source_table": "events", "query_mode": "remote"},
        {"id": ids[3], "source": "lake2", "source_table": "orders", "folder": "Second lake"},
        {"id": ids[4], "source": "lake2", "source_table": "events", "query_mode": "remote"},
    ]}
    status, created = await _post_literal(jp_http_port, jp_base_url, "admin/tables:batch", body, ALICE)
    assert status == 201, created
    assert_matches_openapi("/admin/tables:batch", "POST", status, created)
    assert created["count"] == 5
    assert [t["id"] for t in created["tables"]] == ids
    assert [t["source"] for t in created["tables"]] == ["demo", "demo", "demo", "lake2", "lake2"]
    assert created["tables"][0]["primary_key"] == ["order_id"]
    assert await _registered(api, ids) == sorted(ids)
    # One change for the whole batch, and one extract.duckdb update per source.
    assert [(c.action, c.ids, c.sources) for c in changes] == [("create", frozenset(ids),
                                                               frozenset({"demo", "lake2"}))]
    await asyncio.get_running_loop().run_in_executor(None, core.extracts.flush)
    assert sorted(writes) == [("demo", frozenset(ids)), ("lake2", frozenset(ids))]
    # One audit entry naming every table.
    _, audit, _ = await api("GET", "admin/audit", params={"action": "table.register_batch", "limit": "1"},
                            token=ALICE)
    entry = audit["entries"][0]
    assert (entry["actor"], entry["outcome"], entry["details"]["count"]) == ("alice", "ok", 5)
    assert entry["details"]["ids"] == ids
    # The catalog shows them at once.
    _, catalog, _ = await api("GET", "catalog", params={"source": "lake2"}, token=ALICE)
    assert sorted(t["id"] for t in catalog["tables"]) == sorted(ids[3:])


async def test_a_duplicate_id_in_the_batch_names_the_row_and_registers_nothing(api) -> None:
    first, second = _unique("d"), _unique("d")
    status, body, _ = await api("POST", "admin/tables:batch", {"tables": [
        {"id": first, "source": "demo", "source_table": "orders"},
        {"id": second, "source": "demo", "source_table": "orders"},
        {"id": first, "source": "demo", "source_table": "customers"}]}, token=ALICE)
    assert (status, body["error"]) == (409, "already_exists")
    assert body["details"] | {"first_index": 0} == {"index": 2, "id": first, "field": "id", "first_index": 0}
    assert "row 2" in body["message"]
    assert await _registered(api, [first, second]) == []


async def test_an_id_already_registered_rejects_the_whole_batch(api) -> None:
    new = _unique("n")
    status, body, _ = await api("POST", "admin/tables:batch", {"tables": [
        {"id": new, "source": "demo", "source_table": "orders"},
        {"id": "orders", "source": "demo", "source_table": "orders"}]}, token=ALICE)
    assert (status, body["error"]) == (409, "already_exists")
    assert (body["details"]["index"], body["details"]["id"], body["details"]["field"]) == (1, "orders", "id")
    assert await _registered(api, [new]) == []


@pytest.mark.parametrize(("item", "status", "code", "field"), [
    ({"id": "bad id!", "source": "demo"}, 400, "validation_error", "id"),
    ({"id": "UNIQUE", "source": "no_such_source"}, 404, "not_found", "source"),
    ({"id": "UNIQUE", "source": "demo", "query_mode": "sideways"}, 400, "validation_error", "query_mode"),
    ({"id": "UNIQUE", "source": "demo", "schedule": "every 6 fortnights"}, 400, "validation_error", "schedule"),
    ({"id": "UNIQUE", "source": "demo", "colour": "blue"}, 400, "validation_error", "colour"),
])
async def test_an_invalid_item_rejects_the_whole_batch_naming_its_row(api, item: dict, status: int, code: str,
                                                                      field: str) -> None:
    good = _unique("g")
    item = {**item, "id": _unique("x")} if item["id"] == "UNIQUE" else item
    got, body, _ = await api("POST", "admin/tables:batch", {"tables": [
        {"id": good, "source": "demo", "source_table": "orders"}, item]}, token=ALICE)
    assert (got, body["error"]) == (status, code), body
    assert body["details"]["index"] == 1
    assert body["details"]["id"] == item["id"]
    assert body["details"]["field"] == field
    assert_matches_openapi("/admin/tables:batch", "POST", got, body)
    assert await _registered(api, [good]) == []


async def test_a_batch_over_the_limit_is_refused_with_the_limit(api) -> None:
    status, body, _ = await api("POST", "admin/tables:batch", {"tables": [{"id": f"t{i}"} for i in range(5001)]},
                                token=ALICE)  # counted before any item is checked
    assert (status, body["error"]) == (400, "validation_error")
    assert (body["details"]["field"], body["details"]["limit"]) == ("tables", 5000)
    status, body, _ = await api("POST", "admin/tables:batch", {"tables": []}, token=ALICE)
    assert (status, body["details"]["field"]) == (400, "tables")
    assert await _registered(api, ["t0", "t5000"]) == []


async def test_batch_routes_are_for_admins_only(api, jp_http_port, jp_base_url) -> None:
    table = _unique("t")
    body = {"tables": [{"id": table, "source": "demo"}]}
    grants = {"changes": [{"group": "Everyone", "resource_type": "table", "resource_id": "orders",
                           "requirement": "available"}]}
    for path, payload in (("admin/tables:batch", body), ("admin/grants:batch", grants)):
        status, refused, _ = await api("POST", path, payload, token=BOB)
        assert (status, refused["error"]) == (403, "forbidden"), path
        status, refused = await _post_literal(jp_http_port, jp_base_url, path, payload, BOB)
        assert (status, refused["error"]) == (403, "forbidden"), path
    assert await _registered(api, [table]) == []
    _, listing, _ = await api("GET", "admin/grants", params={"group": "Everyone"}, token=ALICE)
    assert listing["grants"] == []


async def test_the_admin_table_list_has_each_tables_last_run(api) -> None:
    status, run, _ = await api("POST", "admin/tables/customers/extract", params={"wait": "true"}, token=ALICE)
    assert (status, run["status"]) == (200, "succeeded")
    status, listing, _ = await api("GET", "admin/tables", token=ALICE)
    assert status == 200
    assert_matches_openapi("/admin/tables", "GET", status, listing)
    by_id = {t["id"]: t for t in listing["tables"]}
    last = by_id["customers"]["last_run"]
    assert (last["run_id"], last["status"], last["rows"]) == (run["run_id"], "succeeded", run["rows"])
    assert last["finished_at"] == run["finished_at"]
    assert by_id["events"]["last_run"] is None


# -- grants:batch -----------------------------------------------------------------------------


async def _group(api) -> str:
    name = _unique("grp")
    status, _, _ = await api("POST", "admin/groups", {"name": name}, token=ALICE)
    assert status == 201
    return name


async def _grants_of(api, group: str) -> dict[tuple[str, str], str]:
    _, listing, _ = await api("GET", "admin/grants", params={"group": group}, token=ALICE)
    return {(g["resource_type"], g["resource_id"]): g["requirement"] for g in listing["grants"]}


async def _package_and_recipe(api) -> tuple[str, str]:
    package, recipe = _unique("pkg").replace("_", "-"), _unique("rcp").replace("_", "-")
    status, _, _ = await api("POST", "admin/packages", {"slug": package, "title": "Batch package",
                                                        "lifecycle": "prod", "tables": ["orders"]}, token=ALICE)
    assert status == 201
    status, body, _ = await api("POST", "admin/recipes", {"slug": recipe, "title": "Batch recipe",
                                                          "sql": "SELECT count(*) AS n FROM orders"}, token=ALICE)
    assert status == 201, body
    return package, recipe


async def test_a_grant_batch_previews_then_applies_tables_packages_and_recipes(api, jp_serverapp) -> None:
    group = await _group(api)
    package, recipe = await _package_and_recipe(api)
    changes = [{"group": group, "resource_type": "table", "resource_id": "customers", "requirement": "required"},
               {"group": group, "resource_type": "package", "resource_id": package, "requirement": "available"},
               {"group": group, "resource_type": "recipe", "resource_id": recipe, "requirement": "available"}]
    status, preview, _ = await api("POST", "admin/grants:batch", {"changes": changes, "dry_run": True}, token=ALICE)
    assert status == 200
    assert_matches_openapi("/admin/grants:batch", "POST", status, preview)
    assert (preview["dry_run"], preview["applied"]) == (True, False)
    assert [(c["resource_type"], c["before"], c["after"], c["action"]) for c in preview["changes"]] == [
        ("table", None, "required", "create"), ("package", None, "available", "create"),
        ("recipe", None, "available", "create")]
    assert await _grants_of(api, group) == {}

    published = _count_changes(jp_serverapp, "grant")
    status, applied, _ = await api("POST", "admin/grants:batch", {"changes": changes}, token=ALICE)
    assert status == 200
    assert (applied["dry_run"], applied["applied"]) == (False, True)
    assert [c["action"] for c in applied["changes"]] == ["create", "create", "create"]
    assert await _grants_of(api, group) == {("table", "customers"): "required", ("package", package): "available",
                                            ("recipe", recipe): "available"}
    assert len(published) == 1  # one change: caches invalidate once
    assert published[0].ids == frozenset({"customers", "orders"})  # the package's table too
    _, audit, _ = await api("GET", "admin/audit", params={"action": "grant.apply_batch", "limit": "1"}, token=ALICE)
    assert audit["entries"][0]["details"]["count"] == 3

    status, again, _ = await api("POST", "admin/grants:batch", {"changes": changes}, token=ALICE)
    assert (status, again["applied"], [c["action"] for c in again["changes"]]) == (200, False, ["none"] * 3)


async def test_a_null_requirement_revokes_and_another_one_updates(api) -> None:
    group = await _group(api)
    package, _ = await _package_and_recipe(api)
    for rtype, rid in (("table", "orders"), ("package", package)):
        status, _, _ = await api("POST", "admin/grants", {"group": group, "resource_type": rtype, "resource_id": rid,
                                                          "requirement": "available"}, token=ALICE)
        assert status == 201
    status, result, _ = await api("POST", "admin/grants:batch", {"changes": [
        {"group": group, "resource_type": "table", "resource_id": "orders", "requirement": "required"},
        {"group": group, "resource_type": "package", "resource_id": package, "requirement": None},
        {"group": group, "resource_type": "table", "resource_id": "customers", "requirement": None}]}, token=ALICE)
    assert status == 200
    assert [(c["before"], c["after"], c["action"]) for c in result["changes"]] == [
        ("available", "required", "update"), ("available", None, "delete"), (None, None, "none")]
    assert await _grants_of(api, group) == {("table", "orders"): "required"}


async def test_a_grant_to_a_deleted_group_is_listed_and_nothing_is_applied(api) -> None:
    group, gone = await _group(api), await _group(api)
    status, _, _ = await api("DELETE", f"admin/groups/{gone}", token=ALICE)
    assert status == 204
    status, body, _ = await api("POST", "admin/grants:batch", {"changes": [
        {"group": group, "resource_type": "table", "resource_id": "orders", "requirement": "available"},
        {"group": gone, "resource_type": "table", "resource_id": "orders", "requirement": "available"},
        {"group": group, "resource_type": "table", "resource_id": "no_such_table", "requirement": "required"}]},
        token=ALICE)
    assert (status, body["error"]) == (404, "not_found")
    assert_matches_openapi("/admin/grants:batch", "POST", status, body)
    assert [(e["index"], e["field"]) for e in body["details"]["errors"]] == [(1, "group"), (2, "resource_id")]
    assert gone in body["details"]["errors"][0]["message"]
    assert await _grants_of(api, group) == {}


async def test_every_bad_grant_change_is_listed_at_once(api) -> None:
    group = await _group(api)
    item = {"group": group, "resource_type": "table", "resource_id": "orders", "requirement": "available"}
    status, body, _ = await api("POST", "admin/grants:batch", {"changes": [
        item, {**item, "requirement": "sometimes"}, {**item, "resource_type": "view"}, dict(item),
        {**item, "group": _unique("nobody")}]}, token=ALICE)
    assert (status, body["error"]) == (400, "validation_error")
    assert [(e["index"], e["field"]) for e in body["details"]["errors"]] == [
        (1, "requirement"), (2, "resource_type"), (3, "resource_id"), (4, "group")]
    assert "item 0" in body["details"]["errors"][2]["message"]  # the duplicate names the first
    assert await _grants_of(api, group) == {}


# -- connectors ------------------------------------------------------------------------------


async def test_connectors_describe_the_form_of_their_sources_to_admins_only(api) -> None:
    status, body, _ = await api("GET", "admin/connectors", token=ALICE)
    assert status == 200
    assert_matches_openapi("/admin/connectors", "GET", status, body)
    connectors = {c["type"]: c for c in body["connectors"]}
    assert set(connectors) >= {"lake", "postgres"}
    lake = {f["name"]: f for f in connectors["lake"]["options"]}
    assert lake["path"]["required"] is True
    assert lake["threads"]["kind"] == "integer"
    assert connectors["lake"]["secrets"] == []
    pg = connectors["postgres"]
    assert [(f["name"], f["required"]) for f in pg["secrets"]] == [("dsn", True)]
    numeric = next(f for f in pg["options"] if f["name"] == "unconstrained_numeric")
    assert numeric["kind"] == "choice"
    assert numeric["choices"]
    # Every choice the form offers is one the connector accepts (the form and the validator agree).
    for choice in numeric["choices"]:
        status, _, _ = await api("POST", "admin/sources", {
            "name": f"pg_{choice}", "type": "postgres", "options": {"unconstrained_numeric": choice},
            "secrets": {"dsn": "PG_DSN"}}, token=ALICE)
        assert status == 201, choice
        await api("DELETE", f"admin/sources/pg_{choice}", token=ALICE)
    await api("GET", "me", token=BOB)  # bob signs in: an analyst
    status, denied, _ = await api("GET", "admin/connectors", token=BOB)
    assert (status, denied["error"]) == (403, "forbidden")


# -- metadata/stream ---------------------------------------------------------------------------


def _parse_sse(text: str) -> list[tuple[str, Any]]:
    out = []
    for block in text.split("\n\n"):
        lines = [ln for ln in block.splitlines() if ln and not ln.startswith(":")]
        event = next((ln[7:] for ln in lines if ln.startswith("event: ")), None)
        data = next((ln[6:] for ln in lines if ln.startswith("data: ")), None)
        if event and data is not None:
            out.append((event, json.loads(data)))
    return out


class _Stream:
    """``GET metadata/stream`` as one user, read as it arrives; ``close()`` drops the connection."""

    def __init__(self, jp_fetch: Any, token: str) -> None:
        self.chunks: list[bytes] = []
        self.closing = False
        self.done = jp_fetch("agnes", "v1", "metadata", "stream", streaming_callback=self._chunk,
                             headers={"Authorization": f"token {token}"}, request_timeout=300, raise_error=False)

    def _chunk(self, chunk: bytes) -> None:
        if self.closing:
            raise ConnectionAbortedError("the test leaves the stream")  # the client closes the connection
        self.chunks.append(chunk)

    @property
    def text(self) -> str:
        return b"".join(self.chunks).decode()

    def events(self) -> list[tuple[str, Any]]:
        return _parse_sse(self.text)

    def count(self, name: str) -> int:
        return sum(1 for e, _ in self.events() if e == name)

    async def close(self) -> None:
        self.closing = True
        try:
            await self.done
        except Exception:  # noqa: BLE001 - the aborted fetch reports the abort
            pass


async def test_an_analyst_streams_only_readable_tables_across_runs(api, jp_fetch, jp_serverapp) -> None:
    agnes = agnes_app(jp_serverapp)
    refresher = agnes.core.refresher
    hidden = _unique("hidden")
    status, _, _ = await api("POST", "admin/tables", {"id": hidden, "source": "demo", "source_table": "events",
                                                      "query_mode": "remote"}, token=ALICE)
    assert status == 201
    group = await _group(api)
    await api("GET", "me", token=BOB)
    await api("POST", f"admin/groups/{group}/members", {"username": "bob"}, token=ALICE)
    status, grant, _ = await api("POST", "admin/grants", {"group": group, "resource_id": "events"}, token=ALICE)
    assert status == 201
    await poll(lambda: refresher.current is None, "the re-warm after registering settles")

    stream = _Stream(jp_fetch, BOB)
    await poll(lambda: stream.count("snapshot"), "the snapshot")
    await poll(lambda: ": keep-alive" in stream.text, "a keep-alive comment while idle")
    status, _, _ = await api("POST", "admin/warmup", token=ALICE)
    assert status in (200, 202)
    await poll(lambda: stream.count("complete") >= 1, "the warm-up's complete event")

    events = stream.events()
    name, snapshot = events[0]
    assert name == "snapshot"
    assert [t["table_id"] for t in snapshot["tables"]] == ["events"]
    assert snapshot["run"] is None
    assert isinstance(snapshot["ts"], float)
    start = next(d for e, d in events if e == "start")
    assert [r["table_id"] for r in start["rows"]] == ["events"]
    assert start["total"] == 1
    rows = [d for e, d in events if e == "row"]
    assert {r["table_id"] for r in rows} == {"events"}  # never orders, customers or the hidden table
    assert hidden not in stream.text
    final = [r for r in rows if r["state"] == "fresh"]
    assert len(final) == 1
    assert (final[0]["metadata"]["rows"], final[0]["metadata"]["freshness"]) == (30_000, "fresh")
    complete = next(d for e, d in events if e == "complete")
    assert (complete["total"], complete["succeeded"]) == (1, 1)
    assert all(isinstance(d["ts"], float) for _, d in events)

    # The stream stays open after complete; a revoked grant is honoured in the next run.
    status, _, _ = await api("DELETE", f"admin/grants/{grant['id']}", token=ALICE)
    assert status == 204
    status, _, _ = await api("POST", "admin/metadata/refresh", token=ALICE)
    assert status == 200
    await poll(lambda: stream.count("complete") >= 2, "the refresh's complete event")
    events = stream.events()
    second = [d for e, d in events if e == "start"][1]
    assert (second["rows"], second["total"]) == ([], 0)
    assert len([d for e, d in events if e == "row"]) == len(rows)  # no row of the refresh

    # Granted again, then bob leaves the group: his stream follows both.
    status, _, _ = await api("POST", "admin/grants", {"group": group, "resource_id": "events"}, token=ALICE)
    assert status == 201
    status, _, _ = await api("POST", "admin/metadata/refresh", token=ALICE)
    await poll(lambda: stream.count("complete") >= 3, "the third run's complete event")
    assert [r["table_id"] for r in [d for e, d in stream.events() if e == "start"][2]["rows"]] == ["events"]
    status, _, _ = await api("DELETE", f"admin/groups/{group}/members/bob", token=ALICE)
    assert status == 204
    status, _, _ = await api("POST", "admin/metadata/refresh", token=ALICE)
    await poll(lambda: stream.count("complete") >= 4, "the fourth run's complete event")
    assert [d for e, d in stream.events() if e == "start"][3]["rows"] == []
    await stream.close()


async def test_an_admin_stream_has_the_running_run_in_its_snapshot(api, jp_fetch, jp_serverapp) -> None:
    refresher = agnes_app(jp_serverapp).core.refresher
    await poll(lambda: refresher.current is None, "no run in flight")
    run = refresher.claim("warmup", "alice")
    stream = _Stream(jp_fetch, ALICE)
    await poll(lambda: stream.count("snapshot"), "the snapshot")
    snapshot = stream.events()[0][1]
    assert snapshot["run"]["run_id"] == run.run_id
    assert snapshot["run"]["status"] == "running"
    await refresher.run(run)
    await poll(lambda: stream.count("complete"), "complete")
    rows = [d for e, d in stream.events() if e == "row" and d["state"] in ("fresh", "error", "no_data")]
    assert {r["table_id"] for r in rows} >= {"orders", "customers", "events"}
    assert next(r for r in rows if r["table_id"] == "orders")["metadata"] is None  # local: no remote metadata
    await stream.close()


async def test_leaving_the_stream_unsubscribes(jp_fetch, jp_serverapp) -> None:
    refresher = agnes_app(jp_serverapp).core.refresher
    before = refresher.subscriber_count
    streams = [_Stream(jp_fetch, BOB), _Stream(jp_fetch, ALICE)]
    await poll(lambda: all(s.count("snapshot") for s in streams), "both snapshots")
    assert refresher.subscriber_count == before + 2
    for stream in streams:
        await stream.close()
    await poll(lambda: refresher.subscriber_count == before, "both subscriptions removed")


async def test_a_user_deactivated_while_streaming_loses_the_stream_and_cannot_reopen_it(api, jp_fetch) -> None:
    await api("GET", "me", token=BOB)
    stream = _Stream(jp_fetch, BOB)
    await poll(lambda: stream.count("snapshot"), "the snapshot")
    status, _, _ = await api("PATCH", "admin/users/bob", {"is_active": False}, token=ALICE)
    assert status == 200
    try:
        await poll(lambda: stream.done.done(), "the server ends the deactivated user's stream")
        again = await jp_fetch("agnes", "v1", "metadata", "stream", headers={"Authorization": f"token {BOB}"},
                               raise_error=False, request_timeout=30)
        assert again.code == 403
        assert json.loads(again.body)["error"] == "forbidden"
    finally:
        status, _, _ = await api("PATCH", "admin/users/bob", {"is_active": True}, token=ALICE)
        assert status == 200


# -- audit paging ------------------------------------------------------------------------------


async def test_the_audit_log_pages_and_filters_actions_by_prefix(api) -> None:
    names = [_unique("audit") for _ in range(5)]
    for name in names:
        status, _, _ = await api("POST", "admin/groups", {"name": name}, token=ALICE)
        assert status == 201
    status, _, _ = await api("DELETE", f"admin/groups/{names[0]}", token=ALICE)
    assert status == 204
    pages, offset = [], 0
    while offset is not None:
        status, page, _ = await api("GET", "admin/audit", params={"action": "group.create", "limit": "2",
                                                                  "offset": str(offset)}, token=ALICE)
        assert status == 200
        assert_matches_openapi("/admin/audit", "GET", status, page)
        assert len(page["entries"]) <= 2
        pages.append(page["entries"])
        offset = page["next_offset"]
    everything = [e for p in pages for e in p]
    _, whole, _ = await api("GET", "admin/audit", params={"action": "group.create", "limit": "1000"}, token=ALICE)
    assert [e["id"] for e in everything] == [e["id"] for e in whole["entries"]]
    assert whole["next_offset"] is None
    assert len(pages) == (len(everything) + 1) // 2
    assert {f"group/{n}" for n in names} <= {e["resource"] for e in everything}
    for prefix in ("group.", "group.*"):
        _, found, _ = await api("GET", "admin/audit", params={"action": prefix, "limit": "1000"}, token=ALICE)
        actions = {e["action"] for e in found["entries"]}
        assert {"group.create", "group.delete"} <= actions, prefix
        assert all(a.startswith("group.") for a in actions), prefix
    status, body, _ = await api("GET", "admin/audit", params={"offset": "-1"}, token=ALICE)
    assert (status, body["details"]["field"]) == (400, "offset")
