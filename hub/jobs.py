"""Durable jobs: enqueued in the caller's transaction, claimed with a lease, retried, dead-lettered.

PostgreSQL claims with FOR UPDATE SKIP LOCKED so several processes share the queue; on SQLite
one process writes at a time. A job whose process died is claimed again when its lease runs out.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Awaitable, Callable, Mapping

import sqlalchemy as sa

from hub.clock import Clock
from hub.settings import WorkerSettings
from storage.db import Database
from storage.models import Job, JobStatus

log = logging.getLogger("replydesk.jobs")


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


JobHandler = Callable[[ClaimedJob], Awaitable[None]]


class RetryLater(Exception):
    """Raised by a handler to be retried after `seconds` (a provider's Retry-After), not backoff."""

    def __init__(self, seconds: float, reason: str = "") -> None:
        super().__init__(reason or f"retry after {seconds:.0f} s")
        self.seconds = seconds


def enqueue(db: Database, conn: sa.Connection, kind: str, payload: dict[str, Any], *,
            dedup_key: str | None = None, run_at: datetime | None = None,
            max_attempts: int = 5, now: datetime) -> None:
    """Add a job inside the caller's transaction; a repeated dedup_key is ignored."""
    enqueue_many(db, conn, kind, [(payload, dedup_key)], run_at=run_at, max_attempts=max_attempts, now=now)


def enqueue_many(db: Database, conn: sa.Connection, kind: str,
                 jobs: list[tuple[dict[str, Any], str | None]], *, run_at: datetime | None = None,
                 max_attempts: int = 5, now: datetime, fresh: bool = False) -> None:
    """One statement for many (payload, dedup_key) jobs, in the caller's transaction.

    `fresh=True` says the keys cannot exist yet (they name rows created in this transaction),
    which allows a plain INSERT whose compiled form SQLAlchemy caches."""
    if not jobs:
        return
    rows = [{"kind": kind, "payload": payload, "dedup_key": key, "status": JobStatus.QUEUED,
             "run_at": run_at or now, "max_attempts": max_attempts, "created_at": now, "attempts": 0}
            for payload, key in jobs]
    conn.execute(sa.insert(Job) if fresh else db.insert_ignore(Job), rows)


def backoff_seconds(attempts: int) -> float:
    return min(2.0 ** attempts, 300.0) * random.uniform(0.8, 1.2)


class Worker:
    """Runs the handlers registered by job kind; one error boundary per job."""

    def __init__(self, db: Database, handlers: Mapping[str, JobHandler], settings: WorkerSettings,
                 clock: Clock) -> None:
        self.db = db
        self.handlers = dict(handlers)
        self.settings = settings
        self.clock = clock
        self.name = f"{socket.gethostname()}:{os.getpid()}:{id(self) % 10000}"
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._retry_after: dict[int, float] = {}

    def register(self, kind: str, handler: JobHandler) -> None:
        self.handlers[kind] = handler

    def notify(self) -> None:
        self._wake.set()

    async def claim(self, limit: int) -> list[ClaimedJob]:
        now = self.clock.now()
        lease = now + timedelta(seconds=self.settings.lease_seconds)
        due = sa.or_(sa.and_(Job.status == JobStatus.QUEUED, Job.run_at <= now),
                     sa.and_(Job.status == JobStatus.RUNNING, Job.locked_until < now))
        candidates = sa.select(Job.id).where(due).order_by(Job.run_at, Job.id).limit(limit)
        if not self.db.is_sqlite:
            candidates = candidates.with_for_update(skip_locked=True)
        stmt = (sa.update(Job).where(Job.id.in_(candidates.scalar_subquery()))
                .values(status=JobStatus.RUNNING, locked_until=lease, locked_by=self.name,
                        attempts=Job.attempts + 1)
                .returning(Job.id, Job.kind, Job.payload, Job.attempts, Job.max_attempts))
        rows = await self.db.write(lambda conn: conn.execute(stmt).all())
        return [ClaimedJob(r.id, r.kind, r.payload or {}, r.attempts, r.max_attempts) for r in rows]

    def _outcome(self, job: ClaimedJob, error: str | None, now: datetime) -> dict[str, Any]:
        if error is None:
            return {"status": JobStatus.DONE, "finished_at": now, "last_error": None}
        if job.attempts >= job.max_attempts:
            log.error("job %s (%s) dead after %d attempts: %s", job.id, job.kind, job.attempts, error)
            return {"status": JobStatus.DEAD, "finished_at": now, "last_error": error}
        delay = self._retry_after.pop(job.id, None) or backoff_seconds(job.attempts)
        return {"status": JobStatus.QUEUED, "run_at": now + timedelta(seconds=delay), "last_error": error}

    def _record(self, conn: sa.Connection, outcomes: list[tuple[ClaimedJob, str | None]]) -> None:
        now = self.clock.now()
        done = [job.id for job, error in outcomes if error is None]
        mine = Job.locked_by == self.name
        if done:
            conn.execute(sa.update(Job).where(Job.id.in_(done), mine).values(
                status=JobStatus.DONE, finished_at=now, last_error=None, locked_until=None, locked_by=None))
        for job, error in outcomes:
            if error is not None:
                values = self._outcome(job, error, now) | {"locked_until": None, "locked_by": None}
                conn.execute(sa.update(Job).where(Job.id == job.id, mine).values(**values))

    async def _finish(self, outcomes: list[tuple[ClaimedJob, str | None]]) -> None:
        """Record every outcome in one transaction; successes in a single statement."""
        await self.db.write(self._record, outcomes)

    async def _execute(self, job: ClaimedJob) -> str | None:
        """Run one job inside its error boundary; returns the error text, or None on success."""
        handler = self.handlers.get(job.kind)
        if job.attempts > job.max_attempts:
            return "lease expired too many times (the process running it kept dying)"
        if handler is None:
            return f"no handler for job kind {job.kind!r}"
        try:
            await handler(job)
        except asyncio.CancelledError:
            raise
        except RetryLater as exc:
            self._retry_after[job.id] = exc.seconds
            return f"RetryLater: {exc}"
        except Exception as exc:  # the error boundary of one unit of work
            log.warning("job %s (%s) attempt %d failed", job.id, job.kind, job.attempts, exc_info=True)
            return f"{type(exc).__name__}: {exc}"[:2000]
        return None

    async def run_once(self, limit: int | None = None) -> int:
        """Claim what is due, run it `concurrency` at a time; returns how many ran."""
        jobs = await self.claim(limit or self.settings.batch_size)
        if not jobs:
            return 0
        gate = asyncio.Semaphore(self.settings.concurrency)

        async def guarded(job: ClaimedJob) -> tuple[ClaimedJob, str | None]:
            async with gate:
                return job, await self._execute(job)

        await self._finish(list(await asyncio.gather(*(guarded(job) for job in jobs))))
        return len(jobs)

    async def run_until_idle(self, max_rounds: int = 100) -> int:
        total = 0
        for _ in range(max_rounds):
            ran = await self.run_once()
            if not ran:
                break
            total += ran
        return total

    async def _run_and_record(self, job: ClaimedJob) -> None:
        error = await self._execute(job)
        try:
            await self._finish([(job, error)])
        except Exception:  # the lease runs out and the job is claimed again
            log.exception("could not record the outcome of job %s (%s)", job.id, job.kind)

    async def _wait_for_work(self, running: set[asyncio.Task[None]]) -> None:
        """Until a running job ends, new work is announced, or the poll interval passes."""
        self._wake.clear()
        waker = asyncio.create_task(self._wake.wait())
        try:
            await asyncio.wait({waker, *running}, timeout=self.settings.poll_seconds,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            waker.cancel()

    async def _loop(self) -> None:
        """Keep `concurrency` jobs running; claim more as each one ends, so a quick job (a card, a
        send) never waits behind a batch of slow drafts, and no claimed job sits idle on its lease."""
        running: set[asyncio.Task[None]] = set()
        try:
            while not self._stopping:
                free = self.settings.concurrency - len(running)
                jobs: list[ClaimedJob] = []
                if free > 0:
                    try:
                        jobs = await self.claim(free)
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        log.exception("worker could not claim jobs; retrying")
                for job in jobs:
                    task = asyncio.create_task(self._run_and_record(job), name=f"job-{job.id}")
                    running.add(task)
                    task.add_done_callback(running.discard)
                if jobs and len(running) < self.settings.concurrency:
                    continue
                await self._wait_for_work(running)
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    def start(self) -> None:
        task = asyncio.create_task(self._loop(), name="replydesk-worker")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
