"""Firing one nudge: the `followup.fire` hub job turns a queued nudge into a follow-up suggestion.

Three steps, so the model never runs inside a transaction: `prepare` (one write unit) checks that
the nudge still stands — the contact has not written, the rule is on, fewer than the contact's
maximum of unanswered nudges, not in their quiet hours, WhatsApp's 24-hour window open or a
template configured; then the draft (hub/drafting.py, kind "follow_up"); then `settle` (one write
unit) checks again, records the suggestion with the nudge's reason, and only when the owner turned
auto-send on for that contact approves it at once (hub/decisions.py: one outbox row, keyed by the
suggestion). A retried job finds the nudge no longer queued and does nothing: never sent twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from aiohttp import web

from hub.approvals import refresh_cards
from hub.decisions import ACCEPT, decide
from hub.drafting import DraftOptions, generate_suggestion
from hub.jobs import ClaimedJob, JobHandler, RetryLater
from hub.state import CLOCK, DB, SETTINGS, WORKER
from scheduler.planning import load_policies
from scheduler.policy import Policy, local_label, next_allowed
from storage.db import Database
from storage.models import Conversation, Message, Suggestion, SuggestionStatus
from storage.scheduling_models import FollowUp, FollowUpStatus as S

FOLLOW_UP_KIND = "follow_up"
AUTO_SEND_VIA = "followup:auto"
WHATSAPP_WINDOW = timedelta(hours=24)
HELD_NOTE = ("held: outside WhatsApp's 24-hour window (the contact last wrote {last}) and no approved template is "
             "configured (channels.twilio.whatsapp_template_sid); Twilio would refuse it (63016)")


@dataclass(frozen=True)
class Prepared:
    action: str  # done, closed, later, held, draft
    message_id: int | None = None
    instruction: str = ""
    retry_in: float = 0.0


def _close(conn: sa.Connection, followup_id: int, status: str, cause: str, note: str, now: datetime) -> None:
    conn.execute(sa.update(FollowUp).where(FollowUp.id == followup_id, FollowUp.status == S.QUEUED)
                 .values(status=status, cause=cause, note=note, updated_at=now))


def whatsapp_window_closed(conversation: sa.Row, now: datetime) -> bool:
    on_whatsapp = conversation.channel == "twilio" and conversation.external_id.lower().startswith("whatsapp:")
    last = conversation.last_inbound_at
    return on_whatsapp and (last is None or now - last >= WHATSAPP_WINDOW)


def _already_nudged(conn: sa.Connection, row: sa.Row) -> bool:
    """Another nudge of this conversation was drafted since this one's basis: one per silence."""
    return conn.execute(sa.select(FollowUp.id).where(
        FollowUp.conversation_id == row.conversation_id, FollowUp.id != row.id, FollowUp.status == S.FIRED,
        FollowUp.fired_at > row.basis_at).limit(1)).first() is not None


def _unanswered(conn: sa.Connection, conversation: sa.Row) -> int:
    where = [FollowUp.conversation_id == conversation.id, FollowUp.status == S.FIRED]
    if conversation.last_inbound_at is not None:
        where.append(FollowUp.fired_at > conversation.last_inbound_at)
    return conn.execute(sa.select(sa.func.count()).select_from(FollowUp).where(*where)).scalar_one()


def _problem(conn: sa.Connection, row: sa.Row, conversation: sa.Row, policy: Policy) -> tuple[str, str, str] | None:
    """Why this nudge must not go: (status, cause, note), or None."""
    if conversation.last_inbound_at is not None and conversation.last_inbound_at > row.basis_at:
        return S.CANCELLED, "contact_wrote", "the contact wrote first"
    if conversation.status == "archived":
        return S.CANCELLED, "not_applicable", "the conversation is archived"
    if not policy.enabled or row.rule not in policy.rules:
        return S.CANCELLED, "not_applicable", "follow-ups (or this rule) are turned off for this contact"
    if _already_nudged(conn, row):
        return S.SKIPPED, "already_nudged", "another nudge was already drafted since the contact went quiet"
    sent = _unanswered(conn, conversation)
    if sent >= policy.max_nudges:
        return S.SKIPPED, "max_nudges", f"{sent} unanswered nudge(s) already; at most {policy.max_nudges} in a row"
    return None


def _load(conn: sa.Connection, db: Database, followup_id: int, owner_timezone: str
          ) -> tuple[sa.Row, sa.Row, Policy] | None:
    row = conn.execute(sa.select(FollowUp).where(FollowUp.id == followup_id)).first()
    if row is None:
        return None
    db.lock(conn, f"followups:conversation:{row.conversation_id}")
    row = conn.execute(sa.select(FollowUp).where(FollowUp.id == followup_id)).one()
    conversation = conn.execute(sa.select(Conversation).where(Conversation.id == row.conversation_id)).one()
    return row, conversation, load_policies(conn, {row.contact_id}, owner_timezone)[row.contact_id]


