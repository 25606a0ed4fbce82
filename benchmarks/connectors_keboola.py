"""The Keboola connector against the tests' local Storage API server (tests/_keboola.py).

Extract of a 1,000,000-row table served as 8 gzipped CSV slices, through the connector and the
real extract runtime (export job, file detail, manifest, every slice streamed into Parquet), vs
downloading the same 8 slices with ``requests`` and converting them with pyarrow directly
(``pyarrow.csv.read_csv`` of each gzipped slice with the same column types and parse options —
values may hold line breaks — then ``pq.write_table`` zstd), each in a fresh process, same run.
Target: ratio <= 1.3.

The server runs in a process of its own and renders the export once before either is timed (a
real stack's export job is its own time, not ours), so both download the very same bytes from
the same local server.

    python benchmarks/connectors_keboola.py [--rows 1000000] [--slices 8] [--repeat 5] [--parallel 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server_ext"))

from _util import extract_code, run_measured, temp_dir, verdict

TOKEN_VAR = "AGNES_BENCH_KBC_TOKEN"

# The libraries the direct path uses are imported before the clock, as it does.
OURS = extract_code("import pyarrow.csv, pyarrow.parquet, requests")

DIRECT = """
def main(urls_json, out):
    import json, time
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq
    import requests
    names = ["id", "customer", "amount", "price", "paid", "ordered_on", "updated_at"]
    types = {"id": pa.int64(), "customer": pa.string(), "amount": pa.float64(), "price": pa.decimal128(12, 2),
             "paid": pa.bool_(), "ordered_on": pa.date32(), "updated_at": pa.timestamp("us")}
    start = time.perf_counter()
    session = requests.Session()
    tables = []
    for url in json.loads(urls_json):
        body = session.get(url).content
        stream = pa.input_stream(pa.BufferReader(body), compression="gzip")
        # Keboola's values may hold line breaks: a correct conversion parses them (as the connector does).
        tables.append(pcsv.read_csv(stream, read_options=pcsv.ReadOptions(column_names=names),
                                    parse_options=pcsv.ParseOptions(newlines_in_values=True),
                                    convert_options=pcsv.ConvertOptions(column_types=types, null_values=[""],
                                                                        strings_can_be_null=False)))
    table = pa.concat_tables(tables)
    pq.write_table(table, out, compression="zstd")
    return {"seconds": time.perf_counter() - start, "rows": table.num_rows}
