"""Scans on PostgreSQL under attack, against the real PostgreSQL the tests start.

The shape of the attack run (tests/_pgshop.py): analyst ``mallory`` (a personal access token, the
``analysts`` group) is granted the shop's tables; the ``hr`` group is granted ``customers_pii``;
``salaries`` and ``hr.reviews`` sit in the same database, never registered. Every answer mallory gets
is checked for the rows and names of what she may not read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest

from agnes_core.core import AgnesCore
from tests._pgshop import ANALYST_TABLES, REGISTERED, SECRET_MARKERS

from .conftest import _base_config, agnes_app, poll

SHOP_DSN_ENV = "AGNES_TEST_SHOP_DSN"
TOKENS: dict[str, str] = {}


@pytest.fixture
def shop_data_dir(tmp_path: Path, shop_dsn: str) -> Path:
    """A data dir with the shop source, two groups, their grants and personal access tokens."""
    data_dir = tmp_path / "agnes-shop-data"
    core = AgnesCore(data_dir)
    try:
        core.registry.add_source({"name": "shop", "type": "postgres", "secrets": {"dsn": SHOP_DSN_ENV}})
        for table_id, (schema, name) in REGISTERED.items():
            core.registry.register_table({"id": table_id, "source": "shop", "bucket": schema, "source_table": name,
                                          "query_mode": "remote"})
        # Registered and granted, but its relation is gone from the database.
        core.registry.register_table({"id": "vanished", "source": "shop", "bucket": "public",
                                      "source_table": "no_such_relation", "query_mode": "remote"})
        for user, group in (("mallory", "analysts"), ("hannah", "hr")):
            core.access.create_user({"username": user}, "owner")
            core.access.create_group({"name": group})
            core.access.add_member(group, {"username": user})
        for table_id in (*ANALYST_TABLES, "vanished"):
            core.access.create_grant({"group": "analysts", "resource_type": "table", "resource_id": table_id,
                                      "requirement": "available"}, "owner", resource_exists=core.resource_exists)
        core.access.create_grant({"group": "hr", "resource_type": "table", "resource_id": "customers_pii",
                                  "requirement": "available"}, "owner", resource_exists=core.resource_exists)
        for user in ("mallory", "hannah"):
            TOKENS[user] = core.tokens.create(user, {"name": "tests"}, "owner")["token"]
    finally:
        core.close()
    return data_dir


@pytest.fixture
def jp_server_config(shop_data_dir: Path) -> dict[str, Any]:
    return _base_config(shop_data_dir)



def assert_nothing_secret(*texts: Any) -> None:
    for text in texts:
        shown = text if isinstance(text, str) else json.dumps(text)
        for marker in SECRET_MARKERS:
            assert marker not in shown, f"{marker!r} leaked: {shown[:300]}"


async def scan(jp_fetch: Any, body: dict[str, Any], token: str, **kwargs: Any) -> tuple[int, Any, Any]:
    """POST scans; (status, Arrow table or error envelope, response)."""
    response = await jp_fetch("agnes", "v1", "scans", method="POST", body=json.dumps(body),
                              headers={"Authorization": f"token {token}"}, raise_error=False, **kwargs)
    if response.code == 200:
        return 200, pa.ipc.open_stream(response.body).read_all(), response
    return response.code, json.loads(response.body), response


def relation_bytes(dsn: str, relation: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT pg_relation_size(%s::regclass)", [relation]).fetchone()
        assert row is not None
        return int(row[0])


def agnes_scan_sessions(dsn: str) -> list[str]:
    """Queries PostgreSQL still runs for Agnes scans."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT query FROM pg_stat_activity WHERE application_name LIKE 'agnes-scan-%' "
                            "AND state <> 'idle'").fetchall()
        return [r[0] for r in rows]



# -- finding 1: names resolved as PostgreSQL resolves them --------------------------------------

