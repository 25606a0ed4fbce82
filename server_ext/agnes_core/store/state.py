"""The state store: one DuckDB file (``system.duckdb``) with versioned migrations.

One process owns the file (DuckDB allows one writer process). Inside it, reads go
through per-thread cursors and all writes through one lock, so the store is a
single writer with concurrent readers.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

import duckdb

from agnes_core.errors import AgnesError, StoreVersionError
from agnes_core.store import duck
from agnes_core.store.migrations import MIGRATIONS, Migration

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    """Naive UTC 'now': the store keeps every timestamp as naive UTC."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def naive_utc(ts: datetime | None) -> datetime | None:
    """``ts`` as the store keeps it: naive UTC (an aware time converted, a naive one taken as UTC)."""
    if ts is None or ts.tzinfo is None:
        return ts
    return ts.astimezone(timezone.utc).replace(tzinfo=None)


def iso(ts: datetime | None) -> str | None:
    """Render a stored (naive UTC) timestamp as ISO 8601 with a ``Z``."""
    if ts is None:
        return None
    if ts.tzinfo is not None:
        ts = ts.astimezone(timezone.utc).replace(tzinfo=None)
    return ts.isoformat(timespec="milliseconds") + "Z"


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def loads(text: str | None, default: Any = None) -> Any:
    if text is None or text == "":
        return default
    return json.loads(text)


@dataclass(frozen=True)
class StoreInfo:
    path: Path
    schema_version: int
    code_version: int


class StateStore:
    """Open (creating or upgrading) a state store file."""

    #: Called with the store whenever a cursor is taken. None in production; the server tests
    #: install one that names any use of the store on the event loop's thread.
    access_hook: ClassVar[Callable[[StateStore], None] | None] = None

    def __init__(self, path: str | Path, migrations: Sequence[Migration] = MIGRATIONS) -> None:
        self.path = Path(path)
        self._migrations = list(migrations)
        self.code_version = self._migrations[-1].version if self._migrations else 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._refuse_if_newer()
        try:
            self._con = duck.connect(self.path)
        except duckdb.IOException as exc:
            raise AgnesError(
                f"cannot open the state store {self.path}: {exc}",
                hint="Another process (a running Jupyter server or a 'jupyter agnes' command) "
                "may hold it; stop it or point AGNES_DATA_DIR elsewhere.",
                code="unavailable",
            ) from exc
        self._write_lock = threading.RLock()
        self._local = threading.local()
        self._closed = False
        self._before_close: list[Callable[[], None]] = []
        self._migrate()

    # -- version handling ---------------------------------------------------------------

    def _refuse_if_newer(self) -> None:
        """Read the version with a read-only connection so a too-new file stays untouched."""
        if not self.path.exists():
            return
        try:
            con = duck.connect(self.path, read_only=True)
        except duckdb.IOException:
            # Locked by another process: the read-write open below reports it clearly.
            return
        try:
            version = _read_version(con)
        finally:
            con.close()
        if version > self.code_version:
            raise StoreVersionError(
                f"the state store {self.path} has schema version {version}, but this "
                f"agnes-jupyter understands up to version {self.code_version}",
                hint="It was written by a newer agnes-jupyter. Upgrade agnes-jupyter "
                "(pip install -U agnes-jupyter); the file was left untouched.",
                details={"path": str(self.path), "schema_version": version,
                         "code_version": self.code_version},
            )

    def _migrate(self) -> None:
        with self._write_lock:
            con = self._con
            con.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                " version INTEGER PRIMARY KEY, description VARCHAR NOT NULL,"
                " applied_at TIMESTAMP NOT NULL)"
            )
            current = _read_version(con)
            if current > self.code_version:  # raced with a newer writer
                raise StoreVersionError(
                    f"the state store {self.path} has schema version {current}, newer than {self.code_version}",
                    hint="Upgrade agnes-jupyter.",
                )
            for migration in self._migrations:
                if migration.version <= current:
                    continue
                log.info("agnes: migrating %s to schema version %d (%s)",
                         self.path.name, migration.version, migration.description)
                con.execute("BEGIN TRANSACTION")
                try:
                    for statement in migration.statements:
                        con.execute(statement)
                    con.execute(
                        "INSERT INTO schema_version VALUES (?, ?, ?)",
                        [migration.version, migration.description, utcnow()],
                    )
                    con.execute("COMMIT")
                except Exception:
                    con.execute("ROLLBACK")
                    raise
            con.execute("CHECKPOINT")

    def info(self) -> StoreInfo:
        with self.read() as cur:
            return StoreInfo(self.path, _read_version(cur), self.code_version)

    # -- access -----------------------------------------------------------------------

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        hook = StateStore.access_hook
        if hook is not None:
            hook(self)
        if self._closed:
            raise AgnesError("the state store is closed", code="unavailable")
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._con.cursor()
            self._local.cursor = cur
        return cur

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor for reads; each thread has its own."""
        yield self._cursor()

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor inside one transaction, holding the single writer lock."""
        with self._write_lock:
            cur = self._cursor()
            depth = getattr(self._local, "tx_depth", 0)
            if depth:
                # Nested write(): join the outer transaction.
                self._local.tx_depth = depth + 1
                try:
                    yield cur
                finally:
                    self._local.tx_depth = depth
                return
            cur.execute("BEGIN TRANSACTION")
            self._local.tx_depth = 1
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            else:
                cur.execute("COMMIT")
            finally:
                self._local.tx_depth = 0

    def rows(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        """Run a read query and return rows as dicts."""
        with self.read() as cur:
            result = cur.execute(sql, params or [])
            names = [d[0] for d in result.description or []]
            return [dict(zip(names, row, strict=False)) for row in result.fetchall()]

    def row(self, sql: str, params: Sequence[Any] | None = None) -> dict[str, Any] | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        with self.read() as cur:
            got = cur.execute(sql, params or []).fetchone()
            return got[0] if got else None

    def before_close(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` when the store is about to close (writers that queue work finish it first)."""
        self._before_close.append(fn)

    def close(self) -> None:
        if not self._closed:
            for fn in self._before_close:
                try:
                    fn()
                except Exception:  # closing goes on: the store must not stay open
                    log.exception("agnes: a step before closing the state store failed")
            self._closed = True
            try:
                self._con.execute("CHECKPOINT")
            except duckdb.Error:  # best effort on shutdown
                pass
            self._con.close()


def _read_version(con: duckdb.DuckDBPyConnection) -> int:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchone()
    if not exists or not exists[0]:
        return 0
    got = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return int(got[0]) if got else 0
