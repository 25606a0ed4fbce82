"""The freshness widget's latency, measured in headless Chromium (Playwright, Debian's chromium).

A JupyterLab server on the demo lake gets 500 more remote tables (bulk insert: setup, not
measured). A notebook shows ``agnes_jupyter.widgets.freshness()``; then a warm-up runs, and for
every remote table's final row event (fresh, error, no data) the same run measures, on one machine
clock:

- the widget: from the event's ``ts`` (the server's time when it sent the event) until the
  widget's DOM shows the row's final state (a MutationObserver on the row's ``data-state``, in the
  page; the view writes the event's ``ts`` on the row). The path: the kernel's stream thread,
  coalescing (at most one patch per ``FLUSH_SECONDS``), the comm to JupyterLab, the view's patch;
- the baseline: a raw SSE client (requests, in this process) reading the same stream, from ``ts``
  until it has parsed the event — what no view of the stream can beat;

and prints p50 and p90 of each and the ratio (a report figure: the issue sets no target).

    python benchmarks/widgets.py [--tables 500] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _util import temp_dir
from panel import populate

from tests._live import LiveServer, jupyter_command
from tests.browser.conftest import LAUNCH_ARGS, chromium_path

FINAL = ("fresh", "error", "no_data")

# In the page: every change of a row's data-state to a final state, with the epoch time it was
# made (performance.timeOrigin + now: the same clock as the server's time.time()) and the row's ts.
OBSERVE = """() => {
    window.__agnes_seen = [];
    if (window.__agnes_observing) return;
    window.__agnes_observing = true;
    const body = document.querySelector('.jp-agnes-fr-table tbody');
    new MutationObserver(records => {
        const now = (performance.timeOrigin + performance.now()) / 1000;
        for (const r of records) {
            const tr = r.target;
            if (tr.tagName !== 'TR') continue;  // the state badge inside the row has a data-state too
            const state = tr.dataset.state;
            if (r.oldValue === state || !['fresh', 'error', 'no_data'].includes(state)) continue;
            window.__agnes_seen.push([tr.dataset.tableId, Number(tr.dataset.ts), now]);
        }
    }).observe(body, {attributes: true, attributeFilter: ['data-state'], attributeOldValue: true, subtree: true});
}"""


class RawClient:
    """The baseline: a plain SSE reader of ``metadata/stream`` (requests, chunked reads)."""

    def __init__(self, url: str, token: str) -> None:
        import requests

        self.latencies: list[tuple[str, float]] = []
        self.live = threading.Event()
        self._response = requests.get(f"{url}agnes/v1/metadata/stream", stream=True, timeout=(10, 120),
                                       headers={"Authorization": f"token {token}", "Accept": "text/event-stream"})
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        event, data = "message", ""
        try:
            for raw in self._response.iter_lines(chunk_size=None):
                line = raw.decode()
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data = line[5:].strip()
                elif line == "" and data:
                    payload = json.loads(data)
                    if event == "snapshot":
                        self.live.set()
                    elif event == "row" and payload.get("state") in FINAL and payload.get("metadata"):
                        self.latencies.append((payload["table_id"], time.time() - payload["ts"]))
                    event, data = "message", ""
        except Exception:  # noqa: BLE001 - closed by close()
            pass

    def close(self) -> None:
        self._response.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tables", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    root = temp_dir("agnes-bench-widgets-")
    server = LiveServer(root, demo_rows=100_000, extra_args=("--AgnesApp.warmup_on_start=False",))
    try:
        env = server.env()
        (root / "workspace").mkdir(parents=True, exist_ok=True)
        subprocess.run(jupyter_command("agnes", "demo", "--rows", "100000", "--days", "30"), env=env, check=True,
                       capture_output=True, timeout=300)
        os.environ["AGNES_DATA_DIR"] = str(server.data_dir)
        populate(server.data_dir, args.tables)
        server.demo = False
        server.start(write_demo=False)
        remote = len(server.get("agnes/v1/metadata/status")["tables"])
        nb = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                         "source": "from agnes_jupyter import widgets\nboard = widgets.freshness()\nboard"}],
              "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                                          "name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}
        (root / "notebooks" / "bench.ipynb").write_text(json.dumps(nb))
        widget_s: list[float] = []
        raw_s: list[float] = []
        runs: list[float] = []
        print(f"freshness widget, {remote} remote tables, {args.rounds} warm-up(s) (headless Chromium; latency from "
              "the server's event ts, one machine clock)")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), headless=True, args=LAUNCH_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{server.url}lab/tree/bench.ipynb?reset&token={server.token}")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)
            page.locator(".jp-Notebook").first.click()
            page.keyboard.press("Shift+Enter")
            page.locator('.jp-agnes-fr-status[data-status="live"]').wait_for(timeout=120_000)
            page.wait_for_function("n => document.querySelectorAll('.jp-agnes-fr-table tbody tr').length === n",
                                   arg=remote, timeout=60_000)
            for _ in range(args.rounds):
                raw = RawClient(server.url, server.token)
                raw.live.wait(60)
                page.evaluate(OBSERVE)
                t0 = time.monotonic()
                run = server.request("POST", "agnes/v1/admin/warmup")
                assert isinstance(run, dict)
                page.wait_for_function("n => window.__agnes_seen.length >= n", arg=remote, timeout=600_000)
                page.locator('.jp-agnes-fr-run[data-status="complete"]').wait_for(timeout=120_000)
                runs.append(time.monotonic() - t0)
                seen = page.evaluate("() => window.__agnes_seen")
                widget_s += [shown - ts for _tid, ts, shown in seen]
                deadline = time.monotonic() + 30
                while len(raw.latencies) < remote and time.monotonic() < deadline:
                    time.sleep(0.05)  # polling the baseline's count with a deadline
                raw_s += [s for _tid, s in raw.latencies]
                raw.close()
            browser.close()
        w50, w90 = pct(widget_s, 0.5) * 1000, pct(widget_s, 0.9) * 1000
        r50, r90 = pct(raw_s, 0.5) * 1000, pct(raw_s, 0.9) * 1000
        print(f"  warm-up of {remote} tables: {statistics.median(runs):.1f} s (median of {len(runs)})")
        print(f"  raw SSE client receive (baseline)      p50 {r50:7.1f} ms   p90 {r90:7.1f} ms   ({len(raw_s)} events)")
        print(f"  event → widget DOM shows final state   p50 {w50:7.1f} ms   p90 {w90:7.1f} ms   ({len(widget_s)} rows)"
              f"   p50 {w50 / max(r50, 1e-3):.1f}× the baseline (report figure; no target in the issue)")
        print("  (the widget coalesces row changes: at most one patch message to the front end per 100 ms)")
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
