"""AgnesApp: the extension's one composition root (configuration, services, lifecycle)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Float, Int, Set, Unicode, default

from agnes_core.access.principals import Principal
from agnes_core.connectors import interrupt_all
from agnes_core.core import AgnesCore, CoreSettings
from agnes_core.errors import AlreadyRunning
from agnes_core.events import Change
from agnes_core.gate.limits import Limits
from agnes_core.gate.sqlbounds import SqlLimits

from . import __version__
from .identity import AgnesIdentity, InProcessTokens, os_display_name, os_username
from .openapi import openapi_document
from .paths import remove_marker, resolve_data_dir, write_marker
from .routes import ROUTES
from .scheduler import ExtractScheduler
from .validation import RequestValidator
from .workspaces import WorkspaceJobs

KERNEL_URL_ENV = "AGNES_SERVER_URL"
KERNEL_TOKEN_ENV = "AGNES_TOKEN"


#: How much less CPU scan threads get than the rest of the server when the machine is busy (Linux nice).
SCAN_NICENESS = 19


def _lower_priority() -> None:
    """Run this (scan) thread, and the threads it starts (DuckDB's workers, read-ahead), only when
    nothing else in the server wants the CPU (Linux SCHED_IDLE; else a high nice value): while
    scans saturate the cores, the event loop still answers at once. On an idle machine a scan
    still gets every core."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return
    except (AttributeError, OSError):
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), SCAN_NICENESS)
    except (AttributeError, OSError):
        pass  # not Linux, or not allowed: scans then run at the server's priority


def _shut_down(pools: Iterable[Executor], timeout_s: float) -> list[str]:
    """Shut the pools down (queued work cancelled) and wait up to ``timeout_s`` in all for their
    threads to end; returns the names of those still running."""
    pools = list(pools)
    for pool in pools:
        pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + timeout_s
    threads = [t for pool in pools for t in list(getattr(pool, "_threads", ()))]
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [t.name for t in threads if t.is_alive()]


