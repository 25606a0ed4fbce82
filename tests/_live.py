"""A real Jupyter server (JupyterLab + Agnes) in a subprocess, on a demo data dir.

Shared by the kernel tests, the nbval notebooks and the browser test. Started once
per test session; its URL and token are exported so notebook kernels inherit them.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

#: Rows of the demo `events` table in the test lake (deterministic, as in `jupyter agnes demo`).
DEMO_ROWS = 3_000_000
DEMO_DAYS = 60
START_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def jupyter_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "jupyter", *args]


#: Environment variables of the live server holding the local Jira site's account.
JIRA_EMAIL_VAR = "AGNES_TEST_JIRA_EMAIL"
JIRA_TOKEN_VAR = "AGNES_TEST_JIRA_TOKEN"


@dataclass
class LiveServer:
    root: Path
    port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    proc: subprocess.Popen[bytes] | None = None
    #: Write and register the demo lake before starting (False for a server without Agnes).
    demo: bool = True
    demo_rows: int = DEMO_ROWS
    extra_args: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def workspace(self) -> Path:
        return self.root / "workspace"

    @property
    def log_path(self) -> Path:
        return self.root / "server.log"

    def env(self) -> dict[str, str]:
        from tests import _jira

        env = dict(os.environ)
        env.update({
            # The account of the tests' local Jira site (tests/_jira.py), named by Jira sources that
            # the browser tests add through the admin console.
            JIRA_EMAIL_VAR: _jira.EMAIL, JIRA_TOKEN_VAR: _jira.TOKEN,
            "AGNES_DATA_DIR": str(self.data_dir),
            "AGNES_WORKSPACE": str(self.workspace),
            "JUPYTER_RUNTIME_DIR": str(self.root / "runtime"),
            "JUPYTER_CONFIG_DIR": str(self.root / "config"),
            "JUPYTERLAB_SETTINGS_DIR": str(self.root / "lab-settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(self.root / "lab-workspaces"),
        })
        env.pop("AGNES_SERVER_URL", None)
        env.pop("AGNES_TOKEN", None)
        return env

    def start(self, write_demo: bool = True) -> LiveServer:
        for sub in ("notebooks", "runtime", "config", "workspace"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        # No "get Jupyter news?" prompt over the UI in tests.
        settings = self.root / "lab-settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True, exist_ok=True)
        (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
        env = self.env()
        if self.demo and write_demo:
            demo = subprocess.run(
                jupyter_command("agnes", "demo", "--rows", str(self.demo_rows), "--days", str(DEMO_DAYS)),
                env=env, capture_output=True, text=True, timeout=300,
            )
            if demo.returncode != 0:
                raise RuntimeError(f"jupyter agnes demo failed:\n{demo.stdout}\n{demo.stderr}")
        log = self._log = self.log_path.open("wb")  # closed by stop()
        self.proc = subprocess.Popen(
            jupyter_command(
                "lab", "--no-browser", f"--port={self.port}", "--ip=127.0.0.1",
                f"--ServerApp.token={self.token}", f"--ServerApp.root_dir={self.root / 'notebooks'}",
                "--ServerApp.allow_root=True", "--LabApp.news_url=", "--ServerApp.terminals_enabled=False",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                *self.extra_args,
            ),
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self._wait_ready()
        if self.demo:
            self._wait_settled()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        last_error = ""
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"the Jupyter server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if not self.demo:
                    self.get("api/status")
                    return
                info = self.get("agnes/v1/version")
                if info.get("name") == "agnes-jupyter":
                    return
            except (urllib.error.URLError, ConnectionError, OSError) as exc:
                last_error = str(exc)
            time.sleep(0.2)  # polling for readiness with a deadline, not synchronising on a sleep
        raise RuntimeError(f"the Jupyter server did not become ready in {START_TIMEOUT}s ({last_error}):\n"
                           f"{self.log_tail()}")

    def _wait_settled(self) -> None:
        """Wait for the start-up work (metadata warm-up, first scheduled extracts) to finish, so
        what tests and notebooks see does not depend on how fast this machine is today."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            warm = self.get("agnes/v1/admin/warmup")
            tables = self.get("agnes/v1/admin/tables")["tables"]
            extracted = all(t["last_run"] and t["last_run"]["status"] == "succeeded"
                            for t in tables if t["query_mode"] == "local")
            if warm.get("status") == "complete" and extracted:
                return
            time.sleep(0.2)  # polling with a deadline
        raise RuntimeError(f"the server did not settle in {START_TIMEOUT}s:\n{self.log_tail()}")

    def request(self, method: str, path: str, body: object | None = None, token: str | None = None) -> object:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"token {token or self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=60) as resp:
            raw = resp.read()
            return json.loads(raw) if raw else None

    def get(self, path: str) -> dict:
        result = self.request("GET", path)
        assert isinstance(result, dict)
        return result

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def restart(self) -> LiveServer:
        """Stop the server and start it again on the same port and data dir (the demo is kept)."""
        self.stop()
        return self.start(write_demo=False)

    def stop(self) -> None:
        try:
            if self.proc is not None:
                stop_process_group(self.proc)
        finally:
            log = getattr(self, "_log", None)
            if log is not None:
                log.close()


def stop_process_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop a process started in a session of its own, and its children: SIGTERM, then SIGKILL
    after 30 s. Nothing when it has already ended."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def run_in_server_kernel(server: LiveServer, code: str, timeout: float = 120.0) -> tuple[str, str]:
    """Start a kernel through the server's REST API and run ``code`` over its WebSocket
    channels, as JupyterLab does. Returns (reply status, text output incl. errors)."""
    import asyncio
    import uuid

    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    kernel = server.request("POST", "api/kernels", {"name": "python3"})
    assert isinstance(kernel, dict)

    async def run() -> tuple[str, str]:
        ws_url = server.url.replace("http://", "ws://") + f"api/kernels/{kernel['id']}/channels"
        ws = await websocket_connect(HTTPRequest(ws_url, headers={"Authorization": f"token {server.token}"}))
        msg_id = uuid.uuid4().hex
        ws.write_message(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test",
                       "session": uuid.uuid4().hex, "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True},
        }))
        out: list[str] = []
        status = ""
        idle = False
        while not (status and idle):
            raw = await asyncio.wait_for(ws.read_message(), timeout)
            if raw is None:
                raise RuntimeError("the kernel's WebSocket closed")
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if kind == "stream":
                out.append(msg["content"]["text"])
            elif kind == "error":
                out.append("\n".join(msg["content"]["traceback"]))
            elif kind == "execute_reply":
                status = msg["content"]["status"]
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                idle = True
        ws.close()
        return status, "".join(out)

    try:
        return asyncio.run(run())
    finally:
        server.request("DELETE", f"api/kernels/{kernel['id']}")
