"""The analyst's journey, measured through a real Jupyter server with the extension.

1. Time to answer: the code cells of ``notebooks/00-time-to-answer.ipynb`` (daily revenue for CZ
   over the last 30 days of data, by customer segment — describe, estimate, run, chart) in a fresh
   kernel-like process, end to end (imports included), against the same answer computed by DuckDB
   directly on the lake files in a fresh process of its own, same run, interleaved. Target: the
   median of the paired ratios <= 3.
2. Remote ``execute()`` against the snapshot path for the same expression (one remote table, three
   columns, a country filter), alternating in one process. Target: within 10 % (ratio <= 1.10).
3. A mixed expression (the remote ``events`` joined with the local ``customers``, filtered on both
   the partition and the sort column): bytes its remote part scanned (the server's scan record)
   against the estimate of the narrowest single-table query that answers it. Target: 1.00.

    python benchmarks/journey.py [--rows 3000000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import ROOT, Server, run_measured, temp_dir, verdict

TOKEN = "bench-journey-token"
NOTEBOOK = ROOT / "notebooks" / "00-time-to-answer.ipynb"

JOURNEY = """
def main(cells_json, workspace):
    import json, os, time
    os.environ["AGNES_WORKSPACE"] = workspace
    import matplotlib
    matplotlib.use("Agg")
    started = time.perf_counter()
    ns = {"__name__": "__main__"}
    for source in json.loads(cells_json):
        exec(compile(source, "cell", "exec"), ns)
    answer = ns["answer"]
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "cells": len(json.loads(cells_json)), "shape": list(answer.shape),
            "total": round(float(answer.to_numpy().sum()), 2)}
"""

DUCKDB = """
def main(lake, customers):
    import time
    started = time.perf_counter()
    import duckdb
    con = duckdb.connect()
    df = con.execute(f'''
        WITH e AS (SELECT * FROM read_parquet('{lake}/events/**/*.parquet', hive_partitioning = true))
        SELECT event_date, segment, sum(amount) AS revenue
        FROM e JOIN read_parquet('{customers}') c ON e.user_id = c.customer_id
        WHERE e.country = 'CZ' AND event_date > (SELECT max(event_date) FROM e) - INTERVAL 30 DAY
        GROUP BY ALL''').df()
    answer = df.pivot(index="event_date", columns="segment", values="revenue").round(2)
    return {"seconds": time.perf_counter() - started, "shape": list(answer.shape),
            "total": round(float(answer.to_numpy().sum()), 2)}
"""

EXECUTE_VS_SNAPSHOT = """
def main(workspace, runs):
    import os, time, statistics
    os.environ["AGNES_WORKSPACE"] = workspace
    import contextlib, io
    import agnes_jupyter as agnes
    events = agnes.table("events")
    expr = events.filter(events.country.isin(["DE", "CZ", "SK"])).select("user_id", "amount", "event_date")
    pairs = []
    for i in range(int(runs) + 1):
        with contextlib.redirect_stdout(io.StringIO()):
            t0 = time.perf_counter()
            rows = expr.to_pyarrow().num_rows
            t1 = time.perf_counter()
            agnes.snapshot(expr, name="bench_snapshot", force=True, progress=False)
            t2 = time.perf_counter()
        if i:  # the first pair warms both paths
            pairs.append((t1 - t0, t2 - t1))
    return {"rows": rows, "execute": [p[0] for p in pairs], "snapshot": [p[1] for p in pairs],
            "ratio": statistics.median(p[0] / p[1] for p in pairs)}
"""

MIXED = """
def main(workspace):
    import os, contextlib, io
    os.environ["AGNES_WORKSPACE"] = workspace
    import ibis
    import agnes_jupyter as agnes
    client = agnes.client()
    ids = []
    original = client.request
    def request(method, path, **kw):
        response = original(method, path, **kw)
        if method == "POST" and path == "scans":
            ids.append(response.headers["X-Agnes-Scan-Id"])
        return response
    client.request = request
    events, customers = agnes.table("events"), agnes.table("customers")
    joined = events.join(customers, events.user_id == customers.customer_id)
    expr = (joined.filter((joined.country == "CZ") & (joined.event_date >= ibis.date("2026-02-01"))
                          & (joined.segment == "smb"))
            .group_by("event_date").agg(revenue=joined.amount.sum()))
    with contextlib.redirect_stdout(io.StringIO()):
        rows = len(expr.to_pandas())
    scanned = sum(client.get(f"scans/{i}")["scanned_bytes"] for i in ids)
    narrow = events.filter((events.country == "CZ") & (events.event_date >= ibis.date("2026-02-01")))
    narrowest = agnes.estimate(narrow.select("user_id", "amount", "event_date")).scan_bytes
    whole = agnes.estimate(events.select("user_id", "amount", "event_date", "country")).scan_bytes
    return {"rows": rows, "scans": len(ids), "scanned": scanned, "narrowest": narrowest, "unpushed": whole}
