"""agnes_jupyter.admin against a live server (the owner is admin in personal mode)."""

from __future__ import annotations

import pytest

import agnes_jupyter as agnes
from agnes_jupyter import admin
from tests._live import LiveServer


@pytest.fixture
def lake_source(connected: LiveServer):
    path = str(connected.data_dir / "demo-lake")
    admin.add_source("kt_lake", "lake", options={"path": path})
    yield "kt_lake"
    for table in ("kt_orders", "kt_events"):
        try:
            admin.remove_table(table)
        except agnes.NotFound:
            pass
    admin.remove_source("kt_lake")


def test_discover_register_extract_and_runs(lake_source: str) -> None:
    found = admin.discover(lake_source)
    assert {"orders", "customers", "events"} <= {r["source_table"] for r in found}
    assert "<table" in found._repr_html_()
    admin.register_table("kt_orders", lake_source, "orders", primary_key="order_id")
    run = admin.extract("kt_orders", progress=False)
    assert run["status"] == "succeeded"
    assert run["rows"] == 250_000
    assert repr(run).startswith("extract of kt_orders succeeded: 250,000 rows")
    history = admin.runs("kt_orders")
    assert history[0]["run_id"] == run["run_id"]
    assert any(t["id"] == "kt_orders" and t["last_run"] == "succeeded" for t in admin.tables())


def test_grants_and_a_users_view_through_a_personal_access_token(lake_source: str, connected: LiveServer) -> None:
    admin.register_table("kt_events", lake_source, "events", query_mode="remote")
    if "kt_ann" not in {u["username"] for u in admin.users()}:
        admin.add_user("kt_ann")
        admin.add_group("kt_team")
        admin.add_member("kt_team", "kt_ann")
    token = admin.issue_token("kt_ann", "kernel test")["token"]
    ann = agnes.connect(connected.url, token, default=False)

    def ann_sees() -> set[str]:
        return {t["id"] for t in ann.get("catalog")["tables"]}

    assert "kt_events" not in ann_sees()
    granted = admin.grant("kt_team", "kt_events", requirement="required")
    assert "kt_events" in ann_sees()
    admin.revoke(granted["id"])
    assert "kt_events" not in ann_sees()
    with pytest.raises(agnes.Forbidden):
        ann.get("admin/sources")


def test_admin_errors_are_the_matching_exceptions(connected: LiveServer) -> None:
    with pytest.raises(agnes.ValidationError) as err:
        admin.register_table("bad id", "demo", "orders")
    assert err.value.details["field"] == "id"
    admin.add_source("kt_nowhere", "lake", options={"path": "/no/such/folder"})
    try:
        with pytest.raises(agnes.SourceError) as source_err:
            admin.test_source("kt_nowhere")
        assert "does not exist" in source_err.value.message
    finally:
        admin.remove_source("kt_nowhere")


def test_describe_table_sets_descriptions_that_views_escape(lake_source: str, connected: LiveServer) -> None:
    admin.register_table("kt_events", lake_source, "events", query_mode="remote")
    got = admin.describe_table("kt_events", "<script>alert(1)</script> events",
                               columns={"country": "<b>where</b> & when"})
    assert got == {"id": "kt_events", "description": "<script>alert(1)</script> events",
                   "column_descriptions": {"country": "<b>where</b> & when"}}
    schema = agnes.schema("kt_events")
    assert schema.column("country")["description"] == "<b>where</b> & when"
    assert schema.column("country")["description_origin"] == "admin"
    assert schema.column("amount")["description_origin"] == "source"
    html = schema._repr_html_()
    assert "&lt;b&gt;where&lt;/b&gt; &amp; when" in html
    assert "<b>where</b>" not in html
    described = agnes.describe("kt_events", n=1)._repr_html_()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; events" in described
    assert "<script>" not in described
    # None removes a column's text: the source's shows again; "" gives the table back its source's text
    got = admin.describe_table("kt_events", "", columns={"country": None})
    assert got["column_descriptions"] == {}
    assert agnes.schema("kt_events").column("country")["description_origin"] == "source"
    with pytest.raises(agnes.ValidationError) as err:
        admin.describe_table("kt_events", columns={"country": "x" * 1001})
    assert err.value.details["field"] == "column_descriptions.country"


