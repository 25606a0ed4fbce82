"""The analyst's local workspace: synced tables, snapshots and a local DuckDB.

Layout (under ``$AGNES_WORKSPACE``, else ``<user data dir>/agnes/workspace``)::

    data/_shared/<table>.parquet     synced tables, one file each
    snapshots/<name>.parquet         snapshots, with <name>.meta.json beside them
    workspace.duckdb                 views over all of them, for other tools (DuckDB CLI, DBeaver)
    sync_state.json                  what was downloaded, with its md5

Every file appears by atomic rename. Each kernel queries through its own in-memory DuckDB whose
views are kept in step with the files, so several kernels (and the DuckDB CLI) never fight over
a database lock; ``workspace.duckdb`` is rebuilt beside and renamed into place when views change
(in a background thread: ``Workspace.wait_catalog_file()`` waits for it).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ValidationError

if TYPE_CHECKING:
    import ibis

WORKSPACE_ENV = "AGNES_WORKSPACE"
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def workspace_dir() -> Path:
    """``$AGNES_WORKSPACE`` if set, else ``<user data dir>/agnes/workspace``."""
    env = os.environ.get(WORKSPACE_ENV)
    if env:
        return Path(env).expanduser().resolve()
    from platformdirs import user_data_dir

    return Path(user_data_dir("agnes", appauthor=False)) / "workspace"


def check_name(name: Any, what: str = "snapshot name") -> str:
    # fullmatch: a name becomes a file name, and re's `$` also matches before a trailing newline.
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise ValidationError(f"{what} {name!r} is not valid",
                              hint="Use a letter or _ then letters, digits or _ (at most 63 characters).",
                              details={"field": "name"})
    return name


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path: Path, payload: Any) -> None:
    atomic_write_bytes(path, json.dumps(payload, indent=2, default=str).encode())


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class Workspace:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or workspace_dir()
        self.shared = self.root / "data" / "_shared"
        self.snapshots = self.root / "snapshots"
        for folder in (self.shared, self.snapshots):
            folder.mkdir(parents=True, exist_ok=True)
        self._con: ibis.BaseBackend | None = None
        self._views: dict[str, tuple[str, int]] = {}
        self._lock = threading.RLock()
        # workspace.duckdb is written by one background thread (a snapshot does not wait for it;
        # the executor's thread is joined at interpreter exit, so the file is never left behind).
        self._catalog_views: list[tuple[str, str]] | None = None
        self._catalog_pending: list[tuple[str, str]] | None = None
        self._catalog_lock = threading.Lock()
        self._catalog_writer: Any = None
        self._catalog_future: Any = None

    # -- files --------------------------------------------------------------------------------

    def snapshot_path(self, name: str) -> Path:
        return self.snapshots / f"{name}.parquet"

    def meta_path(self, name: str) -> Path:
        return self.snapshots / f"{name}.meta.json"

    def snapshot_meta(self, name: str) -> dict[str, Any] | None:
        path = self.meta_path(name)
        if not path.exists() or not self.snapshot_path(name).exists():
            return None
        return dict(json.loads(path.read_text()))

    def snapshot_names(self) -> list[str]:
        return sorted(p.name[: -len(".meta.json")] for p in self.snapshots.glob("*.meta.json")
                      if self.snapshot_path(p.name[: -len(".meta.json")]).exists())

    def shared_tables(self) -> list[str]:
        return sorted(p.stem for p in self.shared.glob("*.parquet") if NAME_RE.match(p.stem))

    def sync_state(self) -> dict[str, Any]:
        path = self.root / "sync_state.json"
        return dict(json.loads(path.read_text())) if path.exists() else {}

    def save_sync_state(self, state: dict[str, Any]) -> None:
        atomic_write_json(self.root / "sync_state.json", state)

    # -- DuckDB ---------------------------------------------------------------------------------

    @property
    def con(self) -> ibis.BaseBackend:
        """This kernel's DuckDB (in memory) with a view per synced table and snapshot."""
        with self._lock:
            if self._con is None:
                from ._backend import AgnesBackend

                self._con = AgnesBackend().connect()
            self.refresh_views()
            return self._con

    def _wanted(self) -> dict[str, tuple[str, int]]:
        wanted: dict[str, tuple[str, int]] = {}
        for table_id in self.shared_tables():
            path = self.shared / f"{table_id}.parquet"
            wanted[table_id] = (str(path), path.stat().st_mtime_ns)
        for name in self.snapshot_names():
            path = self.snapshot_path(name)
            wanted[name] = (str(path), path.stat().st_mtime_ns)
        return wanted

    def refresh_views(self) -> None:
        """Bring the views in step with the files (cheap when nothing changed)."""
        with self._lock:
            if self._con is None:
                return
            wanted = self._wanted()
            if wanted == self._views:
                return
            raw = self._con.con
            for name in set(self._views) - set(wanted):
                raw.execute(f"DROP VIEW IF EXISTS {_quote(name)}")
            for name, (path, stamp) in wanted.items():
                if self._views.get(name) != (path, stamp):
                    raw.execute(f"CREATE OR REPLACE VIEW {_quote(name)} AS "
                                f"SELECT * FROM read_parquet({_literal(path)})")
            self._views = wanted
            self._write_catalog_file(wanted)

    def _write_catalog_file(self, wanted: dict[str, tuple[str, int]]) -> None:
        """Have ``workspace.duckdb`` rewritten in the background when its views change (a view
        names a file, so a snapshot refreshed in place changes nothing there)."""
        views = sorted((name, path) for name, (path, _) in wanted.items())
        if views == self._catalog_views:
            return
        self._catalog_views = views
        with self._catalog_lock:
            self._catalog_pending = views
            if self._catalog_writer is None:
                from concurrent.futures import ThreadPoolExecutor

                self._catalog_writer = ThreadPoolExecutor(1, thread_name_prefix="agnes-workspace-file")
            self._catalog_future = self._catalog_writer.submit(self._write_latest_catalog)

    def wait_catalog_file(self) -> None:
        """Wait until ``workspace.duckdb`` holds the current views."""
        future = self._catalog_future
        if future is not None:
            future.result()

    def write_catalog_file(self) -> None:
        """Rewrite ``workspace.duckdb`` now, in this thread, from the files (for a process that
        changes the workspace without a DuckDB of its own: the server's workspace routes)."""
        views = sorted((name, path) for name, (path, _) in self._wanted().items())
        with self._catalog_lock:
            self._write_views_file(views)

    def _write_latest_catalog(self) -> None:
        with self._catalog_lock:
            views, self._catalog_pending = self._catalog_pending, None
        if views is None:
            return  # a later request already wrote the newest set
        self._write_views_file(views)

    def _write_views_file(self, views: list[tuple[str, str]]) -> None:
        import duckdb

        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".workspace.", suffix=".duckdb")
        os.close(fd)
        os.unlink(tmp)  # DuckDB creates the file itself
        try:
            con = duckdb.connect(tmp)
            try:
                for name, path in views:
                    con.execute(f"CREATE VIEW {_quote(name)} AS SELECT * FROM read_parquet({_literal(path)})")
            finally:
                con.close()
            os.replace(tmp, self.root / "workspace.duckdb")
        except Exception:  # noqa: BLE001 - a convenience copy; the kernel's own views are unaffected
            for leftover in (tmp, tmp + ".wal"):
                if os.path.exists(leftover):
                    os.unlink(leftover)

    def usage_bytes(self) -> dict[str, int]:
        """Bytes on disk; a file hard-linked into several package folders counts once."""

        def size(folder: Path) -> int:
            seen: dict[tuple[int, int], int] = {}
            for p in folder.rglob("*"):
                if p.is_file():
                    st = p.stat()
                    seen[(st.st_dev, st.st_ino)] = st.st_size
            return sum(seen.values())

        return {"snapshots": size(self.snapshots), "data": size(self.root / "data")}


_workspace: Workspace | None = None


def workspace() -> Workspace:
    """This kernel's workspace (re-created if ``$AGNES_WORKSPACE`` changed)."""
    global _workspace
    root = workspace_dir()
    if _workspace is None or _workspace.root != root:
        _workspace = Workspace(root)
    return _workspace
