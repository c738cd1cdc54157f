"""Retraining from the owner's own writing, as a training job with progress (kind "retrain").

One run: rebuild the style profiles (overall and per contact, kind "style", owner "owner") from the
owner's recent outgoing messages and edited drafts; refresh the few-shot examples bank from recent
(their message → the owner's reply) exchanges; retrain the classifier heads from the owner's
label corrections (hub.api.ml_triage.retrain).

On demand (POST /api/training/retrain) and on the cron `training.retrain_cron` (UTC): the process
leading the scheduler (scheduler/runtime.py) keeps a CronTrigger job in APScheduler's persistent
store (`schedule_retraining`). `retrain_if_due` decides and inserts in one locked unit of work, so
several hub processes start one run per fire time, and a fire time missed while the hub was down is
caught up once. An app on an injected clock has no APScheduler: its owner calls `retrain_if_due`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from aiohttp import web
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.orm import aliased

from brain.style import learn_style
from hub.api import ml_triage
from hub.api.ml_common import kept_samples, locked_profile_row, save_profile_row
from hub.brain_steps import EXAMPLES_SCOPE, exchange_text
from hub.drafting import OWNER_ID
from hub.state import BRAIN, CLOCK, DB, SETTINGS
from hub.training_report import JobReporter
from hub.training_runs import SlotBusy, insert_job, training_runner
from storage.db import Database
from storage.models import Contact, Conversation, LabelCorrection, Message, TrainingSample, new_uid
from storage.training_models import TrainingJob, TrainingKind

log = logging.getLogger("replydesk.retraining")
# database key (scheduler/runtime.runtime_key) → the app leading its scheduler in this process, its loop
# and its APScheduler (a job of a scheduler that was stopped meanwhile starts nothing)
_LEADING: dict[str, tuple[web.Application, asyncio.AbstractEventLoop, Any]] = {}
RETRAIN_SLOT = "retrain"
CRON_JOB_ID = "training.retrain"
CRON_JOB_REF = "hub.retraining:scheduled_retrain"
START_TIMEOUT_SECONDS = 60.0
RECENT_DAYS = 90
MAX_MESSAGES = 2000
MIN_CONTACT_MESSAGES = 5  # fewer than this: the contact uses the overall profile


def retrain_cron(settings: Any) -> str:
    return settings.training.retrain_cron


def cron_trigger(cron: str) -> CronTrigger:
    return CronTrigger.from_crontab(cron, timezone=timezone.utc)


def next_fire(cron: str, after: datetime) -> datetime | None:
    """The first fire time of `cron` (UTC) strictly after `after`; None when the schedule is off."""
    if not cron.strip():
        return None
    return cron_trigger(cron).get_next_fire_time(None, after + timedelta(microseconds=1))


def _recent_outgoing(conn: sa.Connection, since: datetime) -> list[sa.Row]:
    """The owner's recent outgoing texts, newest first, with the contact and the message they answered."""
    theirs = aliased(Message)
    answered = (sa.select(theirs.text).where(theirs.conversation_id == Message.conversation_id,
                                             theirs.direction == "inbound", theirs.sent_at <= Message.sent_at)
                .order_by(theirs.sent_at.desc(), theirs.id.desc()).limit(1).correlate(Message).scalar_subquery())
    return conn.execute(
        sa.select(Message.uid, Message.text, Conversation.uid.label("conversation_uid"),
                  Contact.uid.label("contact_uid"), answered.label("answered"))
        .join(Conversation, Conversation.id == Message.conversation_id)
        .outerjoin(Contact, Contact.id == Conversation.contact_id)
        .where(Message.direction == "outbound", Message.text != "", Message.sent_at >= since)
        .order_by(Message.sent_at.desc(), Message.id.desc()).limit(MAX_MESSAGES)).all()


def _recent_edits(conn: sa.Connection, since: datetime) -> list[sa.Row]:
    return conn.execute(sa.select(TrainingSample.input_text, TrainingSample.final_output).where(
        TrainingSample.action == "edit", TrainingSample.final_output.is_not(None),
        TrainingSample.created_at >= since).order_by(TrainingSample.id.desc()).limit(MAX_MESSAGES)).all()


def _save_profiles(conn: sa.Connection, db: Database, scopes: dict[str, list[dict[str, str]]],
                   now: datetime) -> int:
    saved = 0
    for contact_id, samples in scopes.items():
        learned = learn_style([s["output"] for s in samples])
        if not learned.samples_count:
            continue
        row = locked_profile_row(conn, db, "style", OWNER_ID, contact_id)
        save_profile_row(conn, row, {"kind": "style", "owner_id": OWNER_ID, "contact_id": contact_id,
                                     "profile": learned.to_dict(), "samples": kept_samples(None, samples),
                                     "samples_count": learned.samples_count, "updated_at": now})
        saved += 1
    return saved


async def rebuild_style(app: web.Application, since: datetime) -> dict[str, Any]:
    """Learn the profiles afresh from what the owner wrote since `since` (edits count as written)."""
    db = app[DB]
    outgoing, edits = await db.read(_recent_outgoing, since), await db.read(_recent_edits, since)
    overall = [{"input": r.answered or "", "output": r.text} for r in outgoing]
    overall += [{"input": e.input_text, "output": e.final_output} for e in edits if e.final_output.strip()]
    per_contact: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in outgoing:
        if row.contact_uid:
            per_contact[row.contact_uid].append({"input": row.answered or "", "output": row.text})
    scopes = {"": overall[::-1]} if overall else {}
    scopes |= {uid: texts[::-1] for uid, texts in per_contact.items() if len(texts) >= MIN_CONTACT_MESSAGES}
    profiles = await db.write(_save_profiles, db, scopes, app[CLOCK].now())
    return {"messages": len(outgoing), "edits": len(edits), "profiles": profiles}


