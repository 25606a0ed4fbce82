"""What one scan's SQL costs the server to check: the validator's time and peak memory for
10 KB, 100 KB and 1 MB queries, and for TPC-H's 22 queries.

Targets (issue 12): a query above the size limit (128 KiB by default) is refused in <= 100 ms;
the TPC-H p50 is reported. The baseline, measured in the same run on the same text, is sqlglot's
own parse of the query (what any SQL-aware gate has to pay at least): the validator's cost is
printed as a ratio to it. Each case runs in a fresh interpreter so peak memory is its own.

    python benchmarks/validator.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import run_measured, verdict

CHILD = r'''
import time, tracemalloc

def main(kind, size, repeat):
    import sqlglot
    from sqlglot import exp
    from agnes_core.registry import Table
    from agnes_core.errors import Rejected
    from agnes_core.gate.validator import Resolver, validate
    from datetime import datetime, timezone

    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    schemas = {
        "events": [("country", "VARCHAR"), ("user_id", "BIGINT"), ("amount", "DOUBLE"), ("event_date", "DATE"),
                   ("platform", "VARCHAR"), ("session_id", "VARCHAR")],
    }
    tpch = {}
    if kind == "tpch":
        import duckdb
        from duckdb_extension_tpch import __file__ as tpch_pkg
        import glob, os
        path = glob.glob(os.path.join(os.path.dirname(tpch_pkg), "extensions", "*", "tpch.duckdb_extension"))[0]
        con = duckdb.connect()
        con.execute(f"LOAD '{path}'")
        con.execute("CALL dbgen(sf = 0)")
        for (name,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall():
            schemas[name] = [(c, t) for c, t, *_ in con.execute(f"DESCRIBE {name}").fetchall()]
        tpch = {n: q for n, q in con.execute("SELECT query_nr, query FROM tpch_queries()").fetchall()}

    def table(tid):
        return Table(id=tid, name=tid, description="", source="demo", bucket=None, source_table=tid,
                     query_mode="remote", primary_key=[], folder=None, schedule=None, sql=None,
                     incremental_key=None, created_at=now, updated_at=now)

    tables = {t: table(t) for t in schemas}
    resolver = Resolver(find=tables.get, can_read=lambda t: True, dialect_of=lambda s: "duckdb",
                        columns=lambda t: schemas[t.id],
                        physical=lambda t: exp.table_(t.source_table, db="main", quoted=True), dialects=("duckdb",))

    def grown(n, head, item, sep, tail):
        parts, size, i = [], len(head) + len(tail), 0
        while True:
            part = item.format(i=i)
            if parts and size + len(sep) + len(part) > n:
                break
            parts.append(part)
            size += len(part) + (len(sep) if len(parts) > 1 else 0)
            i += 1
        return head + sep.join(parts) + tail

    def query_of(n, shape):
        if shape == "in_list":  # an analyst's long IN list
            return grown(n, "SELECT country, platform, sum(amount) AS total, count(DISTINCT user_id) AS users "
                            "FROM events WHERE user_id IN (", "{i:06d}", ", ",
                         ") GROUP BY country, platform ORDER BY total DESC")
        if shape == "wide_select":  # many computed columns
            return grown(n, "SELECT ", "round(amount * {i}, 2) AS c{i}", ", ", " FROM events")
        if shape == "or_chain":  # ORs a BI tool writes instead of IN
            return grown(n, "SELECT country FROM events WHERE ", "user_id = {i}", " OR ", "")
        if shape == "ctes":  # a long chain of CTEs, each reading the one before
            head = "WITH c0 AS (SELECT country, amount FROM events)"
            return grown(n, head, ", c{i}x AS (SELECT country, amount FROM c0 WHERE amount > {i})", "",
                         " SELECT count(*) FROM c0")
        if shape == "case":  # one CASE with many branches
            return grown(n, "SELECT CASE ", "WHEN user_id = {i} THEN 'u{i}'", " ", " ELSE 'other' END FROM events")
        if shape == "joins":  # many self-joins
            return grown(n, "SELECT e0.country FROM events e0", " JOIN events e{i}x USING (country)", "", "")
        raise ValueError(shape)

    shape = kind.split(":", 1)[1] if ":" in kind else "in_list"
    queries = list(tpch.values()) if kind == "tpch" else [query_of(int(size), shape)]
    out = {"queries": len(queries), "bytes": max(len(q.encode()) for q in queries)}
    times, parse_times, refused = [], [], []
    for _ in range(int(repeat)):
        for q in queries:
            started = time.perf_counter()
            try:
                validate(q, resolver)
                refused.append(False)
            except Rejected as exc:
                refused.append(exc.kind)
            times.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            try:
                sqlglot.parse_one(q, read="duckdb")
            except Exception:
                pass
            parse_times.append((time.perf_counter() - started) * 1000)
    tracemalloc.start()  # a separate pass: tracing slows Python several times over
    for q in queries[:3]:
        try:
            validate(q, resolver)
        except Rejected:
            pass
    _, peak = tracemalloc.get_traced_memory()
    out.update(times_ms=times, parse_ms=parse_times, refused=refused, traced_peak_mb=peak / 2**20)
    return out
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    print("validator cost per query (fresh interpreter per case; baseline: sqlglot.parse_one of the same text;")
    print("'traced MB': Python allocations at peak while validating; 'RSS MB': the whole interpreter)")
    print(f"{'case':<26}{'bytes':>10}{'validate p50':>15}{'parse p50':>12}{'ratio':>8}{'traced MB':>10}"
          f"{'RSS MB':>8}  verdict")
    cases = [("10 KB (IN list)", "size", 10_000), ("100 KB (IN list)", "size", 100_000),
             ("1 MB (IN list)", "size", 1_000_000), ("TPC-H x22", "tpch", 0)]
    cases += [(f"128 KB {shape}", f"size:{shape}", 127_000)
              for shape in ("in_list", "wide_select", "or_chain", "ctes", "case", "joins")]
    for label, kind, size in cases:
        r = run_measured(CHILD, kind, str(size), str(args.repeat))
        p50 = statistics.median(r["times_ms"])
        base = statistics.median(r["parse_ms"])
        refused = {x for x in r["refused"] if x}
        if kind.startswith("size") and size > 128 * 1024:
            note = f"refused ({', '.join(sorted(refused))}) in {p50:.1f} ms; target <= 100 ms: " \
                f"{verdict(p50 <= 100 and refused == {'query_too_long'})}"
        elif refused:
            note = f"refused: {sorted(refused)} in {max(r['times_ms']):.0f} ms at most"
        else:
            note = "accepted" + (f"; p99 {sorted(r['times_ms'])[int(0.99 * (len(r['times_ms']) - 1))]:.1f} ms"
                                 if kind == "tpch" else "")
        print(f"{label:<26}{r['bytes']:>10,}{p50:>12.1f} ms{base:>9.1f} ms{p50 / base if base else 0:>8.1f}"
              f"{r['traced_peak_mb']:>10.0f}{r['peak_rss_mb']:>8.0f}  {note}")


if __name__ == "__main__":
    main()
