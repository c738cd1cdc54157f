"""Applying what channels report: new messages (through the pipeline), edits, deletions,
delivery statuses (a monotonic state machine per sent message) and the owner's card actions."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from aiohttp import web

from channels.base import (ChannelEvent, DeliveryUpdate, InboundMessage, MessageDeleted, MessageEdited,
                           OwnerAction)
from hub.events import ERROR
from hub.pipeline import ingest
from hub.state import BUS, CLOCK, DB, WORKER
from storage.models import Message, OutboxItem

log = logging.getLogger("replydesk.channel_events")

# Higher ranks win; a late "sent" never undoes "delivered" or "read". failed/undelivered end a
# message that was only sent, but not one already delivered or read.
STATUS_RANK = {"queued": 0, "accepted": 0, "pending": 0, "sending": 1, "sent": 2, "failed": 3,
               "undelivered": 3, "delivered": 3, "read": 4}


def _edit(conn: sa.Connection, event: MessageEdited) -> int:
    return conn.execute(sa.update(Message).where(Message.channel == event.channel,
                                                 Message.external_id == event.external_id)
                        .values(text=event.text, edited_at=event.edited_at)).rowcount


def _delete(conn: sa.Connection, event: MessageDeleted) -> int:
    return conn.execute(sa.update(Message).where(Message.channel == event.channel,
                                                 Message.external_id == event.external_id)
                        .values(deleted_at=event.deleted_at)).rowcount


def _delivery(conn: sa.Connection, event: DeliveryUpdate) -> dict[str, Any] | None:
    """Apply a status if it moves the message forward; returns the item when it failed."""
    item = conn.execute(sa.select(OutboxItem.id, OutboxItem.status, OutboxItem.conversation_id).where(
        OutboxItem.channel == event.channel, OutboxItem.provider_message_id == event.provider_message_id)).first()
    if item is None or STATUS_RANK.get(event.status, -1) <= STATUS_RANK.get(item.status, -1):
        return None
    error = f"{event.error_code}: {event.error_message or ''}".strip(": ") if event.error_code else None
    conn.execute(sa.update(OutboxItem).where(OutboxItem.id == item.id).values(status=event.status, error=error))
    if event.status in ("failed", "undelivered"):
        return {"conversation_id": item.conversation_id, "error": error or event.status}
    return None


async def apply_events(app: web.Application, events: list[ChannelEvent]) -> None:
    """Store everything durably before returning: the webhook acknowledges only after this."""
    db, clock, bus = app[DB], app[CLOCK], app[BUS]
    threads: dict[tuple[str, str], list[InboundMessage]] = defaultdict(list)
    for event in events:
        if isinstance(event, InboundMessage):
            threads[(event.channel, event.thread_id)].append(event)
    stored_any = False
    for messages in threads.values():
        result = await ingest(db, clock, messages, bus=bus)
        stored_any |= bool(result.stored)
    for event in events:
        if isinstance(event, MessageEdited):
            await db.write(_edit, event)
        elif isinstance(event, MessageDeleted):
            await db.write(_delete, event)
        elif isinstance(event, DeliveryUpdate):
            failure = await db.write(_delivery, event)
            if failure:
                bus.publish(ERROR, conversation_id=failure["conversation_id"],
                            error=f"{event.channel} could not deliver the reply: {failure['error']}")
        elif isinstance(event, OwnerAction):
            from hub.approvals import apply_owner_action

            await apply_owner_action(app, event)
            stored_any = True
    if stored_any:
        app[WORKER].notify()


