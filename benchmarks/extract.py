"""Extract a 10,000,000-row table from the lake and from PostgreSQL through the real runtime.

For each source it prints rows/s, the extracting process's peak RSS, and the ratio of
our time to DuckDB's own ``COPY (SELECT ...) TO 'x.parquet'`` from the same source,
measured in the same run (PostgreSQL via DuckDB's postgres scanner). Each measurement
runs in a fresh process so peak RSS is its own.

Targets: lake ratio <= 1.5; PostgreSQL ratio <= 2.0; peak RSS <= 512 MB whatever the size.

    python benchmarks/extract.py [--rows 10000000] [--skip-postgres]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _util import extract_code, run_measured, temp_dir, verdict

OURS = extract_code()

COPY_LAKE = """
def main(glob, out):
    import duckdb, time
    con = duckdb.connect()
    con.execute("SET memory_limit = '512MB'")
    start = time.perf_counter()
    con.execute(f"COPY (SELECT * FROM read_parquet('{glob}', hive_partitioning = true)) TO '{out}' "
                "(FORMAT parquet, COMPRESSION zstd)")
    return {"seconds": time.perf_counter() - start}
"""

COPY_PG = """
def main(dsn, out):
    import duckdb, os, time
    import duckdb_extension_postgres_scanner as m
    ext = os.path.join(os.path.dirname(m.__file__), "extensions", f"v{duckdb.__version__}",
                       "postgres_scanner.duckdb_extension")
    con = duckdb.connect()
    con.execute("SET memory_limit = '512MB'")
    con.execute(f"LOAD '{ext}'")
    con.execute("ATTACH '" + dsn.replace("'", "''") + "' AS pg (TYPE postgres, READ_ONLY)")
    start = time.perf_counter()
    con.execute(f"COPY (SELECT * FROM pg.public.big) TO '{out}' (FORMAT parquet, COMPRESSION zstd)")
    return {"seconds": time.perf_counter() - start}
"""


def report(name: str, ours: dict, base: dict, target_ratio: float) -> None:
    ratio = ours["seconds"] / base["seconds"]
    print(f"{name}: {ours['rows']:,} rows, {ours['bytes'] / 1e6:,.0f} MB Parquet")
    print(f"  ours          {ours['seconds']:6.2f} s  {ours['rows'] / ours['seconds'] / 1e6:5.2f} M rows/s  "
          f"peak RSS {ours['peak_rss_mb']:5.0f} MB (target <= 512)  {verdict(ours['peak_rss_mb'] <= 512)}")
    print(f"  DuckDB COPY   {base['seconds']:6.2f} s  {ours['rows'] / base['seconds'] / 1e6:5.2f} M rows/s  "
          f"peak RSS {base['peak_rss_mb']:5.0f} MB")
    print(f"  ratio         {ratio:6.2f}   (target <= {target_ratio})  {verdict(ratio <= target_ratio)}")


def bench_lake(rows: int, work: Path) -> None:
    import json

    from agnes_core.demo import write_demo_lake

    lake = write_demo_lake(work / "lake", rows=rows, days=90).path
    source = {"name": "lake", "type": "lake", "options": {"path": str(lake)}}
    table = {"id": "events_local", "source": "lake", "source_table": "events"}
    ours = run_measured(OURS, str(work / "data-lake"), json.dumps(source), json.dumps(table))
    base = run_measured(COPY_LAKE, str(lake / "events" / "**" / "*.parquet"), str(work / "copy-lake.parquet"))
    report("lake (Hive-partitioned Parquet)", ours, base, 1.5)


def bench_postgres(rows: int, work: Path) -> None:
    import json
    import os

    from tests._pg import start_cluster

    cluster = start_cluster()
    try:
        cluster.psql(f"""CREATE TABLE big AS SELECT i::bigint AS id, (i % 1000)::int AS k, md5(i::text) AS s,
                          (i * 0.01)::numeric(14,2) AS amount, TIMESTAMPTZ '2026-01-01 00:00:00+00'
                          + i * INTERVAL '1 second' AS ts FROM generate_series(1, {rows}) i; ANALYZE big;""")
        env = {"BENCH_PG_DSN": cluster.dsn}
        os.environ.update(env)
        source = {"name": "pg", "type": "postgres", "secrets": {"dsn": "BENCH_PG_DSN"}}
        table = {"id": "big", "source": "pg", "bucket": "public", "source_table": "big"}
        ours = run_measured(OURS, str(work / "data-pg"), json.dumps(source), json.dumps(table), env=env)
        base = run_measured(COPY_PG, cluster.dsn, str(work / "copy-pg.parquet"))
        report("PostgreSQL (5 columns incl. numeric(14,2), timestamptz)", ours, base, 2.0)
    finally:
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    work = temp_dir("agnes-bench-extract-")
    try:
        bench_lake(args.rows, work)
        if not args.skip_postgres:
            bench_postgres(args.rows, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
