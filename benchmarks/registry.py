"""Writes that must not cost more as the registry grows.

(b) One ``POST admin/tables`` (a local table on a lake source that already has an
    extract.duckdb) through a real Jupyter server, with 100 and with 5,000 tables registered
    (all of them extracted: a view each in the source's extract.duckdb). Target: the p50 at
    5,000 <= 2x the p50 at 100 (measured in the same run).
(c) The extract of one table (the demo lake's ``customers``, 50,000 rows) through the real
    runtime, in a source with 1,000 registered and extracted tables vs a source with only that
    table. Target: p50 <= 1.5x.

Set-up (bulk registration and sync-state rows that share one extracted Parquet file, then one
full build of extract.duckdb) is not measured. Each case runs on its own data dir.

    python benchmarks/registry.py [--small 100] [--large 5000] [--posts 30] [--extract-tables 1000]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server_ext"))

from _util import Server, temp_dir, verdict


def populate(data_dir: Path, lake: Path, tables: int) -> None:
    """A lake source with ``tables`` local tables, every one extracted (sharing one file), and a
    complete extract.duckdb, as if each had been registered and extracted."""
    from agnes_core.core import AgnesCore
    from agnes_core.store.state import utcnow

    core = AgnesCore(data_dir)
    try:
        core.registry.add_source({"name": "demo", "type": "lake", "options": {"path": str(lake)}})
        core.registry.register_table({"id": "customers", "source": "demo", "source_table": "customers"})
        run = core.extracts.run("customers")
        assert run["status"] == "succeeded", run
        state = core.extracts.sync_state("customers")
        assert state is not None
        now = utcnow()
        ids = [f"t{i:05d}" for i in range(tables - 1)]
        if ids:
            with core.store.write() as cur:
                cur.executemany(
                    "INSERT INTO tables (id, name, description, source, bucket, source_table, query_mode,"
                    " primary_key, folder, created_at, updated_at)"
                    " VALUES (?, ?, ?, 'demo', NULL, 'customers', 'local', '[]', ?, ?, ?)",
                    [[tid, tid, f"Benchmark copy {tid} of customers", f"folder{i % 50}", now, now]
                     for i, tid in enumerate(ids)])
                cur.executemany(
                    "INSERT INTO sync_state (table_id, source, run_id, path, md5, rows, size_bytes, schema_json, "
                    "extracted_at) VALUES (?, 'demo', ?, ?, ?, ?, ?, ?, ?)",
                    [[tid, state["run_id"], state["path"], state["md5"], state["rows"], state["size_bytes"],
                      state["schema_json"], now] for tid in ids])
        core.registry.invalidate()
        core.extracts.db.rebuild("demo")
        core.extracts.rebuild_analytics()
    finally:
        core.close()


def wait_idle(pid: int, quiet_s: float = 2.0, limit_s: float = 900.0) -> float:
    """Wait until the server process has used no CPU for ``quiet_s`` (its start-up work done);
    returns the seconds waited."""
    start = time.monotonic()
    last, quiet_since = -1, time.monotonic()
    while time.monotonic() - start < limit_s:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime + stime
        if ticks > last + 2:  # a tick is 10 ms; allow the loop's own wake-ups
            last, quiet_since = ticks, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            break
        time.sleep(0.2)
    return time.monotonic() - start


def p50(values: list[float]) -> float:
    return statistics.median(values)


def bench_posts(root: Path, lake: Path, tables: int, posts: int, offset: int) -> list[float]:
    data = root / f"posts-{tables}"
    populate(data, lake, tables)
    server = Server(root, data, "bench-registry-token",
                    ["--AgnesApp.warmup_on_start=False", "--AgnesApp.scheduler_interval_seconds=0",
                     "--AgnesApp.metadata_refresh_interval_seconds=0"], offset)
    try:
        server.call("GET", "catalog")  # the first request pays for nothing measured below
        settled = wait_idle(server.proc.pid)
        print(f"    ({tables:,} registered: the server's start-up work took {settled:.1f} s; not measured)")
        times = []
        for i in range(posts):
            start = time.perf_counter()
            server.call("POST", "admin/tables", {"id": f"new{i:04d}", "source": "demo", "source_table": "customers",
                                                 "description": "registered while measuring"})
            times.append((time.perf_counter() - start) * 1000)
        return times
    finally:
        server.stop()


def bench_extract(root: Path, lake: Path, tables: int, runs: int) -> list[float]:
    from agnes_core.core import AgnesCore

    data = root / f"extract-{tables}"
    populate(data, lake, tables)
    core = AgnesCore(data)
    try:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            run = core.extracts.run("customers")
            times.append((time.perf_counter() - start) * 1000)
            assert run["status"] == "succeeded", run
        return times
    finally:
        core.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=5000)
    parser.add_argument("--posts", type=int, default=30)
    parser.add_argument("--extract-tables", type=int, default=1000)
    parser.add_argument("--extract-runs", type=int, default=7)
    parser.add_argument("--only", choices=("posts", "extract"))
    args = parser.parse_args()
    from agnes_core.demo import write_demo_lake

    root = temp_dir("agnes-bench-registry-")
    try:
        lake = root / "lake"
        write_demo_lake(lake, rows=100_000, days=10)

        if args.only != "extract":
            posts_case(args, root, lake)
        if args.only != "posts":
            extract_case(args, root, lake)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def posts_case(args: argparse.Namespace, root: Path, lake: Path) -> None:
    small = bench_posts(root, lake, args.small, args.posts, 0)
    large = bench_posts(root, lake, args.large, args.posts, 1)
    ratio = p50(large) / p50(small)
    print(f"(b) one POST admin/tables (client-side, {args.posts} each):")
    print(f"    at {args.small:>5,} registered: p50 {p50(small):7.1f} ms  max {max(small):7.1f} ms  (baseline)")
    print(f"    at {args.large:>5,} registered: p50 {p50(large):7.1f} ms  max {max(large):7.1f} ms")
    print(f"    ratio {ratio:5.2f}x   (target <= 2x)  {verdict(ratio <= 2)}")


def extract_case(args: argparse.Namespace, root: Path, lake: Path) -> None:
    one = bench_extract(root, lake, 1, args.extract_runs)
    many = bench_extract(root, lake, args.extract_tables, args.extract_runs)
    ratio = p50(many) / p50(one)
    print(f"(c) extract of customers (50,000 rows), {args.extract_runs} runs each:")
    print(f"    source of     1 table : p50 {p50(one):7.1f} ms  (baseline)")
    print(f"    source of {args.extract_tables:>5,} tables: p50 {p50(many):7.1f} ms")
    print(f"    ratio {ratio:5.2f}x   (target <= 1.5x)  {verdict(ratio <= 1.5)}")


if __name__ == "__main__":
    main()