#: Each reads (or would, before the fix) a table mallory was not granted, or one nobody registered.
ATTACKS = [
    'WITH "CUSTOMERS_PII" AS (SELECT * FROM orders) SELECT * FROM CUSTOMERS_PII',
    'WITH "CUSTOMERS_PII" AS (SELECT * FROM orders) SELECT o.order_id, c.* FROM orders o JOIN CUSTOMERS_PII c ON true',
    'WITH "SALARIES" AS (SELECT order_id FROM orders) SELECT * FROM Salaries',
    'WITH "Salaries" AS (SELECT order_id FROM orders) SELECT * FROM orders WHERE EXISTS (SELECT 1 FROM SALARIES)',
    'SELECT order_id FROM orders WHERE customer_id IN '
    '(WITH "CUSTOMERS_PII" AS (SELECT 1 AS customer_id) SELECT customer_id FROM customers_pii)',
    'WITH RECURSIVE "CUSTOMERS_PII" AS (SELECT 1 AS n FROM orders) SELECT * FROM customers_pii',
    'WITH x AS (SELECT * FROM orders) SELECT * FROM x, (WITH "X" AS (SELECT 1 AS y) SELECT * FROM salaries) s',
    "SELECT * FROM orders, LATERAL (SELECT * FROM customers_pii) p",
    "SELECT * FROM orders JOIN salaries ON true",
    "SELECT * FROM customers_pii",
    "SELECT * FROM Customers_PII",
    'SELECT * FROM "customers_pii"',
    "SELECT * FROM hr.reviews",
    "SELECT * FROM public.customers_pii",
    'WITH reviews AS (SELECT 1 AS x FROM orders) SELECT * FROM "REVIEWS"',
    "SELECT 'salaries'::regclass FROM orders",
    "SELECT order_id FROM orders WHERE 'hr.reviews'::regclass IS NOT NULL",
    "SELECT CAST('customers_pii' AS regclass) FROM orders",
    "SELECT order_id::regclass FROM orders",
    "SELECT to_regclass('salaries') FROM orders",
    "SELECT query_to_xml('select * from salaries', true, true, '') FROM orders",
]


@pytest.mark.parametrize("sql", ATTACKS)
async def test_names_that_reach_ungranted_or_unregistered_tables_are_refused(jp_fetch, api, sql: str) -> None:
    status, body, _ = await api("POST", "scans/estimate", {"sql": sql}, token=TOKENS["mallory"])
    assert (status, body["error"]) == (400, "validator_rejected"), body
    assert body["details"]["kind"] in ("unregistered_table", "disallowed_node", "unknown_function")
    status, refused, _ = await scan(jp_fetch, {"sql": sql}, TOKENS["mallory"])
    assert (status, refused["details"]["kind"]) == (400, body["details"]["kind"])
    assert_nothing_secret(body, refused)


async def test_a_granted_table_of_another_group_is_answered_like_a_missing_one(api) -> None:
    _, ungranted, _ = await api("POST", "scans/estimate", {"sql": "SELECT * FROM customers_pii"},
                                token=TOKENS["mallory"])
    _, missing, _ = await api("POST", "scans/estimate", {"sql": "SELECT * FROM no_such_table"},
                              token=TOKENS["mallory"])
    assert (ungranted["error"], ungranted["details"]["kind"]) == (missing["error"], missing["details"]["kind"])
    assert ungranted["message"].replace("customers_pii", "X") == missing["message"].replace("no_such_table", "X")
    assert ungranted["hint"] == missing["hint"]
    # hannah, in hr, reads it: the refusal above is about the grant, not the table.
    status, estimate, _ = await api("POST", "scans/estimate", {"sql": "SELECT * FROM customers_pii"},
                                    token=TOKENS["hannah"])
    assert status == 200
    assert estimate["tables"][0]["id"] == "customers_pii"


