"""Realistic analyst SQL (tests/sqlcorpus.py), per dialect, through the real gate and source:

* none of it is refused (the validator is tested against attacks elsewhere; here, against the
  queries people write), and
* differentially: what the gate runs — the SQL rewritten to physical names, generated CTE names
  and run-time guards — returns the same rows, under the same column names, as the original SQL
  run directly on the same data (DuckDB over the demo lake; PostgreSQL over the shop database).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from agnes_core.access.principals import Principal
from agnes_core.core import AgnesCore
from agnes_core.gate.limits import GIB, Limits
from tests._pgshop import ANALYST_TABLES, REGISTERED
from tests.sqlcorpus import DUCKDB_ANALYST, POSTGRES_ANALYST

ADMIN = Principal("ann", "Ann", frozenset({"Everyone"}), is_admin=True)
ANALYST = Principal("al", "Al", frozenset({"Everyone", "analysts"}), is_admin=False)
GENEROUS = Limits(scan_confirm_bytes=100 * GIB, scan_max_bytes=100 * GIB, daily_scan_bytes_per_user=10_000 * GIB,
                  max_concurrent_scans_per_user=50)
LAKE_TABLES = ("events", "orders", "customers")


def test_each_dialect_has_at_least_100_realistic_queries() -> None:
    assert len(DUCKDB_ANALYST) >= 100
    assert len(POSTGRES_ANALYST) >= 100
    assert len(set(DUCKDB_ANALYST)) == len(DUCKDB_ANALYST)
    assert len(set(POSTGRES_ANALYST)) == len(POSTGRES_ANALYST)


# -- the two cores --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lake_core(tmp_path_factory: pytest.TempPathFactory, demo_lake: Path) -> Iterator[AgnesCore]:
    core = AgnesCore(tmp_path_factory.mktemp("corpus-lake") / "data")
    core.registry.add_source({"name": "demo", "type": "lake", "options": {"path": str(demo_lake)}})
    for table_id in LAKE_TABLES:
        core.registry.register_table({"id": table_id, "source": "demo", "source_table": table_id,
                                      "query_mode": "remote"})
    core.settings.limits = dataclasses.replace(GENEROUS)
    yield core
    core.close()


@pytest.fixture(scope="module")
def lake_direct(demo_lake: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The same lake with views named like the ids: the original SQL runs here unchanged."""
    con = duckdb.connect()
    con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet('{demo_lake}/events/*/*.parquet', "
                "hive_partitioning = true)")
    for name in ("orders", "customers"):
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{demo_lake}/{name}.parquet')")
    yield con
    con.close()


@pytest.fixture(scope="module")
def shop_core(tmp_path_factory: pytest.TempPathFactory, shop_dsn: str) -> Iterator[AgnesCore]:
    core = AgnesCore(tmp_path_factory.mktemp("corpus-shop") / "data")
    core.registry.add_source({"name": "shop", "type": "postgres", "secrets": {"dsn": "AGNES_TEST_SHOP_DSN"}})
    for table_id, (schema, name) in REGISTERED.items():
        core.registry.register_table({"id": table_id, "source": "shop", "bucket": schema, "source_table": name,
                                      "query_mode": "remote"})
    core.access.create_group({"name": "analysts"})
    for table_id in ANALYST_TABLES:
        core.access.create_grant({"group": "analysts", "resource_type": "table", "resource_id": table_id,
                                  "requirement": "available"}, "ann", resource_exists=core.resource_exists)
    core.settings.limits = dataclasses.replace(GENEROUS)
    yield core
    core.close()


# -- running and comparing ------------------------------------------------------------------------


def through_the_gate(core: AgnesCore, principal: Principal, sql: str) -> pa.Table:
    """Validate, estimate, admit and run ``sql`` as a scan; the whole result."""
    run = core.scans.start(principal, {"sql": sql, "confirm": True})
    status = "failed"
    try:
        run.open()
        batches = []
        while (batch := run.next_batch()) is not None:
            batches.append(batch)
        status = "succeeded"
    finally:
        run.finish(status)
    assert run.schema is not None
    return pa.Table.from_batches(batches, schema=run.schema)


