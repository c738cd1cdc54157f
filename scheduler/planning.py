"""Which nudges are due at time T: a function of the database and T, nothing else.

`read_plans` (a read unit) finds the conversations that changed since they were last planned and
runs the rules over them; `apply_plans` (one write unit) records the candidates, cancels the nudges
the contact answered, and queues a `followup.fire` hub job for each nudge now due, keyed by
(conversation, rule, due time). Two processes ticking together queue each nudge once: the claim is
an UPDATE … WHERE status = 'planned', and the job's dedup key is unique.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from hub.jobs import enqueue_many
from scheduler.policy import Policy, effective_policy, local_label, next_allowed
from scheduler.rules import Candidate, ConversationFacts, MessageFact, candidates
from storage.db import Database
from storage.models import Contact, Conversation, Job, JobStatus, Message, Suggestion, SuggestionStatus, new_uid
from storage.scheduling_models import (OWNER_SCOPE, FollowUp, FollowUpScan, FollowUpSettingsRow, contact_scope,
                                       FollowUpStatus as S)

FIRE_JOB = "followup.fire"
SCAN_BATCH = 200  # conversations planned per tick; the rest on the next ticks
HORIZON = timedelta(days=30)  # conversations quiet for longer are not planned again
HISTORY = 20  # messages the rules read per conversation
CLAIM_BATCH = 100
MAX_LATENESS = timedelta(days=7)  # a nudge later than this after downtime is skipped, visibly
ACTIVE = (S.PLANNED, S.QUEUED, S.HELD)


@dataclass(frozen=True)
class ConversationPlan:
    conversation_id: int
    contact_id: int | None
    message_at: datetime | None
    candidates: tuple[Candidate, ...]


@dataclass
class TickResult:
    timers: list[tuple[int, datetime]] = field(default_factory=list)  # (id, fire_at) planned or moved
    queued: list[int] = field(default_factory=list)  # nudges handed to a `followup.fire` job
    cancelled: int = 0
    superseded_suggestions: list[int] = field(default_factory=list)


def fire_key(conversation_id: int, rule: str, due_at: datetime) -> str:
    """The hub job's dedup key: one firing per (conversation, rule, due time), ever."""
    return f"followup:{conversation_id}:{rule}:{due_at:%Y%m%dT%H%M%SZ}"


def load_policies(conn: sa.Connection, contact_ids: set[int | None], owner_timezone: str) -> dict[int | None, Policy]:
    scopes = [OWNER_SCOPE] + [contact_scope(cid) for cid in contact_ids if cid is not None]
    rows = {r.scope: r for r in conn.execute(sa.select(FollowUpSettingsRow)
                                             .where(FollowUpSettingsRow.scope.in_(scopes))).all()}
    owner = rows.get(OWNER_SCOPE)
    return {cid: effective_policy(owner_timezone, owner, rows.get(contact_scope(cid)) if cid is not None else None)
            for cid in contact_ids}


def _stale(conn: sa.Connection, now: datetime, limit: int) -> list[sa.Row]:
    scan, c = FollowUpScan, Conversation
    return conn.execute(
        sa.select(c.id, c.contact_id, c.channel, c.status, c.is_group, c.last_inbound_at, c.last_outbound_at,
                  c.last_message_at, c.display_name, Contact.display_name.label("contact_name"))
        .outerjoin(scan, scan.conversation_id == c.id).outerjoin(Contact, Contact.id == c.contact_id)
        .where(c.contact_id.is_not(None), c.last_message_at >= now - HORIZON,
               sa.or_(scan.conversation_id.is_(None), scan.message_at.is_(None),
                      scan.message_at < c.last_message_at))
        .order_by(c.last_message_at).limit(limit)).all()


def _facts(conn: sa.Connection, row: sa.Row) -> ConversationFacts:
    messages = conn.execute(sa.select(Message.direction, Message.text, Message.sent_at).where(
        Message.conversation_id == row.id, Message.deleted_at.is_(None))
        .order_by(Message.sent_at.desc(), Message.id.desc()).limit(HISTORY)).all()
    latest = conn.execute(sa.select(Message.raw, Message.analysis).where(
        Message.conversation_id == row.id, Message.direction == "inbound", Message.deleted_at.is_(None))
        .order_by(Message.sent_at.desc(), Message.id.desc()).limit(1)).first()
    raw = (latest.raw if latest is not None else None) or {}
    analysis = (latest.analysis if latest is not None else None) or {}
    return ConversationFacts(
        conversation_id=row.id, contact_id=row.contact_id, contact_name=row.contact_name or row.display_name or "",
        channel=row.channel, status=row.status, is_group=row.is_group,
        automated=bool(raw.get("automated") or raw.get("is_bot")), last_inbound_at=row.last_inbound_at,
        last_outbound_at=row.last_outbound_at, last_message_at=row.last_message_at,
        messages=tuple(MessageFact(m.direction, m.text or "", m.sent_at) for m in reversed(messages)),
        stored_agreement=analysis.get("agreement") if isinstance(analysis, dict) else None)