async def test_a_cte_spelled_in_another_case_reads_its_own_rows_and_records_what_was_read(
        jp_fetch, api, jp_serverapp) -> None:
    sql = "WITH Recent AS (SELECT * FROM orders WHERE order_id > 5990) SELECT count(*) AS n FROM RECENT"
    status, table, response = await scan(jp_fetch, {"sql": sql}, TOKENS["mallory"])
    assert status == 200
    assert table.column("n").to_pylist() == [10]
    scan_id = response.headers["X-Agnes-Scan-Id"]
    status, record, _ = await api("GET", f"scans/{scan_id}", token=TOKENS["mallory"])
    assert (status, record["tables"], record["status"]) == (200, ["orders"], "succeeded")
    _, audit, _ = await api("GET", "admin/audit", params={"action": "scan.run", "user": "mallory"})
    entry = audit["entries"][0]
    assert entry["details"]["tables"] == ["orders"]
    assert entry["details"]["relations"] == ["public.orders"]  # what PostgreSQL actually read, for admins


async def test_scan_sessions_resolve_no_unqualified_name_and_cannot_write(shop_dsn: str) -> None:
    """Defence in depth below the validator: even SQL that reached the source unchecked could not
    find a table by an unqualified name, nor change anything."""
    import os

    from agnes_core.connectors import ScanGuard
    from agnes_core.connectors.postgres import PostgresConnector
    from agnes_core.errors import SourceError

    assert os.environ[SHOP_DSN_ENV] == shop_dsn
    guard = ScanGuard("test-pinned", timeout_s=30)
    conn = PostgresConnector("shop", {}, {"dsn": SHOP_DSN_ENV})
    try:
        settings = pa.Table.from_batches(list(conn.scan(
            "SELECT current_setting('search_path') AS path, current_setting('transaction_read_only') AS ro, "
            "current_setting('application_name') AS app", guard=guard)))
        assert settings.to_pylist() == [{"path": "pg_catalog", "ro": "on", "app": "agnes-scan-test-pinned"}]
    finally:
        conn.close()
    conn = PostgresConnector("shop", {}, {"dsn": SHOP_DSN_ENV})
    try:
        with pytest.raises(SourceError) as err:
            list(conn.scan("SELECT * FROM customers_pii", guard=guard))
        assert 'relation "customers_pii" does not exist' in err.value.message
        assert "SSN-SECRET" not in err.value.message
    finally:
        conn.close()


# -- finding 5: estimates count what is read ------------------------------------------------------


async def test_postgres_estimates_count_the_pages_a_scan_reads(api, shop_dsn: str) -> None:
    orders_bytes = relation_bytes(shop_dsn, "public.orders")
    status, count_all, _ = await api("POST", "scans/estimate", {"sql": "SELECT count(*) FROM orders"},
                                     token=TOKENS["mallory"])
    assert status == 200
    assert count_all["scan_bytes"] >= orders_bytes > 0  # every page, though no column is returned
    status, one_row, _ = await api("POST", "scans/estimate",
                                   {"sql": "SELECT status FROM orders WHERE order_id = 42"}, token=TOKENS["mallory"])
    assert status == 200
    assert 0 < one_row["scan_bytes"] < orders_bytes  # an index scan reads a page or two


# -- finding 2: every scan stops ----------------------------------------------------------------

CROSS_JOIN = "SELECT count(*) AS n FROM orders a, orders b, orders c"


async def test_a_scan_past_its_time_limit_is_stopped_in_postgresql(jp_fetch, api, shop_dsn: str) -> None:
    status, _, _ = await api("PATCH", "admin/settings", {"limits": {"scan_timeout_seconds": 2}})
    assert status == 200
    status, body, _ = await scan(jp_fetch, {"sql": CROSS_JOIN}, TOKENS["mallory"])
    assert (status, body["error"]) == (400, "scan_timeout"), body
    assert body["details"]["limit_seconds"] == 2
    _, audit, _ = await api("GET", "admin/audit", params={"action": "scan.run", "user": "mallory"})
    assert audit["entries"][0]["outcome"] == "timed_out"
    await poll(lambda: not agnes_scan_sessions(shop_dsn), "PostgreSQL ending the scan's query")


