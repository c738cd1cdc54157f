"""The outbox: every reply is a row with an idempotency key, written before anything is sent,
together with the job that sends it (hub/dispatch.py)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from hub.jobs import enqueue
from storage.db import Database
from storage.models import Conversation, OutboxItem, OutboxStatus, new_uid

SEND_OUTBOX = "outbox.send"
DEVICE_CHANNELS = {"imessage"}  # delivered by a paired device polling /api/sync/outbox


def enqueue_reply(db: Database, conn: sa.Connection, *, conversation_id: int, body: str,
                        idempotency_key: str, now: datetime, suggestion_id: int | None = None,
                        subject: str = "", body_html: str | None = None) -> int | None:
    """Queue a reply in the caller's transaction. None when that key was queued already."""
    conversation = (conn.execute(sa.select(Conversation.channel, Conversation.external_id,
                                                 Conversation.device_id)
                                       .where(Conversation.id == conversation_id))).one()
    result = conn.execute(db.insert_ignore(OutboxItem).values(
        uid=new_uid(), idempotency_key=idempotency_key, conversation_id=conversation_id,
        suggestion_id=suggestion_id, channel=conversation.channel, device_id=conversation.device_id,
        recipient=conversation.external_id, subject=subject, body=body, body_html=body_html,
        status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now, created_at=now,
    ).returning(OutboxItem.id))
    outbox_id = result.scalar()
    if outbox_id is not None and conversation.channel not in DEVICE_CHANNELS:
        enqueue(db, conn, SEND_OUTBOX, {"outbox_id": outbox_id}, dedup_key=f"send:{outbox_id}", now=now,
                max_attempts=8)
    return outbox_id
