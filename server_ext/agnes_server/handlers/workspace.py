"""The workspace routes the JupyterLab panel uses to sync and snapshot: thin handlers over
:mod:`agnes_server.workspaces`, which runs the kernel library's own code as the calling user.

Refusals known before the work starts (a name taken, the gate asking for confirmation, a budget
spent, a sync already running) are answered at once with the error envelope; once started, a job
answers 202 and is followed with ``GET workspace/jobs/{id}`` or its Server-Sent Events.
"""

from __future__ import annotations

import asyncio

from jupyter_server.auth.decorator import authorized
from tornado import web
from tornado.iostream import StreamClosedError

from ..workspaces import (
    Job,
    WorkspaceJobs,
    already_running,
    kernel_errors,
    refresh_work,
    snapshot_work,
    sync_work,
)
from .base import AgnesHandler, EventStreamMixin

#: The body fields of POST workspace/snapshots that are not the scan's.
_SNAPSHOT_FIELDS = ("name", "confirm", "force")


class _WorkspaceRoute(AgnesHandler):
    @property
    def jobs(self) -> WorkspaceJobs:
        return self.agnes.workspaces

    async def started(self, job: Job) -> None:
        """202 with the job once it is admitted; the error that refused it before, as such."""
        error = await job.admitted
        if error is not None:
            raise error
        self.write_json(job.to_json(), status=202)


class WorkspaceSnapshotsHandler(_WorkspaceRoute):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        """The caller's snapshots with lineage and staleness, and the workspace's disk use."""
        self.write_json(await self.blocking(kernel_errors(self.jobs.list_snapshots), self.principal))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        """Snapshot a gated scan into the workspace (a job; 202 once the scan has started)."""
        body = self.json_body()
        name, force, confirm = body["name"], bool(body.get("force")), bool(body.get("confirm"))
        scan = {k: v for k, v in body.items() if k not in _SNAPSHOT_FIELDS}
        root = await self.blocking(kernel_errors(self.jobs.prepare_snapshot), self.principal.username, name, scan,
                                   force)
        running = self.jobs.running(root, name=name)
        if running is not None:
            raise already_running(running, f"a job on snapshot {name!r}")
        job = self.jobs.start("snapshot", self.principal, root, name, snapshot_work(name, scan, confirm))
        await self.started(job)


class WorkspaceSnapshotRefreshHandler(_WorkspaceRoute):
    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        """Run a snapshot's own query again and replace it (a job; 202 once the scan has started)."""
        confirm = bool(self.json_body().get("confirm"))
        root = await self.blocking(kernel_errors(self.jobs.prepare_refresh), self.principal.username, name)
        running = self.jobs.running(root, name=name)
        if running is not None:
            raise already_running(running, f"a job on snapshot {name!r}")
        job = self.jobs.start("refresh", self.principal, root, name, refresh_work(name, confirm))
        await self.started(job)


class WorkspaceSnapshotHandler(_WorkspaceRoute):
    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        """Remove a snapshot (its file and its meta)."""
        root = await self.blocking(self.jobs.root_for, self.principal.username)
        running = self.jobs.running(root, name=name)
        if running is not None:
            raise already_running(running, f"a job on snapshot {name!r}")
        await self.blocking(kernel_errors(self.jobs.drop), root, name)
        self.set_status(204)
        self.finish()


class WorkspaceSyncHandler(_WorkspaceRoute):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        """Sync the caller's workspace with My Stack, as agnes.sync() does (a job; 202 at once)."""
        dry_run = bool(self.json_body().get("dry_run"))
        root = await self.blocking(self.jobs.root_for, self.principal.username)
        running = self.jobs.running(root, kind="sync")
        if running is not None:
            raise already_running(running, "a sync")
        await self.blocking(kernel_errors(self.jobs.probe_sync_lock), root)
        running = self.jobs.running(root, kind="sync")  # one may have started meanwhile
        if running is not None:
            raise already_running(running, "a sync")
        job = self.jobs.start("sync", self.principal, root, None, sync_work(dry_run))
        await self.started(job)


class WorkspaceJobHandler(_WorkspaceRoute):
    @web.authenticated
    @authorized
    def get(self, job_id: str) -> None:
        """One of the caller's jobs: status, progress, and its result or error."""
        self.write_json(self.jobs.get(job_id, self.principal.username).to_json())


class WorkspaceJobEventsHandler(EventStreamMixin, _WorkspaceRoute):
    """Server-Sent Events of one job: ``progress`` on connect and at every change (coalesced),
    keep-alive comments while idle, then one ``done`` with the job as ``GET`` answers it; the
    stream ends there (at once for a job that has ended)."""

    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        job = self.jobs.get(job_id, self.principal.username)
        changed = job.listen()
        keepalive = float(self.agnes.sse_keepalive_seconds)
        try:
            self.begin_events()
            await self.send_event("progress", job.progress)
            while job.status == "running":
                try:
                    await asyncio.wait_for(changed.wait(), timeout=keepalive)
                except asyncio.TimeoutError:
                    await self.keep_alive()
                    continue
                changed.clear()
                if job.status == "running":
                    await self.send_event("progress", job.progress)
            await self.send_event("done", job.to_json())
        except StreamClosedError:
            pass
        finally:
            job.unlisten(changed)
        if not self._finished:
            self.finish()