def norm(value: Any) -> Any:
    """One comparable form for what DuckDB, psycopg and Arrow give for the same SQL value."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float, decimal.Decimal)):
        number = float(value)
        return None if math.isnan(number) else round(number, 6)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return round(value.total_seconds(), 6)
    if hasattr(value, "months") and hasattr(value, "nanoseconds"):  # Arrow's month-day-nano interval
        # As psycopg turns a PostgreSQL interval into a timedelta: a year is 365 days, a month 30.
        years = math.trunc(value.months / 12)
        days = years * 365 + (value.months - years * 12) * 30 + value.days
        return round(days * 86400 + value.nanoseconds / 1e9, 6)
    if isinstance(value, str):
        stripped = value.strip()
        json_text = (stripped[:1] in "{[" and stripped[-1:] in "}]") or (
            len(stripped) > 1 and stripped[0] == stripped[-1] == '"')  # a JSON document, or a JSON string
        if json_text:
            try:
                return norm(json.loads(stripped))
            except ValueError:
                return value
        return value
    if isinstance(value, dict):
        return tuple(sorted((str(k), norm(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(norm(v) for v in value)
    return str(value)


def rows_of(columns: list[str], rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [tuple(norm(v) for v in row) for row in rows]


def ordered(sql: str, dialect: str) -> bool:
    tree = sqlglot.parse_one(sql, read=dialect)
    return isinstance(tree, exp.Query) and tree.args.get("order") is not None


def assert_same_result(sql: str, dialect: str, direct_cols: list[str], direct: list[tuple[Any, ...]],
                       gated: pa.Table) -> None:
    assert gated.column_names == direct_cols, "column names changed"
    got = rows_of(gated.column_names, [tuple(r.values()) for r in gated.to_pylist()])
    want = rows_of(direct_cols, direct)
    assert len(got) == len(want), f"{len(got)} rows through the gate, {len(want)} directly"
    if ordered(sql, dialect):
        assert got == want
    else:
        assert sorted(got, key=repr) == sorted(want, key=repr)


def _ids(queries: list[str], prefix: str) -> list[Any]:
    return [pytest.param(q, id=f"{prefix}-{i:03d}") for i, q in enumerate(queries)]


@pytest.mark.parametrize("sql", _ids(DUCKDB_ANALYST, "duckdb"))
def test_duckdb_query_is_accepted_and_returns_what_it_returns_directly(
        lake_core: AgnesCore, lake_direct: duckdb.DuckDBPyConnection, sql: str) -> None:
    estimate = lake_core.scans.estimate(ADMIN, {"sql": sql})  # refused queries raise here
    assert estimate["dialect"] == "duckdb"
    cursor = lake_direct.cursor()
    try:
        direct = cursor.execute(sql)
        cols = [d[0] for d in direct.description]
        rows = direct.fetchall()
    finally:
        cursor.close()
    assert_same_result(sql, "duckdb", cols, rows, through_the_gate(lake_core, ADMIN, sql))


@pytest.mark.parametrize("sql", _ids(POSTGRES_ANALYST, "postgres"))
def test_postgres_query_is_accepted_and_returns_what_it_returns_directly(
        shop_core: AgnesCore, shop_dsn: str, sql: str) -> None:
    estimate = shop_core.scans.estimate(ANALYST, {"sql": sql})  # as an analyst with grants only
    assert estimate["dialect"] == "postgres"
    with psycopg.connect(shop_dsn, options="-c TimeZone=UTC") as conn:
        cur = conn.execute(sql)
        assert cur.description is not None
        cols = [d.name for d in cur.description]
        rows = cur.fetchall()
    assert_same_result(sql, "postgres", cols, rows, through_the_gate(shop_core, ANALYST, sql))


def test_the_shop_dsn_is_read_from_the_environment_only(shop_core: AgnesCore, shop_dsn: str) -> None:
    source = shop_core.registry.get_source("shop")
    assert source.secrets == {"dsn": "AGNES_TEST_SHOP_DSN"}
    assert os.environ["AGNES_TEST_SHOP_DSN"] == shop_dsn
    assert shop_dsn not in json.dumps(source.to_json())
