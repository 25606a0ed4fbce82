"""One analyst trying to take the server down with scans, measured on a real Jupyter server.

Five repeat()-style scans (values built from literal or data counts, values each within the limits
but many at once, an aggregate of large values) and five cross-join bombs run at once, on the demo
lake and — when PostgreSQL's server binaries are installed — on a PostgreSQL shop database.

Printed next to their targets (issue 12):
* the server's peak RSS during the attack (target <= 1 GB), with its idle RSS as the baseline;
* for each scan, the time until it is stopped (target <= scan_timeout_seconds + 2 s);
* GET catalog and GET tables/{id}/schema p50 while the attack runs, against the same measured idle
  just before (target <= 2x).

    python benchmarks/scan_attacks.py [--rows 3000000] [--timeout 10] [--no-pg]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _util import ROOT, Server, temp_dir, verdict

TOKEN = "bench-attack-token"

LAKE_VALUES = [
    "SELECT repeat('x', 1000000000) AS v FROM events LIMIT 1",
    "SELECT repeat('x', CAST(amount * 1000000 AS INTEGER)) AS v FROM events",
    "SELECT lpad(country, CAST(user_id * 100000 AS INTEGER), '*') AS v FROM events",
    "SELECT rpad(session_id, 1000) AS v FROM events",
    "SELECT string_agg(session_id || repeat('x', 10000), ',') AS v FROM events",
]
LAKE_BOMBS = [f"SELECT count(*) AS n FROM events a, events b, events c WHERE a.amount > {i}" for i in range(5)]
PG_VALUES = [
    "SELECT repeat('x', 1000000000) AS v FROM shop_orders LIMIT 1",
    "SELECT repeat('x', (amount * 1000000)::int) AS v FROM shop_orders",
    "SELECT lpad(status, (order_id * 100000)::int, '*') AS v FROM shop_orders",
    "SELECT rpad(status, 1000) AS v FROM shop_orders",
    "SELECT string_agg(status || repeat('x', 10000), ',') AS v FROM shop_orders",
]
PG_BOMBS = [f"SELECT count(*) AS n FROM shop_orders a, shop_orders b, shop_orders c WHERE a.amount > {i}"
            for i in range(5)]


def request(url: str, method: str, route: str, body: Any = None, timeout: float = 600,
            timing: list[float] | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url + "agnes/v1/" + route, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            if timing is not None:  # Server-Timing: app;dur=<ms> — the time spent in the server
                timing.append(float(resp.headers.get("Server-Timing", "app;dur=nan").split("dur=")[1]))
            if route == "scans":  # a result may be large: read it through, keep none of it
                size = 0
                while chunk := resp.read(1 << 20):
                    size += len(chunk)
                return resp.status, str(size).encode()
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (http.client.IncompleteRead, ConnectionError) as exc:  # a stream the server cut
        return 299, type(exc).__name__.encode()


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def latencies(url: str, route: str, n: int, stop: Any = None,
              in_server: list[float] | None = None) -> list[float]:
    """Round trips of GET ``route`` in ms, as the client sees them; ``in_server`` collects the
    server's own time for each (its Server-Timing header)."""
    out: list[float] = []
    while len(out) < n and not (stop is not None and stop.is_set()):
        started = time.perf_counter()
        status, _ = request(url, "GET", route, timing=in_server)
        out.append((time.perf_counter() - started) * 1000)
        assert status == 200, (route, status)
        if stop is not None:
            time.sleep(0.02)  # paced sampling during the attack, not synchronisation
    return out


def sample(url: str, route: str, stop: Any, answers: Any) -> None:
    """A sampler process: GET ``route`` until ``stop`` is set, then put its round trips and
    in-server times on ``answers``."""
    in_server: list[float] = []
    trips = latencies(url, route, 10_000, stop=stop, in_server=in_server)
    answers.put((route, trips, in_server))


