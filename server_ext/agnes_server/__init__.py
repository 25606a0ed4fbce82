"""Agnes for Jupyter: the Jupyter server extension (the authority)."""

from __future__ import annotations

from typing import Any

try:
    from ._version import __version__
except ImportError:  # a source checkout that was never built
    __version__ = "0.0.0+unknown"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "agnes-jupyter"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import AgnesApp

    return [{"module": "agnes_server", "app": AgnesApp}]
