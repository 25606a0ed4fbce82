from __future__ import annotations

from collections.abc import Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell

import agnes_jupyter as agnes
from tests._live import LiveServer

ENV_VARS = ("AGNES_SERVER_URL", "AGNES_TOKEN", "JUPYTERHUB_SERVICE_URL", "JUPYTERHUB_API_TOKEN", "JPY_PARENT_PID")


@pytest.fixture(autouse=True)
def _close_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every Client a test opens (the default one or ``default=False`` ones) is closed when the test
    ends, so no pooled socket to the live server outlives its test and warns in a later one."""
    from agnes_jupyter._client import Client

    opened: list[Client] = []
    original = Client.__init__

    def tracking(self: Client, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        opened.append(self)

    monkeypatch.setattr(Client, "__init__", tracking)
    yield
    for client in opened:
        client.close()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No server-finding variables set (recorded first so they are restored)."""
    for var in ENV_VARS:
        monkeypatch.setenv(var, "recorded")
        monkeypatch.delenv(var)


@pytest.fixture
def connected(live_server: LiveServer, clean_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    """The library configured the way the server configures its kernels."""
    monkeypatch.setenv("AGNES_SERVER_URL", live_server.url)
    monkeypatch.setenv("AGNES_TOKEN", live_server.token)
    agnes.connect()
    yield live_server
    monkeypatch.setattr(agnes, "_default", None)


@pytest.fixture
def shell(connected: LiveServer) -> Iterator[InteractiveShell]:
    """An IPython shell with the %agnes magics loaded, connected to the live server."""
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "agnes_jupyter")
    yield ip
    InteractiveShell.clear_instance()