def attack(server: Server, label: str, queries: list[str], limit_s: float, schema_route: str) -> None:
    pid = server.proc.pid
    idle_rss = rss_mb(pid)
    idle_in_server: dict[str, list[float]] = {"catalog": [], schema_route: []}
    idle = {route: statistics.median(latencies(server.url, route, 100, in_server=idle_in_server[route]))
            for route in idle_in_server}
    results: list[dict[str, Any]] = []
    peak = [idle_rss]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb(pid))
            time.sleep(0.05)  # sampling the server's RSS

    def one(sql: str) -> None:
        started = time.perf_counter()
        status, body = request(server.url, "POST", "scans", {"sql": sql, "confirm": True})
        elapsed = time.perf_counter() - started
        error = "-"
        if status not in (200, 299):
            try:
                error = json.loads(body)["error"]
            except ValueError:
                error = "?"
        if status == 200:
            error = f"{int(body) / 2**20:,.0f} MiB streamed"
        results.append({"sql": sql, "status": status, "error": error, "s": elapsed})

    # The samplers run in processes of their own: in this one, ten threads reading streamed results
    # would hold the GIL and count against the round trips.
    spawn = multiprocessing.get_context("spawn")
    stop = spawn.Event()
    answers: Any = spawn.Queue()
    samplers = [spawn.Process(target=sample, args=(server.url, r, stop, answers), daemon=True)
                for r in idle_in_server]
    watcher = threading.Thread(target=watch, daemon=True)
    scans = [threading.Thread(target=one, args=(q,), daemon=True) for q in queries]
    watcher.start()
    for p in samplers:
        p.start()
    for t in scans:
        t.start()
    for t in scans:
        t.join()
    stop.set()
    during: dict[str, list[float]] = {}
    during_in_server: dict[str, list[float]] = {}
    for _ in samplers:
        route, trips, in_server = answers.get()
        during[route], during_in_server[route] = trips, in_server
    for p in samplers:
        p.join()
    done.set()
    watcher.join()
    peak_rss = max(peak[0], rss_mb(pid))

    print(f"\n{label}: {len(queries)} scans at once, scan_timeout_seconds={limit_s:g}")
    print(f"   {'scan':<72}{'status':>7} {'error':<20}{'stopped after':>14}  target <= {limit_s + 2:g} s")
    for r in sorted(results, key=lambda r: queries.index(r["sql"])):
        shown = r["sql"] if len(r["sql"]) <= 70 else r["sql"][:69] + "…"
        print(f"   {shown:<72}{r['status']:>7} {r['error']:<20}{r['s']:>12.1f} s  {verdict(r['s'] <= limit_s + 2)}")
    print(f"   server RSS: idle {idle_rss:.0f} MB, peak during the attack {peak_rss:.0f} MB "
          f"(target <= 1024 MB)  {verdict(peak_rss <= 1024)}")
    for route in during:
        for label, quiet, busy_list in (("in the server", statistics.median(idle_in_server[route]),
                                         during_in_server[route]),
                                        ("round trip   ", idle[route], during[route])):
            busy = statistics.median(busy_list) if busy_list else float("nan")
            worst = max(busy_list) if busy_list else float("nan")
            ratio = busy / quiet if quiet else float("inf")
            print(f"   GET {route:<28} {label} p50 idle {quiet:6.2f} ms, during {busy:6.2f} ms, max {worst:7.1f} ms "
                  f"({len(busy_list)} requests): ratio {ratio:4.2f} (target <= 2.0)  {verdict(ratio <= 2.0)}")