async def refresh_examples(app: web.Application, since: datetime) -> dict[str, Any]:
    """Store every recent exchange in the examples bank again (upserts: stored ones are refreshed)."""
    outgoing = await app[DB].read(_recent_outgoing, since)
    by_conversation: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in outgoing:
        if row.answered and row.answered.strip():
            by_conversation[row.conversation_uid].append(
                {"role": "exchange", "content": exchange_text(row.answered, row.text), "message_id": row.uid})
    if not by_conversation:
        return {"exchanges": 0}
    examples = await app[BRAIN].examples()
    for conversation_uid, exchanges in by_conversation.items():
        await examples.store(user_id=OWNER_ID, contact_id=EXAMPLES_SCOPE, conversation_id=conversation_uid,
                             messages=exchanges)
    return {"exchanges": sum(map(len, by_conversation.values())), "conversations": len(by_conversation)}


async def retrain_classifiers(app: web.Application) -> dict[str, Any]:
    """The triage and sales classifier heads, refitted with the owner's label corrections."""
    corrections = await app[DB].scalar(sa.select(sa.func.count()).select_from(LabelCorrection))
    await ml_triage.retrain(app)
    return {"status": "retrained", "corrections": corrections}


async def run_retraining(app: web.Application, reporter: JobReporter) -> dict[str, Any]:
    since = app[CLOCK].now() - timedelta(days=RECENT_DAYS)
    metrics: dict[str, Any] = {"since": since.isoformat()}
    steps = (("style", lambda: rebuild_style(app, since)), ("examples", lambda: refresh_examples(app, since)),
             ("classifiers", lambda: retrain_classifiers(app)))
    for index, (name, step) in enumerate(steps):
        await reporter.update(100.0 * index / len(steps), name)
        started = time.perf_counter()
        metrics[name] = {**await step(), "seconds": round(time.perf_counter() - started, 2)}
    return metrics


def insert_retrain_job(conn: sa.Connection, db: Database, job_id: str, now: datetime,
                       scheduled: str | None) -> sa.Row | None:
    """Insert a retrain job; with `scheduled` (a cron) only when a fire time passed since the last run."""
    if scheduled is not None:
        db.lock(conn, f"training_slot:{RETRAIN_SLOT}")
        last = conn.execute(sa.select(sa.func.max(TrainingJob.created_at))
                            .where(TrainingJob.kind == TrainingKind.RETRAIN)).scalar()
        due = next_fire(scheduled, last or now - timedelta(days=1))
        if due is None or due > now:
            return None
    return insert_job(conn, db, {"id": job_id, "kind": TrainingKind.RETRAIN, "slot": RETRAIN_SLOT, "base_model": "",
                                 "epochs": 1, "learning_rate": 0.0, "options": {"scheduled": scheduled is not None}},
                      now)


async def start_retraining(app: web.Application, *, cron: str | None = None) -> sa.Row | None:
    """Start a run now (raises SlotBusy when one is active), or with `cron` only if one is due.
    Returns the job's row as inserted, or None when nothing was started."""
    db = app[DB]
    try:
        row = await db.write(insert_retrain_job, db, new_uid(), app[CLOCK].now(), cron)
    except SlotBusy:
        if cron is not None:
            return None
        raise
    if row is not None:
        training_runner(app).run_inline(row.id, TrainingKind.RETRAIN, lambda reporter: run_retraining(app, reporter))
    return row


async def retrain_if_due(app: web.Application) -> str | None:
    """The scheduled run, when the cron says one is due; safe to call from any process, any time.
    Returns the started job's id."""
    cron = retrain_cron(app[SETTINGS])
    row = await start_retraining(app, cron=cron) if cron.strip() else None
    return row.id if row is not None else None


def schedule_retraining(scheduler: Any, key: str, app: web.Application, loop: asyncio.AbstractEventLoop) -> None:
    """The hook of scheduler/runtime.py: when this process starts leading the APScheduler of the
    database `key` names, add (or replace, or remove) the retraining cron job in its persistent job
    store, then catch up a fire time missed while nobody led. Called from a thread, never the loop's."""
    cron = retrain_cron(app[SETTINGS])
    _LEADING[key] = (app, loop, scheduler)
    try:
        if not cron:
            if scheduler.get_job(CRON_JOB_ID) is not None:
                scheduler.remove_job(CRON_JOB_ID)
            return
        scheduler.add_job(CRON_JOB_REF, cron_trigger(cron), args=[key], id=CRON_JOB_ID, replace_existing=True)
    except Exception:  # never in the way of the follow-ups: the next leader tries again
        log.warning("could not schedule retraining", exc_info=True)
        return
    scheduled_retrain(key)


def scheduled_retrain(key: str) -> str | None:
    """The APScheduler job (stored by reference, so it survives restarts): start the due run on the
    leading app's loop. Run late, twice, or by two processes, it starts one run per fire time."""
    app, loop, scheduler = _LEADING.get(key, (None, None, None))
    if app is None or loop.is_closed() or not scheduler.running:
        log.info("scheduled retraining for %s skipped: this process does not lead its scheduler", key)
        return None
    future = asyncio.run_coroutine_threadsafe(retrain_if_due(app), loop)
    try:
        return future.result(timeout=START_TIMEOUT_SECONDS)
    except Exception:  # the database may be down: the next fire (or the next leader) catches up
        log.warning("scheduled retraining could not start", exc_info=True)
        return None
