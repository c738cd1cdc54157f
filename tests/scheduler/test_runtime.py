"""APScheduler in the hub: UTC, its job store in the hub's own database, jobs stored by reference
with catch-up on (no misfire grace limit), kept across a restart, and each job only ticks."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from hub.state import CLOCK
from scheduler import jobs
from scheduler.lock import leader_lock
from scheduler.runtime import SCHEDULER, TICK_JOB_ID, SchedulerRuntime, build_scheduler, stop_scheduler
from storage.scheduling_models import FollowUp, apscheduler_jobs
from tests.conftest import start_hub
from tests.scheduler.test_followups import waiting_conversation


def runtime_for(hub) -> SchedulerRuntime:
    return SchedulerRuntime(hub.app, leader_lock(hub.db.url, hub.db.is_sqlite), use_apscheduler=True)


def followup_job_ids(scheduler) -> set[str]:
    return {j.id for j in scheduler.get_jobs() if j.id.startswith("followups.")}


async def stored_job_ids(hub) -> set[str]:
    """The follow-up jobs in the store (the retraining cron of hub/retraining.py may sit beside them)."""
    return {r.id for r in await hub.db.rows(sa.select(apscheduler_jobs.c.id)) if r.id.startswith("followups.")}


async def test_an_app_with_a_fake_clock_leaves_apscheduler_to_the_test(hub):
    runtime = hub.app[SCHEDULER]
    assert not runtime.use_apscheduler and not runtime.leading and runtime.scheduler is None


async def test_jobs_live_in_the_hub_database_and_survive_a_restart(settings, clock):
    first = await start_hub(settings, clock)  # clock: the wall clock's now, frozen
    await waiting_conversation(first, clock)
    runtime = runtime_for(first)
    try:
        assert await runtime.try_lead()  # starts APScheduler and ticks at once: the nudge is planned
        (nudge,) = await first.db.rows(sa.select(FollowUp))
        timer = f"followups.due.{nudge.id}"
        assert await stored_job_ids(first) == {TICK_JOB_ID, timer}
        scheduler = runtime.scheduler
        assert scheduler is not None and scheduler.timezone == timezone.utc
        tick_job = scheduler.get_job(TICK_JOB_ID)
        assert tick_job.func_ref == jobs.TICK_REF and tick_job.args == (runtime.key,)
        assert tick_job.misfire_grace_time is None and tick_job.coalesce
        assert tick_job.trigger.interval == timedelta(seconds=60)
        assert scheduler.get_job(timer).next_run_time == nudge.fire_at
    finally:
        await runtime.stop()
        await first.client.close()
    second = await start_hub(settings, clock)
    again = runtime_for(second)
    try:
        assert await stored_job_ids(second) == {TICK_JOB_ID, timer}  # nothing lost while down
        assert await again.try_lead() and again.scheduler.get_job(timer).next_run_time == nudge.fire_at
        assert followup_job_ids(again.scheduler) == {TICK_JOB_ID, timer}
    finally:
        await again.stop()
        await second.client.close()


async def test_a_job_only_hands_the_tick_to_the_leading_runtime_of_its_database(hub, clock):
    resp = await hub.request("PUT", "/api/followups/settings", json={"quietHours": {"start": "00:00", "end": "00:00"}})
    assert resp.status == 200  # this clock is today's: no quiet hours, whatever the time of day
    await waiting_conversation(hub, clock)
    runtime = runtime_for(hub)
    await asyncio.to_thread(jobs.tick, runtime.key)  # nobody leads: nothing happens
    assert await hub.db.rows(sa.select(FollowUp)) == []
    try:
        assert await runtime.try_lead()
        hub.app[CLOCK].advance(hours=49)
        await asyncio.to_thread(jobs.tick, runtime.key)  # what the stored job runs, from its thread
        (nudge,) = await hub.db.rows(sa.select(FollowUp))
        assert nudge.status == "queued"
    finally:
        await runtime.stop()
    await asyncio.to_thread(jobs.tick, runtime.key)  # stepped down: a late job changes nothing


class CountingRuntime(SchedulerRuntime):
    """Counts the ticks its stored jobs hand it."""

    job_ticks = 0

    def tick_from_thread(self) -> None:
        self.job_ticks += 1
        super().tick_from_thread()


async def test_a_timer_that_fell_due_while_the_hub_was_down_runs_once_at_start(hub):
    runtime = CountingRuntime(hub.app, leader_lock(hub.db.url, hub.db.is_sqlite), use_apscheduler=True)
    offline = build_scheduler(hub.db.url)  # stands for the hub that stored the timer, then went down
    offline.start(paused=True)
    missed = datetime.now(timezone.utc) - timedelta(hours=3)
    offline.add_job(jobs.TICK_REF, "date", run_date=missed, args=[runtime.key], id="followups.due.missed")
    stop_scheduler(offline)
    assert "followups.due.missed" in await stored_job_ids(hub)
    try:
        assert await runtime.try_lead()
        for _ in range(250):  # the job runs on APScheduler's own thread
            if runtime.job_ticks and "followups.due.missed" not in await stored_job_ids(hub):
                break
            await asyncio.sleep(0.02)
        assert runtime.job_ticks == 1 and "followups.due.missed" not in await stored_job_ids(hub)
    finally:
        await runtime.stop()