def setup_pg(root: Path) -> tuple[Any, str] | None:
    try:
        from tests._pg import start_cluster
        from tests._pgshop import DBNAME, REGISTERED, SCHEMA_SQL
    except ImportError:
        return None
    try:
        cluster = start_cluster()
    except RuntimeError as exc:
        print(f"(no PostgreSQL round: {exc})")
        return None
    cluster.psql(f"CREATE DATABASE {DBNAME}", dbname="postgres")
    cluster.psql(SCHEMA_SQL, dbname=DBNAME)
    # PostgreSQL runs on this same 2-core machine, where a deployment has it on another. Its processes
    # (and the backends the postmaster forks later) run only when nothing else wants the CPU, so the
    # latencies measured are the Agnes server's, not PostgreSQL's cross joins taking both cores.
    pids = subprocess.run(["pgrep", "-f", f"postgres -D {cluster.root}"], capture_output=True, text=True).stdout
    for pid in pids.split():
        try:
            os.sched_setscheduler(int(pid), os.SCHED_IDLE, os.sched_param(0))
        except OSError:
            os.setpriority(os.PRIO_PROCESS, int(pid), 19)
    dsn = cluster.dsn.replace(f"dbname={cluster.dbname}", f"dbname={DBNAME}")
    os.environ["AGNES_BENCH_SHOP_DSN"] = dsn
    return cluster, json.dumps(REGISTERED)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=3_000_000, help="events rows of the demo lake")
    parser.add_argument("--timeout", type=float, default=10.0, help="scan_timeout_seconds of the server")
    parser.add_argument("--no-pg", action="store_true", help="skip the PostgreSQL round")
    args = parser.parse_args()
    root = temp_dir("agnes-bench-attacks-")
    server = None
    pg = None
    try:
        env = {**os.environ, "AGNES_DATA_DIR": str(root / "data"),
               "PYTHONPATH": os.pathsep.join([str(ROOT / "server_ext"), str(ROOT)])}
        subprocess.run([sys.executable, "-m", "jupyter", "agnes", "demo", "--rows", str(args.rows), "--days", "60",
                        "--path", str(root / "lake")], env=env, check=True, capture_output=True)
        if not args.no_pg:
            pg = setup_pg(root)
        if pg is not None:
            from agnes_core.core import AgnesCore

            core = AgnesCore(root / "data")
            core.registry.add_source({"name": "shop", "type": "postgres",
                                      "secrets": {"dsn": "AGNES_BENCH_SHOP_DSN"}})
            for table_id, (schema, name) in json.loads(pg[1]).items():
                core.registry.register_table({"id": f"shop_{table_id}", "source": "shop", "bucket": schema,
                                              "source_table": name, "query_mode": "remote"})
            core.close()
        traits = [f"--AgnesApp.scan_timeout_seconds={int(args.timeout)}", "--AgnesApp.max_concurrent_scans=12",
                  "--AgnesApp.max_concurrent_scans_per_user=12", "--AgnesApp.scheduler_interval_seconds=0",
                  "--AgnesApp.scan_confirm_bytes=1099511627776", "--AgnesApp.scan_max_bytes=1099511627776",
                  "--AgnesApp.daily_scan_bytes_per_user=1125899906842624"]
        server = Server(root, root / "data", TOKEN, traits, port_offset=700)
        # The demo source's own limits (options.limits) would refuse the bombs' estimates first.
        server.call("PATCH", "admin/sources/demo", {"options": {"path": str(root / "lake")}})
        request(server.url, "GET", "tables/events/schema")
        attack(server, f"demo lake ({args.rows:,} events rows)", LAKE_VALUES + LAKE_BOMBS, args.timeout,
               "tables/events/schema")
        if pg is not None:
            request(server.url, "GET", "tables/shop_customers/schema")
            attack(server, "PostgreSQL shop (6,000 orders)", PG_VALUES + PG_BOMBS, args.timeout,
                   "tables/shop_customers/schema")
        hwm = rss_mb(server.proc.pid, "VmHWM")
        print(f"\nserver peak RSS over the whole run (VmHWM, start-up included): {hwm:.0f} MB "
              f"(target <= 1024 MB)  {verdict(hwm <= 1024)}")
    finally:
        if server is not None:
            server.stop()
        if pg is not None:
            pg[0].stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
