"""The scheduler's place in the app: leadership, APScheduler with its job store in the hub's
database, and the follow-up tick.

Every `LEAD_RETRY_SECONDS` each hub process tries to lead (scheduler/lock.py); the leader runs an
APScheduler 3 `BackgroundScheduler` on UTC whose jobs live in the `apscheduler_jobs` table of the
hub's own database (SQLAlchemyJobStore on the same URL): a tick every minute and one at each
nudge's exact time. `misfire_grace_time=None` with `coalesce`: a job due while the hub was down
runs once when it is back, never skipped and never repeated. On taking the lead the runtime also
ticks at once, so whatever fell due while nobody led is caught up even without the job store.

APScheduler keeps wall-clock time. An app given another clock (tests' FakeClock) does not start
it: whoever injected the clock calls `tick` (or `try_lead`) and moves time themselves.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timezone

from aiohttp import web
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import make_url

from hub.clock import SystemClock
from hub.retraining import schedule_retraining
from hub.state import CLOCK, DB
from scheduler import jobs
from scheduler.followups import TickResult, tick
from scheduler.lock import LeaderLock, leader_lock
from storage.db import sync_url
from storage.scheduling_models import APSCHEDULER_TABLE

log = logging.getLogger("replydesk.scheduler")
TICK_SECONDS = 60
LEAD_RETRY_SECONDS = 15.0
TICK_TIMEOUT_SECONDS = 300.0
TICK_JOB_ID = "followups.tick"


def runtime_key(url: str) -> str:
    """Names one database (password left out, so rotating it keeps stored jobs valid)."""
    redacted = make_url(sync_url(url)).render_as_string(hide_password=True)
    return hashlib.blake2b(redacted.encode(), digest_size=8).hexdigest()


def build_scheduler(url: str) -> BackgroundScheduler:
    engine_options = {"connect_args": {"timeout": 30}} if make_url(url).get_backend_name() == "sqlite" \
        else {"pool_pre_ping": True, "pool_size": 2}
    store = SQLAlchemyJobStore(url=sync_url(url), tablename=APSCHEDULER_TABLE, engine_options=engine_options)
    return BackgroundScheduler(jobstores={"default": store}, executors={"default": ThreadPoolExecutor(2)},
                               job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
                               timezone=timezone.utc)


def stop_scheduler(scheduler: BackgroundScheduler) -> None:
    """Detach the job store, then shut down. APScheduler 3's loop makes one more pass after
    `shutdown()` (STOPPED is not PAUSED) that would hand due jobs to the stopped executor and drop
    them from the store; detached, the stored jobs stay as they are for the next leader."""
    scheduler.remove_jobstore("default")
    scheduler.shutdown(wait=True)


class SchedulerRuntime:
    """One per app: competes for the lead, and while leading runs APScheduler and the ticks."""

    def __init__(self, app: web.Application, lock: LeaderLock, *, use_apscheduler: bool,
                 retry_seconds: float = LEAD_RETRY_SECONDS) -> None:
        self.app = app
        self.lock = lock
        self.use_apscheduler = use_apscheduler
        self.retry_seconds = retry_seconds
        self.key = runtime_key(app[DB].url)
        self.leading = False
        self.scheduler: BackgroundScheduler | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def tick(self) -> TickResult:
        result = await tick(self.app)
        if self.scheduler is not None and result.timers:
            await asyncio.to_thread(self._set_timers, result.timers)
        return result

    def tick_from_thread(self) -> None:
        """Called by an APScheduler job thread: run the tick on the app's loop and wait for it."""
        if self._loop is None or self._loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self.tick(), self._loop).result(timeout=TICK_TIMEOUT_SECONDS)

    def _set_timers(self, timers: list[tuple[int, datetime]]) -> None:
        scheduler, now = self.scheduler, datetime.now(timezone.utc)  # APScheduler's own (wall) clock
        for followup_id, at in timers:
            if scheduler is not None and at > now:
                scheduler.add_job(jobs.TICK_REF, "date", run_date=at, args=[self.key],
                                  id=f"followups.due.{followup_id}", replace_existing=True)

    def _start_scheduler(self) -> None:
        scheduler = build_scheduler(self.app[DB].url)
        scheduler.start()  # loads the stored jobs; those that fell due meanwhile run once now
        scheduler.add_job(jobs.TICK_REF, "interval", seconds=TICK_SECONDS, args=[self.key], id=TICK_JOB_ID,
                          replace_existing=True)
        schedule_retraining(scheduler, self.key, self.app, self._loop)  # the retraining cron (hub/retraining.py)
        self.scheduler = scheduler

    async def try_lead(self) -> bool:
        """One round: keep, take or lose the lead. True while this process leads."""
        if self.leading:
            if await asyncio.to_thread(self.lock.held):
                return True
            await self.step_down()
            return False
        if not await asyncio.to_thread(self.lock.acquire):
            return False
        self._loop = asyncio.get_running_loop()
        self.leading = True
        jobs.register(self.key, self)
        if self.use_apscheduler:
            await asyncio.to_thread(self._start_scheduler)
        log.info("this process now runs the follow-up scheduler")
        await self.tick()  # catch up at once on whatever fell due while nobody led
        return True

    async def step_down(self) -> None:
        if self.leading:
            log.info("this process no longer runs the follow-up scheduler")
        self.leading = False
        jobs.unregister(self.key, self)
        scheduler, self.scheduler = self.scheduler, None
        if scheduler is not None:
            await asyncio.to_thread(stop_scheduler, scheduler)

    async def _run(self) -> None:
        while True:
            try:
                await self.try_lead()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be down: try again next round
                log.warning("follow-up scheduler round failed; retrying", exc_info=True)
            await asyncio.sleep(self.retry_seconds)

    def start(self) -> None:
        task = asyncio.create_task(self._run(), name="replydesk-scheduler")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.step_down()
        await asyncio.to_thread(self.lock.release)


SCHEDULER: web.AppKey[SchedulerRuntime] = web.AppKey("scheduler", SchedulerRuntime)


async def scheduler_ctx(app: web.Application) -> AsyncIterator[None]:
    db = app[DB]
    runtime = SchedulerRuntime(app, leader_lock(db.url, db.is_sqlite),
                               use_apscheduler=isinstance(app[CLOCK], SystemClock))
    app[SCHEDULER] = runtime
    if runtime.use_apscheduler:
        runtime.start()
    yield
    await runtime.stop()
