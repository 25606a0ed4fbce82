"""Workspace jobs: the JupyterLab panel's sync and snapshots, run in this server by the kernel
library's own code (one implementation), as the user who asked.

The workspace lives where the server runs, so the panel cannot write it itself: it asks the
routes in ``handlers/workspace.py``, which start a job here. A job runs ``agnes_jupyter``'s
``run_sync`` / ``_run_snapshot`` / ``run_refresh`` on a thread of this module's own pool. That code
talks HTTP to the Agnes API of this very server (manifest, downloads, estimate, scans), with a
:class:`~agnes_server.identity.InProcessTokens` token of the calling user, so every request the
job makes is the user's own — same RBAC, gate, budget and audit as from their kernel.

Whose workspace: the server's own (``$AGNES_WORKSPACE``, else the user data dir — where the
server's kernels keep theirs) belongs to its owner: in a personal server everyone who logs in to
Jupyter; in a JupyterHub single-user server ``$JUPYTERHUB_USER``; else ``AgnesApp.username`` (or
the OS user). Anyone else (a personal access token of another user, a shared server's users) gets
``<workspace>/users/<name>-<hash>/``: one user's sync never removes another's tables, nor does
one list another's snapshots.

Jobs are kept in memory: the user who started one may read it (anyone else gets 404); the last
``MAX_FINISHED`` finished ones are kept. Progress comes from the kernel code's progress callback
(worker threads) and is published on the event loop, coalesced, to the job's listeners (SSE).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from filelock import FileLock, Timeout

from agnes_core import ids
from agnes_core.access.principals import Principal
from agnes_core.errors import (
    STATUS_BY_CODE,
    AgnesError,
    AlreadyRunning,
    NotFound,
    QuotaExceeded,
    SnapshotExists,
    Unavailable,
    from_envelope,
)

# The kernel library: its sync and snapshot code is what the jobs run (loaded with the server, so
# that no request waits for its first import).
from agnes_jupyter import errors as kernel
from agnes_jupyter._client import Client
from agnes_jupyter._connection import find_server
from agnes_jupyter._download import LOCK_FILE
from agnes_jupyter._snapshots import (
    _run_snapshot,
    _same_request,
    check_target,
    existing_snapshot,
    remove_snapshot,
    run_refresh,
    workspace_disk,
)
from agnes_jupyter._sync import run_sync
from agnes_jupyter._workspace import Workspace, check_name, workspace_dir

if TYPE_CHECKING:
    from .app import AgnesApp

log = logging.getLogger(__name__)
T = TypeVar("T")

#: The API paths (below ``agnes/v1/``) a job's in-process token reaches: what the kernel library's
#: sync and snapshot code asks, nothing else.
JOB_PATHS = re.compile(
    r"catalog|sync/manifest|sync/tables/" + ids.TABLE_ID_RE.pattern.strip("^$") + r"/data"
    r"|scans|scans/estimate|scans/[0-9a-f]{1,64}")
#: A job's token expires after this even if the job never ends (it is revoked when it does).
JOB_TOKEN_TTL_S = 12 * 3600.0
#: Finished jobs kept for GET workspace/jobs/{id} (the oldest go first).
MAX_FINISHED = 100
#: A snapshot job answers its POST once the scan has started: every refusal of the gate comes
#: before this phase (see agnes_jupyter._scans._stream_scan).
ADMITTED_PHASE = "scanning"


class JobCancelled(BaseException):
    """Raised in a job's thread, from its progress callback, once the job was cancelled (the server
    is stopping). A BaseException, like KeyboardInterrupt in a kernel: the kernel code stops its
    downloads and its scan stream for it, and catches it nowhere."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Job:
    """One sync, snapshot or refresh. Its public state is changed on the event loop only; the
    worker thread reports through :meth:`report` and ends through :meth:`_finish`."""

    def __init__(self, kind: str, principal: Principal, root: Path, name: str | None,
                 loop: asyncio.AbstractEventLoop, waits_for_admission: bool) -> None:
        self.job_id = uuid.uuid4().hex
        self.kind = kind
        self.owner = principal.username
        self.display_name = principal.display_name
        self.root = root
        self.name = name
        self.status = "running"
        self.progress: dict[str, Any] = {"done_bytes": 0, "total_bytes": None, "phase": "starting", "message": ""}
        self.result: dict[str, Any] | None = None
        self.error: dict[str, Any] | None = None
        self.created_at = _now()
        self.finished_at: str | None = None
        self.cancelled = threading.Event()
        #: Resolved (on the loop) with None once the job is admitted, or with the error that
        #: refused it before; sync jobs are admitted at once.
        self.admitted: asyncio.Future[AgnesError | None] = loop.create_future()
        if not waits_for_admission:
            self.admitted.set_result(None)
        self._loop = loop
        self._lock = threading.Lock()
        self._latest: dict[str, Any] | None = None
        self._publish_pending = False
        self._admission_sent = not waits_for_admission
        self._listeners: set[asyncio.Event] = set()
        self.on_end: Callable[[Job], None] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "kind": self.kind, "status": self.status, "name": self.name,
                "progress": dict(self.progress), "result": self.result, "error": self.error,
                "created_at": self.created_at, "finished_at": self.finished_at}

    # -- the worker thread's side -------------------------------------------------------------

    def report(self, phase: str, done_bytes: int, total_bytes: int | None, message: str) -> None:
        """The kernel code's progress callback (``agnes_jupyter._progress.ProgressCallback``)."""
        if self.cancelled.is_set():
            raise JobCancelled
        with self._lock:
            self._latest = {"done_bytes": int(done_bytes), "total_bytes": total_bytes, "phase": phase,
                            "message": message}
            admitted = phase == ADMITTED_PHASE and not self._admission_sent
            if admitted:
                self._admission_sent = True
            publish = not self._publish_pending
            self._publish_pending = True
        if admitted:
            self._call(self._admit)
        if publish:
            self._call(self._publish)

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop is closed: the server is gone, and nobody listens
            pass

    # -- the loop's side --------------------------------------------------------------------------

    def _admit(self) -> None:
        if not self.admitted.done():
            self.admitted.set_result(None)

    def _publish(self) -> None:
        with self._lock:
            latest, self._latest, self._publish_pending = self._latest, None, False
        if latest is not None and self.status == "running":
            self.progress = latest
            self._wake()

    def _finish(self, result: dict[str, Any] | None, error: AgnesError | None) -> None:
        self._publish()
        self.status = "failed" if error is not None else "succeeded"
        self.result = result
        self.error = error.envelope() if error is not None else None
        self.finished_at = _now()
        total = self.progress.get("total_bytes")
        self.progress = {"done_bytes": self.progress.get("done_bytes", 0), "total_bytes": total,
                         "phase": "failed" if error is not None else "done",
                         "message": error.message if error is not None else ""}
        if not self.admitted.done():
            self.admitted.set_result(error)  # refused before it started: the POST answers with it
        self._wake()
        if self.on_end is not None:
            self.on_end(self)

    def listen(self) -> asyncio.Event:
        """An event set whenever the job's progress or status changed (until :meth:`unlisten`)."""
        event = asyncio.Event()
        self._listeners.add(event)
        return event

    def unlisten(self, event: asyncio.Event) -> None:
        self._listeners.discard(event)

    def _wake(self) -> None:
        for event in self._listeners:
            event.set()


