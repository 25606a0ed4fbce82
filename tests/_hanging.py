"""Sources that hang, for the tests and benchmarks/shutdown.py.

- :class:`SilentServer`: a "PostgreSQL" that accepts TCP and never sends a byte, so every call
  to it hangs connecting (libpq waits for the server's first answer).
- :func:`hold_lock`: a real PostgreSQL table held ACCESS EXCLUSIVE by another session, so every
  read of it (a sample, ``pg_total_relation_size`` in metadata) hangs mid-query.
- :class:`HungCalls`: four calls to a running server that hang, two of each kind — a sample and
  a discovery of the silent source, a sample and a metadata refresh of the locked table — each
  from a thread of its own, and a wait until all four are in the sources.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

SILENT_ENV = "AGNES_TEST_SILENT_DSN"
HANG_ENV = "AGNES_TEST_HANG_DSN"
HANG_DB = "agnes_hang"


class SilentServer:
    """Accepts TCP connections and never answers (a PostgreSQL port behind a broken proxy)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True, name="silent-server")
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=agnes password=never-sent dbname=nothing"

    def close(self) -> None:
        """Stop accepting (shutdown wakes the accepting thread), then close every connection it
        took: one accepted while closing would otherwise outlive the server, unclosed."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self._thread.join(timeout=10)
        for conn in self.accepted:
            conn.close()


def make_hang_db(cluster: object) -> str:
    """The DSN of a database with ``public.locked`` (100 rows) in ``cluster`` (a tests._pg.PgCluster)."""
    psql = cluster.psql  # type: ignore[attr-defined]
    try:
        psql(f"CREATE DATABASE {HANG_DB}", dbname="postgres")
    except RuntimeError:
        pass  # made earlier in the session
    psql("CREATE TABLE IF NOT EXISTS public.locked (id int PRIMARY KEY, v text);"
         "INSERT INTO public.locked SELECT i, 'v' || i FROM generate_series(1, 100) i ON CONFLICT DO NOTHING;"
         "ANALYZE public.locked;", dbname=HANG_DB)
    dsn = str(cluster.dsn)  # type: ignore[attr-defined]
    return dsn.replace(f"dbname={cluster.dbname}", f"dbname={HANG_DB}")  # type: ignore[attr-defined]


@contextmanager
def hold_lock(dsn: str, table: str = "public.locked") -> Iterator[None]:
    """``table`` locked ACCESS EXCLUSIVE by another session while inside."""
    holder = psycopg.connect(dsn)
    try:
        holder.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        yield
    finally:
        holder.rollback()
        holder.close()


def lock_waiters(dsn: str) -> int:
    """Sessions of the hang database waiting for a lock."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND wait_event_type = 'Lock'").fetchone()
    return int(row[0]) if row else 0


def register(data_dir: Path) -> None:
    """The two hanging sources and a remote table on each, in a data dir (before its server starts:
    registering through the API would start calls of its own)."""
    from agnes_core.core import AgnesCore

    core = AgnesCore(data_dir)
    try:
        core.registry.add_source({"name": "silent", "type": "postgres", "secrets": {"dsn": SILENT_ENV},
                                  "options": {"connect_timeout_seconds": 300}})
        core.registry.add_source({"name": "hang", "type": "postgres", "secrets": {"dsn": HANG_ENV}})
        core.registry.register_table({"id": "silent_t", "source": "silent", "bucket": "public",
                                      "source_table": "t", "query_mode": "remote"})
        core.registry.register_table({"id": "locked_t", "source": "hang", "bucket": "public",
                                      "source_table": "locked", "query_mode": "remote"})
    finally:
        core.close()


#: Server options that keep the calls hung until the server is stopped (no warm-up or scheduled
#: work of its own; source calls allowed ten minutes).
HANG_TRAITS = ("--AgnesApp.warmup_on_start=False", "--AgnesApp.metadata_refresh_interval_seconds=0",
               "--AgnesApp.scheduler_interval_seconds=0", "--AgnesApp.source_timeout_seconds=600",
               "--AgnesApp.metadata_timeout_seconds=600")


class HungCalls:
    """The four hanging requests, each on a thread; ``outcomes`` says how each ended."""

    CALLS = (("GET", "tables/silent_t/sample"), ("POST", "admin/sources/silent/discover"),
             ("GET", "tables/locked_t/sample"), ("POST", "admin/metadata/refresh/locked_t"))

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token
        self.outcomes: dict[str, str] = {}
        self.threads = [threading.Thread(target=self._call, args=call, daemon=True) for call in self.CALLS]

    def _call(self, method: str, route: str) -> None:
        req = urllib.request.Request(self.url + "agnes/v1/" + route, method=method,
                                     data=b"" if method == "POST" else None,
                                     headers={"Authorization": f"token {self.token}"})
        try:
            with urllib.request.urlopen(req, timeout=600) as resp:
                self.outcomes[route] = f"{resp.status} {json.loads(resp.read() or b'null')}"[:300]
        except urllib.error.HTTPError as exc:
            self.outcomes[route] = f"{exc.code} {exc.read().decode(errors='replace')[:300]}"
        except (urllib.error.URLError, ConnectionError, OSError) as exc:
            self.outcomes[route] = f"ended: {type(exc).__name__}"

    def start(self, silent: SilentServer, hang_dsn: str, deadline_s: float = 60.0) -> HungCalls:
        """Start the calls and wait until all four hang in their sources."""
        for thread in self.threads:
            thread.start()
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if len(silent.accepted) >= 2 and lock_waiters(hang_dsn) >= 2:
                return self
            if self.outcomes:
                raise AssertionError(f"a call ended before it hung: {self.outcomes}")
            time.sleep(0.1)  # polling with a deadline
        raise AssertionError(f"the calls did not all hang: {len(silent.accepted)} connections to the silent "
                             f"source, {lock_waiters(hang_dsn)} sessions waiting for the lock, {self.outcomes}")
