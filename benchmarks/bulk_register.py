"""Bulk registration (issue 15): the admin console registers a discovery's pick in one request.

(a) 2,000 tables registered by one ``POST admin/tables:batch`` vs the same 2,000 tables by 2,000
    single ``POST admin/tables``, each through a real Jupyter server on its own data dir with the
    same start (a lake source with one extracted table, so every change rewrites a real
    extract.duckdb). Targets: the batch <= 5 s, and >= 20x faster than the singles (same run).
(b) One ``POST admin/tables`` with 5,000 tables registered vs with 100 (benchmarks/registry.py's
    case (b), reused): target p50 at 5,000 <= 2x the p50 at 100.

The 2,000 tables are copies of the lake's ``customers`` under their own ids (a lake has a few
tables; a warehouse's discovery has thousands). Timings are client-side, whole requests; the
servers' background work (extract.duckdb writer, re-warming) runs as it would in use.

    python benchmarks/bulk_register.py [--tables 2000] [--small 100] [--large 5000] [--posts 30]
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
from registry import bench_posts, p50, wait_idle

TRAITS = ["--AgnesApp.warmup_on_start=False", "--AgnesApp.scheduler_interval_seconds=0",
          "--AgnesApp.metadata_refresh_interval_seconds=0"]


def prepare(data_dir: Path, lake: Path) -> None:
    """A lake source with ``customers`` registered and extracted (its extract.duckdb exists)."""
    from agnes_core.core import AgnesCore

    core = AgnesCore(data_dir)
    try:
        core.registry.add_source({"name": "demo", "type": "lake", "options": {"path": str(lake)}})
        core.registry.register_table({"id": "customers", "source": "demo", "source_table": "customers"})
        run = core.extracts.run("customers")
        assert run["status"] == "succeeded", run
    finally:
        core.close()


def bodies(n: int) -> list[dict[str, str]]:
    return [{"id": f"d{i:05d}", "source": "demo", "source_table": "customers", "folder": f"folder{i % 50}",
             "description": f"Discovered table {i}"} for i in range(n)]


def start(root: Path, lake: Path, name: str, offset: int) -> Server:
    data = root / name
    prepare(data, lake)
    server = Server(root, data, "bench-bulk-token", TRAITS, offset)
    server.call("GET", "catalog")  # the first request pays for nothing measured below
    wait_idle(server.proc.pid)
    return server


def singles(root: Path, lake: Path, n: int) -> tuple[float, list[float]]:
    server = start(root, lake, "singles", 0)
    try:
        times = []
        began = time.perf_counter()
        for body in bodies(n):
            t0 = time.perf_counter()
            server.call("POST", "admin/tables", body)
            times.append((time.perf_counter() - t0) * 1000)
        total = time.perf_counter() - began
        listed = server.call("GET", "admin/tables")["tables"]
        assert len(listed) == n + 1, len(listed)
        return total, times
    finally:
        server.stop()


def batch(root: Path, lake: Path, n: int) -> float:
    server = start(root, lake, "batch", 1)
    try:
        t0 = time.perf_counter()
        created = server.call("POST", "admin/tables:batch", {"tables": bodies(n)})
        elapsed = time.perf_counter() - t0
        assert created["count"] == n, created["count"]
        listed = server.call("GET", "admin/tables")["tables"]
        assert len(listed) == n + 1, len(listed)
        return elapsed
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tables", type=int, default=2000)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=5000)
    parser.add_argument("--posts", type=int, default=30)
    parser.add_argument("--only", choices=("batch", "posts"))
    args = parser.parse_args()
    from agnes_core.demo import write_demo_lake

    root = temp_dir("agnes-bench-bulk-")
    try:
        lake = root / "lake"
        write_demo_lake(lake, rows=100_000, days=10)
        if args.only != "posts":
            one = batch(root, lake, args.tables)
            total, times = singles(root, lake, args.tables)
            speedup = total / one
            print(f"(a) registering {args.tables:,} tables (client-side, whole requests):")
            print(f"    {args.tables:,} single POST admin/tables: {total:7.2f} s  "
                  f"(p50 {statistics.median(times):.1f} ms, max {max(times):.1f} ms; baseline)")
            print(f"    one POST admin/tables:batch:      {one:7.2f} s   (target <= 5 s)  {verdict(one <= 5)}")
            print(f"    speed-up {speedup:7.1f}x   (target >= 20x)  {verdict(speedup >= 20)}")
        if args.only != "batch":
            small = bench_posts(root, lake, args.small, args.posts, 2)
            large = bench_posts(root, lake, args.large, args.posts, 3)
            ratio = p50(large) / p50(small)
            print(f"(b) one POST admin/tables (client-side, {args.posts} each):")
            print(f"    at {args.small:>5,} registered: p50 {p50(small):7.1f} ms  max {max(small):7.1f} ms  (baseline)")
            print(f"    at {args.large:>5,} registered: p50 {p50(large):7.1f} ms  max {max(large):7.1f} ms")
            print(f"    ratio {ratio:5.2f}x   (target <= 2x)  {verdict(ratio <= 2)}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
