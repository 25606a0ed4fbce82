"""GET catalog with 5,000 registered tables, metadata rows for all, a non-admin user granted
half of them, and a source whose metadata and scan calls hang; then GET catalog while a full
metadata refresh of 5,000 remote tables runs.

Prints the server-side p50 and p99 (from the Server-Timing header) of GET catalog and the
number of source calls made while serving it, next to the targets (p50 <= 10 ms, p99 <= 50 ms,
0 calls). Baseline in the same run: GET version, the lightest authenticated route.

The hanging source is a connector installed through the agnes.connectors entry-point group;
the server's background warm-up calls it (and hangs there) while the catalog is measured.

The refresh case: a second server on a lake source (the demo lake) with 5,000 remote tables,
metadata rows for all and the same analyst. GET catalog (uncached: each request a distinct
search) is measured idle, then while ``POST admin/metadata/refresh`` refreshes all 5,000
tables (real Parquet footers read, rows written to the store). Target: p50 and p99 during the
refresh <= 2x idle, measured in the same run.

    python benchmarks/catalog.py [--tables 5000] [--requests 400] [--refresh-tables 5000] [--only hanging|refresh]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _util import ROOT, Server, temp_dir, verdict

PLUGIN = '''
import os, threading, time
from agnes_core.connectors import Capability, Connector

def _count(kind):
    with open(os.environ["AGNES_BENCH_CALLS"], "a") as fh:
        fh.write(f"{kind} {threading.current_thread().name}\\n")

class HangingConnector(Connector):
    """Every call to the source hangs (an unreachable warehouse)."""
    type = "hanging"
    capabilities = frozenset({Capability.DISCOVER, Capability.REMOTE, Capability.METADATA})
    dialect = "bigquery"

    def test(self):
        _count("test"); time.sleep(3600)

    def discover(self):
        _count("discover"); time.sleep(3600)

    def schema(self, ref):
        _count("schema"); time.sleep(3600)

    def scan(self, sql, batch_size=65536):
        _count("scan"); time.sleep(3600)

    def metadata(self, ref):
        _count("metadata"); time.sleep(3600)
'''


def install_plugin(root: Path) -> Path:
    pkg = root / "plugin"
    (pkg / "agnes_bench_hanging").mkdir(parents=True)
    (pkg / "agnes_bench_hanging" / "__init__.py").write_text(PLUGIN)
    info = pkg / "agnes_bench_hanging-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: agnes-bench-hanging\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[agnes.connectors]\nhanging = agnes_bench_hanging:HangingConnector\n")
    return pkg


def populate(data_dir: Path, tables: int) -> str:
    """Register the tables (bulk insert: setup, not what is measured), metadata rows, a user,
    a group with half the tables, and a personal access token for the user."""
    from agnes_core.connectors import TableMetadata
    from agnes_core.core import AgnesCore
    from agnes_core.store.state import utcnow

    core = AgnesCore(data_dir)
    core.registry.add_source({"name": "warehouse", "type": "hanging"})
    now = utcnow()
    with core.store.write() as cur:
        cur.executemany(
            "INSERT INTO tables (id, name, description, source, bucket, source_table, query_mode, primary_key, "
            "folder, created_at, updated_at) VALUES (?, ?, ?, 'warehouse', 'dwh', ?, 'remote', '[]', ?, ?, ?)",
            [[f"t{i:05d}", f"table {i}", f"Benchmark table {i} with events by day", f"t{i:05d}",
              f"folder{i % 50}", now, now] for i in range(tables)])
    core.registry.invalidate()
    for i in range(tables):
        core.metadata.record_success(f"t{i:05d}", TableMetadata(
            rows=1000 * i, size_bytes=4096 * i, partition_by=["event_date"], clustered_by=["country"],
            entity_type="table", known_columns=["event_date", "country", "user_id", "amount"],
            examples={"event_date": "2026-03-01", "country": "CZ"}), "bigquery")
    core.access.create_user({"username": "analyst"}, "bench")
    core.access.create_group({"name": "analysts"})
    core.access.add_member("analysts", {"username": "analyst"})
    with core.store.write() as cur:
        cur.executemany("INSERT INTO grants VALUES (?, 'analysts', 'table', ?, 'available', 'bench', ?)",
                        [[f"g{i:05d}", f"t{i:05d}", now] for i in range(0, tables, 2)])
    token = core.tokens.create("analyst", {"name": "bench"}, "bench")["token"]
    core.close()
    return str(token)


def timed_get(url: str, token: str) -> tuple[float, float, bytes]:
    req = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    start = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as resp:
        body = resp.read()
        server = float(resp.headers["Server-Timing"].split("dur=")[1])
    return server, (time.perf_counter() - start) * 1000, body


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tables", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--refresh-tables", type=int, default=5000)
    parser.add_argument("--only", choices=("hanging", "refresh"))
    args = parser.parse_args()
    if args.only != "refresh":
        hanging_case(args)
    if args.only != "hanging":
        refresh_case(args)


def hanging_case(args: argparse.Namespace) -> None:
    root = temp_dir("agnes-bench-catalog-")
    proc = None
    try:
        plugin = install_plugin(root)
        sys.path.insert(0, str(plugin))
        calls = root / "calls.txt"
        calls.touch()
        os.environ["AGNES_BENCH_CALLS"] = str(calls)
        token = populate(root / "data", args.tables)
        port = 18000 + os.getpid() % 1000
        env = {**os.environ, "AGNES_DATA_DIR": str(root / "data"),
               "PYTHONPATH": os.pathsep.join([str(plugin), str(ROOT / "server_ext"), str(ROOT)]),
               "JUPYTER_RUNTIME_DIR": str(root / "runtime")}
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "server", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
             "--ServerApp.token=bench-server-token", f"--ServerApp.root_dir={root}", "--allow-root",
             "--ServerApp.log_level=WARN"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        base = f"http://127.0.0.1:{port}/agnes/v1/"
        deadline = time.monotonic() + 120
        while True:
            try:
                timed_get(base + "version", token)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        while not any("metadata" in line for line in calls.read_text().splitlines()):
            time.sleep(0.05)  # the warm-up has reached the hanging source
        cold_server, _, body = timed_get(base + "catalog", token)
        count = json.loads(body)["count"]
        serving_before = _serving_calls(calls)
        # Uncached: every request a different search that still matches every granted table, so each
        # one filters all 5,000 entries and joins 2,500 (the response cache cannot help).
        phrase = "with events by day"  # in every table's description
        searches = sorted({phrase[i:j] for i in range(len(phrase)) for j in range(i + 4, len(phrase) + 1)})
        uncached_server, uncached_client, version_server, cached_server = [], [], [], []
        for i in range(args.requests):
            search = searches[i % len(searches)] if i < len(searches) else None
            url = base + "catalog" + (f"?search={urllib.request.quote(search)}" if search else "")
            server, client, body_i = timed_get(url, token)
            if search is not None:
                assert json.loads(body_i)["count"] == count, search
                uncached_server.append(server)
                uncached_client.append(client)
            version_server.append(timed_get(base + "version", token)[0])
            cached_server.append(timed_get(base + "catalog", token)[0])
        serving_calls = _serving_calls(calls) - serving_before
        background = sum(1 for line in calls.read_text().splitlines() if "agnes-metadata" in line)

        p50, p99 = pct(uncached_server, 0.5), pct(uncached_server, 0.99)
        print(f"GET catalog as a non-admin: {count:,} of {args.tables:,} tables granted, "
              f"{len(body) / 1e6:.1f} MB per response")
        print(f"  uncached ({len(uncached_server)} distinct requests, each a full filter and join):")
        print(f"    server-side p50   {p50:7.2f} ms   (target <= 10 ms)  {verdict(p50 <= 10)}")
        print(f"    server-side p99   {p99:7.2f} ms   (target <= 50 ms)  {verdict(p99 <= 50)}")
        print(f"    client-side p50   {pct(uncached_client, 0.5):7.2f} ms   (incl. HTTP transfer of the body)")
        print(f"  repeated request (response cache): server-side p50 {pct(cached_server, 0.5):.2f} ms, "
              f"p99 {pct(cached_server, 0.99):.2f} ms")
        print(f"  source calls while serving  {serving_calls}   (target 0)  {verdict(serving_calls == 0)}")
        print(f"  first request after start   {cold_server:7.2f} ms   (index built in the background at start)")
        print(f"baseline GET version: server-side p50 {pct(version_server, 0.5):.2f} ms, "
              f"p99 {pct(version_server, 0.99):.2f} ms")
        print(f"meanwhile the background warm-up made {background} calls to the hanging source (each times out "
              "after 30 s)")
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # hung metadata threads keep it from exiting cleanly
            proc.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


def populate_refresh(data_dir: Path, lake: Path, tables: int) -> str:
    """5,000 remote tables on the demo lake (its three tables in turn), metadata rows for all,
    and the analyst granted half of them; returns the analyst's token."""
    from agnes_core.core import AgnesCore
    from agnes_core.discovery.metadata import MetaRow
    from agnes_core.store.state import utcnow

    core = AgnesCore(data_dir)
    core.registry.add_source({"name": "demo", "type": "lake", "options": {"path": str(lake)}})
    names = ["orders", "customers", "events"]
    now = utcnow()
    ids = [f"t{i:05d}" for i in range(tables)]
    with core.store.write() as cur:
        cur.executemany(
            "INSERT INTO tables (id, name, description, source, bucket, source_table, query_mode, primary_key, "
            "folder, created_at, updated_at) VALUES (?, ?, ?, 'demo', NULL, ?, 'remote', '[]', ?, ?, ?)",
            [[tid, f"table {i}", f"Benchmark table {i} with events by day", names[i % 3], f"folder{i % 50}",
              now, now] for i, tid in enumerate(ids)])
    core.registry.invalidate()
    # One refresh of the three source tables gives the rows every copy starts from.
    connector = core.connector("demo")
    from agnes_core.connectors import TableRef

    metas = {n: connector.metadata(TableRef(None, n)) for n in names}
    connector.close()
    for i, tid in enumerate(ids):
        meta = metas[names[i % 3]]
        assert meta is not None
        core.metadata.record_success(tid, meta, "duckdb")
    assert all(isinstance(core.metadata.get(t), MetaRow) for t in ids[:3])
    core.access.create_user({"username": "analyst"}, "bench")
    core.access.create_group({"name": "analysts"})
    core.access.add_member("analysts", {"username": "analyst"})
    with core.store.write() as cur:
        cur.executemany("INSERT INTO grants VALUES (?, 'analysts', 'table', ?, 'available', 'bench', ?)",
                        [[f"g{i:05d}", tid, now] for i, tid in enumerate(ids) if i % 2 == 0])
    token = core.tokens.create("analyst", {"name": "bench"}, "bench")["token"]
    core.close()
    return str(token)


