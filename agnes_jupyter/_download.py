"""The kernel's one way to download a table into the workspace: ``agnes.table()`` (on demand) and
``agnes.sync()`` (My Stack) both use it.

A download goes to ``data/_shared/.<id>.<md5>.part``, resumes with a ``Range`` request after a cut
or a killed kernel, retries connection errors, timeouts and 5xx answers with a doubling back-off,
checks the md5 the server names in its ``ETag``, makes the file read-only and renames it into
place. Workspace locks are :mod:`filelock` locks, so they work wherever Python does.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

from .errors import AgnesError, Conflict, ServerNotFound, SourceError

if TYPE_CHECKING:
    import requests

    from ._client import Client
    from ._workspace import Workspace

#: connect, and between two chunks of a stream
STREAM_TIMEOUT = (15.0, 900.0)
LOCK_FILE = ".sync.lock"
STATE_LOCK_FILE = ".sync_state.lock"
CHUNK = 1 << 20
#: Attempts per table for connection errors, timeouts and 5xx answers, with a doubling backoff.
ATTEMPTS = 3
BACKOFF_SECONDS = 0.5
PART_RE = re.compile(r"^\.(?P<id>[A-Za-z_][A-Za-z0-9_]{0,62})\.(?P<md5>[0-9a-f]{32})\.part$")


# -- locks and state -------------------------------------------------------------------------------


@contextmanager
def sync_lock(ws: Workspace) -> Iterator[None]:
    """Held for a whole sync; a second sync (another kernel, process or thread) fails at once."""
    from filelock import FileLock, Timeout

    path = ws.root / LOCK_FILE
    lock = FileLock(path, is_singleton=False, thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise Conflict("another sync is running in this workspace",
                       hint="Wait for it to finish (in another kernel or terminal), then run agnes.sync() "
                            "again. A sync that was killed releases the lock by itself.",
                       details={"lock": str(path)}) from None
    try:
        yield
    finally:
        lock.release()


@contextmanager
def state_lock(ws: Workspace) -> Iterator[None]:
    from filelock import FileLock

    with FileLock(ws.root / STATE_LOCK_FILE, is_singleton=False, thread_local=False):
        yield


def update_state(ws: Workspace, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Read ``sync_state.json``, let ``change`` edit its ``tables`` (id -> record) in place, and
    write it atomically — under a short lock, as sync and on-demand downloads both write it."""
    with state_lock(ws):
        state = ws.sync_state()
        before = json.dumps(state, sort_keys=True, default=str)
        change(state.setdefault("tables", {}))
        if json.dumps(state, sort_keys=True, default=str) != before:
            ws.save_sync_state(state)
    return state


# -- one download ------------------------------------------------------------------------------------


class _Restart(Exception):
    """The partial download cannot be continued (md5 mismatch, range refused): start over."""


class _Cancelled(Exception):
    """Another part of the sync was interrupted."""


def _write_chunk(fh: IO[bytes], chunk: bytes) -> None:
    fh.write(chunk)


def retryable(exc: BaseException) -> bool:
    import requests

    if isinstance(exc, requests.RequestException | ServerNotFound):
        return True  # connection refused or cut mid-stream, read timeout
    return isinstance(exc, AgnesError) and (exc.code == "timeout" or (exc.status or 0) >= 500)


def data_path(table_id: str) -> str:
    return f"sync/tables/{quote(table_id, safe='')}/data"


