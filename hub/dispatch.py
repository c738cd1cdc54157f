"""Sending replies from the outbox on their channel, once.

An outbox row is written with the decision to send. The `outbox.send` job marks it `sending`
(counting the attempt) before calling the provider, and `sent` after. If the hub dies between
the two, the outcome is unknown: the row is marked failed with that reason and the owner is told,
rather than risking a second copy (at most once, never twice). Retryable provider errors
(429, 5xx) are retried, after the provider's Retry-After when it gives one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from aiohttp import web

from channels.base import OUTBOUND, InboundMessage, OutboundMessage, SendResult
from hub.events import ERROR, SENT
from hub.jobs import ClaimedJob, RetryLater
from hub.outbox import SEND_OUTBOX
from hub.pipeline import ingest
from hub.state import BUS, CHANNELS, CLOCK, DB
from storage.models import Conversation, Message, OutboxItem, OutboxStatus, Suggestion, SuggestionStatus

log = logging.getLogger("replydesk.dispatch")


SEND_LEASE = timedelta(minutes=2)


@dataclass(frozen=True)
class SendOutcome:
    state: str  # sent, failed, retry, busy, unknown, done
    item: sa.Row | None
    result: SendResult | None = None
    message_id: int | None = None
    retry_in: float | None = None


def _claim(conn: sa.Connection, outbox_id: int, now: datetime) -> tuple[str, sa.Row | None]:
    # FOR UPDATE: on PostgreSQL two processes (an approval and a worker) must not both read `pending`
    # and both send; the second waits here, then sees `sending`. SQLite has one writer anyway.
    item = conn.execute(sa.select(OutboxItem).where(OutboxItem.id == outbox_id).with_for_update()).first()
    if item is None or item.status not in (OutboxStatus.PENDING, OutboxStatus.SENDING):
        return "done", item
    if item.status == OutboxStatus.SENDING and item.next_attempt_at and item.next_attempt_at > now:
        return "busy", item  # another task is sending it right now
    if item.status == OutboxStatus.SENDING:
        conn.execute(sa.update(OutboxItem).where(OutboxItem.id == item.id).values(
            status=OutboxStatus.FAILED, error="outcome unknown: the hub stopped while sending; "
                                              "check the conversation before sending again"))
        return "unknown", item
    conn.execute(sa.update(OutboxItem).where(OutboxItem.id == item.id).values(
        status=OutboxStatus.SENDING, attempts=OutboxItem.attempts + 1, next_attempt_at=now + SEND_LEASE))
    return "send", item


@dataclass(frozen=True)
class ThreadContext:
    reply_to: str | None  # the message being answered
    references: tuple[str, ...]  # the thread's latest ids, oldest first (email References)
    recipient: str  # the address to write to: the contact's last Reply-To or sender, else the thread
    last_inbound_at: datetime | None


def _thread_context(conn: sa.Connection, item: sa.Row) -> ThreadContext:
    reply_to = None
    if item.suggestion_id:
        reply_to = conn.execute(sa.select(Message.external_id).join(
            Suggestion, Suggestion.reply_to_message_id == Message.id).where(Suggestion.id == item.suggestion_id)).scalar()
    latest = conn.execute(sa.select(Message.external_id).where(Message.conversation_id == item.conversation_id)
                          .order_by(Message.sent_at.desc(), Message.id.desc()).limit(20)).scalars().all()
    inbound = conn.execute(sa.select(Message.sender_handle, Message.raw).where(
        Message.conversation_id == item.conversation_id, Message.direction == "inbound")
        .order_by(Message.sent_at.desc(), Message.id.desc()).limit(10)).all()
    human = next((m for m in inbound if not (m.raw or {}).get("automated")), None)
    address = ((human.raw or {}).get("reply_to") or human.sender_handle.split(":", 1)[-1]) if human else ""
    last_inbound = conn.execute(sa.select(Conversation.last_inbound_at)
                                .where(Conversation.id == item.conversation_id)).scalar()
    return ThreadContext(reply_to, tuple(reversed(latest)), address or item.recipient, last_inbound)


def _settle(conn: sa.Connection, item: sa.Row, result: SendResult, now: datetime) -> None:
    if result.ok:
        values = {"status": OutboxStatus.SENT, "provider_message_id": result.provider_message_id,
                  "sent_at": now, "error": None}
        if item.suggestion_id:
            conn.execute(sa.update(Suggestion).where(Suggestion.id == item.suggestion_id)
                         .values(status=SuggestionStatus.SENT, sent_at=now))
    elif result.retryable:
        values = {"status": OutboxStatus.PENDING, "error": result.error}
    else:
        values = {"status": OutboxStatus.FAILED, "error": result.error}
    conn.execute(sa.update(OutboxItem).where(OutboxItem.id == item.id).values(**values))


async def _record_sent(app: web.Application, item: sa.Row, result: SendResult, now: datetime) -> int | None:
    echo = InboundMessage(channel=item.channel, external_id=result.provider_message_id or f"outbox:{item.uid}",
                          thread_id=item.recipient, sender=None, text=item.body, sent_at=now,
                          direction=OUTBOUND, subject=item.subject, raw={"outbox_id": item.uid})
    stored = await ingest(app[DB], app[CLOCK], [echo])
    return stored.stored[0].id if stored.stored else None


async def _call_channel(app: web.Application, item: sa.Row) -> SendResult:
    channel = app[CHANNELS].get(item.channel)
    if channel is None:
        return SendResult(ok=False, error=f"the {item.channel} channel is not enabled")
    thread = await app[DB].read(_thread_context, item)
    return await channel.send(OutboundMessage(
        channel=item.channel, thread_id=item.recipient, text=item.body, idempotency_key=item.uid,
        recipient=thread.recipient, subject=item.subject, html=item.body_html, reply_to_external_id=thread.reply_to,
        references=thread.references, last_inbound_at=thread.last_inbound_at))


async def attempt_send(app: web.Application, outbox_id: int) -> SendOutcome:
    """One attempt to send an outbox item; safe to call from a request and from the job."""
    db, bus, now = app[DB], app[BUS], app[CLOCK].now()
    state, item = await db.write(_claim, outbox_id, now)
    if state == "unknown":
        bus.publish(ERROR, conversation_id=item.conversation_id,
                    error="A reply may or may not have been sent (the hub stopped while sending); not resent.")
    if state == "busy":
        return SendOutcome("busy", item, retry_in=(item.next_attempt_at - now).total_seconds())
    if state != "send":
        return SendOutcome(state, item)
    result = await _call_channel(app, item)
    await db.write(_settle, item, result, app[CLOCK].now())
    if result.ok:
        message_id = await _record_sent(app, item, result, app[CLOCK].now())
        bus.publish(SENT, conversation_id=item.conversation_id, message_id=message_id)
        await _after_send(app, item)
        return SendOutcome("sent", item, result, message_id)
    if result.retryable:
        return SendOutcome("retry", item, result, retry_in=result.retry_after)
    bus.publish(ERROR, conversation_id=item.conversation_id, error=f"Failed to send: {result.error}")
    await _after_send(app, item)
    return SendOutcome("failed", item, result)


def send_handler(app: web.Application):
    async def handle(job: ClaimedJob) -> None:
        outcome = await attempt_send(app, job.payload["outbox_id"])
        if outcome.state == "busy":
            raise RetryLater(outcome.retry_in or 1, "being sent by another task")
        if outcome.state == "retry":
            error = (outcome.result.error if outcome.result else None) or "retryable send failure"
            if outcome.retry_in:
                raise RetryLater(outcome.retry_in, error)
            raise RuntimeError(error)

    return handle


async def _after_send(app: web.Application, item: sa.Row) -> None:
    if item.suggestion_id:
        from hub.approvals import refresh_cards

        await refresh_cards(app, item.suggestion_id)
