"""Follow-up nudges, the public surface: `tick` (what is due at time T, from the database and T
alone), the `followup.fire` job registration, and the inbound step that cancels nudges at once
when the contact writes first.

The scheduler (scheduler/runtime.py) calls `tick` every minute and at each nudge's exact time; tests
call it with a FakeClock. Nothing here depends on which process ticks, or how many do.
"""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa
from aiohttp import web

from hub.approvals import refresh_cards
from hub.jobs import Worker
from hub.processing import InboundProcessor
from hub.state import CLOCK, DB, SETTINGS, WORKER
from scheduler.firing import FOLLOW_UP_KIND, fire, fire_handler
from scheduler.planning import FIRE_JOB, TickResult, apply_plans, cancel_answered, read_plans

__all__ = ["FIRE_JOB", "FOLLOW_UP_KIND", "TickResult", "cancel_on_inbound", "fire", "register_fire_job", "tick"]
log = logging.getLogger("replydesk.followups")


async def tick(app: web.Application, now: datetime | None = None) -> TickResult:
    """Plan what changed, cancel what the contact answered, queue what is due at `now`."""
    db, owner_timezone = app[DB], app[SETTINGS].owner.timezone
    now = now or app[CLOCK].now()
    plans = await db.read(read_plans, now, owner_timezone)
    result = await db.write(apply_plans, db, plans, now, owner_timezone)
    if result.superseded_suggestions:
        await refresh_cards(app, *result.superseded_suggestions)
    if result.queued:
        app[WORKER].notify()
        log.info("queued %d follow-up nudge(s)", len(result.queued))
    return result


def cancel_on_inbound(app: web.Application) -> InboundProcessor:
    """An `inbound.process` step: a message from the contact cancels their pending nudges and
    the nudges' pending suggestions now (the next tick would, within a minute)."""
    async def process(message: sa.Row) -> None:
        if message.direction != "inbound":
            return
        _, drafts = await app[DB].write(cancel_answered, app[CLOCK].now(), message.conversation_id)
        if drafts:
            await refresh_cards(app, *drafts)

    return process


def register_fire_job(app: web.Application, worker: Worker) -> None:
    worker.register(FIRE_JOB, fire_handler(app))

