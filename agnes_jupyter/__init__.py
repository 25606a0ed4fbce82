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
    AlreadyExists,
    ConfirmationRequired,
    Conflict,
    Forbidden,
    NotFound,
    NotRemote,
    QueryError,
    QuotaExceeded,
    Rejected,
    RequiredItem,
    ScanCancelled,
    ScanTimeout,
    ScanTooLarge,
    ServerNotFound,
    SnapshotExists,
    SourceError,
    Unauthorized,
    ValidationError,
    ValueTooLarge,
)

if TYPE_CHECKING:
    from ._catalog import Catalog
    from ._client import Client
    from ._discovery import Description, FreshnessReport, Sample, Schema
    from ._estimate import Estimate
    from ._packages import Package, PackageList, Recipe, RecipeList, Stack
    from ._snapshots import DiskInfo, PruneReport, RefreshReport, SnapshotList
    from ._sync import SyncReport

__all__ = [
    "AgnesError",
    "AlreadyExists",
    "ConfirmationRequired",
    "Conflict",
    "Forbidden",
    "NotFound",
    "NotRemote",
    "QueryError",
    "QuotaExceeded",
    "Rejected",
    "RequiredItem",
    "ScanCancelled",
    "ScanTimeout",
    "ScanTooLarge",
    "ServerNotFound",
    "SnapshotExists",
    "SourceError",
    "SyncReport",
    "Unauthorized",
    "ValidationError",
    "ValueTooLarge",
    "__version__",
    "add_to_stack",
    "admin",
    "catalog",
    "client",
    "confirm",
    "connect",
    "describe",
    "disk_info",
    "drop_snapshot",
    "estimate",
    "freshness",
    "me",
    "package",
    "packages",
    "prune_snapshots",
    "recipe",
    "recipes",
    "refresh_snapshot",
    "remove_from_stack",
    "sample",
    "schema",
    "snapshot",
    "snapshots",
    "sql",
    "stack",
    "sync",
    "table",
    "widgets",
]

_default: Client | None = None


