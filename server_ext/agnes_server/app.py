"""AgnesApp: the extension's one composition root (configuration, services, lifecycle)."""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Float, Int, Set, Unicode, default

from agnes_core.access import Principal
from agnes_core.core import AgnesCore
from agnes_core.events import Change

from . import __version__
from .identity import AgnesIdentity, os_display_name, os_username
from .paths import remove_marker, resolve_data_dir, write_marker
from .routes import ROUTES
from .scheduler import ExtractScheduler

KERNEL_URL_ENV = "AGNES_SERVER_URL"
KERNEL_TOKEN_ENV = "AGNES_TOKEN"


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
        self.core = AgnesCore(resolve_data_dir(self.data_dir), admin_users=self.admin_users)
        self.executor = ThreadPoolExecutor(max_workers=self.worker_threads, thread_name_prefix="agnes")
        owner = self.username or os_username()
        assert self.serverapp is not None
        self.identity = AgnesIdentity(self.serverapp.identity_provider, owner, os_display_name(owner),
                                      self.core.tokens)
        self.scheduler = ExtractScheduler(self.core, self.executor, self.scheduler_interval_seconds,
                                          self.extract_concurrency)
        self._principals: dict[tuple[str, str], Principal] = {}
        self._principals_lock = threading.Lock()
        self.core.hub.subscribe(self._on_change)
        self.log.info("Agnes %s: data dir %s (state store schema v%d)", __version__, self.core.data_dir,
                      self.core.store.code_version)

    def initialize_handlers(self) -> None:
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
        await asyncio.get_running_loop().run_in_executor(self.executor, self.core.extracts.rebuild_analytics)
        self.scheduler.start()

    async def stop_extension(self) -> None:
        await self.scheduler.stop()
        remove_marker(self.core.data_dir, os.getpid())
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.core.close()

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