def refresh_case(args: argparse.Namespace) -> None:
    from agnes_core.demo import write_demo_lake

    root = temp_dir("agnes-bench-catalog-refresh-")
    server = None
    try:
        lake = root / "lake"
        write_demo_lake(lake, rows=200_000, days=30)
        token = populate_refresh(root / "data", lake, args.refresh_tables)
        server = Server(root, root / "data", "bench-server-token",
                        ["--AgnesApp.warmup_on_start=False", "--AgnesApp.scheduler_interval_seconds=0",
                         "--AgnesApp.metadata_refresh_interval_seconds=0"], 2)
        base = server.url + "agnes/v1/"
        phrase = "with events by day"
        searches = sorted({phrase[i:j] for i in range(len(phrase)) for j in range(i + 4, len(phrase) + 1)})
        variants = [(s, m, src) for s in searches for m in (None, "remote") for src in (None, "demo")]
        counter = iter(range(10**9))

        def one() -> tuple[float, float]:
            search, mode, source = variants[next(counter) % len(variants)]
            query = "&".join(f"{k}={urllib.request.quote(v)}" for k, v in
                             (("search", search), ("mode", mode), ("source", source)) if v)
            server_ms, client_ms, body = timed_get(base + "catalog?" + query, token)
            assert json.loads(body)["count"] == (args.refresh_tables + 1) // 2
            return server_ms, client_ms

        for _ in range(20):
            one()  # index built, caches warm
        idle = [one() for _ in range(args.requests)]
        result: dict[str, object] = {}

        def refresh() -> None:
            start = time.perf_counter()
            result["totals"] = server.call("POST", "admin/metadata/refresh")  # type: ignore[union-attr]
            result["seconds"] = time.perf_counter() - start

        worker = threading.Thread(target=refresh)
        worker.start()
        time.sleep(0.5)  # the refresh is under way (its first rows are written)
        during = []
        while worker.is_alive():
            during.append(one())
        worker.join()
        totals = result["totals"]
        assert isinstance(totals, dict), totals
        assert totals["succeeded"] == args.refresh_tables, totals

        print(f"GET catalog during a full metadata refresh of {args.refresh_tables:,} remote tables "
              f"(demo lake, {totals['succeeded']:,} refreshed in {result['seconds']:.1f} s), as a non-admin "
              f"granted {(args.refresh_tables + 1) // 2:,}; every request a distinct search:")
        for label, idx in (("server-side", 0), ("client-side", 1)):
            i50, i99 = pct([r[idx] for r in idle], 0.5), pct([r[idx] for r in idle], 0.99)
            d50, d99 = pct([r[idx] for r in during], 0.5), pct([r[idx] for r in during], 0.99)
            print(f"  {label}: idle p50 {i50:6.2f} ms p99 {i99:6.2f} ms ({len(idle)} requests, baseline); "
                  f"during p50 {d50:6.2f} ms p99 {d99:6.2f} ms ({len(during)} requests)")
            print(f"    ratio p50 {d50 / i50:5.2f}x  (target <= 2x)  {verdict(d50 / i50 <= 2)}   "
                  f"ratio p99 {d99 / i99:5.2f}x  (target <= 2x)  {verdict(d99 / i99 <= 2)}")
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _serving_calls(calls: Path) -> int:
    """Calls from any thread but the metadata refresher's: those would be made serving requests."""
    return sum(1 for line in calls.read_text().splitlines() if "agnes-metadata" not in line)


if __name__ == "__main__":
    main()
