"""How the kernel library finds the server."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

import agnes_jupyter as agnes
from agnes_jupyter._connection import find_server
from tests._live import LiveServer, run_in_server_kernel


def test_connect_without_arguments_in_a_kernel_started_by_the_server(live_server: LiveServer) -> None:
    code = ("import agnes_jupyter as agnes\n"
            "c = agnes.connect()\n"
            "print(c.server.how, '|', sorted(agnes.catalog().ids), '|', agnes.me()['is_admin'])")
    status, out = run_in_server_kernel(live_server, code)
    assert status == "ok", out
    assert out.strip() == "$AGNES_SERVER_URL | ['customers', 'events', 'orders'] | True"


def test_environment_variables_set_by_hand_are_honoured(connected: LiveServer) -> None:
    assert agnes.client().server.how == "$AGNES_SERVER_URL"
    assert agnes.me()["username"]


def test_jupyterhub_variables_are_understood(live_server: LiveServer, clean_env: None,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # A hub's single-user server binds 0.0.0.0 and sets these for its kernels.
    monkeypatch.setenv("JUPYTERHUB_SERVICE_URL", f"http://0.0.0.0:{live_server.port}/")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", live_server.token)
    info = find_server()
    assert info.how == "JupyterHub environment"
    assert info.url == f"http://127.0.0.1:{live_server.port}/"
    client = agnes.connect()
    try:
        assert client.get("version")["name"] == "agnes-jupyter"
    finally:
        monkeypatch.setattr(agnes, "_default", None)


def test_runtime_file_of_the_parent_server_is_found(live_server: LiveServer, clean_env: None,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    assert live_server.proc is not None
    monkeypatch.setenv("JPY_PARENT_PID", str(_server_pid(live_server)))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(live_server.root / "runtime"))
    info = find_server()
    assert info.how.startswith("Jupyter runtime file jpserver-")
    assert info.token == live_server.token


def _server_pid(live_server: LiveServer) -> int:
    files = sorted((live_server.root / "runtime").glob("jpserver-*.json"))
    assert files, "the live server wrote no runtime file"
    return int(json.loads(files[0].read_text())["pid"])


def test_no_server_fails_with_one_message_and_a_hint(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(agnes.ServerNotFound) as err:
        agnes.connect()
    assert "AGNES_SERVER_URL" in (err.value.hint or "")
    assert err.value._render_traceback_()[1].startswith("hint: ")


def test_unreachable_server_is_a_clear_error(clean_env: None) -> None:
    with pytest.raises(agnes.ServerNotFound) as err:
        agnes.connect("http://127.0.0.1:9/", "x")
    assert "could not reach" in err.value.message


def test_a_jupyter_server_without_agnes_is_reported(tmp_path: Path, clean_env: None) -> None:
    from tests._live import free_port, jupyter_command

    port = free_port()
    proc = subprocess.Popen(
        jupyter_command("server", "--no-browser", f"--port={port}", "--ServerApp.token=plain",
                        "--ServerApp.jpserver_extensions={'agnes_server': False}", "--allow-root",
                        f"--ServerApp.root_dir={tmp_path}"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**_env(tmp_path)})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                agnes.connect(f"http://127.0.0.1:{port}/", "plain")
            except agnes.ServerNotFound as exc:
                if "does not run the Agnes extension" in exc.message:
                    break
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)  # polling for the server to listen, with a deadline
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _env(tmp_path: Path) -> dict[str, str]:
    import os

    env = dict(os.environ)
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "runtime")
    env["AGNES_DATA_DIR"] = str(tmp_path / "data")
    return env


def test_import_loads_no_heavy_dependencies() -> None:
    code = ("import sys, agnes_jupyter\n"
            "heavy = {'requests', 'pandas', 'pyarrow', 'duckdb', 'ibis', 'numpy', 'IPython', 'sqlglot'}\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
