"""SIGTERM to exit of a real Jupyter server whose source calls hang.

Four calls hang in their sources when the signal arrives (tests/_hanging.py): a sample and a
discovery of a "PostgreSQL" that accepts TCP and never answers (hung connecting), and a sample
and a metadata refresh of a table that another session holds locked in the real PostgreSQL
(hung mid-query). Source calls are allowed ten minutes, so nothing but shutdown ends them.
The baseline, measured in the same run, is SIGTERM to the same server with nothing hung.

Target: exit within 10 s of SIGTERM with the four calls hung.

    python benchmarks/shutdown.py [--repeat 3] [--server-ext PATH] [--give-up 150]

``--server-ext`` runs the server from another checkout's ``server_ext`` (e.g. a ``git worktree``
of an earlier commit) for a before/after comparison; a server still running ``--give-up``
seconds after SIGTERM is killed and reported as such.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _util import ROOT, temp_dir, verdict

from tests._hanging import HANG_ENV, HANG_TRAITS, SILENT_ENV, HungCalls, SilentServer, hold_lock, make_hang_db

TARGET_S = 10.0
#: Time given to a started server before anything is measured.
SETTLE_S = 3.0
REGISTER = "import sys; from tests._hanging import register; register(__import__('pathlib').Path(sys.argv[1]))"


class Server:
    def __init__(self, root: Path, server_ext: Path, port: int) -> None:
        self.root = root
        self.token = "bench-shutdown"
        self.url = f"http://127.0.0.1:{port}/"
        data_dir = root / "data"
        self.env = {**os.environ, "AGNES_DATA_DIR": str(data_dir), "AGNES_WORKSPACE": str(root / "workspace"),
                    "PYTHONPATH": os.pathsep.join([str(server_ext), str(ROOT)]),
                    "JUPYTER_RUNTIME_DIR": str(root / "runtime"), "JUPYTER_CONFIG_DIR": str(root / "config")}
        # Registered with the server's own code (its state store version), before it starts.
        subprocess.run([sys.executable, "-c", REGISTER, str(data_dir)], env=self.env, check=True, timeout=120)
        self.log = root / "server.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jupyter", "server", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
                 f"--ServerApp.token={self.token}", f"--ServerApp.root_dir={root}", "--allow-root", *HANG_TRAITS],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while True:
            try:
                req = urllib.request.Request(self.url + "agnes/v1/version",
                                             headers={"Authorization": f"token {self.token}"})
                with urllib.request.urlopen(req, timeout=5):
                    return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start:\n{self.log.read_text()[-3000:]}") from None
                time.sleep(0.2)  # polling for readiness with a deadline

    def sigterm_to_exit(self, give_up_s: float) -> float | None:
        """Seconds from SIGTERM to the process's exit; None when killed after ``give_up_s``."""
        start = time.perf_counter()
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=give_up_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
            return None
        return time.perf_counter() - start


def measure(hung: bool, server_ext: Path, silent: SilentServer, hang_dsn: str, port: int,
            give_up_s: float) -> float | None:
    root = temp_dir("agnes-bench-shutdown-")
    try:
        with hold_lock(hang_dsn):
            server = Server(root, server_ext, port)
            time.sleep(SETTLE_S)  # start-up work (analytics views, the catalog) done in both cases
            if hung:
                HungCalls(server.url, server.token).start(silent, hang_dsn)
            return server.sigterm_to_exit(give_up_s)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def show(values: list[float | None], give_up_s: float) -> str:
    if any(v is None for v in values):
        return f"> {give_up_s:g} s (killed {sum(v is None for v in values)} of {len(values)})"
    done = [v for v in values if v is not None]
    return f"{statistics.median(done):.2f} s (runs: {', '.join(f'{v:.2f}' for v in done)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--server-ext", type=Path, default=ROOT / "server_ext")
    parser.add_argument("--give-up", type=float, default=150.0)
    args = parser.parse_args()

    from tests._pg import start_cluster

    cluster = start_cluster()
    silent = SilentServer()
    try:
        hang_dsn = make_hang_db(cluster)
        os.environ[SILENT_ENV] = silent.dsn
        os.environ[HANG_ENV] = hang_dsn
        port = 19000 + os.getpid() % 500
        results: dict[str, list[float | None]] = {"baseline": [], "hung": []}
        for n in range(args.repeat):
            for case in ("baseline", "hung"):
                results[case].append(measure(case == "hung", args.server_ext.resolve(), silent, hang_dsn,
                                             port + 2 * n + (case == "hung"), args.give_up))
    finally:
        silent.close()
        cluster.stop()

    hung = results["hung"]
    ok = all(v is not None and v <= TARGET_S for v in hung)
    print(f"server code: {args.server_ext}")
    print(f"SIGTERM to exit, nothing hung (baseline): {show(results['baseline'], args.give_up)}")
    print(f"SIGTERM to exit, 4 source calls hung (2 connecting, 2 mid-query): {show(hung, args.give_up)}")
    print(f"target: <= {TARGET_S:g} s with the calls hung ... {verdict(ok)}")
    print("BENCH " + json.dumps({"baseline_s": results["baseline"], "hung_s": hung, "target_s": TARGET_S}))


if __name__ == "__main__":
    main()
