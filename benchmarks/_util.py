"""Shared helpers for the benchmark scripts: peak RSS of a child process, a target line, and a
real Jupyter server with the extension on a data dir."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run_measured(code: str, *args: str, env: dict[str, str] | None = None) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON object. Adds ``peak_rss_mb``: the
    child's own peak resident set (``VmHWM``; getrusage's ``ru_maxrss`` keeps the peak of the
    process that forked it, across the exec)."""
    wrapper = (
        "import json, sys\n"
        "ns = {}\n"
        f"exec(compile({code!r}, 'bench', 'exec'), ns)\n"
        "out = ns['main'](*sys.argv[1:])\n"
        "hwm = [line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM:')]\n"
        "out['peak_rss_mb'] = int(hwm[0]) / 1024 if hwm else float('nan')\n"
        "print('BENCH ' + json.dumps(out))\n"
    )
    done = subprocess.run([sys.executable, "-c", wrapper, *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {}), "PYTHONPATH": str(ROOT / "server_ext")}, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{done.stdout}\n{done.stderr}")
    found = re.findall(r"BENCH (\{.*\})", done.stdout)
    if not found:
        raise RuntimeError(f"benchmark child printed no result:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return dict(json.loads(found[-1]))


def extract_code(before_clock: str = "") -> str:
    """Code for :func:`run_measured`: ``main(data_dir, source_json, table_json)`` registers the
    source and the table in a fresh AgnesCore and times one extract run of it; ``before_clock``
    (one line of statements, e.g. imports a baseline also makes before its clock) runs first, and
    its time is returned as ``before_clock_s``."""
    return f"""
def main(data_dir, source_json, table_json):
    import json, time
    began = time.perf_counter()
    {before_clock or "pass"}
    before_clock_s = time.perf_counter() - began
    from agnes_core.core import AgnesCore
    core = AgnesCore(data_dir)
    core.registry.add_source(json.loads(source_json))
    core.registry.register_table(json.loads(table_json))
    start = time.perf_counter()
    run = core.extracts.run(json.loads(table_json)["id"])
    seconds = time.perf_counter() - start
    core.close()
    assert run["status"] == "succeeded", run
    return {{"seconds": seconds, "rows": run["rows"], "bytes": run["size_bytes"], "before_clock_s": before_clock_s}}
"""


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def temp_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


class Server:
    """``jupyter server`` with the extension on ``data_dir`` (token auth, scheduler as ``traits`` say),
    ready when ``GET agnes/v1/version`` answers; ``call`` speaks JSON to ``agnes/v1/``."""

    def __init__(self, root: Path, data_dir: Path, token: str, traits: list[str], port_offset: int) -> None:
        self.root = root
        self.token = token
        self.port = 18000 + os.getpid() % 1000 + port_offset
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = root / "server.log"
        env = {**os.environ, "AGNES_DATA_DIR": str(data_dir), "AGNES_WORKSPACE": str(root / "workspace"),
               "PYTHONPATH": os.pathsep.join([str(ROOT / "server_ext"), str(ROOT)]),
               "JUPYTER_RUNTIME_DIR": str(root / "runtime"), "JUPYTER_CONFIG_DIR": str(root / "config")}
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jupyter", "server", "--no-browser", f"--port={self.port}", "--ip=127.0.0.1",
                 f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}", "--allow-root",
                 "--ServerApp.log_level=WARN", *traits],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while True:
            try:
                self.call("GET", "version")
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start:\n{self.log.read_text()[-3000:]}") from None
                time.sleep(0.2)  # polling for readiness with a deadline

    def call(self, method: str, route: str, body: dict[str, Any] | None = None) -> Any:
        req = urllib.request.Request(self.url + "agnes/v1/" + route, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"token {self.token}",
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{method} {route}: {exc.code} {exc.read().decode()[:500]}") from None
        return json.loads(raw) if raw else None

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
