"""The extract scheduler: runs due extracts and materializations in the background."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor

from agnes_core.core import AgnesCore
from agnes_core.errors import AlreadyRunning, NotFound
from agnes_core.extract.jobs import due_tables
from agnes_core.store.state import utcnow

log = logging.getLogger(__name__)


class ExtractScheduler:
    """Every ``interval`` seconds: start the due extracts (failing ones backed off, see
    ``agnes_core.extract.jobs``), at most ``concurrency`` at once, one per table (single-flight shared
    with manual extracts), on ``extract_executor`` (default: ``executor``). ``interval`` 0 disables."""

    def __init__(self, core: AgnesCore, executor: Executor, interval: float, concurrency: int, *,
                 extract_executor: Executor | None = None) -> None:
        self.core = core
        self.executor = executor
        self.extract_executor = extract_executor or executor
        self.interval = interval
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._loop_task: asyncio.Task[None] | None = None
        self._runs: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        if self.interval > 0 and self._loop_task is None:
            self._loop_task = asyncio.create_task(self._loop(), name="agnes-extract-scheduler")

    async def stop(self) -> None:
        tasks = [t for t in (self._loop_task, *self._runs) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loop_task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad tick must not end the loop
                log.exception("agnes: scheduler tick failed")
            await asyncio.sleep(self.interval)

    async def tick(self) -> list[str]:
        """Start the runs that are due now; returns their table ids."""
        loop = asyncio.get_running_loop()
        due = await loop.run_in_executor(
            self.executor, lambda: due_tables(self.core.registry, self.core.extracts, utcnow()))
        for table_id in due:
            task = asyncio.create_task(self._run(table_id), name=f"agnes-extract-{table_id}")
            self._runs.add(task)
            task.add_done_callback(self._runs.discard)
        return due

    async def _run(self, table_id: str) -> None:
        loop = asyncio.get_running_loop()
        async with self._slots:
            try:
                state = await loop.run_in_executor(
                    self.extract_executor, lambda: self.core.extracts.start(table_id, trigger="schedule"))
            except (AlreadyRunning, NotFound):
                return  # a manual run got there first, or the table was deleted meanwhile
            run = await loop.run_in_executor(self.extract_executor, self.core.extracts.execute, state)
            if run["status"] == "failed":
                log.warning("agnes: scheduled extract of %s failed (retried after a back-off): %s", table_id,
                            run["error"])

    async def idle(self) -> None:
        """Wait for the runs started so far (tests and shutdown)."""
        if self._runs:
            await asyncio.gather(*list(self._runs), return_exceptions=True)
