"""The Agnes panel with 5,000 tables, measured in headless Chromium (Playwright, Debian's chromium).

A JupyterLab server on the demo lake gets 5,000 more remote tables (bulk insert, with metadata
rows: setup, not measured). In one page, the same run measures:

- ``GET catalog`` alone, fetched by the page (the baseline: what the panel cannot be faster than);
- panel open to a rendered catalog: click on the Agnes tab until the tree's rows are on screen
  (version check, catalog and budget requests, model, virtualised render);
- search as you type: a query typed into the search box until the list shows exactly the tables
  the server's search returns (client-side match at once, column-name matches from the server);

and prints each next to its target (≤ 2× the API call) with the ratio.

    python benchmarks/panel.py [--tables 5000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _util import temp_dir, verdict

from tests._live import LiveServer, jupyter_command
from tests.browser.conftest import LAUNCH_ARGS, chromium_path


def populate(data_dir: Path, tables: int) -> None:
    """5,000 remote tables on the demo source (its tables in turn) with metadata rows."""
    from agnes_core.connectors import TableRef
    from agnes_core.core import AgnesCore
    from agnes_core.store.state import utcnow

    core = AgnesCore(data_dir)
    names = ["orders", "customers", "events"]
    now = utcnow()
    ids = [f"bench_{i:05d}" for i in range(tables)]
    with core.store.write() as cur:
        cur.executemany(
            "INSERT INTO tables (id, name, description, source, bucket, source_table, query_mode, primary_key, "
            "folder, created_at, updated_at) VALUES (?, ?, ?, 'demo', NULL, ?, 'remote', '[]', ?, ?, ?)",
            [[tid, tid, f"Benchmark table {i}: a copy of {names[i % 3]}", names[i % 3], f"Folder {i % 50:02d}",
              now, now] for i, tid in enumerate(ids)])
    core.registry.invalidate()
    connector = core.connector("demo")
    metas = {n: connector.metadata(TableRef(None, n)) for n in names}
    connector.close()
    for i, tid in enumerate(ids):
        meta = metas[names[i % 3]]
        assert meta is not None
        core.metadata.record_success(tid, meta, "duckdb")
    core.close()


FETCH_CATALOG = """async () => {
    const t0 = performance.now();
    const r = await fetch('/agnes/v1/catalog', {credentials: 'same-origin'});
    const body = await r.json();
    return [performance.now() - t0, body.tables.length];
}"""

FETCH_SEARCH = """async q => {
    const t0 = performance.now();
    const r = await fetch('/agnes/v1/catalog?search=' + encodeURIComponent(q), {credentials: 'same-origin'});
    const body = await r.json();
    return [performance.now() - t0, body.tables.length];
}"""

# Click the tab and wait (polling each animation frame) until table rows are rendered.
OPEN_PANEL = """async () => {
    const tab = document.querySelector('.jp-SideBar [data-id="jp-agnes-sidebar"]');
    const t0 = performance.now();
    tab.click();
    await new Promise(resolve => {
        const check = () => document.querySelector('.jp-agnes-catalog .jp-agnes-table')
            ? resolve() : requestAnimationFrame(check);
        check();
    });
    return performance.now() - t0;
}"""

# Type a query (one input event, as a paste or the last keystroke) and wait until the footer
# shows the count the server's search gives.
SEARCH = """async ([q, expected]) => {
    const input = document.querySelector('.jp-agnes-search');
    const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
    const t0 = performance.now();
    setter.call(input, q);
    input.dispatchEvent(new Event('input', {bubbles: true}));
    const want = expected + ' of ';
    await new Promise(resolve => {
        const check = () => {
            const footer = document.querySelector('.jp-agnes-footer');
            const text = footer ? footer.textContent : '';
            (text.startsWith(want) || text === expected + ' tables') ? resolve() : requestAnimationFrame(check);
        };
        check();
    });
    return performance.now() - t0;
}"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tables", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    root = temp_dir("agnes-bench-panel-")
    server = LiveServer(root, demo_rows=100_000)
    try:
        env = server.env()
        (root / "workspace").mkdir(parents=True, exist_ok=True)
        subprocess.run(jupyter_command("agnes", "demo", "--rows", "100000", "--days", "30"), env=env, check=True,
                       capture_output=True, timeout=300)
        os.environ["AGNES_DATA_DIR"] = str(server.data_dir)
        populate(server.data_dir, args.tables)
        server.start(write_demo=False)
        total = len(server.get("agnes/v1/catalog")["tables"])
        print(f"panel with {total:,} tables (headless Chromium, {args.rounds} rounds; medians)")
        api_ms: list[float] = []
        open_ms: list[float] = []
        search_ms: list[float] = []
        search_api_ms: list[float] = []
        queries = ["session_id", "folder 07", "copy of orders", "bench_042"]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), headless=True, args=LAUNCH_ARGS)
            for _ in range(args.rounds):
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(f"{server.url}lab?reset&token={server.token}")
                page.wait_for_selector(".jp-Launcher", timeout=120_000)
                page.wait_for_selector('.jp-SideBar [data-id="jp-agnes-sidebar"]', timeout=60_000)
                for _ in range(3):
                    ms, _count = page.evaluate(FETCH_CATALOG)
                    api_ms.append(ms)
                open_ms.append(page.evaluate(OPEN_PANEL))
                for q in queries:
                    ms, expected = page.evaluate(FETCH_SEARCH, q)
                    search_api_ms.append(ms)
                    page.evaluate(SEARCH, ["", total])  # back to the whole catalog
                    search_ms.append(page.evaluate(SEARCH, [q, expected]))
                page.close()
            browser.close()
        api = statistics.median(api_ms)
        opened = statistics.median(open_ms)
        sapi = statistics.median(search_api_ms)
        searched = statistics.median(search_ms)
        print(f"  GET catalog alone (baseline)        {api:8.1f} ms")
        print(f"  panel open → rendered catalog       {opened:8.1f} ms   {opened / api:5.2f}× the API call "
              f"(target ≤ 2×)  {verdict(opened <= 2 * api)}")
        print(f"  GET catalog?search= alone           {sapi:8.1f} ms")
        print(f"  search as you type → final list     {searched:8.1f} ms   {searched / sapi:5.2f}× the search call "
              f"(target ≤ 2×)  {verdict(searched <= 2 * sapi)}")
        print(f"  (queries: {', '.join(queries)})")
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