def prepare(conn: sa.Connection, db: Database, followup_id: int, now: datetime, owner_timezone: str,
            template: bool) -> Prepared:
    """A write unit: may this queued nudge be drafted now?"""
    loaded = _load(conn, db, followup_id, owner_timezone)
    if loaded is None or loaded[0].status != S.QUEUED:
        return Prepared("done")
    row, conversation, policy = loaded
    problem = _problem(conn, row, conversation, policy)
    if problem is not None:
        _close(conn, row.id, *problem, now)
        return Prepared("closed")
    allowed = next_allowed(now, policy)
    if allowed > now:  # the job ran late, into the contact's night: wait for the morning
        conn.execute(sa.update(FollowUp).where(FollowUp.id == row.id).values(
            fire_at=allowed, updated_at=now, note=f"moved to {local_label(allowed, policy)}: quiet hours"))
        return Prepared("later", retry_in=(allowed - now).total_seconds())
    if whatsapp_window_closed(conversation, now) and not template:
        last = local_label(conversation.last_inbound_at, policy) if conversation.last_inbound_at else "never"
        _close(conn, row.id, S.HELD, "whatsapp_window", HELD_NOTE.format(last=last), now)
        return Prepared("held")
    message_id = conn.execute(sa.select(Message.id).where(Message.conversation_id == conversation.id)
                              .order_by(Message.sent_at.desc(), Message.id.desc()).limit(1)).scalar()
    return Prepared("draft", message_id, row.instruction)


def _annotate(conn: sa.Connection, row: sa.Row, suggestion_id: int) -> None:
    """The nudge's reason goes with the suggestion, where the owner reads why it was drafted."""
    suggestion = conn.execute(sa.select(Suggestion.reasoning, Suggestion.context_used)
                              .where(Suggestion.id == suggestion_id)).one()
    label = f"follow_up:{row.rule}: {row.reason}"
    conn.execute(sa.update(Suggestion).where(Suggestion.id == suggestion_id).values(
        reasoning=f"Follow-up ({row.rule}): {row.reason} {suggestion.reasoning}".strip(),
        context_used=[label, *(suggestion.context_used or [])]))


def _drop(conn: sa.Connection, row: sa.Row, conversation: sa.Row, suggestion_id: int, now: datetime) -> None:
    conn.execute(sa.update(Suggestion).where(Suggestion.id == suggestion_id,
                                             Suggestion.status == SuggestionStatus.PENDING)
                 .values(status=SuggestionStatus.SUPERSEDED))
    if row.status != S.QUEUED:
        return
    if conversation.last_inbound_at is not None and conversation.last_inbound_at > row.basis_at:
        _close(conn, row.id, S.CANCELLED, "contact_wrote", "the contact wrote while the nudge was drafted", now)
    else:
        _close(conn, row.id, S.SKIPPED, "already_nudged", "another nudge was drafted at the same time", now)


def settle(conn: sa.Connection, db: Database, followup_id: int, suggestion_id: int, now: datetime,
           owner_timezone: str) -> int | None:
    """A write unit after the draft: record it, or drop it if the nudge no longer stands.
    Returns the outbox id when auto-send approved it, else None."""
    loaded = _load(conn, db, followup_id, owner_timezone)
    if loaded is None:
        return None
    row, conversation, policy = loaded
    answered = conversation.last_inbound_at is not None and conversation.last_inbound_at > row.basis_at
    if row.status != S.QUEUED or answered or _already_nudged(conn, row):
        _drop(conn, row, conversation, suggestion_id, now)
        return None
    _annotate(conn, row, suggestion_id)
    outbox_id = None
    if policy.auto_send:  # only ever from the contact's own settings row
        outbox_id = decide(conn, db, suggestion_id, ACCEPT, now=now, via=AUTO_SEND_VIA).outbox_id
    note = ("sent without approval: auto-send is on for this contact" if outbox_id is not None
            else "drafted; waiting for the owner's approval")
    if whatsapp_window_closed(conversation, now):
        note += " (outside WhatsApp's 24-hour window: it goes out as the approved template)"
    conn.execute(sa.update(FollowUp).where(FollowUp.id == row.id).values(
        status=S.FIRED, suggestion_id=suggestion_id, outbox_id=outbox_id, fired_at=now, updated_at=now, note=note))
    return outbox_id


async def fire(app: web.Application, followup_id: int) -> str:
    """Draft one queued nudge; returns what happened (done, closed, held, fired, dropped)."""
    db, settings = app[DB], app[SETTINGS]
    template = bool(settings.channels.twilio.whatsapp_template_sid.strip())
    owner_timezone = settings.owner.timezone
    prepared = await db.write(prepare, db, followup_id, app[CLOCK].now(), owner_timezone, template)
    if prepared.action == "later":
        raise RetryLater(prepared.retry_in, "the contact's quiet hours")
    if prepared.action != "draft" or prepared.message_id is None:
        return prepared.action
    suggestion = await generate_suggestion(app, prepared.message_id, DraftOptions(
        kind=FOLLOW_UP_KIND, custom_instruction=prepared.instruction))
    if suggestion is None:
        return "done"
    outbox_id = await db.write(settle, db, followup_id, suggestion.id, app[CLOCK].now(), owner_timezone)
    await refresh_cards(app, suggestion.id)
    if outbox_id is not None:
        app[WORKER].notify()
    fired = await db.scalar(sa.select(FollowUp.status).where(FollowUp.id == followup_id))
    return "fired" if fired == S.FIRED else "dropped"


def fire_handler(app: web.Application) -> JobHandler:
    async def handle(job: ClaimedJob) -> None:
        await fire(app, int(job.payload["followup_id"]))

    return handle