class WorkspaceJobs:
    """The registry of workspace jobs, their thread pool and their tokens (one per AgnesApp)."""

    def __init__(self, app: AgnesApp, max_running: int) -> None:
        self.app = app
        self.max_running = max_running
        self.executor = ThreadPoolExecutor(max_workers=max_running, thread_name_prefix="agnes-workspace-job")
        self._jobs: dict[str, Job] = {}
        self._finished: deque[str] = deque()

    # -- whose workspace --------------------------------------------------------------------------

    def workspace_owner(self) -> str:
        identity = self.app.identity
        if not identity.personal and os.environ.get("JUPYTERHUB_USER"):
            return os.environ["JUPYTERHUB_USER"]
        return str(identity.owner)

    def root_for(self, username: str) -> Path:
        """The workspace folder of ``username`` on this server (see the module doc). Off the loop."""
        base = workspace_dir()
        if username == self.workspace_owner():
            return base
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", username)[:48].lstrip(".") or "_"
        return base / "users" / f"{safe}-{hashlib.sha256(username.encode()).hexdigest()[:10]}"

    def workspace(self, username: str) -> Workspace:
        """The user's workspace (its folders are made if missing)."""
        return Workspace(self.root_for(username))

    # -- the registry (on the loop) -------------------------------------------------------------------

    def get(self, job_id: str, username: str) -> Job:
        """A job of ``username``'s; someone else's is answered like one that does not exist."""
        job = self._jobs.get(job_id)
        if job is None or job.owner != username:
            raise NotFound(f"no workspace job {job_id!r}", hint="Jobs are kept for a while after they end.",
                           details={"job_id": job_id})
        return job

    def running(self, root: Path, kind: str | None = None, name: str | None = None) -> Job | None:
        for job in self._jobs.values():
            if job.status == "running" and job.root == root and (kind is None or job.kind == kind) \
                    and (name is None or job.name == name):
                return job
        return None

    def start(self, kind: str, principal: Principal, root: Path, name: str | None,
              work: Callable[[Job, Client], dict[str, Any]]) -> Job:
        """Register a job and run ``work(job, client)`` on the pool (QuotaExceeded when it is full)."""
        busy = sum(1 for j in self._jobs.values() if j.status == "running")
        if busy >= self.max_running:
            raise QuotaExceeded(f"the server runs {busy} workspace jobs already",
                                hint="Wait for one to finish, then start this again.",
                                details={"kind": "workspace_jobs", "current": busy, "limit": self.max_running})
        job = Job(kind, principal, root, name, asyncio.get_running_loop(), waits_for_admission=kind != "sync")
        job.on_end = self._ended
        self._jobs[job.job_id] = job
        try:
            self.executor.submit(self._run, job, work)
        except RuntimeError:  # the pool is shut: the server is stopping
            del self._jobs[job.job_id]
            raise Unavailable("the server is stopping", hint="Start it again once the server is back.") from None
        return job

    def _ended(self, job: Job) -> None:
        if job.error is not None and job.admitted.done() and job.admitted.result() is not None:
            self._jobs.pop(job.job_id, None)  # refused before it started: its POST said so, nobody has its id
            return
        self._finished.append(job.job_id)
        while len(self._finished) > MAX_FINISHED:
            self._jobs.pop(self._finished.popleft(), None)

    # -- what the routes do off the loop (kernel errors become the server's) ------------------------

    def list_snapshots(self, principal: Principal) -> dict[str, Any]:
        """Every snapshot of the caller's workspace with its lineage and staleness, and the disk."""
        ws = self.workspace(principal.username)
        catalog = {e["id"]: e for e in self.app.core.catalog.entries(principal)}
        items = []
        for name in ws.snapshot_names():
            try:
                meta = ws.snapshot_meta(name)
            except (OSError, ValueError) as exc:  # one unreadable meta does not hide the others
                log.warning("agnes: skipping snapshot %s of %s: %s", name, principal.username, exc)
                continue
            if isinstance(meta, dict):
                items.append(listing(name, meta, stale_tables(meta, catalog)))
        return {"snapshots": items, "disk": workspace_disk(ws).to_json()}

    def prepare_snapshot(self, username: str, name: str, scan: dict[str, Any], force: bool) -> Path:
        """The workspace a new snapshot ``name`` goes to, once its name is checked: valid, not a
        synced table's, and free (or ``force``)."""
        check_name(name)  # before any folder is made
        ws = self.workspace(username)
        existing = check_target(ws, name)
        if existing is not None and not force:
            raise snapshot_exists(name, existing, _same_request(existing.get("request"), scan))
        return ws.root

    def prepare_refresh(self, username: str, name: str) -> Path:
        """The workspace that holds snapshot ``name`` (NotFound when none does)."""
        check_name(name)
        ws = self.workspace(username)
        existing_snapshot(ws, name)
        return ws.root

    def drop(self, root: Path, name: str) -> None:
        check_name(name)
        ws = Workspace(root)
        remove_snapshot(ws, name)
        ws.write_catalog_file()

    def probe_sync_lock(self, root: Path) -> None:
        """AlreadyRunning when a sync from a notebook or terminal holds the workspace's lock."""
        lock = FileLock(Workspace(root).root / LOCK_FILE, is_singleton=False, thread_local=False)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise AlreadyRunning("a sync is running in this workspace already (from a notebook or a terminal)",
                                 hint="Wait for it to finish, then sync again.") from None
        lock.release()

    def cancel_all(self) -> int:
        """Tell every running job to stop (at its next progress report); how many there were."""
        running = [j for j in self._jobs.values() if j.status == "running"]
        for job in running:
            job.cancelled.set()
        return len(running)

    # -- the worker thread's side ---------------------------------------------------------------------

    def _run(self, job: Job, work: Callable[[Job, Client], dict[str, Any]]) -> None:
        result: dict[str, Any] | None = None
        error: AgnesError | None = None
        try:
            with self._client_for(job) as client:
                result = work(job, client)
        except JobCancelled:
            error = Unavailable("the server stopped this job", hint="Start it again once the server is back.")
        except BaseException as exc:  # noqa: BLE001 - every way a job ends is reported on the job
            error = server_error(exc, f"workspace {job.kind} job {job.job_id}")
        if error is None and job.cancelled.is_set():
            error = Unavailable("the server stopped this job", hint="Start it again once the server is back.")
            result = None
        job._call(job._finish, result, error)

    @contextmanager
    def _client_for(self, job: Job) -> Iterator[Client]:
        """A kernel-library client of this server that acts as the job's user (see identity.py)."""
        token = self.app.in_process_tokens.issue(job.owner, job.display_name, JOB_PATHS, JOB_TOKEN_TTL_S)
        try:
            client = Client(find_server(self.loopback_url(), token))
            client._session.headers["User-Agent"] = "agnes-workspace-job"
            try:
                yield client
            finally:
                client.close()
        finally:
            self.app.in_process_tokens.revoke(token)

    def loopback_url(self) -> str:
        """This server's own URL, for its in-process clients (a wildcard address means loopback)."""
        server = self.app.serverapp
        assert server is not None
        if server.sock:
            raise Unavailable("the workspace routes need the Jupyter server to listen on a TCP port, not a socket",
                              hint="Run sync and snapshots from a notebook (agnes.sync(), agnes.snapshot()).")
        ip = server.ip or "localhost"
        host = f"[{ip}]" if ":" in ip else ip
        return f"{'https' if server.certfile else 'http'}://{host}:{server.port}{server.base_url}"