async def test_a_client_that_goes_away_cancels_its_scan_in_postgresql(jp_fetch, jp_serverapp, shop_dsn: str) -> None:
    from tornado.httpclient import HTTPClientError

    core = agnes_app(jp_serverapp).core
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("agnes", "v1", "scans", method="POST", body=json.dumps({"sql": CROSS_JOIN}),
                       headers={"Authorization": f"token {TOKENS['mallory']}"}, request_timeout=1.5)
    assert err.value.code == 599  # the client timed out and closed the connection
    record = await poll(lambda: core.store.row("SELECT status FROM scans WHERE status <> 'running' "
                                               "AND username = 'mallory'"), "the scan being recorded as ended")
    assert record["status"] == "cancelled"
    await poll(lambda: not agnes_scan_sessions(shop_dsn), "PostgreSQL ending the cancelled query")


# -- finding 4: values and rows are bounded -------------------------------------------------------


@pytest.mark.parametrize(("sql", "where"), [
    ("SELECT repeat('x', 1000000000) AS v FROM orders LIMIT 1", "validator"),
    ("SELECT repeat(status, 100000000) AS v FROM orders LIMIT 1", "validator"),
    ("SELECT lpad(status, 2000000000, 'x') AS v FROM orders", "validator"),
    ("SELECT rpad(status, 4000000) AS v FROM orders", "validator"),  # 4 MB a row, 6,000 rows
    ("SELECT repeat('x', (amount * 1000000)::int) AS v FROM orders", "source"),
    ("SELECT rpad(status, (order_id * 10000000)::int) AS v FROM orders", "source"),
])
async def test_a_query_that_would_build_a_huge_value_is_stopped_before_it_does(
        jp_fetch, api, sql: str, where: str) -> None:
    status, body, _ = await scan(jp_fetch, {"sql": sql}, TOKENS["mallory"])
    assert status == 400, body
    if where == "validator":
        assert (body["error"], body["details"]["kind"]) == ("validator_rejected", "value_too_large")
    else:  # counts from data are checked in PostgreSQL before the value is built
        assert body["error"] == "value_too_large"
        assert "would build a value" in body["message"]


async def test_postgresql_refuses_to_send_a_row_above_the_limit(jp_fetch, api) -> None:
    status, _, _ = await api("PATCH", "admin/settings", {"limits": {"max_result_bytes": 5000}})
    assert status == 200
    status, body, _ = await scan(jp_fetch, {"sql": "SELECT repeat('x', 6000) AS v FROM orders LIMIT 1"},
                                 TOKENS["mallory"])
    assert (status, body["error"]) == (400, "value_too_large"), body
    assert "result row is larger than 5,000 bytes" in body["message"]
    status, small, _ = await scan(jp_fetch, {"sql": "SELECT repeat('x', 100) AS v FROM orders LIMIT 1"},
                                  TOKENS["mallory"])
    assert status == 200
    assert small.column("v").to_pylist() == ["x" * 100]


# -- finding 8: physical names stay out of analysts' answers --------------------------------------


async def test_analysts_see_table_ids_never_the_sources_names(jp_fetch, api) -> None:
    sql = ("SELECT o.order_id, c.name FROM orders o JOIN pg_orders p USING (order_id) "
           "JOIN customers c USING (customer_id)")
    status, analyst, _ = await api("POST", "scans/estimate", {"sql": sql}, token=TOKENS["mallory"])
    assert status == 200
    shown = json.dumps(analyst)
    assert "public" not in shown
    assert {d["table"] for d in analyst["detail"]} <= {"orders", "pg_orders", "customers", "other"}
    status, admin, _ = await api("POST", "scans/estimate", {"sql": sql})
    assert status == 200
    assert "public.orders" in {d["table"] for d in admin["detail"]}  # admins see the source's own names

    status, failed, _ = await scan(jp_fetch, {"sql": "SELECT * FROM vanished"}, TOKENS["mallory"])
    assert status >= 400
    shown = json.dumps(failed)
    assert "no_such_relation" not in shown
    assert "public" not in shown


async def test_a_table_registered_as_pg_orders_can_be_scanned(jp_fetch) -> None:
    status, table, _ = await scan(jp_fetch, {"sql": "SELECT count(*) AS n FROM pg_orders"}, TOKENS["mallory"])
    assert status == 200
    assert table.column("n").to_pylist() == [100]
