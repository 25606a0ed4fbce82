"""Start-up publishes the kernel environment and the data-dir marker; `jupyter agnes`
goes through the running server's API; shutdown removes the marker."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from agnes_server import cli
from agnes_server.paths import SERVER_MARKER, running_server


@pytest.fixture
def jp_server_config(jp_server_config: dict) -> dict:
    jp_server_config["AgnesApp"]["publish_kernel_env"] = True
    return jp_server_config


async def test_start_publishes_kernel_env_and_marker(jp_serverapp, agnes_data_dir: Path,
                                                     isolated_kernel_env: None) -> None:
    await jp_serverapp.extension_manager.start_all_extensions()
    assert os.environ["AGNES_SERVER_URL"] == jp_serverapp.connection_url
    assert os.environ["AGNES_TOKEN"] == jp_serverapp.identity_provider.token
    marker = json.loads((agnes_data_dir / SERVER_MARKER).read_text())
    assert marker["pid"] == os.getpid()
    assert "token" not in marker  # the token stays in Jupyter's own runtime file
    assert oct((agnes_data_dir / SERVER_MARKER).stat().st_mode & 0o777) == "0o600"


async def test_cli_goes_through_the_running_server(jp_serverapp, agnes_data_dir: Path, api, isolated_kernel_env: None,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    await jp_serverapp.extension_manager.start_all_extensions()
    server = running_server(agnes_data_dir)
    assert server is not None
    assert server.token == jp_serverapp.identity_provider.token
    body = json.dumps({"id": "cli_orders", "source": "demo", "source_table": "orders"})
    (agnes_data_dir.parent / "t.json").write_text(body)
    # The store is open in this very process (the server); the command must use the API.
    code = await asyncio.to_thread(cli.main, ["--data-dir", str(agnes_data_dir), "--json", "tables", "register",
                                              "cli_orders", "--from-json", str(agnes_data_dir.parent / "t.json")])
    assert code == 0, capsys.readouterr().err
    status, got, _ = await api("GET", "admin/tables/cli_orders")
    assert status == 200
    assert got["source_table"] == "orders"


async def test_stop_removes_the_marker(jp_serverapp, agnes_data_dir: Path, isolated_kernel_env: None) -> None:
    await jp_serverapp.extension_manager.start_all_extensions()
    assert (agnes_data_dir / SERVER_MARKER).exists()
    await jp_serverapp.extension_manager.stop_all_extensions()
    assert not (agnes_data_dir / SERVER_MARKER).exists()
