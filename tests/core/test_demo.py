from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from agnes_core.demo import write_demo_lake


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_demo_lake_is_byte_identical_for_the_same_seed(tmp_path: Path) -> None:
    a = write_demo_lake(tmp_path / "a", rows=30_000, days=60).path
    b = write_demo_lake(tmp_path / "b", rows=30_000, days=60).path
    assert _digests(a) == _digests(b)
    c = write_demo_lake(tmp_path / "c", rows=30_000, days=60, seed=7).path
    assert _digests(a) != _digests(c)


def test_demo_events_layout_and_columns(demo_lake: Path) -> None:
    partitions = sorted(p.name for p in (demo_lake / "events").iterdir())
    assert len(partitions) == 60
    assert partitions[0] == "event_date=2026-01-01"
    con = duckdb.connect()
    described = con.execute(
        f"DESCRIBE SELECT * FROM read_parquet('{demo_lake}/events/**/*.parquet', hive_partitioning=true)"
    ).fetchall()
    types = {row[0]: row[1] for row in described}
    assert types == {"event_date": "DATE", "country": "VARCHAR", "session_id": "VARCHAR", "user_id": "BIGINT",
                     "amount": "DOUBLE", "platform": "VARCHAR", "ts": "TIMESTAMP"}
    total = con.execute(f"SELECT count(*) FROM read_parquet('{demo_lake}/events/**/*.parquet')").fetchone()
    assert total == (60_000,)


def test_demo_events_are_sorted_by_country_within_each_partition(demo_lake: Path) -> None:
    for part in sorted((demo_lake / "events").iterdir())[:5]:
        file = next(part.glob("*.parquet"))
        countries = pq.read_table(file, columns=["country"]).column("country").to_pylist()
        assert countries == sorted(countries)
        assert pq.ParquetFile(file).metadata.row_group(0).sorting_columns[0].column_index == 0


def test_demo_plain_tables_join_to_events(demo_lake: Path) -> None:
    con = duckdb.connect()
    unmatched = con.execute(
        f"SELECT count(*) FROM read_parquet('{demo_lake}/events/**/*.parquet') e "
        f"ANTI JOIN read_parquet('{demo_lake}/customers.parquet') c ON e.user_id = c.customer_id").fetchone()
    assert unmatched == (0,)
    assert con.execute(f"SELECT count(*) FROM '{demo_lake}/orders.parquet'").fetchone() == (250_000,)