def read_plans(conn: sa.Connection, now: datetime, owner_timezone: str,
               limit: int = SCAN_BATCH) -> list[ConversationPlan]:
    """A read unit: the conversations that changed since last planned, and their candidates."""
    rows = _stale(conn, now, limit)
    policies = load_policies(conn, {r.contact_id for r in rows}, owner_timezone)
    plans = []
    for row in rows:
        found = candidates(_facts(conn, row), policies[row.contact_id])
        plans.append(ConversationPlan(row.id, row.contact_id, row.last_message_at, tuple(found)))
    return plans


def _close(conn: sa.Connection, ids: list[int], status: str, cause: str, note: str, now: datetime) -> int:
    if not ids:
        return 0
    return conn.execute(sa.update(FollowUp).where(FollowUp.id.in_(ids), FollowUp.status.in_(ACTIVE))
                        .values(status=status, cause=cause, note=note, updated_at=now)).rowcount


def _new_row(plan: ConversationPlan, found: Candidate, now: datetime) -> dict[str, object]:
    return {"uid": new_uid(), "conversation_id": plan.conversation_id, "contact_id": plan.contact_id,
            "rule": found.rule, "due_at": found.due_at, "fire_at": found.fire_at, "basis_at": found.basis_at,
            "status": S.PLANNED, "cause": None, "reason": found.reason, "instruction": found.instruction,
            "note": "", "detail": found.detail, "created_at": now, "updated_at": now}


def _refresh(conn: sa.Connection, row: sa.Row, found: Candidate, now: datetime) -> bool:
    """Refresh a planned nudge, or revive one that had stopped applying; True when its time is new."""
    revived = row.status == S.CANCELLED and row.cause == "not_applicable"
    if row.status != S.PLANNED and not revived:
        return False
    conn.execute(sa.update(FollowUp).where(FollowUp.id == row.id).values(
        status=S.PLANNED, cause=None, fire_at=found.fire_at, reason=found.reason, instruction=found.instruction,
        detail=found.detail, updated_at=now))
    return revived or row.fire_at != found.fire_at


def _record_plans(conn: sa.Connection, plans: list[ConversationPlan], now: datetime, result: TickResult) -> None:
    """Candidates become nudges (one INSERT for all new ones); planned nudges no rule produces any
    more are cancelled; the conversations are marked as planned at their latest message."""
    ids = [p.conversation_id for p in plans]
    rows = conn.execute(sa.select(FollowUp.id, FollowUp.conversation_id, FollowUp.rule, FollowUp.due_at,
                                  FollowUp.fire_at, FollowUp.status, FollowUp.cause)
                        .where(FollowUp.conversation_id.in_(ids))).all()
    existing = {(r.conversation_id, r.rule, r.due_at): r for r in rows}
    wanted = {(p.conversation_id, c.rule, c.due_at) for p in plans for c in p.candidates}
    gone = [r.id for r in rows if r.status == S.PLANNED and (r.conversation_id, r.rule, r.due_at) not in wanted]
    result.cancelled += _close(conn, gone, S.CANCELLED, "not_applicable",
                               "no longer applies (the conversation or the settings changed)", now)
    fresh = []
    for plan in plans:
        for found in plan.candidates:
            row = existing.get((plan.conversation_id, found.rule, found.due_at))
            if row is None:
                fresh.append(_new_row(plan, found, now))
            elif _refresh(conn, row, found, now):
                result.timers.append((row.id, found.fire_at))
    if fresh:  # the tick lock (or SQLite's one writer) means no one else inserts these keys meanwhile
        inserted = conn.execute(sa.insert(FollowUp).returning(FollowUp.id, FollowUp.fire_at), fresh).all()
        result.timers.extend((r.id, r.fire_at) for r in inserted)
    conn.execute(sa.delete(FollowUpScan).where(FollowUpScan.conversation_id.in_(ids)))
    conn.execute(sa.insert(FollowUpScan), [{"conversation_id": p.conversation_id, "message_at": p.message_at,
                                            "scanned_at": now} for p in plans])


def cancel_answered(conn: sa.Connection, now: datetime, conversation_id: int | None = None) -> tuple[int, list[int]]:
    """The contact wrote after a nudge's basis: cancel it, and supersede its pending suggestion."""
    where = [Conversation.last_inbound_at > FollowUp.basis_at,
             sa.or_(FollowUp.status.in_(ACTIVE), sa.and_(FollowUp.status == S.FIRED,
                                                          Suggestion.status == SuggestionStatus.PENDING))]
    if conversation_id is not None:
        where.append(FollowUp.conversation_id == conversation_id)
    rows = conn.execute(sa.select(FollowUp.id, FollowUp.suggestion_id, FollowUp.status)
                        .join(Conversation, Conversation.id == FollowUp.conversation_id)
                        .outerjoin(Suggestion, Suggestion.id == FollowUp.suggestion_id).where(*where)).all()
    if not rows:
        return 0, []
    conn.execute(sa.update(FollowUp).where(FollowUp.id.in_([r.id for r in rows])).values(
        status=S.CANCELLED, cause="contact_wrote", note="the contact wrote first", updated_at=now))
    drafts = [r.suggestion_id for r in rows if r.status == S.FIRED and r.suggestion_id is not None]
    if drafts:
        conn.execute(sa.update(Suggestion).where(Suggestion.id.in_(drafts),
                                                 Suggestion.status == SuggestionStatus.PENDING)
                     .values(status=SuggestionStatus.SUPERSEDED))
    return len(rows), drafts


