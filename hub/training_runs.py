"""Training jobs of one hub: rows in `training_jobs`, progress to the row and to /ws, cancellation.

- Creating: `insert_job` checks and inserts in one locked unit of work, so a slot (a device, an API
  key, the retraining) never has two active jobs; `SlotBusy` becomes the API's 409. A job left
  active by a hub that died (its heartbeat is stale, or its process is gone) is failed on the spot.
- Running: LoRA runs are `python -m brain.train_worker` processes, one at a time per hub (two on
  two cores would each crawl); the others wait queued. Each JSON line the process prints updates
  the row and publishes `training:progress`. Retraining runs in-process (`run_inline`).
- Cancelling: the row is marked cancelled first (only while active), then this hub's process is
  terminated; a run owned by another hub process sees the row changed at its next line or
  heartbeat and terminates its own process.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sys
import weakref
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, AsyncIterator

import sqlalchemy as sa
from aiohttp import web

from brain.training import TrainingSpec
from hub.events import TRAINING_PROGRESS
from hub.state import BUS, CLOCK, DB
from hub.training_report import JobReporter, update_active
from storage.db import Database
from storage.training_models import ACTIVE_STATUSES, TrainingJob, TrainingStatus

log = logging.getLogger("replydesk.training")
HEARTBEAT_SECONDS = 30.0
STALE_AFTER = timedelta(minutes=3)
TERMINATE_GRACE_SECONDS = 5.0
EXIT_GRACE_SECONDS = 30.0  # a finished worker's own exit (interpreter and torch teardown)
LINE_LIMIT = 4 * 1024 * 1024
INTERRUPTED = "interrupted: the hub process running this job stopped"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SlotBusy(Exception):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"training job {job_id} is still active")
        self.job_id = job_id


class JobExists(Exception):
    """A job with the requested id exists already."""


def runner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_orphaned(row: Any, now: datetime) -> bool:
    """Whether an active job's hub is gone: no heartbeat lately, or its process on this host is dead."""
    if row.updated_at < now - STALE_AFTER:
        return True
    host, _, pid = (row.runner or "").rpartition(":")
    if host == socket.gethostname() and pid.isdigit() and int(pid) != os.getpid():
        return not _pid_alive(int(pid))
    return False


def _fail_orphan(conn: sa.Connection, row: Any, now: datetime) -> None:
    conn.execute(sa.update(TrainingJob).where(TrainingJob.id == row.id, TrainingJob.status.in_(ACTIVE_STATUSES))
                 .values(status=TrainingStatus.FAILED, error=INTERRUPTED, finished_at=now, updated_at=now))


def insert_job(conn: sa.Connection, db: Database, values: dict[str, Any], now: datetime) -> sa.Row:
    """Insert an active job unless its id exists (JobExists) or its slot is busy (SlotBusy); returns
    the row as inserted (the run may have moved it on by the time anyone reads it again)."""
    db.lock(conn, f"training_slot:{values['slot']}")
    if conn.execute(sa.select(TrainingJob.id).where(TrainingJob.id == values["id"])).first() is not None:
        raise JobExists(values["id"])
    active = conn.execute(sa.select(TrainingJob).where(TrainingJob.slot == values["slot"],
                                                       TrainingJob.status.in_(ACTIVE_STATUSES))).first()
    if active is not None:
        if not is_orphaned(active, now):
            raise SlotBusy(active.id)
        _fail_orphan(conn, active, now)
    conn.execute(sa.insert(TrainingJob).values(runner=runner_name(), created_at=now, updated_at=now, **values))
    return conn.execute(sa.select(TrainingJob).where(TrainingJob.id == values["id"])).one()


def fail_orphans(conn: sa.Connection, now: datetime) -> int:
    rows = conn.execute(sa.select(TrainingJob).where(TrainingJob.status.in_(ACTIVE_STATUSES))).all()
    orphans = [row for row in rows if is_orphaned(row, now)]
    for row in orphans:
        _fail_orphan(conn, row, now)
    return len(orphans)


def parse_line(line: bytes) -> dict[str, Any] | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) and isinstance(event.get("event"), str) else None


async def _exited(process: asyncio.subprocess.Process, seconds: float) -> None:
    try:
        await asyncio.wait_for(process.wait(), seconds)
    except TimeoutError:
        pass


async def terminate(process: asyncio.subprocess.Process) -> None:
    """SIGTERM, then SIGKILL after a grace period; returns once the process is reaped."""
    if process.returncode is None:
        try:
            process.terminate()
            await asyncio.wait_for(process.wait(), TERMINATE_GRACE_SECONDS)
        except ProcessLookupError:
            pass
        except TimeoutError:
            process.kill()
    await process.wait()


