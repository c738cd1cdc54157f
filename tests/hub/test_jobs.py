"""Durable jobs: retried with backoff, dead-lettered, reclaimed after a crash, claimed once."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from hub.clock import FakeClock
from hub.jobs import Worker, enqueue
from hub.settings import WorkerSettings
from storage import migrate
from storage.db import Database
from storage.models import Job


@pytest.fixture
async def db(database_url):
    await asyncio.to_thread(migrate.upgrade, database_url)
    database = Database(database_url)
    yield database
    await database.dispose()


async def add_jobs(db, clock, count, kind="test.job", max_attempts=3):
    def add(conn):
        for i in range(count):
            enqueue(db, conn, kind, {"n": i}, dedup_key=f"{kind}:{i}", now=clock.now(), max_attempts=max_attempts)
    await db.write(add)


async def job_rows(db):
    return await db.rows(sa.select(Job).order_by(Job.id))


def make_worker(db, clock, handlers, **settings):
    return Worker(db, handlers, WorkerSettings(**{"lease_seconds": 60, **settings}), clock)


async def test_dedup_key_enqueues_once(db, clock):
    await add_jobs(db, clock, 2)
    await add_jobs(db, clock, 2)
    assert len(await job_rows(db)) == 2


async def test_failure_retries_with_backoff_then_dead_letters(db, clock):
    calls = []

    async def flaky(job):
        calls.append(clock.now())
        raise RuntimeError("provider down")

    await add_jobs(db, clock, 1, max_attempts=3)
    worker = make_worker(db, clock, {"test.job": flaky})
    assert await worker.run_once() == 1
    (row,) = await job_rows(db)
    assert row.status == "queued" and row.attempts == 1 and "provider down" in row.last_error
    assert row.run_at > clock.now()
    assert await worker.run_once() == 0  # not due yet: backoff holds
    clock.advance(seconds=10)
    assert await worker.run_once() == 1
    clock.advance(seconds=30)
    assert await worker.run_once() == 1
    (row,) = await job_rows(db)
    assert row.status == "dead" and row.attempts == 3 and len(calls) == 3
    clock.advance(hours=1)
    assert await worker.run_once() == 0


async def test_success_marks_done(db, clock):
    seen = []

    async def ok(job):
        seen.append(job.payload["n"])

    await add_jobs(db, clock, 5)
    worker = make_worker(db, clock, {"test.job": ok}, concurrency=2)
    assert await worker.run_until_idle() == 5
    assert sorted(seen) == [0, 1, 2, 3, 4]
    assert {r.status for r in await job_rows(db)} == {"done"}


async def test_job_of_a_dead_process_is_reclaimed_after_its_lease(db, clock):
    await add_jobs(db, clock, 1)
    crashed = make_worker(db, clock, {})
    claimed = await crashed.claim(1)  # claimed, then the process "dies" without finishing
    assert len(claimed) == 1
    survivor_ran = []

    async def handler(job):
        survivor_ran.append(job.id)

    survivor = make_worker(db, clock, {"test.job": handler})
    assert await survivor.run_once() == 0  # lease still held
    clock.advance(seconds=61)
    assert await survivor.run_once() == 1
    assert survivor_ran == [claimed[0].id]
    assert (await job_rows(db))[0].status == "done"


async def test_unknown_kind_is_dead_lettered_with_a_reason(db, clock):
    await add_jobs(db, clock, 1, kind="nobody.handles.this", max_attempts=1)
    await make_worker(db, clock, {}).run_once()
    (row,) = await job_rows(db)
    assert row.status == "dead" and "no handler" in row.last_error


async def test_concurrent_workers_never_claim_the_same_job(db, clock):
    await add_jobs(db, clock, 60)
    workers = [make_worker(db, clock, {}) for _ in range(4)]
    batches = await asyncio.gather(*(w.claim(10) for w in workers for _ in range(3)))
    claimed = [job.id for batch in batches for job in batch]
    assert len(claimed) == len(set(claimed)) == 60


async def test_started_worker_runs_jobs_in_the_background(db):
    clock = FakeClock()
    done = asyncio.Event()

    async def handler(job):
        done.set()

    worker = make_worker(db, clock, {"test.job": handler}, poll_seconds=0.05)
    worker.start()
    try:
        await add_jobs(db, clock, 1)
        worker.notify()
        await asyncio.wait_for(done.wait(), 10)
    finally:
        await worker.stop()


async def test_a_quick_job_is_recorded_done_while_a_slow_one_still_runs(db):
    """The running worker refills each free slot: quick jobs (cards, sends) never wait for the
    slowest job of a batch, and a job is not claimed before a slot is free for it."""
    clock = FakeClock()
    release_slow = asyncio.Event()

    async def slow(job):
        await release_slow.wait()

    async def quick(job):
        pass

    await add_jobs(db, clock, 1, kind="test.slow")
    await add_jobs(db, clock, 5, kind="test.quick")
    worker = make_worker(db, clock, {"test.slow": slow, "test.quick": quick}, poll_seconds=0.05,
                         concurrency=2)
    worker.start()
    try:
        for _ in range(200):
            statuses = {row.kind + str(row.payload["n"]): row.status for row in await job_rows(db)}
            if all(statuses[f"test.quick{i}"] == "done" for i in range(5)):
                break
            await asyncio.sleep(0.05)
        assert statuses["test.slow0"] == "running"
        assert all(statuses[f"test.quick{i}"] == "done" for i in range(5)), statuses
        release_slow.set()
        for _ in range(200):
            if {row.status for row in await job_rows(db)} == {"done"}:
                break
            await asyncio.sleep(0.05)
        assert {row.status for row in await job_rows(db)} == {"done"}
    finally:
        release_slow.set()
        await worker.stop()
