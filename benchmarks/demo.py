"""`jupyter agnes demo` at its default size: time to write and register the demo lake.

Target: < 60 s on these machines (2 cores). Baseline in the same run: DuckDB writing the
same number of rows of the same generated columns to one unpartitioned Parquet file with
its own multi-threaded COPY (no per-day partitioning, no sort, no recorded sort order).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from agnes_core.demo import DEFAULT_DAYS, DEFAULT_ROWS, _events_sql

TARGET_S = 60.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agnes-bench-demo-") as tmp:
        env = {**os.environ, "AGNES_DATA_DIR": str(Path(tmp) / "data")}
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "jupyter", "agnes", "demo", "--rows", str(args.rows)],
                       env=env, check=True, capture_output=True)
        ours = time.perf_counter() - start

        con = duckdb.connect()
        sql = _events_sql(0, 0, args.rows, 42).replace("ORDER BY country, ts, session_id, user_id", "")
        start = time.perf_counter()
        con.execute(f"COPY ({sql}) TO '{Path(tmp) / 'flat.parquet'}' (FORMAT parquet, COMPRESSION zstd)")
        baseline = time.perf_counter() - start
    print(f"rows: {args.rows:,} events over {DEFAULT_DAYS} days (+ orders, customers, registration)")
    print(f"jupyter agnes demo                 {ours:6.1f} s   (target < {TARGET_S:.0f} s)  "
          f"{'OK' if ours < TARGET_S else 'MISSED'}")
    print(f"baseline: DuckDB COPY, one file    {baseline:6.1f} s   ratio {ours / baseline:4.1f}x")


if __name__ == "__main__":
    main()
