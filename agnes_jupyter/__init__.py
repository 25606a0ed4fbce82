"""Agnes for Jupyter — the kernel library.

    import agnes_jupyter as agnes
    agnes.catalog()

Heavy dependencies (requests, pandas, ibis, DuckDB) load on first use, so importing
this module is fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    AgnesError,
    ConfirmationRequired,
    Conflict,
    Forbidden,
    NotFound,
    QuotaExceeded,
    ScanTooLarge,
    ServerNotFound,
    SnapshotExists,
    SourceError,
    Unauthorized,
    ValidationError,
)

if TYPE_CHECKING:
    from ._catalog import Catalog
    from ._client import Client

__all__ = [
    "AgnesError",
    "ConfirmationRequired",
    "Conflict",
    "Forbidden",
    "NotFound",
    "QuotaExceeded",
    "ScanTooLarge",
    "ServerNotFound",
    "SnapshotExists",
    "SourceError",
    "Unauthorized",
    "ValidationError",
    "__version__",
    "admin",
    "catalog",
    "client",
    "connect",
    "me",
]

_default: Client | None = None


def __getattr__(name: str) -> Any:
    if name == "admin":
        import importlib

        return importlib.import_module(".admin", __name__)
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("agnes-jupyter")
        except PackageNotFoundError:
            value = "0.0.0+unknown"
        globals()["__version__"] = value
        return value
    raise AttributeError(f"module 'agnes_jupyter' has no attribute {name!r}")


def connect(url: str | None = None, token: str | None = None, *, default: bool = True) -> Client:
    """Connect to the Agnes server and (unless ``default=False``) make it this kernel's default.

    With no arguments the server is found automatically: ``$AGNES_SERVER_URL`` and
    ``$AGNES_TOKEN`` (published to kernels by the server extension), JupyterHub's
    variables, or the runtime file of the server that started this kernel. ``token``
    may be a personal access token, to act as its user.
    """
    global _default
    from ._client import open_client

    new = open_client(url, token)
    if default:
        if _default is not None:
            _default.close()
        _default = new
    return new


def client() -> Client:
    """The default client, connecting on first use."""
    return _default if _default is not None else connect()


def me() -> dict[str, Any]:
    """Who you are to Agnes: username, display name, groups and admin flag."""
    return dict(client().get("me"))


def catalog(search: str | None = None, mode: str | None = None, source: str | None = None,
            package: str | None = None) -> Catalog:
    """The tables you may use, optionally filtered by a search text, mode, source or package."""
    from ._catalog import Catalog

    payload = client().get("catalog", search=search, mode=mode, source=source, package=package)
    return Catalog(payload["tables"])


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext agnes_jupyter``: register the ``%agnes`` magics."""
    from ._magics import register

    register(ipython)

