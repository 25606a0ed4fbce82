"""The postgres connector against a real PostgreSQL server."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from agnes_core.connectors import ReadOptions, TableRef
from agnes_core.connectors.postgres import PostgresConnector
from agnes_core.core import AgnesCore
from agnes_core.errors import SourceError, ValidationError
from tests._pg import PgCluster
from tests._pgdata import EVENTS_ROWS, ORDERS_ROWS


@pytest.fixture
def pg(pg_cluster: PgCluster):
    connector = PostgresConnector("pg", {}, {"dsn": "AGNES_TEST_PG_DSN"})
    yield connector
    connector.close()


def test_test_reports_the_server(pg: PostgresConnector) -> None:
    facts = pg.test()
    assert facts["server_version"].startswith("PostgreSQL 15")
    assert facts["database"] == "agnes_test"


def test_discover_lists_tables_views_matviews_and_partitioned_parents(pg: PostgresConnector) -> None:
    found = {(t.bucket, t.name): t for t in pg.discover()}
    assert found[("sales", "orders")].entity_type == "table"
    assert found[("sales", "orders")].description == "Orders from the shop"
    assert found[("sales", "big_orders")].entity_type == "view"
    assert found[("sales", "daily")].entity_type == "materialized_view"
    assert found[("sales", "events")].entity_type == "partitioned_table"
    assert ("sales", "events_2026_01") not in found  # partitions are not separate tables


def test_discovered_types_are_faithful(pg: PostgresConnector) -> None:
    schema = pg.schema(TableRef("sales", "orders"))
    types = {f.name: f.type for f in schema}
    assert types["id"] == pa.int64()
    assert types["amount"] == pa.decimal128(12, 2)
    assert types["raw_amount"] == pa.decimal128(38, 10)  # unconstrained numeric, exact to 10 places
    assert types["created_at"] == pa.timestamp("us", tz="UTC")
    assert types["tags"] == pa.list_(pa.string())
    assert types["payload"] == pa.json_()
    assert types["ref"] == pa.uuid()
    assert types["wait"] == pa.string()  # interval as PostgreSQL renders it
    assert not schema.field("amount").nullable
    assert schema.field("status").nullable
    assert schema.field("amount").metadata[b"description"] == b"Amount in EUR"
    assert schema.field("amount").metadata[b"postgres_type"] == b"numeric(12,2)"


def test_read_values_are_exact(pg: PostgresConnector) -> None:
    table = pa.Table.from_batches(list(pg.read(TableRef("sales", "orders"), ReadOptions())))
    assert table.num_rows == ORDERS_ROWS
    first = table.sort_by("id").slice(0, 1).to_pylist()[0]
    assert first["amount"] == Decimal("1.25")
    assert first["raw_amount"] == Decimal("1000000000.1234567890")
    assert str(first["created_at"]) == "2026-01-01 01:00:00+00:00"
    assert first["tags"] == ["t1"]
    assert json.loads(first["payload"]) == {"i": 1}
    assert first["ref"] == uuid.UUID("c4ca4238-a0b9-2382-0dcc-509a6f75849b")
    assert first["wait"] == "1 day"


def test_unconstrained_numeric_can_be_read_as_double(pg_cluster: PgCluster) -> None:
    connector = PostgresConnector("pg", {"unconstrained_numeric": "double"}, {"dsn": "AGNES_TEST_PG_DSN"})
    try:
        assert connector.schema(TableRef("sales", "orders")).field("raw_amount").type == pa.float64()
    finally:
        connector.close()


def test_read_a_view_and_a_partitioned_table(pg: PostgresConnector) -> None:
    view = sum(b.num_rows for b in pg.read(TableRef("sales", "big_orders"), ReadOptions()))
    assert view == sum(1 for i in range(1, ORDERS_ROWS + 1) if i * 1.25 > 1000)
    events = sum(b.num_rows for b in pg.read(TableRef("sales", "events"), ReadOptions()))
    assert events == EVENTS_ROWS


def test_read_with_a_filter_predicate(pg: PostgresConnector) -> None:
    batches = pg.read(TableRef("sales", "orders"), ReadOptions(columns=["id"], filter="status = 'paid' AND id <= 30"))
    assert sum(b.num_rows for b in batches) == 10
    with pytest.raises(ValidationError):
        list(pg.read(TableRef("sales", "orders"), ReadOptions(filter="id IN (SELECT 1)")))


def test_metadata_rows_size_partitioning_and_clustering(pg: PostgresConnector) -> None:
    orders = pg.metadata(TableRef("sales", "orders"))
    assert orders is not None
    assert orders.rows == ORDERS_ROWS
    assert orders.size_bytes
    assert orders.size_bytes > 0
    assert orders.clustered_by == ["created_at"]
    assert orders.partition_by is None
    events = pg.metadata(TableRef("sales", "events"))
    assert events is not None
    assert events.entity_type == "partitioned_table"
    assert events.rows == EVENTS_ROWS
    assert events.partition_by == ["event_date"]
    view = pg.metadata(TableRef("sales", "big_orders"))
    assert view is not None
    assert (view.entity_type, view.rows, view.size_bytes) == ("view", None, None)
    assert view.known_columns == ["id", "amount", "status"]
    missing = pg.metadata(TableRef("sales", "nope"))
    assert missing is not None
    assert "sales.nope" in (missing.error or "")


def test_missing_env_var_is_a_clear_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGNES_TEST_NO_SUCH_DSN", raising=False)
    connector = PostgresConnector("pg", {}, {"dsn": "AGNES_TEST_NO_SUCH_DSN"})
    with pytest.raises(SourceError) as err:
        connector.test()
    assert "AGNES_TEST_NO_SUCH_DSN" in err.value.message


def test_a_source_stores_the_env_var_name_never_the_dsn(tmp_path: Path, pg_cluster: PgCluster) -> None:
    core = AgnesCore(tmp_path / "data")
    try:
        core.registry.add_source({"name": "pg", "type": "postgres", "secrets": {"dsn": "AGNES_TEST_PG_DSN"}})
        assert core.test_source("pg")["ok"] is True
        core.store.close()
        raw = (tmp_path / "data" / "system.duckdb").read_bytes()
        assert pg_cluster.password.encode() not in raw
        assert b"AGNES_TEST_PG_DSN" in raw
    finally:
        core.store.close()


# -- knowing the data before scanning it (issue 11) -------------------------------------------


def test_column_stats_come_from_pg_stats_and_say_they_are_approximate(pg: PostgresConnector) -> None:
    stats = pg.column_stats(TableRef("sales", "orders"))
    created = stats["created_at"]
    assert (created.origin, created.approximate) == ("pg_stats", True)
    # 1000 rows, one hour apart from 2026-01-01 01:00 UTC: ANALYZE saw every row.
    assert created.min == "2026-01-01T01:00:00+00:00"
    assert created.max == "2026-02-11T16:00:00+00:00"
    assert (stats["id"].min, stats["id"].max, stats["id"].null_count) == (1, 1000, 0)
    assert (stats["amount"].min, stats["amount"].max) == ("1.25", "1250.00")  # exact decimals as text
    assert (stats["status"].min, stats["status"].max) == ("new", "shipped")  # most common values count too
    assert stats["raw_amount"].null_count == 0
    assert "payload" not in stats or stats["payload"].min is None  # jsonb has no range


def test_column_stats_of_a_partitioned_table_cover_every_partition(pg: PostgresConnector) -> None:
    stats = pg.column_stats(TableRef("sales", "events"))
    assert (stats["event_date"].min, stats["event_date"].max) == ("2026-01-01", "2026-02-28")
    assert stats["event_date"].null_count == 0


def test_column_stats_of_a_missing_table_is_not_found(pg: PostgresConnector) -> None:
    from agnes_core.errors import NotFound

    with pytest.raises(NotFound):
        pg.column_stats(TableRef("sales", "no_such_table"))


def test_comments_are_descriptions_and_sizes_are_labelled(pg: PostgresConnector) -> None:
    ref = TableRef("sales", "orders")
    schema = pg.schema(ref)
    assert schema.metadata[b"description"] == b"Orders from the shop"
    assert schema.field("amount").metadata[b"description"] == b"Amount in EUR"
    assert b"description" not in (schema.field("id").metadata or {})
    meta = pg.metadata(ref)
    assert meta is not None
    assert meta.description == "Orders from the shop"
    assert meta.uncompressed_bytes is not None
    assert meta.uncompressed_bytes > 0
    assert meta.size_bytes is not None


def test_a_remote_postgres_table_shows_comments_and_approximate_ranges(tmp_path: Path, pg_cluster: PgCluster) -> None:
    import asyncio

    from agnes_core.access.principals import EVERYONE, Principal

    admin = Principal("admin", "Admin", frozenset({EVERYONE}), True)
    core = AgnesCore(tmp_path / "data")
    try:
        core.registry.add_source({"name": "pg", "type": "postgres", "secrets": {"dsn": "AGNES_TEST_PG_DSN"}})
        core.registry.register_table({"id": "pg_orders", "source": "pg", "bucket": "sales", "source_table": "orders",
                                      "query_mode": "remote"})
        core.registry.register_table({"id": "pg_events", "source": "pg", "bucket": "sales", "source_table": "events",
                                      "query_mode": "remote"})
        asyncio.run(core.refresher.run(core.refresher.claim("refresh")))
        events = core.discovery.schema(core.registry.get_table("pg_events"))
        day = next(c for c in events["columns"] if c["name"] == "event_date")
        assert day["partition"] is True
        assert (day["min"], day["max"]) == ("2026-01-01", "2026-02-28")
        assert (day["range_origin"], day["range_approximate"]) == ("pg_stats", True)
        orders = core.discovery.schema(core.registry.get_table("pg_orders"))
        assert (orders["description"], orders["description_origin"]) == ("Orders from the shop", "source")
        amount = next(c for c in orders["columns"] if c["name"] == "amount")
        assert (amount["description"], amount["description_origin"]) == ("Amount in EUR", "source")
        entry = next(e for e in core.catalog.entries(admin) if e["id"] == "pg_orders")
        assert entry["description"] == "Orders from the shop"
        assert entry["size_bytes"] > 0
        assert entry["uncompressed_bytes"] > 0
        estimate = core.scans.estimate(admin, {"sql": "SELECT count(*) FROM pg_orders"})
        assert estimate["scan_bytes_basis"] == "on_disk"  # PostgreSQL's pages, as stored
    finally:
        core.close()
