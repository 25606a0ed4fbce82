"""Shared helpers for the benchmark scripts: peak RSS of a child process and a target line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_measured(code: str, *args: str, env: dict[str, str] | None = None) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON object. Adds ``peak_rss_mb``
    (the child's max resident set, from getrusage) to what it printed."""
    wrapper = (
        "import json, resource, sys\n"
        "ns = {}\n"
        f"exec(compile({code!r}, 'bench', 'exec'), ns)\n"
        "out = ns['main'](*sys.argv[1:])\n"
        "out['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
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


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def temp_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))