def test_register_tables_registers_a_discovered_pick_in_one_batch(lake_source: str) -> None:
    found = admin.discover(lake_source).to_pandas()
    pick = found[found["source_table"].isin(["orders", "customers"])].copy()
    pick["id"] = "kt_b_" + pick["source_table"]
    ids = sorted(pick["id"])
    try:
        registered = admin.register_tables(pick, lake_source, folder="kt batch", schedule="every 6h")
        assert sorted(r["id"] for r in registered) == ids
        assert "<table" in registered._repr_html_()
        listed = {t["id"]: t for t in admin.tables() if t["id"] in ids}
        assert sorted(listed) == ids
        assert {(t["source"], t["query_mode"], t["folder"], t["schedule"]) for t in listed.values()} == {
            (lake_source, "local", "kt batch", "every 6h")}
        # Discovered rows already registered are left out by default: nothing is sent twice.
        again = admin.discover(lake_source)
        assert admin.register_tables([r for r in again if r["source_table"] in ("orders", "customers")],
                                     lake_source).rows == []
        with pytest.raises(agnes.AlreadyExists) as err:
            admin.register_tables([{"id": "kt_b_events", "source_table": "events"},
                                   {"id": "kt_b_events", "source_table": "events"}], lake_source)
        assert (err.value.details["index"], err.value.details["id"]) == (1, "kt_b_events")
        assert "kt_b_events" not in {t["id"] for t in admin.tables()}
    finally:
        for table_id in ids:
            try:
                admin.remove_table(table_id)
            except agnes.NotFound:
                pass


def test_apply_grants_previews_applies_and_revokes(lake_source: str, connected: LiveServer) -> None:
    from agnes_jupyter._client import current

    admin.register_table("kt_events", lake_source, "events", query_mode="remote")
    group = "kt_batch_grants"
    if group not in {g["name"] for g in admin.groups()}:
        admin.add_group(group)
    try:
        changes = [{"group": group, "resource_id": "kt_events", "requirement": "required"}]
        preview = admin.apply_grants(changes, dry_run=True)
        assert [(c["before"], c["after"], c["action"]) for c in preview] == [(None, "required", "create")]
        assert "preview" in preview.title
        assert admin.grants(group=group).rows == []
        applied = admin.apply_grants(changes)
        assert [c["action"] for c in applied] == ["create"]
        assert [(g["resource_id"], g["requirement"]) for g in admin.grants(group=group)] == [("kt_events", "required")]
        revoked = admin.apply_grants([{"group": group, "resource_id": "kt_events", "requirement": None}])
        assert [(c["before"], c["action"]) for c in revoked] == [("required", "delete")]
        assert admin.grants(group=group).rows == []
        with pytest.raises(agnes.NotFound) as err:
            admin.apply_grants([{"group": "kt_no_such_group", "resource_id": "kt_events"},
                                {"group": group, "resource_id": "kt_no_such_table"}])
        assert [(e["index"], e["field"]) for e in err.value.details["errors"]] == [(0, "group"), (1, "resource_id")]
    finally:
        current().delete(f"admin/groups/{group}")


def test_the_audit_log_filters_by_action_prefix_and_time_and_pages(lake_source: str) -> None:
    from datetime import datetime, timedelta, timezone

    start = datetime.now(timezone.utc)  # the same clock as the server's
    for name in ("kt_a1", "kt_a2", "kt_a3"):
        admin.add_group(name, "audit paging")
        admin.remove_group(name)
    first = admin.audit(action="group.", since=start, limit=4)
    assert [e["action"].split(".")[0] for e in first] == ["group"] * 4
    assert first.next_offset == 4
    rest = admin.audit(action="group.", since=start, limit=4, offset=first.next_offset)
    assert len(rest) == 2
    assert rest.next_offset is None
    assert {e["resource"] for e in [*first, *rest]} == {"group/kt_a1", "group/kt_a2", "group/kt_a3"}
    before = admin.audit(action="group.", until=start, since=start - timedelta(minutes=5), limit=1000)
    assert not {e["resource"] for e in before} & {"group/kt_a1", "group/kt_a2", "group/kt_a3"}