def __getattr__(name: str) -> Any:
    if name in ("admin", "widgets"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    if name == "SyncReport":
        from ._sync import SyncReport

        return SyncReport
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


def confirm() -> Any:
    """``with agnes.confirm():`` — gated scans in the block run above the confirmation threshold
    (as if each had ``confirm=True``)."""
    from ._backend import confirm as _confirm

    return _confirm()


def me() -> dict[str, Any]:
    """Who you are to Agnes: username, display name, groups and admin flag."""
    return dict(client().get("me"))


def catalog(search: str | None = None, mode: str | None = None, source: str | None = None,
            package: str | None = None) -> Catalog:
    """The tables you may use, optionally filtered by a search text, mode, source or package."""
    from ._catalog import Catalog

    payload = client().get("catalog", search=search, mode=mode, source=source, package=package)
    return Catalog(payload["tables"])


def schema(table_id: str) -> Schema:
    """Columns of a table with their types in its dialect, and its partition and cluster columns."""
    from urllib.parse import quote

    from ._discovery import Schema

    try:
        return Schema(client().get(f"tables/{quote(table_id, safe='')}/schema"))
    except NotFound:
        from ._tables import unknown_table

        raise unknown_table(table_id) from None


def sample(table_id: str, n: int = 5) -> Sample:
    """Up to ``n`` (1-100) rows: from the extract for local tables, the source's cheapest path otherwise."""
    from urllib.parse import quote

    from ._discovery import Sample

    try:
        return Sample(client().get(f"tables/{quote(table_id, safe='')}/sample", n=n))
    except NotFound:
        from ._tables import unknown_table

        raise unknown_table(table_id) from None


def describe(table_id: str, n: int = 5) -> Description:
    """One table at a glance: its catalog entry, schema and a sample."""
    from ._discovery import Description

    entries = [t for t in catalog(search=table_id).tables if t["id"] == table_id]
    if not entries:
        from ._tables import unknown_table

        raise unknown_table(table_id)
    return Description(entries[0], schema(table_id), sample(table_id, n))


def freshness() -> FreshnessReport:
    """How fresh the metadata (rows, size, layout) of each remote table you may read is."""
    from ._discovery import FreshnessReport

    return FreshnessReport(client().get("metadata/status"))


def table(table_id: str) -> Any:
    """An ibis table: local tables over the workspace DuckDB (downloaded on first use), remote
    tables as expressions in the source's dialect for :func:`estimate` and :func:`snapshot`."""
    from ._tables import table as _table

    return _table(table_id)


def estimate(expr_or_sql: Any) -> Estimate:
    """What a scan would read, return and cost, and the gate's verdict — without running it."""
    from ._estimate import estimate as _estimate

    return _estimate(expr_or_sql)


def snapshot(expr_or_sql: Any, name: str, confirm: bool | None = None, force: bool = False,
             progress: bool = True, max_age: Any = None) -> Any:
    """Run a gated scan into ``snapshots/<name>.parquet``; an ibis table over it. Re-running
    with the same query returns the existing snapshot (refreshed when older than ``max_age``,
    e.g. ``"1d"``); a different query under an existing name needs ``force=True``."""
    from ._snapshots import snapshot as _snapshot

    return _snapshot(expr_or_sql, name=name, confirm=confirm, force=force, progress=progress, max_age=max_age)


def snapshots() -> SnapshotList:
    """Your snapshots: rows, size, age and the tables they came from."""
    from ._snapshots import snapshots as _snapshots

    return _snapshots()


def refresh_snapshot(name: str, confirm: bool | None = None, progress: bool = True) -> RefreshReport:
    """Run a snapshot's query again; reports rows and bytes before → after and whether identical."""
    from ._snapshots import refresh_snapshot as _refresh

    return _refresh(name, confirm=confirm, progress=progress)


def drop_snapshot(name: str) -> None:
    """Delete one snapshot (its file, metadata and view)."""
    from ._snapshots import drop_snapshot as _drop

    _drop(name)


def prune_snapshots(older_than: Any = None, larger_than: Any = None, dry_run: bool = False) -> PruneReport:
    """Delete snapshots older than (``'7d'``) and/or larger than (``'1g'``); refuses with no criteria."""
    from ._snapshots import prune_snapshots as _prune

    return _prune(older_than=older_than, larger_than=larger_than, dry_run=dry_run)


def disk_info(cap: Any = None) -> DiskInfo:
    """Workspace disk use against a local cap (default 10 GiB); warns when over."""
    from ._snapshots import disk_info as _disk_info

    return _disk_info(cap)


def sql(query: str, params: dict[str, Any] | None = None) -> Any:
    """SQL on the workspace DuckDB (synced tables and snapshots by name), as an ibis table;
    ``params`` fill ``:name`` placeholders as typed literals."""
    from ._tables import sql as _sql

    return _sql(query, params)


def packages() -> PackageList:
    """Browse: the data packages you may see, as cards (lifecycle, tags, tables, why to use)."""
    from ._packages import packages as _packages

    return _packages()


def package(slug: str) -> Package:
    """One data package you may see: its tables, description and example questions, as a card."""
    from ._packages import package as _package

    return _package(slug)


def stack() -> Stack:
    """My Stack: your subscriptions plus everything granted to you as required."""
    from ._packages import stack as _stack

    return _stack()


def add_to_stack(item: str, kind: str = "package") -> Stack:
    """Subscribe to a package (or ``kind='recipe'``/``'table'``) granted to you; the next sync brings it."""
    from ._packages import add_to_stack as _add

    return _add(item, kind)


def remove_from_stack(item: str, kind: str = "package") -> None:
    """Unsubscribe; what is granted to you as required stays (the error says why)."""
    from ._packages import remove_from_stack as _remove

    _remove(item, kind)


def recipes() -> RecipeList:
    """The recipes (parameterised SQL) you may use."""
    from ._packages import recipes as _recipes

    return _recipes()


def recipe(slug: str) -> Recipe:
    """One recipe: ``.render(**params)`` gives its SQL, ``.insert(**params)`` adds a cell that runs it."""
    from ._packages import recipe as _recipe

    return _recipe(slug)


def sync(dry_run: bool = False, progress: bool = True, workers: int = 4) -> SyncReport:
    """Download the tables of My Stack into ``data/`` (changed ones only, resumable, md5-verified),
    link them into their package folders and remove what left the stack; ``dry_run`` only reports."""
    from ._sync import sync as _sync

    return _sync(dry_run=dry_run, progress=progress, workers=workers)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext agnes_jupyter``: register the ``%agnes`` magics."""
    from ._magics import register

    register(ipython)