def _claimable(conn: sa.Connection, now: datetime, owner_timezone: str,
               result: TickResult) -> list[sa.Row]:
    """Due planned nudges that may go now: one per conversation, none while one is drafting,
    none in the contact's quiet hours (moved to their end), none far too late (skipped, visibly)."""
    due = conn.execute(sa.select(FollowUp).where(FollowUp.status == S.PLANNED, FollowUp.fire_at <= now)
                       .order_by(FollowUp.fire_at, FollowUp.id).limit(CLAIM_BATCH)).all()
    busy = set(conn.execute(sa.select(FollowUp.conversation_id).where(FollowUp.status == S.QUEUED)).scalars())
    policies = load_policies(conn, {r.contact_id for r in due}, owner_timezone)
    ready = []
    for row in due:
        policy = policies[row.contact_id]
        allowed = next_allowed(now, policy)
        if now - row.due_at > MAX_LATENESS:
            _close(conn, [row.id], S.SKIPPED, "too_late", f"due {local_label(row.due_at, policy)}: "
                   f"more than {MAX_LATENESS.days} days ago when the hub could act", now)
        elif allowed > now:
            conn.execute(sa.update(FollowUp).where(FollowUp.id == row.id).values(
                fire_at=allowed, updated_at=now, note=f"moved to {local_label(allowed, policy)}: quiet hours"))
            result.timers.append((row.id, allowed))
        elif row.conversation_id not in busy:
            busy.add(row.conversation_id)
            ready.append(row)
    return ready


def _claim_due(conn: sa.Connection, db: Database, now: datetime, owner_timezone: str, result: TickResult) -> None:
    ready = _claimable(conn, now, owner_timezone, result)
    if not ready:
        return
    claimed = conn.execute(sa.update(FollowUp).where(FollowUp.id.in_([r.id for r in ready]),
                                                     FollowUp.status == S.PLANNED)
                           .values(status=S.QUEUED, updated_at=now)
                           .returning(FollowUp.id, FollowUp.conversation_id, FollowUp.rule, FollowUp.due_at)).all()
    enqueue_many(db, conn, FIRE_JOB, [({"followup_id": r.id}, fire_key(r.conversation_id, r.rule, r.due_at))
                                      for r in claimed], now=now, max_attempts=8)
    result.queued.extend(r.id for r in claimed)


def release_dead(conn: sa.Connection, now: datetime) -> int:
    """A nudge whose `followup.fire` job was dead-lettered (drafting kept failing) is held, with the
    job's last error, instead of blocking its conversation as "queued" for ever."""
    queued = conn.execute(sa.select(FollowUp.id, FollowUp.conversation_id, FollowUp.rule, FollowUp.due_at)
                          .where(FollowUp.status == S.QUEUED)).all()
    by_key = {fire_key(r.conversation_id, r.rule, r.due_at): r.id for r in queued}
    if not by_key:
        return 0
    dead = conn.execute(sa.select(Job.dedup_key, Job.last_error).where(
        Job.dedup_key.in_(list(by_key)), Job.status == JobStatus.DEAD)).all()
    for job in dead:
        conn.execute(sa.update(FollowUp).where(FollowUp.id == by_key[job.dedup_key], FollowUp.status == S.QUEUED)
                     .values(status=S.HELD, cause="draft_failed", updated_at=now,
                             note=f"held: drafting failed ({(job.last_error or 'unknown error')[:300]})"))
    return len(dead)


def apply_plans(conn: sa.Connection, db: Database, plans: list[ConversationPlan], now: datetime,
                owner_timezone: str, claim: bool = True) -> TickResult:
    """One write unit: answered nudges cancelled, candidates recorded, due nudges queued
    (`claim=False`: recorded only, as `replydesk followups --plan` does)."""
    db.lock(conn, "followups:tick")  # PostgreSQL: ticks of several processes take turns
    result = TickResult()
    result.cancelled, result.superseded_suggestions = cancel_answered(conn, now)
    release_dead(conn, now)
    if plans:
        _record_plans(conn, plans, now, result)
    late, drafts = cancel_answered(conn, now)  # planned from facts read before the contact wrote
    result.cancelled += late
    result.superseded_suggestions += drafts
    if claim:
        _claim_due(conn, db, now, owner_timezone, result)
    return result
