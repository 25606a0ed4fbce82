"""The API against its own OpenAPI document, with schemathesis: every operation, generated valid and
invalid requests, every check (server errors, response and request schema conformance, status codes,
headers, Allow on 405, SSE events, deleted resources staying deleted), as a non-admin with a personal
access token and as an admin — on a real Jupyter server in a subprocess, with a bounded number of
examples and a fixed seed. tests/schemathesis.toml lists, with reasons, the operations whose bodies
the server also checks for meaning (SQL, cron fields, connector options).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._live import LiveServer

CONFIG = Path(__file__).resolve().parents[1] / "schemathesis.toml"
#: Examples per operation (besides the coverage phase's own): bounded to keep the suite's time.
EXAMPLES = 10
SEED = 20261201


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("contract"), demo_rows=60_000).start()
    try:
        yield live
    finally:
        live.stop()


def schemathesis(server: LiveServer, token: str, workdir: Path) -> tuple[int, str]:
    st = Path(sys.executable).with_name("st")
    if not st.exists():
        pytest.fail(f"schemathesis is not installed ({st} is missing): pip install -e '.[test]'")
    done = subprocess.run(
        [str(st), "--config-file", str(CONFIG), "run", server.url + "agnes/v1/openapi.json",
         "-H", f"Authorization: token {token}", "--checks", "all", "--max-examples", str(EXAMPLES),
         "--seed", str(SEED), "--workers", "1", "--no-color", "--generation-database", "none",
         "--request-timeout", "60"],
        cwd=workdir, capture_output=True, text=True, timeout=900, check=False)
    return done.returncode, done.stdout + done.stderr


def summary(output: str) -> str:
    at = output.rfind("SUMMARY")
    failures = output[output.find("FAILURES"):at] if "FAILURES" in output else ""
    return (failures[-6000:] + "\n" + output[at - 40:]) if at >= 0 else output[-8000:]


def test_a_non_admin_with_a_personal_access_token_finds_no_server_error_and_no_schema_violation(
        server: LiveServer, tmp_path: Path) -> None:
    server.request("POST", "agnes/v1/admin/users", {"username": "ana"})
    created = server.request("POST", "agnes/v1/admin/users/ana/tokens", {"name": "contract test"})
    assert isinstance(created, dict)
    code, output = schemathesis(server, created["token"], tmp_path)
    assert code == 0, summary(output)
    assert "passed" in output


def test_an_admin_finds_no_server_error_and_no_schema_violation(server: LiveServer, tmp_path: Path) -> None:
    code, output = schemathesis(server, server.token, tmp_path)
    assert code == 0, summary(output)
    assert "passed" in output