"""


def cells() -> list[str]:
    nb = json.loads(NOTEBOOK.read_text())
    sources = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    # a cell's last expression is only displayed in a notebook: evaluate it the same way here
    return sources


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    root = temp_dir("agnes-bench-journey-")
    server = None
    try:
        data, lake = root / "data", root / "lake"
        env = {"AGNES_DATA_DIR": str(data)}
        import os

        subprocess.run([sys.executable, "-m", "jupyter", "agnes", "demo", "--rows", str(args.rows), "--days", "60",
                        "--path", str(lake)], env={**os.environ, **env,
                                                   "PYTHONPATH": str(ROOT / "server_ext")},
                       check=True, capture_output=True)
        server = Server(root, data, TOKEN, ["--AgnesApp.scheduler_interval_seconds=0"], port_offset=800)
        server.call("PATCH", "admin/sources/demo", {"options": {"path": str(lake)}})
        server.call("POST", "admin/metadata/refresh/events")
        for table in ("customers", "orders"):  # the scheduler is off: extract the local tables now
            server.call("POST", f"admin/tables/{table}/extract?wait=true")
        kernel_env = {"AGNES_SERVER_URL": server.url, "AGNES_TOKEN": TOKEN}
        sources = cells()
        print(f"time to answer: {len(sources)} code cells of {NOTEBOOK.relative_to(ROOT)} "
              f"({args.rows:,} events rows), {args.runs} runs, each a fresh process")
        pairs = []
        for i in range(args.runs + 1):
            ws = root / f"ws-{i}"
            mine = run_measured(JOURNEY, json.dumps(sources), str(ws), env=kernel_env)
            customers = ws / "data" / "_shared" / "customers.parquet"
            ref = run_measured(DUCKDB, str(lake), str(customers))
            if mine["shape"] != ref["shape"] or abs(mine["total"] - ref["total"]) > 0.05 * mine["shape"][0]:
                raise RuntimeError(f"the answers differ: {mine} vs {ref}")
            label = "warm-up" if i == 0 else f"run {i}"
            print(f"   {label:<8} notebook {mine['seconds']:6.2f} s   DuckDB on the files {ref['seconds']:6.2f} s   "
                  f"ratio {mine['seconds'] / ref['seconds']:5.2f}")
            if i:
                pairs.append((mine["seconds"], ref["seconds"]))
        ratio = statistics.median(a / b for a, b in pairs)
        print(f"   median: notebook {statistics.median(a for a, _ in pairs):.2f} s, DuckDB "
              f"{statistics.median(b for _, b in pairs):.2f} s, ratio {ratio:.2f} (target <= 3.0)  "
              f"{verdict(ratio <= 3)}")

        out = run_measured(EXECUTE_VS_SNAPSHOT, str(root / "ws-x"), str(args.runs), env=kernel_env)
        print(f"\nremote execute() vs snapshot, same expression ({out['rows']:,} rows), {args.runs} pairs:")
        print(f"   execute() median {statistics.median(out['execute']):.2f} s, snapshot median "
              f"{statistics.median(out['snapshot']):.2f} s: ratio {out['ratio']:.2f} (target <= 1.10)  "
              f"{verdict(out['ratio'] <= 1.10)}")

        mixed = run_measured(MIXED, str(root / "ws-m"), env=kernel_env)
        share = mixed["scanned"] / mixed["narrowest"]
        print(f"\nmixed expression (remote events x local customers, {mixed['rows']} result rows, "
              f"{mixed['scans']} remote scan):")
        print(f"   scanned {mixed['scanned']:,} B; narrowest single-table query {mixed['narrowest']:,} B "
              f"(without pushdown: {mixed['unpushed']:,} B): ratio {share:.2f} (target 1.00)  "
              f"{verdict(abs(share - 1) < 0.005)}")
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