class AgnesApp(ExtensionApp):
    """Agnes for Jupyter: governed data access for analysts.

    Configure with ``c.AgnesApp.<name> = ...`` or ``--AgnesApp.<name>=...``.
    """

    name = "agnes"
    description = "Agnes for Jupyter: a governed data-access layer"
    load_other_extensions = True

    data_dir = Unicode(
        config=True,
        help="Folder for the state store (system.duckdb), extracts and analytics.duckdb. "
        "Defaults to $AGNES_DATA_DIR, else <jupyter data dir>/agnes; every 'jupyter agnes' "
        "command resolves it the same way.",
    )
    admin_users = Set(
        Unicode(),
        config=True,
        help="Usernames that are Agnes admins, in addition to members of the 'Admin' group "
        "(and the owner of a personal server).",
    )
    username = Unicode(
        "",
        config=True,
        help="In personal mode (Jupyter's own token or password login), the stable username "
        "every request acts as. Defaults to the OS user running the server.",
    )
    worker_threads = Int(
        8, config=True, help="Threads for blocking work (DuckDB, source clients) off the event loop."
    )
    scheduler_interval_seconds = Float(
        60.0,
        config=True,
        help="How often the scheduler looks for due extracts and materializations; 0 disables it.",
    )
    extract_concurrency = Int(2, config=True, help="Extracts that may run at the same time.")
    metadata_refresh_interval_seconds = Float(
        4 * 3600.0,
        config=True,
        help="How often the metadata (rows, size, partitioning) of every remote table is refreshed; 0 "
        "disables the scheduled refresh. Metadata counts as fresh for twice this interval.",
    )
    metadata_concurrency = Int(4, config=True, help="Tables refreshed at the same time during a metadata run.")
    metadata_timeout_seconds = Float(
        30.0, config=True, help="Time allowed for each metadata call to a source; a slower call counts as failed."
    )
    source_timeout_seconds = Float(
        30.0, config=True,
        help="Time allowed for each schema or sample call to a source; a slower call is stopped in the source "
        "and answered with 504 source_timeout, and its thread is freed.")
    shutdown_timeout_seconds = Float(
        5.0, config=True,
        help="At shutdown, how long to wait for worker threads to end once every source call was stopped, "
        "before the state store is closed anyway.")
    cache_ttl_seconds = Float(3600.0, config=True, help="How long schemas and samples stay cached.")
    warmup_on_start = Bool(
        True, config=True, help="Warm the metadata and schema caches in the background at start-up."
    )
    sse_keepalive_seconds = Float(15.0, config=True, help="Keep-alive interval of Server-Sent Events streams.")
    scan_confirm_bytes = Int(
        1024**3, config=True,
        help="A scan estimated to read more than this needs confirm=true (409 confirmation_required).")
    scan_max_bytes = Int(5 * 1024**3, config=True, help="Scans estimated above this are refused (scan_too_large).")
    daily_scan_bytes_per_user = Int(
        50 * 1024**3, config=True,
        help="Bytes each user may scan per UTC day, counted as scanned (not returned) bytes and kept in the "
        "state store across restarts (429 quota_exceeded).")
    max_concurrent_scans_per_user = Int(5, config=True, help="Scans one user may run at the same time.")
    max_result_rows = Int(10_000_000, config=True, help="A scan result stops here and is marked truncated.")
    max_result_bytes = Int(2 * 1024**3, config=True,
                           help="A scan result stops at this many (Arrow) bytes and is marked truncated.")
    scan_timeout_seconds = Int(
        300, config=True,
        help="Wall time a scan may run; then it is stopped in the source (DuckDB interrupt, PostgreSQL cancel and "
        "statement_timeout). A source's options.limits.scan_timeout_seconds can only lower it.")
    max_concurrent_scans = Int(
        8, config=True,
        help="Scans the whole server runs at once (429 quota_exceeded, kind server_scans, above). Scans and "
        "estimates run on threads of their own, so they never hold up other requests.")
    max_query_bytes = Int(
        128 * 1024, config=True,
        help="The longest scan SQL accepted, in bytes (longer is refused at once, before parsing).")
    workspace_jobs = Int(
        4, config=True,
        help="Workspace jobs (syncs and snapshots the JupyterLab panel starts, run in this server as the user "
        "who asked) that may run at the same time; more are refused with 429 quota_exceeded.")
    publish_kernel_env = Bool(
        True,
        config=True,
        help=f"Publish {KERNEL_URL_ENV} and {KERNEL_TOKEN_ENV} to the environment of kernels this "
        "server starts, so agnes.connect() needs no arguments.",
    )

    @default("data_dir")
    def _default_data_dir(self) -> str:
        return str(resolve_data_dir())

    # -- lifecycle ----------------------------------------------------------------------

    def initialize_settings(self) -> None:
        settings = CoreSettings(metadata_refresh_interval_s=self.metadata_refresh_interval_seconds,
                                metadata_concurrency=self.metadata_concurrency,
                                metadata_timeout_s=self.metadata_timeout_seconds,
                                cache_ttl_s=self.cache_ttl_seconds,
                                limits=Limits(
                                    scan_confirm_bytes=self.scan_confirm_bytes, scan_max_bytes=self.scan_max_bytes,
                                    daily_scan_bytes_per_user=self.daily_scan_bytes_per_user,
                                    max_concurrent_scans_per_user=self.max_concurrent_scans_per_user,
                                    max_result_rows=self.max_result_rows, max_result_bytes=self.max_result_bytes,
                                    scan_timeout_seconds=self.scan_timeout_seconds),
                                max_concurrent_scans=self.max_concurrent_scans,
                                sql_limits=SqlLimits(max_bytes=self.max_query_bytes))
        self.core = AgnesCore(resolve_data_dir(self.data_dir), admin_users=self.admin_users, settings=settings)
        self.executor = ThreadPoolExecutor(max_workers=self.worker_threads, thread_name_prefix="agnes")
        # Scans (validation, estimates, the stream) have threads of their own: slow or hostile
        # queries fill these, never the pool that catalog, schema and admin requests use.
        self.scan_executor = ThreadPoolExecutor(max_workers=self.max_concurrent_scans + 4,
                                                thread_name_prefix="agnes-scan", initializer=_lower_priority)
        owner = self.username or os_username()
        assert self.serverapp is not None
        self.in_process_tokens = InProcessTokens()
        self.identity = AgnesIdentity(self.serverapp.identity_provider, owner, os_display_name(owner),
                                      self.core.tokens, self.in_process_tokens)
        self.workspaces = WorkspaceJobs(self, max_running=max(1, self.workspace_jobs))
        self.core.discovery.call_timeout_s = self.source_timeout_seconds
        # Scheduled extracts have threads of their own: a source that hangs holds these, never the
        # pool that requests use.
        self.extract_executor = ThreadPoolExecutor(max_workers=max(1, self.extract_concurrency),
                                                   thread_name_prefix="agnes-extract")
        self.scheduler = ExtractScheduler(self.core, self.executor, self.scheduler_interval_seconds,
                                          self.extract_concurrency, extract_executor=self.extract_executor)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._principals: dict[tuple[str, str], Principal] = {}
        self._principals_lock = threading.Lock()
        self.core.hub.subscribe(self._on_change)
        self._rewarm_pending: dict[str, None] = {}  # insertion-ordered set, touched on the loop only
        self._rewarm_task: asyncio.Task[Any] | None = None
        self.core.hub.subscribe(self._rewarm)
        self.log.info("Agnes %s: data dir %s (state store schema v%d)", __version__, self.core.data_dir,
                      self.core.store.code_version)

    def initialize_handlers(self) -> None:
        self.requests = RequestValidator(openapi_document("/"))
        self.handlers.extend(ROUTES)

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        """Runs once the server is listening: publish the kernel environment and the marker."""
        url = serverapp.connection_url
        if self.publish_kernel_env:
            os.environ[KERNEL_URL_ENV] = url
            token = serverapp.identity_provider.token
            if token:
                os.environ[KERNEL_TOKEN_ENV] = token
        write_marker(self.core.data_dir, os.getpid(), url, getattr(serverapp, "info_file", None))
        self._loop = asyncio.get_running_loop()
        await self._loop.run_in_executor(self.executor, self.core.extracts.rebuild_analytics)
        self._loop.run_in_executor(self.executor, self.core.catalog.warm)  # the first request finds it built
        self.scheduler.start()
        if self.warmup_on_start:
            self.start_warmup(None)  # in the background: the server is ready meanwhile
        if self.metadata_refresh_interval_seconds > 0:
            self._spawn(self._metadata_loop(), "agnes-metadata-refresh")

    async def stop_extension(self) -> None:
        """Stop scans and every other source call (their sources told to stop, their callers
        released), cancel background work, wait (bounded) for the worker threads to end, then
        close the state store."""
        stopped = self.core.scans.cancel_all("shutdown")
        if stopped:
            self.log.info("agnes: stopping %d running scans", stopped)
        calls = interrupt_all("shutdown")
        if calls:
            self.log.info("agnes: stopping %d source calls", calls)
        jobs = self.workspaces.cancel_all()
        if jobs:
            self.log.info("agnes: stopping %d workspace jobs", jobs)
        await self.scheduler.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        remove_marker(self.core.data_dir, os.getpid())
        # The workspace jobs' pool first: while it drains, the loop still answers the requests its
        # jobs make to this server, so they end (cancelled) instead of waiting for an answer.
        pools = (self.workspaces.executor, self.executor, self.scan_executor, self.extract_executor,
                 self.core.refresher.executor)
        busy = await asyncio.get_running_loop().run_in_executor(
            None, _shut_down, pools, self.shutdown_timeout_seconds)
        if busy:
            self.log.warning("agnes: %d worker threads still running after %g s: %s; closing the state store anyway",
                             len(busy), self.shutdown_timeout_seconds, ", ".join(busy))
        # Closing checkpoints the state store (disk work): off the loop, which still serves the
        # other extensions while this one stops.
        await asyncio.get_running_loop().run_in_executor(None, self.core.close)

    # -- background work ----------------------------------------------------------------

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def start_warmup(self, started_by: str | None) -> None:
        """Claim a warm-up run and run it in the background (AlreadyRunning if one runs)."""
        run = self.core.refresher.claim("warmup", started_by)
        self._spawn(self.core.refresher.run(run), "agnes-warmup")

    async def _metadata_loop(self) -> None:
        while True:
            await asyncio.sleep(self.metadata_refresh_interval_seconds)
            try:
                run = self.core.refresher.claim("refresh")
            except AlreadyRunning:
                continue  # a warm-up or manual refresh is doing it
            try:
                await self.core.refresher.run(run)
            except Exception:  # one failed run must not end the loop
                self.log.exception("agnes: metadata refresh failed")

    #: Tables re-warmed at once after registry or grant changes (a batch of 2,000 is one queue).
    REWARM_CONCURRENCY = 2

    def _rewarm(self, change: Change) -> None:
        """After a table or grant change: queue those rows for one background re-warmer."""
        loop = self._loop
        if loop is None or change.kind not in ("table", "grant") or change.action == "delete" or not change.ids:
            return
        loop.call_soon_threadsafe(self._queue_rewarm, tuple(change.ids))

    def _queue_rewarm(self, table_ids: tuple[str, ...]) -> None:
        """On the loop: add ids to the queue (deduplicated) and start the re-warmer when idle."""
        self._rewarm_pending.update(dict.fromkeys(table_ids))
        if self._rewarm_task is None or self._rewarm_task.done():
            self._rewarm_task = self._spawn(self._rewarm_worker(), "agnes-rewarm")

    async def _rewarm_worker(self) -> None:
        """Re-warm queued rows, a few at a time, until the queue is empty: one task however many
        tables a change names, so a bulk registration does not flood the request pool."""
        while self._rewarm_pending:
            batch = list(self._rewarm_pending)[: self.REWARM_CONCURRENCY]
            for table_id in batch:
                self._rewarm_pending.pop(table_id, None)
            await asyncio.gather(*(self._rewarm_one(table_id) for table_id in batch))

    async def _rewarm_one(self, table_id: str) -> None:
        loop = asyncio.get_running_loop()
        try:
            table = await loop.run_in_executor(self.executor, self.core.registry.find_table, table_id)
            if table is None:
                return
            if table.query_mode == "remote":
                await self.core.refresher.refresh_one(table_id)
            await loop.run_in_executor(self.executor, self.core.discovery.schema, table)
        except Exception as exc:  # noqa: BLE001 - best effort: the next request or run fills it
            self.log.info("agnes: re-warming %s failed: %s", table_id, exc)

    # -- identity -----------------------------------------------------------------------

    def principal_for(self, username: str, display_name: str | None) -> Principal:
        """The principal of a user, cached until groups or users change."""
        key = (username, display_name or username)
        found = self._principals.get(key)
        if found is not None:
            return found
        principal = self.core.access.principal(
            username, display_name, owner=self.identity.personal and username == self.identity.owner
        )
        with self._principals_lock:
            self._principals[key] = principal
        return principal

    def _on_change(self, change: Change) -> None:
        if change.kind in ("group", "user"):
            with self._principals_lock:
                self._principals.clear()
