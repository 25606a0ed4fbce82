"""Where the server's data lives, resolved identically by the server and every
``jupyter agnes`` command, and the marker a running server leaves there."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA_DIR_ENV = "AGNES_DATA_DIR"
SERVER_MARKER = "server.json"


def default_data_dir() -> Path:
    """``$AGNES_DATA_DIR`` if set, else ``<jupyter data dir>/agnes``."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser().resolve()
    from jupyter_core.paths import jupyter_data_dir

    return (Path(jupyter_data_dir()) / "agnes").resolve()


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    return Path(explicit).expanduser().resolve() if explicit else default_data_dir()


@dataclass(frozen=True)
class RunningServer:
    pid: int
    url: str
    token: str

    def api(self, *parts: str) -> str:
        return self.url.rstrip("/") + "/agnes/v1/" + "/".join(p.strip("/") for p in parts)


def write_marker(data_dir: Path, pid: int, url: str, info_file: str | None) -> None:
    """Record that a server with this pid serves ``data_dir``; atomic, owner-readable only.

    The token is not copied here: commands read it from Jupyter's own runtime file.
    """
    payload = {"pid": pid, "url": url, "info_file": info_file}
    tmp = data_dir / f".{SERVER_MARKER}.{pid}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(payload, fh)
    os.replace(tmp, data_dir / SERVER_MARKER)


def remove_marker(data_dir: Path, pid: int) -> None:
    marker = data_dir / SERVER_MARKER
    try:
        if json.loads(marker.read_text()).get("pid") == pid:
            marker.unlink()
    except (OSError, ValueError):
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_server(data_dir: Path) -> RunningServer | None:
    """The live server serving ``data_dir``, or None."""
    marker = data_dir / SERVER_MARKER
    try:
        payload: dict[str, Any] = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    pid = int(payload.get("pid") or 0)
    if not pid or not _alive(pid):
        return None
    token = ""
    info_file = payload.get("info_file")
    if info_file:
        try:
            token = json.loads(Path(info_file).read_text()).get("token", "")
        except (OSError, ValueError):
            token = ""
    return RunningServer(pid, str(payload["url"]), token)
