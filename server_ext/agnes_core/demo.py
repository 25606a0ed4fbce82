"""The demo lake: a deterministic Parquet lake that makes the first screen useful.

``events`` is Hive-partitioned by ``event_date`` with rows sorted by ``country``
inside each partition (and the sort order recorded in the files); ``orders`` and
``customers`` are plain Parquet files. Values derive from hashes of the row number
and a seed, so the same arguments always produce byte-identical files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from agnes_core.store import duck

START_DATE = date(2026, 1, 1)
COUNTRIES = ["US", "GB", "DE", "FR", "CZ", "SK", "PL", "NL", "ES", "IT",
             "SE", "NO", "DK", "FI", "AT", "CH", "BE", "IE", "PT", "CA"]
PLATFORMS = ["web", "ios", "android"]
DEFAULT_ROWS = 5_000_000
DEFAULT_DAYS = 90
CUSTOMERS = 50_000
ORDERS = 250_000
ROW_GROUP_ROWS = 10_240

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class DemoLake:
    path: Path
    rows: int
    days: int
    seed: int


def _list_literal(values: list[str]) -> str:
    return "[" + ", ".join("'" + v + "'" for v in values) + "]"


def _events_sql(day: int, lo: int, hi: int, seed: int) -> str:
    countries = _list_literal(COUNTRIES)
    platforms = _list_literal(PLATFORMS)
    d = (START_DATE + timedelta(days=day)).isoformat()
    # Every value is a hash of (row, seed, column tag): deterministic whatever the thread count.
    return f"""
        SELECT
          {countries}[1 + (hash(i, {seed}, 'country') % {len(COUNTRIES)})::INTEGER] AS country,
          substr(md5(CAST(i // 7 AS VARCHAR) || '-{seed}'), 1, 16) AS session_id,
          CAST(1 + hash(i, {seed}, 'user') % {CUSTOMERS} AS BIGINT) AS user_id,
          round((hash(i, {seed}, 'amount') % 100000) / 100.0, 2) AS amount,
          {platforms}[1 + (hash(i, {seed}, 'platform') % {len(PLATFORMS)})::INTEGER] AS platform,
          CAST(DATE '{d}' AS TIMESTAMP)
            + to_microseconds(CAST(hash(i, {seed}, 'ts') % 86400000000 AS BIGINT)) AS ts
        FROM range({lo}, {hi}) r(i)
        ORDER BY country, ts, session_id, user_id
    """


#: What each column means, written into the files' Parquet field metadata (``description``), and
#: each table's description (the files' ``description`` key), as a source documents its data.
DESCRIPTIONS: dict[str, tuple[str, dict[str, str]]] = {
    "events": ("Product events from web, iOS and Android, one row per event.", {
        "country": "ISO 3166-1 alpha-2 country of the user at the time of the event; rows are sorted by it.",
        "session_id": "Opaque id of the app or browser session (about 7 events each).",
        "user_id": "The customer who acted (customers.customer_id).",
        "amount": "Order value in EUR attached to the event (0.00-999.99).",
        "platform": "Where it happened: web, ios or android.",
        "ts": "When it happened (UTC, microseconds).",
    }),
    "orders": ("Orders placed in the shop, one row per order.", {
        "order_id": "Unique id of the order.",
        "customer_id": "Who placed it (customers.customer_id).",
        "order_date": "Day the order was placed (UTC).",
        "status": "Lifecycle state: placed, paid, shipped, delivered or returned.",
        "amount": "Order total in EUR, VAT included.",
        "currency": "ISO 4217 code of amount (always EUR).",
    }),
    "customers": ("Customers of the shop, one row per customer.", {
        "customer_id": "Unique id of the customer.",
        "name": "Display name.",
        "country": "ISO 3166-1 alpha-2 country of the billing address.",
        "segment": "consumer, smb or enterprise.",
        "signup_date": "Day the customer signed up (UTC).",
    }),
}
#: The Hive partition key is no column of the files: the demo registers its description (admin text).
EVENT_DATE_DESCRIPTION = ("Day of the event (UTC): the Hive partition key. Filter on it and the scan reads only "
                          "those days.")


def _described(table: Any, name: str) -> Any:
    import pyarrow as pa

    text, columns = DESCRIPTIONS[name]
    schema = pa.schema([f.with_metadata({"description": columns[f.name]}) if f.name in columns else f
                        for f in table.schema], metadata={"description": text})
    return table.cast(schema)


def _write_parquet(table: Any, path: Path, sorting: list[int] | None = None) -> None:
    import pyarrow.parquet as pq

    tmp = path.with_name(f".{path.name}.tmp")
    kwargs: dict[str, Any] = {"compression": "zstd", "row_group_size": ROW_GROUP_ROWS}
    if sorting:
        kwargs["sorting_columns"] = [pq.SortingColumn(i) for i in sorting]
    pq.write_table(table, tmp, **kwargs)
    os.replace(tmp, path)


def write_demo_lake(path: str | Path, *, rows: int = DEFAULT_ROWS, days: int = DEFAULT_DAYS, seed: int = 42,
                    progress: Progress | None = None, threads: int = 2) -> DemoLake:
    """Write the demo lake under ``path`` (replacing an earlier one) and return its description.

    The lake is built in a temporary sibling folder and renamed into place, so a reader
    never sees a half-written lake.
    """
    if rows < days:
        raise ValueError(f"rows ({rows}) must be at least days ({days})")
    target = Path(path).expanduser().resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    report = progress or (lambda step, done, total: None)
    try:
        base = duck.connect()
        base.execute("SET threads = 1")  # parallelism comes from one partition per worker

        def one_day(day: int) -> None:
            con = base.cursor()
            lo, hi = day * rows // days, (day + 1) * rows // days
            table = _described(con.execute(_events_sql(day, lo, hi, seed)).to_arrow_table(), "events")
            folder = work / "events" / f"event_date={(START_DATE + timedelta(days=day)).isoformat()}"
            folder.mkdir(parents=True, exist_ok=True)
            _write_parquet(table, folder / "part-0.parquet", sorting=[0])
            con.close()

        done = 0
        report("events", 0, days)
        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            for _ in pool.map(one_day, range(days)):
                done += 1
                report("events", done, days)

        countries = _list_literal(COUNTRIES)
        customers = base.execute(f"""
            SELECT CAST(i AS BIGINT) AS customer_id,
                   'Customer ' || i AS name,
                   {countries}[1 + (hash(i, {seed}, 'c-country') % {len(COUNTRIES)})::INTEGER] AS country,
                   ['consumer', 'smb', 'enterprise'][1 + (hash(i, {seed}, 'segment') % 3)::INTEGER] AS segment,
                   DATE '2024-01-01' + CAST(hash(i, {seed}, 'signup') % 730 AS INTEGER) AS signup_date
            FROM range(1, {CUSTOMERS + 1}) r(i) ORDER BY customer_id
        """).to_arrow_table()
        customers = _described(customers, "customers")
        _write_parquet(customers, work / "customers.parquet", sorting=[0])
        report("customers", 1, 1)
        orders = base.execute(f"""
            SELECT CAST(i AS BIGINT) AS order_id,
                   CAST(1 + hash(i, {seed}, 'o-customer') % {CUSTOMERS} AS BIGINT) AS customer_id,
                   DATE '{START_DATE.isoformat()}' + CAST(hash(i, {seed}, 'o-date') % {days} AS INTEGER) AS order_date,
                   ['placed', 'paid', 'shipped', 'delivered', 'returned'][1 + (hash(i, {seed}, 'status') % 5)::INTEGER]
                     AS status,
                   round((hash(i, {seed}, 'o-amount') % 50000) / 100.0 + 5, 2) AS amount,
                   'EUR' AS currency
            FROM range(1, {ORDERS + 1}) r(i) ORDER BY order_id
        """).to_arrow_table()
        orders = _described(orders, "orders")
        _write_parquet(orders, work / "orders.parquet", sorting=[0])
        report("orders", 1, 1)
        base.close()

        if target.exists():
            old = target.with_name(f".{target.name}-old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(work, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return DemoLake(target, rows, days, seed)


#: Limits shipped with the demo source so the gate shows on demo data.
DEMO_LIMITS = {"scan_confirm_bytes": 100 * 1024**2, "scan_max_bytes": 1024**3}


def demo_source(path: Path) -> dict[str, Any]:
    return {"name": "demo", "type": "lake", "options": {"path": str(path), "limits": dict(DEMO_LIMITS)}}


def demo_tables() -> list[dict[str, Any]]:
    return [
        {"id": "orders", "name": "orders", "source": "demo", "source_table": "orders", "query_mode": "local",
         "primary_key": "order_id", "folder": "Sales", "schedule": "every 6h",
         "description": "One row per order: customer, date, status and amount in EUR."},
        {"id": "customers", "name": "customers", "source": "demo", "source_table": "customers",
         "query_mode": "local", "primary_key": "customer_id", "folder": "Sales", "schedule": "every 6h",
         "description": "Customers with country, segment and signup date."},
        {"id": "events", "name": "events", "source": "demo", "source_table": "events", "query_mode": "remote",
         "folder": "Product", "description": "Product events (web, iOS, Android), Hive-partitioned by "
         "event_date and sorted by country; large, so it stays in the lake and is scanned through the gate.",
         "column_descriptions": {"event_date": EVENT_DATE_DESCRIPTION}},
    ]


def demo_packages() -> list[dict[str, Any]]:
    """Two data packages over the demo tables, so Browse and My Stack have something to show."""
    return [
        {"slug": "sales", "title": "Sales", "lifecycle": "prod", "category": "Commerce",
         "description": "Orders and the customers who place them.", "owner_name": "Demo Data Team",
         "owner_team": "Analytics", "tags": ["orders", "revenue", "customers"],
         "long_description": "Every order with its customer, date, status and amount in EUR, and every "
                             "customer with country, segment and signup date. Synced to your workspace.",
         "when_to_use": ["Revenue and order volume by country, segment or month", "Customer counts and cohorts"],
         "when_not_to_use": ["Product usage: see the Product analytics package"],
         "example_questions": ["Which country spends most per customer?", "How many orders were returned?"],
         "tables": ["orders", "customers"]},
        {"slug": "product-analytics", "title": "Product analytics", "lifecycle": "poc", "category": "Product",
         "description": "Product events from web, iOS and Android.", "owner_name": "Demo Data Team",
         "owner_team": "Product", "tags": ["events", "usage"],
         "long_description": "Large and Hive-partitioned by day: it stays in the lake. Filter it, see the "
                             "estimate, and snapshot what you need.",
         "when_to_use": ["Usage by platform or country over a few days"],
         "when_not_to_use": ["Full-history scans without a filter"],
         "example_questions": ["How many events came from Czechia last week?"], "tables": ["events"]},
    ]


def demo_recipes() -> list[dict[str, Any]]:
    return [
        {"slug": "top-customers", "title": "Top customers of a country",
         "description": "The biggest spenders in one country since a date.",
         "sql": "SELECT c.customer_id, c.name, c.segment, sum(o.amount) AS spent, count(*) AS orders "
                "FROM orders o JOIN customers c ON c.customer_id = o.customer_id "
                "WHERE c.country = :country AND o.order_date >= :since "
                "GROUP BY ALL ORDER BY spent DESC LIMIT :n",
         "parameters": [{"name": "country", "type": "string", "default": "CZ", "description": "ISO country code"},
                        {"name": "since", "type": "date", "default": "2024-01-01"},
                        {"name": "n", "type": "integer", "default": 10, "description": "how many customers"}]},
        {"slug": "daily-events", "title": "Events of one day by platform",
         "description": "One day of product events, counted by platform (a gated scan of the lake).",
         "sql": "SELECT platform, count(*) AS events FROM events WHERE event_date = :day GROUP BY platform",
         "parameters": [{"name": "day", "type": "date", "description": "the day to count"}]},
    ]


#: (kind, id, requirement) granted to Everyone by the demo command.
DEMO_GRANTS = [("package", "sales", "required"), ("package", "product-analytics", "available"),
               ("recipe", "top-customers", "available"), ("recipe", "daily-events", "available")]