"""


def big_table(rows: int):
    import pyarrow as pa
    import pyarrow.compute as pc

    from tests._keboola import BUCKET, Column, KTable

    ids = pa.array(range(1, rows + 1), pa.int64())
    base = dt.datetime(2026, 1, 1)
    data = pa.table({
        "id": ids,
        "customer": pc.binary_join_element_wise("customer-", pc.cast(pc.divide(ids, 7), pa.string()), ""),
        "amount": pc.multiply(pc.cast(ids, pa.float64()), 0.25),
        "price": pc.cast(pc.divide(pc.cast(pc.bit_wise_and(ids, 1023), pa.float64()), 8.0), pa.decimal128(12, 2)),
        "paid": pc.equal(pc.bit_wise_and(ids, 1), 0),
        "ordered_on": pa.array([base.date() + dt.timedelta(days=i % 365) for i in range(rows)], pa.date32()),
        "updated_at": pc.cast(pc.add(pc.multiply(ids, 1_000_000), int(base.timestamp()) * 1_000_000),
                              pa.timestamp("us")),
    })
    columns = [Column("id", "INTEGER", "NUMBER", "38,0"), Column("customer", "STRING", "VARCHAR"),
               Column("amount", "FLOAT", "FLOAT"), Column("price", "NUMERIC", "NUMBER", "12,2"),
               Column("paid", "BOOLEAN", "BOOLEAN"), Column("ordered_on", "DATE", "DATE"),
               Column("updated_at", "TIMESTAMP", "TIMESTAMP_NTZ")]
    return KTable(BUCKET, "big", columns, data, primary_key=["id"])


def serve(rows: int, slices: int, parallel: int, found: Any, stop: Any) -> None:
    """The Storage API server, in a process of its own (its threads and GIL are not the measured
    processes'): renders the export once and hands back what the measured processes need."""
    from agnes_core.connectors import ReadOptions, TableRef
    from agnes_core.connectors.keboola import KeboolaConnector
    from tests._keboola import BUCKET, keboola_server

    with keboola_server(slices=slices) as server:
        server.cache_exports = True
        server.add_table(big_table(rows))
        os.environ[TOKEN_VAR] = server.token
        options = {"url": server.url, "backoff_s": 0.05, "job_poll_s": 0.01, "parallel_slices": parallel}
        # Once, not timed: the server renders and gzips the export (the stack's job time), and the
        # read is checked.
        warm = KeboolaConnector("kbc", options, {"token": TOKEN_VAR})
        warmed = sum(b.num_rows for b in warm.read(TableRef(BUCKET, "big"), ReadOptions()))
        warm.close()
        (file_id,) = list(server.exports)
        found.put({"token": server.token, "options": options, "urls": server._slice_urls(file_id), "rows": warmed,
                   "gz_bytes": sum(len(s) for s in server.exports[file_id].slices)})
        stop.wait()


def bench_extract(rows: int, slices: int, repeat: int, work: Path, parallel: int) -> None:
    import multiprocessing

    from tests._keboola import BUCKET

    context = multiprocessing.get_context("spawn")
    found, stop = context.Queue(), context.Event()
    server = context.Process(target=serve, args=(rows, slices, parallel, found, stop), daemon=True)
    server.start()
    try:
        got = found.get(timeout=600)
        assert got["rows"] == rows, got["rows"]
        options, urls, gz_bytes = got["options"], got["urls"], got["gz_bytes"]
        source = {"name": "kbc", "type": "keboola", "options": options, "secrets": {"token": TOKEN_VAR}}
        table = {"id": "big", "source": "kbc", "bucket": BUCKET, "source_table": "big", "query_mode": "local"}
        ours_runs, base_runs = [], []
        for i in range(repeat):
            ours_runs.append(run_measured(OURS, str(work / f"data{i}"), json.dumps(source), json.dumps(table),
                                          env={TOKEN_VAR: got["token"]}))
            base_runs.append(run_measured(DIRECT, json.dumps(urls), str(work / f"direct{i}.parquet")))
        ours = min(ours_runs, key=lambda r: r["seconds"])
        base = min(base_runs, key=lambda r: r["seconds"])
        assert ours["rows"] == base["rows"] == rows
        ratio = ours["seconds"] / base["seconds"]
        median = statistics.median(r["seconds"] for r in ours_runs) / statistics.median(
            r["seconds"] for r in base_runs)
        ours_all = ", ".join(f"{r['seconds']:.2f}" for r in ours_runs)
        base_all = ", ".join(f"{r['seconds']:.2f}" for r in base_runs)
        print(f"extract: {rows:,} rows (7 typed columns) in {slices} gzipped CSV slices, {gz_bytes / 1e6:,.1f} MB "
              f"gzipped; {ours['bytes'] / 1e6:,.1f} MB Parquet")
        print(f"  ours (connector + extract runtime) {ours['seconds']:6.2f} s  peak RSS {ours['peak_rss_mb']:5.0f} MB"
              f"  (runs: {ours_all})")
        print(f"  direct (requests + pyarrow)        {base['seconds']:6.2f} s  peak RSS {base['peak_rss_mb']:5.0f} MB"
              f"  (runs: {base_all})")
        print(f"  ratio  {ratio:5.2f}  (best of {repeat} each; medians: {median:.2f})  (target <= 1.3)  "
              f"{verdict(ratio <= 1.3)}")
    finally:
        stop.set()
        server.join(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--slices", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--parallel", type=int, default=2, help="the connector's parallel_slices")
    args = parser.parse_args()
    work = temp_dir("agnes-bench-keboola-")
    try:
        bench_extract(args.rows, args.slices, args.repeat, work, args.parallel)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