def kernel_errors(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn`` with the kernel library's exceptions turned into the server's (for ``blocking``)."""

    def call(*args: Any) -> T:
        try:
            return fn(*args)
        except AgnesError:
            raise
        except Exception as exc:  # noqa: BLE001 - the kernel's errors, and the unexpected as internal
            raise server_error(exc, getattr(fn, "__name__", "workspace")) from None

    return call


def server_error(exc: BaseException, where: str) -> AgnesError:
    """The server's error for what a job's kernel code raised: the same code, message, hint and
    details (a refusal of the gate stays that refusal); anything unexpected is an internal error
    with a reference to the log."""
    if isinstance(exc, AgnesError):
        return exc
    if isinstance(exc, kernel.AgnesError):
        code = exc.code
        if code == "server_not_found":
            code = "unavailable"  # this server could not reach itself
        elif code == "unauthorized" or code not in STATUS_BY_CODE:
            code = "internal"  # its own token refused: a fault of the server, never the caller's login
        return from_envelope({"error": code, "message": exc.message, "hint": exc.hint, "details": exc.details})
    ref = uuid.uuid4().hex[:8]
    log.error("agnes: %s failed (reference %s)", where, ref, exc_info=exc)
    return AgnesError(f"internal error (reference {ref})",
                      hint="The Jupyter server log has the details under this reference.",
                      details={"reference": ref})


# -- what the routes answer -----------------------------------------------------------------------


def listing(name: str, meta: dict[str, Any], stale: list[str]) -> dict[str, Any]:
    """A snapshot as ``GET workspace/snapshots`` lists it (from its ``.meta.json``)."""
    est, act = meta.get("estimate") or {}, meta.get("actual") or {}
    return {
        "name": name, "sql": meta.get("sql"), "dialect": meta.get("dialect"), "source": meta.get("source"),
        "request": meta.get("request") if isinstance(meta.get("request"), dict) else None,
        "tables": [{"id": str(t.get("id")), "freshness": t.get("freshness"), "refreshed_at": t.get("refreshed_at"),
                    "rows": t.get("rows")} for t in meta.get("tables") or [] if isinstance(t, dict)],
        "estimate": {"scan_bytes": est.get("scan_bytes"), "result_rows": est.get("result_rows"),
                     "result_bytes": est.get("result_bytes")},
        "actual": {"rows": act.get("rows"), "result_bytes": act.get("result_bytes"),
                   "scanned_bytes": act.get("scanned_bytes"), "duration_ms": act.get("duration_ms")},
        "rows": meta.get("rows"), "file_bytes": meta.get("file_bytes"), "created_at": meta.get("created_at"),
        "truncated": bool(meta.get("truncated")), "truncated_reason": meta.get("truncated_reason"),
        "scan_id": meta.get("scan_id"), "stale": bool(stale), "stale_tables": stale,
    }


def stale_tables(meta: dict[str, Any], catalog: dict[str, dict[str, Any]]) -> list[str]:
    """The tables a snapshot read that changed at their source since it was fetched, by what the
    catalog knows (it never asks a source):

    * a local or materialized table: its last extract (``updated``) is later than the snapshot;
    * a remote table: its row count, as the metadata refresh last read it from the source, differs
      from the one the snapshot was admitted on (recorded in its lineage). The catalog has no
      modification time for remote tables, and ``refreshed_at`` moves at every refresh whether the
      data changed or not; rows are the change marker it offers. A snapshot made before rows were
      recorded, or of a table whose metadata was never read, is not called stale (no evidence).

    A table no longer in the caller's catalog is not listed (nothing to compare with).
    """
    created = _when(meta.get("created_at"))
    out = []
    for table in meta.get("tables") or []:
        entry = catalog.get(str(table.get("id"))) if isinstance(table, dict) else None
        if entry is None:
            continue
        if entry.get("query_mode") in ("local", "materialized"):
            updated = _when(entry.get("updated"))
            changed = updated is not None and created is not None and updated > created
        else:
            before, now = table.get("rows"), entry.get("rows")
            changed = before is not None and now is not None and before != now
        if changed:
            out.append(str(table["id"]))
    return out


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def snapshot_exists(name: str, existing: dict[str, Any], same_query: bool) -> SnapshotExists:
    return SnapshotExists(
        f"snapshot {name!r} already exists" + (" with this query" if same_query else " with a different query"),
        hint=f"Send force: true to replace it, POST workspace/snapshots/{name}/refresh to run its own query "
             "again, or choose another name.",
        details={"name": name, "same_query": same_query, "created_at": existing.get("created_at")})


def already_running(job: Job, what: str) -> AlreadyRunning:
    return AlreadyRunning(f"{what} is running in this workspace already",
                          hint="Wait for it to finish (GET workspace/jobs/{job_id} follows it).",
                          details={"job_id": job.job_id, "kind": job.kind})


# -- the work of each kind of job (in its thread) ----------------------------------------------------


def sync_work(dry_run: bool) -> Callable[[Job, Client], dict[str, Any]]:
    def work(job: Job, client: Client) -> dict[str, Any]:
        ws = Workspace(job.root)
        report = run_sync(client, ws, dry_run, job.report)
        if not dry_run:
            ws.write_catalog_file()
        return report.to_json()

    return work


def snapshot_work(name: str, scan: dict[str, Any], confirm: bool) -> Callable[[Job, Client], dict[str, Any]]:
    def work(job: Job, client: Client) -> dict[str, Any]:
        ws = Workspace(job.root)
        meta = _run_snapshot(ws, name, scan, confirm, job.report, client=client)
        ws.write_catalog_file()
        return listing(name, meta, [])

    return work


def refresh_work(name: str, confirm: bool) -> Callable[[Job, Client], dict[str, Any]]:
    def work(job: Job, client: Client) -> dict[str, Any]:
        ws = Workspace(job.root)
        report = run_refresh(ws, name, confirm, job.report, client=client)
        ws.write_catalog_file()
        before = report.before
        return {**listing(name, report.after, []), "identical": report.identical,
                "previous": {"rows": before.get("rows"), "file_bytes": before.get("file_bytes"),
                             "created_at": before.get("created_at")}}

    return work
