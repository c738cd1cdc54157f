"""Several hub processes on one PostgreSQL database: one leads the scheduler, another takes over when
it dies, and ticking together they still queue and draft each nudge exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import sqlalchemy as sa

from hub.brain_services import BrainServices
from scheduler import followups
from scheduler.lock import AdvisoryLock, SingleProcessLock
from scheduler.runtime import TICK_JOB_ID, SchedulerRuntime
from storage.models import Job, Suggestion
from tests.conftest import PG_URL, start_hub
from tests.scheduler.test_followups import clock, settings, waiting_conversation  # noqa: F401  (fixtures)
from tests.scheduler.test_runtime import followup_job_ids, stored_job_ids

postgres_only = pytest.mark.skipif(not PG_URL, reason="needs REPLYDESK_TEST_DATABASE_URL (PostgreSQL)")


async def two_hubs(settings, clock, **kwargs):
    return await start_hub(settings, clock, **kwargs), await start_hub(settings, clock, **kwargs)


async def close(*hubs) -> None:
    for hub in hubs:
        await hub.client.close()


@postgres_only
async def test_two_processes_ticking_together_queue_each_nudge_once(settings, clock):
    a, b = await two_hubs(settings, clock)
    try:
        for i in range(8):
            await waiting_conversation(a, clock, thread=f"t{i}", number=f"+1415555{i:04d}", name=f"C{i}")
        for _ in range(2):
            await asyncio.gather(followups.tick(a.app), followups.tick(b.app))
        clock.advance(hours=49)
        rounds = [await asyncio.gather(followups.tick(a.app), followups.tick(b.app)) for _ in range(3)]
        queued = [i for results in rounds for result in results for i in result.queued]
        assert sorted(queued) == sorted(set(queued)) and len(queued) == 8
        keys = await a.db.rows(sa.select(Job.dedup_key).where(Job.kind == followups.FIRE_JOB))
        assert len(keys) == 8 and len({k.dedup_key for k in keys}) == 8
    finally:
        await close(a, b)


@postgres_only
async def test_two_processes_draft_a_due_nudge_once(settings, clock, bundled_llm, shared_embedder):
    a, b = await two_hubs(settings, clock, brain=BrainServices(settings, llm=bundled_llm, embedder=shared_embedder))
    try:
        await waiting_conversation(a, clock)
        await asyncio.gather(followups.tick(a.app), followups.tick(b.app))
        clock.advance(hours=49)
        await asyncio.gather(followups.tick(a.app), followups.tick(b.app))
        await asyncio.gather(a.worker.run_until_idle(), b.worker.run_until_idle())
        await asyncio.gather(followups.tick(a.app), followups.tick(b.app))
        await asyncio.gather(a.worker.run_until_idle(), b.worker.run_until_idle())
        assert await a.db.scalar(sa.select(sa.func.count()).select_from(Suggestion)
                                 .where(Suggestion.kind == "follow_up")) == 1
    finally:
        await close(a, b)


async def lead_within(runtime: SchedulerRuntime, rounds: int = 100) -> bool:
    """The next few leadership rounds (PostgreSQL frees a killed session's lock a moment later)."""
    for _ in range(rounds):
        if await runtime.try_lead():
            return True
        await asyncio.sleep(0.02)
    return False


@asynccontextmanager
async def two_runtimes(settings, clock, *, use_apscheduler: bool) -> AsyncIterator[tuple]:
    """Two hubs on one database, each with its scheduler runtime competing for the lead."""
    a, b = await two_hubs(settings, clock)
    first = SchedulerRuntime(a.app, AdvisoryLock(a.db.url), use_apscheduler=use_apscheduler)
    second = SchedulerRuntime(b.app, AdvisoryLock(b.db.url), use_apscheduler=use_apscheduler)
    try:
        yield a, first, second
    finally:
        await first.stop()
        await second.stop()
        await close(a, b)


async def kill_session(hub, runtime: SchedulerRuntime) -> None:
    """The leader dies: PostgreSQL ends its lock's session."""
    await hub.db.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": runtime.lock.backend_pid})


@postgres_only
async def test_one_process_leads_and_another_takes_over_when_it_dies(settings, clock):
    async with two_runtimes(settings, clock, use_apscheduler=False) as (a, first, second):
        assert await first.try_lead() and not await second.try_lead()
        assert await first.try_lead() and not await second.try_lead()  # kept, not taken
        await kill_session(a, first)
        assert await lead_within(second)
        assert not await first.try_lead() and not first.leading  # it notices and steps down
        assert await second.try_lead()
        await second.stop()  # an orderly stop hands the lead over at once
        assert await first.try_lead()


async def test_on_sqlite_the_one_process_leads(hub):
    runtime = SchedulerRuntime(hub.app, SingleProcessLock(), use_apscheduler=False)
    assert await runtime.try_lead() and runtime.leading
    await runtime.stop()
    assert not runtime.leading


@postgres_only
async def test_only_the_leader_runs_apscheduler_and_the_next_one_takes_over_its_stored_jobs(settings, clock):
    async with two_runtimes(settings, clock, use_apscheduler=True) as (a, first, second):
        assert await first.try_lead() and not await second.try_lead()
        assert first.scheduler is not None and first.scheduler.running and second.scheduler is None
        assert await stored_job_ids(a) == {TICK_JOB_ID}
        await kill_session(a, first)
        assert await lead_within(second)
        assert second.scheduler is not None and followup_job_ids(second.scheduler) == {TICK_JOB_ID}
        assert not await first.try_lead() and first.scheduler is None  # the old leader stops its own
        assert await stored_job_ids(a) == {TICK_JOB_ID}
