"""Finding the Agnes server from a kernel: explicit values, environment, JupyterHub,
then Jupyter's runtime files matched on the parent server's pid."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .errors import ServerNotFound

URL_ENV = "AGNES_SERVER_URL"
TOKEN_ENV = "AGNES_TOKEN"


@dataclass(frozen=True)
class ServerInfo:
    url: str  # the Jupyter server's URL including its base URL, ending with '/'
    token: str
    how: str  # where it was found (for messages)

    def api(self, path: str) -> str:
        return f"{self.url}agnes/v1/{path.lstrip('/')}"


def _normalise(url: str) -> str:
    """Make a server URL connectable and end it with '/'."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    netloc = parts.netloc
    if parts.hostname in ("0.0.0.0", "::"):
        # A bind-all address is not connectable; the server is on this machine.
        netloc = "127.0.0.1" + (f":{parts.port}" if parts.port else "")
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return urlunsplit((parts.scheme, netloc, path, "", ""))


def _from_runtime_files(pid: str) -> ServerInfo | None:
    try:
        from jupyter_core.paths import jupyter_runtime_dir
    except ImportError:
        return None
    info_file = Path(jupyter_runtime_dir()) / f"jpserver-{pid}.json"
    try:
        info = json.loads(info_file.read_text())
    except (OSError, ValueError):
        return None
    return ServerInfo(_normalise(info["url"]), info.get("token", ""), f"Jupyter runtime file {info_file.name}")


def find_server(url: str | None = None, token: str | None = None) -> ServerInfo:
    """Resolve the server: arguments, then $AGNES_SERVER_URL/$AGNES_TOKEN, then JupyterHub's
    variables, then the runtime file of the server that started this kernel."""
    env = os.environ
    if url:
        return ServerInfo(_normalise(url), token if token is not None else env.get(TOKEN_ENV, ""), "arguments")
    if env.get(URL_ENV):
        return ServerInfo(_normalise(env[URL_ENV]), token or env.get(TOKEN_ENV, ""), f"${URL_ENV}")
    if env.get("JUPYTERHUB_SERVICE_URL") and env.get("JUPYTERHUB_API_TOKEN"):
        return ServerInfo(_normalise(env["JUPYTERHUB_SERVICE_URL"]), token or env["JUPYTERHUB_API_TOKEN"],
                          "JupyterHub environment")
    parent = env.get("JPY_PARENT_PID")
    if parent:
        found = _from_runtime_files(parent)
        if found:
            return ServerInfo(found.url, token or found.token, found.how)
    raise ServerNotFound(
        "could not find the Jupyter server that runs Agnes",
        hint=f"Start this kernel from JupyterLab, or set {URL_ENV} (e.g. http://localhost:8888/) and "
        f"{TOKEN_ENV} (see 'jupyter server list'), or call agnes.connect(url, token).",
    )