class Downloads:
    """Downloads tables into ``shared`` (in the caller's thread or worker threads); counts the
    bytes and drives ``bar`` (anything with ``update(n)``) for all of them."""

    def __init__(self, client: Client, shared: Path, bar: Any = None) -> None:
        self.client = client
        self.shared = shared
        self.bar = bar
        self.bytes = 0
        self.cancelled = threading.Event()
        self._lock = threading.Lock()

    def _count(self, n: int, network: bool = True) -> None:
        with self._lock:
            if network:
                self.bytes += n
            if self.bar is not None:
                self.bar.update(n)

    def download(self, entry: dict[str, Any], response: requests.Response | None = None) -> int:
        """Fetch one table (``id``, ``md5``, ``size_bytes``) into ``<shared>/<id>.parquet``; its size.
        ``response``: an answer already open for the whole file (the first attempt streams it)."""
        tid, md5 = entry["id"], entry["md5"]
        part = self.shared / f".{tid}.{md5}.part"
        failures = restarts = 0
        while True:
            try:
                opened, response = response, None
                return self._attempt(entry, part, opened)
            except _Restart as exc:
                part.unlink(missing_ok=True)
                restarts += 1
                if restarts > 1:
                    raise SourceError(f"the download of {tid!r} does not match its md5 ({exc})",
                                      hint="Run it again.") from None
            except Exception as exc:
                failures += 1
                if self.cancelled.is_set() or not retryable(exc) or failures >= ATTEMPTS:
                    raise
                time.sleep(BACKOFF_SECONDS * 2 ** (failures - 1))  # backoff before retrying, not a wait

    def _attempt(self, entry: dict[str, Any], part: Path, opened: requests.Response | None) -> int:
        tid, md5, size = entry["id"], entry["md5"], entry.get("size_bytes")
        digest: Any = None
        have = 0
        if opened is not None:
            part.unlink(missing_ok=True)  # the open answer is the whole file
        elif os.path.lexists(part):
            digest = hashlib.md5(usedforsecurity=False)
            have = _hash_into(part, digest)  # raises for a part that cannot be read: a real failure
            if isinstance(size, int) and have > size:
                raise _Restart("the partial download is longer than the table")
        if have and have == size:
            self._count(have, network=False)
            return self._finish(tid, md5, part, digest)
        response = opened
        if response is None:
            headers = {"Range": f"bytes={have}-"} if have else {}
            try:
                response = self.client.request("GET", data_path(tid), stream=True, headers=headers,
                                               timeout=STREAM_TIMEOUT)
            except AgnesError as exc:
                if exc.status == 416 or exc.code == "range_not_satisfiable":
                    raise _Restart("the server refused to continue the partial download") from None
                raise
        try:
            etag = response.headers.get("ETag", "").strip('"')
            if etag and etag != md5:
                raise SourceError(f"{tid!r} changed on the server during the download",
                                  hint="Run it again to fetch the new version.")
            if response.status_code == 206:
                if not have or _range_start(response) != have:
                    raise _Restart("the server sent another range than asked for")
                mode = "ab"
                self._count(have, network=False)
            else:  # the whole file (a 200 also answers a Range the server chose not to honour)
                mode, digest = "wb", hashlib.md5(usedforsecurity=False)
            self._stream(response, part, mode, digest)
        finally:
            response.close()
        return self._finish(tid, md5, part, digest)

    def _stream(self, response: requests.Response, part: Path, mode: str, digest: Any) -> None:
        with open(part, mode) as fh:
            for chunk in response.iter_content(CHUNK):
                if self.cancelled.is_set():
                    raise _Cancelled
                _write_chunk(fh, chunk)
                digest.update(chunk)
                self._count(len(chunk))
            fh.flush()
            _datasync(fh.fileno())

    def _finish(self, tid: str, md5: str, part: Path, digest: Any) -> int:
        if digest.hexdigest() != md5:
            raise _Restart("md5 mismatch")
        target = self.shared / f"{tid}.parquet"
        os.chmod(part, 0o444)  # read-only, links included: a file edited in place would defeat the size check
        os.replace(part, target)
        return target.stat().st_size


def _datasync(fd: int) -> None:
    """The part's bytes are on disk before it is renamed into place (a power cut cannot leave a
    renamed file without its data). ``fdatasync`` skips the inode times that ``fsync`` also
    writes: measured 25 % faster on a 1 GB sync (benchmarks/sync.py)."""
    getattr(os, "fdatasync", os.fsync)(fd)


def _hash_into(path: Path, digest: Any) -> int:
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
            size += len(block)
    return size


def _range_start(response: requests.Response) -> int | None:
    m = re.match(r"^bytes (\d+)-", response.headers.get("Content-Range", ""))
    return int(m.group(1)) if m else None


def run_downloads(downloads: Downloads, entries: list[dict[str, Any]], workers: int) -> dict[str, Any]:
    """id -> size, or the exception that failed it. An interrupt cancels the others."""
    results: dict[str, Any] = {}
    pool = ThreadPoolExecutor(max_workers=min(workers, len(entries)), thread_name_prefix="agnes-sync")
    try:
        futures: dict[Future[int], str] = {pool.submit(downloads.download, e): e["id"] for e in entries}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    results[futures[future]] = future.result()
                except Exception as exc:  # noqa: BLE001 - one failing table does not abort the others
                    results[futures[future]] = exc
    except BaseException:
        downloads.cancelled.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return results


# -- on demand ---------------------------------------------------------------------------------------


def ensure_local(client: Client, ws: Workspace, table_id: str) -> Path:
    """``data/_shared/<id>.parquet`` up to date with the server: a conditional GET on the md5 of
    the copy we have (304: nothing to do), else the same resumable, verified download as sync."""
    state = ws.sync_state()
    known = state.get("tables", {}).get(table_id)
    path = ws.shared / f"{table_id}.parquet"
    headers = {"If-None-Match": f'"{known["md5"]}"'} if known and path.exists() else {}
    downloads = Downloads(client, ws.shared)
    failures = 0
    while True:
        try:
            response = client.request("GET", data_path(table_id), stream=True, headers=headers,
                                      timeout=STREAM_TIMEOUT)
            break
        except Exception as exc:
            failures += 1
            if not retryable(exc) or failures >= ATTEMPTS:
                raise
            time.sleep(BACKOFF_SECONDS * 2 ** (failures - 1))  # backoff before retrying, not a wait
    if response.status_code == 304:
        response.close()
        return path
    md5 = response.headers.get("ETag", "").strip('"')
    length = response.headers.get("Content-Length")
    entry = {"id": table_id, "md5": md5, "size_bytes": int(length) if length and length.isdigit() else None}
    if not re.fullmatch(r"[0-9a-f]{32}", md5):
        response.close()
        raise SourceError(f"the server sent {table_id!r} without its md5", hint="Run it again.")
    downloads.download(entry, response)
    fresh = {"md5": md5, "size_bytes": path.stat().st_size, "rows": int(response.headers.get("X-Agnes-Rows") or 0),
             "downloaded_at": datetime.now(timezone.utc).isoformat()}

    def record(tables: dict[str, Any]) -> None:
        # A table sync put here stays sync's; one fetched only on demand is kept by sync while it is readable.
        had = tables.get(table_id) or {}
        tables[table_id] = {**had, **fresh, "origin": had.get("origin", "on_demand")}

    update_state(ws, record)
    return path
