"""SIGTERM stops a server whose scans are running: they are stopped in the source, and nothing
keeps the process alive (a real Jupyter server in a subprocess)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests._live import LiveServer

CROSS_JOIN = "SELECT count(*) AS n FROM events a, events b, events c"


def test_sigterm_stops_a_server_with_running_scans(tmp_path: Path) -> None:
    server = LiveServer(tmp_path, demo_rows=60_000).start()
    outcomes: list[str] = []

    def bomb() -> None:
        req = urllib.request.Request(server.url + "agnes/v1/scans", data=json.dumps({"sql": CROSS_JOIN}).encode(),
                                     method="POST", headers={"Authorization": f"token {server.token}"})
        try:
            with urllib.request.urlopen(req, timeout=300) as resp:
                resp.read()
                outcomes.append(f"finished {resp.status}")
        except (urllib.error.URLError, ConnectionError, OSError) as exc:
            outcomes.append(f"ended: {type(exc).__name__}")

    threads = [threading.Thread(target=bomb, daemon=True) for _ in range(3)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # polling with a deadline until the scans run
            if server.get("agnes/v1/me")["usage"]["running_scans"] == 3:
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"the scans did not start:\n{server.log_tail()}")
        assert server.proc is not None
        os.killpg(server.proc.pid, signal.SIGTERM)
        try:
            code = server.proc.wait(timeout=60)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"the server did not stop within 60 s of SIGTERM:\n{server.log_tail()}") from exc
        assert code is not None
        for t in threads:
            t.join(timeout=30)
        assert len(outcomes) == 3
        assert not [o for o in outcomes if o.startswith("finished 200")], outcomes  # none ran to the end
        assert "stopping 3 running scans" in server.log_path.read_text()
    finally:
        server.stop()