class TrainingRunner:
    """The training work of one app: its tasks, its worker processes, one LoRA process at a time."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self._tasks: set[asyncio.Task[None]] = set()
        self._inline: dict[str, asyncio.Task[None]] = {}
        self._processes: dict[str, asyncio.subprocess.Process] = {}
        self._gate = asyncio.Semaphore(1)

    def reporter(self, job_id: str, kind: str) -> JobReporter:
        return JobReporter(self.app[DB], self.app[BUS], self.app[CLOCK], job_id, kind)

    def spawn(self, coroutine: Awaitable[None], name: str) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coroutine)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", task.get_name(), exc_info=task.exception())

    def launch_lora(self, job_id: str, spec: TrainingSpec) -> None:
        self.spawn(self._run_lora(job_id, spec), f"training {job_id}")

    def run_inline(self, job_id: str, kind: str, work: Callable[[JobReporter], Awaitable[dict[str, Any]]]) -> None:
        """Run `work` in this process as the job; its returned metrics are stored on completion."""
        self._inline[job_id] = self.spawn(self._inline_job(job_id, kind, work), f"{kind} {job_id}")

    async def _inline_job(self, job_id: str, kind: str,
                          work: Callable[[JobReporter], Awaitable[dict[str, Any]]]) -> None:
        reporter = self.reporter(job_id, kind)
        try:
            if await reporter.begin():
                await reporter.finish(TrainingStatus.COMPLETED, metrics=await work(reporter), progress=100.0)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # this job's error boundary
            log.exception("%s job %s failed", kind, job_id)
            await reporter.finish(TrainingStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])
        finally:
            self._inline.pop(job_id, None)

    @asynccontextmanager
    async def _turn(self, reporter: JobReporter) -> AsyncIterator[None]:
        """This hub's single LoRA slot; a job waiting for it keeps its heartbeat."""
        while True:
            try:
                await asyncio.wait_for(self._gate.acquire(), HEARTBEAT_SECONDS)
                break
            except TimeoutError:
                await reporter.heartbeat()
        try:
            yield
        finally:
            self._gate.release()

    async def _run_lora(self, job_id: str, spec: TrainingSpec) -> None:
        reporter = self.reporter(job_id, "lora")
        async with self._turn(reporter):
            if not await reporter.begin():
                return  # cancelled while it waited
            try:
                outcome, code = await self._supervise(job_id, reporter, spec)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # this job's error boundary (cannot start it, a garbled pipe, …)
                log.exception("training job %s failed", job_id)
                await reporter.finish(TrainingStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])
                return
            await self._conclude(reporter, outcome, code, spec)

    async def _supervise(self, job_id: str, reporter: JobReporter,
                         spec: TrainingSpec) -> tuple[dict[str, Any] | None, int | None]:
        """Start the worker, relay it, and make sure it is gone: (its final event, its exit status)."""
        process = await self._start_process(spec)
        self._processes[job_id] = process
        await reporter.record_pid(process.pid)
        try:
            outcome = await self._follow(reporter, process)
            if outcome is not None:  # it has said its last word: let it exit on its own
                await _exited(process, EXIT_GRACE_SECONDS)
        finally:
            self._processes.pop(job_id, None)
            await terminate(process)
        return outcome, process.returncode

    async def _start_process(self, spec: TrainingSpec) -> asyncio.subprocess.Process:
        folder = Path(spec.output_dir)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "spec.json").write_text(spec.to_json())
        threads = str(spec.threads or max(1, (os.cpu_count() or 2) // 2))
        env = {**os.environ, "OMP_NUM_THREADS": threads, "TOKENIZERS_PARALLELISM": "false",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
        with open(folder / "worker.log", "ab") as log_file:
            return await asyncio.create_subprocess_exec(
                sys.executable, "-m", "brain.train_worker", str(folder / "spec.json"), "--watch-stdin",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log_file,
                env=env, cwd=str(folder), limit=LINE_LIMIT)

    async def _follow(self, reporter: JobReporter, process: asyncio.subprocess.Process) -> dict[str, Any] | None:
        """Relay the worker's lines until it ends (its final event) or the job stops being active (None)."""
        assert process.stdout is not None
        outcome = None
        while True:
            try:
                line = await asyncio.wait_for(process.stdout.readline(), HEARTBEAT_SECONDS)
            except TimeoutError:
                if not await reporter.heartbeat():
                    return None
                continue
            if not line:
                return outcome
            event = parse_line(line)
            if event is None:
                continue
            if event["event"] in ("completed", "failed"):
                outcome = event
            elif not await reporter.relay(event):
                return None  # cancelled (here or by another hub process)

    async def _conclude(self, reporter: JobReporter, outcome: dict[str, Any] | None, code: int | None,
                        spec: TrainingSpec) -> None:
        adapter = (outcome or {}).get("adapter_path")
        if outcome is not None and outcome["event"] == "completed" and adapter and Path(adapter).is_file():
            await reporter.finish(TrainingStatus.COMPLETED, metrics=outcome.get("metrics") or {},
                                  adapter_path=adapter, progress=100.0)
        elif outcome is not None and outcome["event"] == "failed":
            await reporter.finish(TrainingStatus.FAILED, error=str(outcome.get("error") or "training failed"))
        else:
            await reporter.finish(TrainingStatus.FAILED, error=f"the training process exited with status {code}; "
                                  f"see {Path(spec.output_dir) / 'worker.log'}")

    async def cancel(self, job_id: str) -> bool:
        """Mark the job cancelled (False when it was not active) and stop its work in this process."""
        now = self.app[CLOCK].now()
        cancelled = await self.app[DB].write(update_active, job_id, {
            "status": TrainingStatus.CANCELLED, "finished_at": now, "updated_at": now})
        if cancelled:
            row = await self.app[DB].first(sa.select(TrainingJob).where(TrainingJob.id == job_id))
            self.app[BUS].publish(TRAINING_PROGRESS, job_id=job_id, kind=row.kind, status=TrainingStatus.CANCELLED,
                                  progress=row.progress, phase=row.phase)
        process = self._processes.get(job_id)
        if process is not None:
            await terminate(process)
        task = self._inline.get(job_id)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return cancelled

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


_RUNNERS: weakref.WeakKeyDictionary[web.Application, TrainingRunner] = weakref.WeakKeyDictionary()


def training_runner(app: web.Application) -> TrainingRunner:
    """The app's runner (the app is frozen before route modules start, so it hangs off a weak map)."""
    runner = _RUNNERS.get(app)
    if runner is None:
        runner = _RUNNERS[app] = TrainingRunner(app)
    return runner
