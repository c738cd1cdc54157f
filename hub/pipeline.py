"""Ingest: store each observed message once, resolve contact and conversation, enqueue the brain.

Everything happens in one transaction that commits before the caller acknowledges the platform,
so an acknowledged message is never lost and a redelivered one is stored once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from channels.base import INBOUND, Attachment, InboundMessage
from hub.clock import Clock
from hub.contacts import resolve_contact
from hub.events import NEW_REPLY, EventBus
from hub.jobs import enqueue_many
from storage.db import Database
from storage.models import Conversation, ConversationStatus, Message, UTCDateTime, new_uid

PROCESS_INBOUND = "inbound.process"
LEARN_OUTBOUND = "outbound.learn"


@dataclass(frozen=True)
class StoredMessage:
    id: int
    uid: str
    external_id: str
    direction: str
    sender: str
    sent_at: datetime


@dataclass
class IngestResult:
    conversation_id: int
    conversation_uid: str
    stored: list[StoredMessage] = field(default_factory=list)
    duplicates: int = 0


def _attachment_dict(attachment: Attachment) -> dict[str, Any]:
    return {"kind": attachment.kind, "name": attachment.name, "mime_type": attachment.mime_type,
            "size": attachment.size, "url": attachment.url, **dict(attachment.extra)}


def _resolve_conversation(db: Database, conn: sa.Connection, first: InboundMessage,
                                contact_id: int | None, device_id: str | None,
                                now: datetime) -> tuple[int, str]:
    db.lock(conn, f"thread:{first.channel}:{first.thread_id}")
    existing = select_thread(first)
    row = conn.execute(existing).first()
    if row is not None:
        if row.contact_id is None and contact_id is not None:
            conn.execute(sa.update(Conversation).where(Conversation.id == row.id)
                               .values(contact_id=contact_id))
        return row.id, row.uid
    conn.execute(db.insert_ignore(Conversation).values(
        uid=new_uid(), channel=first.channel, external_id=first.thread_id, contact_id=contact_id,
        device_id=device_id, display_name=first.thread_name, subject=first.subject,
        is_group=first.is_group, participants=[f"{h.kind}:{h.value}" for h in first.participants],
        status=ConversationStatus.ACTIVE, message_count=0, created_at=now, updated_at=now))
    row = conn.execute(existing).one()
    return row.id, row.uid


def select_thread(message: InboundMessage) -> sa.Select:
    return (sa.select(Conversation.id, Conversation.uid, Conversation.contact_id)
            .where(Conversation.channel == message.channel, Conversation.external_id == message.thread_id))


def _sender_contacts(db: Database, conn: sa.Connection, messages: Sequence[InboundMessage],
                           now: datetime) -> dict[tuple[str, str], int]:
    contacts: dict[tuple[str, str], int] = {}
    for message in messages:
        handles = [message.sender] if message.direction == INBOUND and message.sender else []
        handles += list(message.participants)
        for handle in handles:
            key = (handle.kind, handle.value)
            if key not in contacts:
                name = message.sender_name if handle == message.sender else ""
                contacts[key] = resolve_contact(db, conn, handle, name, now)
    return contacts


def _message_row(message: InboundMessage, conversation_id: int, contact_id: int | None,
                 now: datetime) -> dict[str, Any]:
    sender = message.sender
    return {
        "uid": new_uid(), "conversation_id": conversation_id, "channel": message.channel,
        "external_id": message.external_id, "direction": message.direction,
        "message_type": message.message_type, "contact_id": contact_id,
        "sender_handle": f"{sender.kind}:{sender.value}" if sender else "",
        "sender_name": message.sender_name, "subject": message.subject, "text": message.text,
        "html": message.html, "attachments": [_attachment_dict(a) for a in message.attachments],
        "sent_at": message.sent_at, "reply_to_external_id": message.reply_to_external_id,
        "is_read": message.direction != INBOUND, "raw": dict(message.raw), "created_at": now,
    }


def _update_conversation(conn: sa.Connection, conversation_id: int,
                               stored: list[StoredMessage], now: datetime) -> None:
    latest = max(stored, key=lambda m: m.sent_at)
    inbound = [m.sent_at for m in stored if m.direction == INBOUND]
    outbound = [m.sent_at for m in stored if m.direction != INBOUND]
    c = Conversation

    def later(column: Any, when: datetime) -> Any:
        when_ = sa.literal(when, UTCDateTime())
        return sa.case((sa.or_(column.is_(None), column < when_), when_), else_=column)

    values: dict[str, Any] = {
        "message_count": c.message_count + len(stored), "updated_at": now,
        "last_message_at": later(c.last_message_at, latest.sent_at),
    }
    if inbound:
        values["last_inbound_at"] = later(c.last_inbound_at, max(inbound))
    if outbound:
        values["last_outbound_at"] = later(c.last_outbound_at, max(outbound))
    newer = sa.or_(c.last_message_at.is_(None),
                   c.last_message_at <= sa.literal(latest.sent_at, UTCDateTime()))
    new_status = ConversationStatus.NEEDS_REPLY if latest.direction == INBOUND else ConversationStatus.WAITING
    values["status"] = sa.case((newer, new_status), else_=c.status)
    values["archived_at"] = sa.case((newer, None), else_=c.archived_at)
    conn.execute(sa.update(c).where(c.id == conversation_id).values(**values))


def _store_thread(conn: sa.Connection, db: Database, messages: list[InboundMessage],
                  device_id: str | None, now: datetime, process: bool = True) -> IngestResult:
    """One unit of work: contacts, conversation, messages, conversation state and brain jobs."""
    first = messages[0]
    contacts = _sender_contacts(db, conn, messages, now)
    primary = first.sender if first.direction == INBOUND else (first.participants or (None,))[0]
    primary_contact = contacts.get((primary.kind, primary.value)) if primary and not first.is_group else None
    conversation_id, conversation_uid = _resolve_conversation(db, conn, first, primary_contact, device_id, now)
    rows = [_message_row(m, conversation_id,
                         contacts.get((m.sender.kind, m.sender.value)) if m.sender else None, now)
            for m in messages]
    inserted = conn.execute(db.insert_ignore(Message).returning(Message.id, Message.uid, Message.external_id),
                            rows).all()
    by_external = {m.external_id: m for m in messages}
    stored = [StoredMessage(r.id, r.uid, r.external_id, by_external[r.external_id].direction,
                            _sender_label(by_external[r.external_id]), by_external[r.external_id].sent_at)
              for r in inserted]
    if stored:
        _update_conversation(conn, conversation_id, stored, now)
    if process:
        enqueue_many(db, conn, PROCESS_INBOUND,
                     [({"message_id": m.id}, f"inbound:{m.id}") for m in stored if m.direction == INBOUND],
                     now=now, fresh=True)
        enqueue_many(db, conn, LEARN_OUTBOUND,
                     [({"message_id": m.id}, f"outbound:{m.id}") for m in stored if m.direction != INBOUND],
                     now=now, fresh=True)
    return IngestResult(conversation_id, conversation_uid, stored, 0)


async def ingest(db: Database, clock: Clock, messages: Sequence[InboundMessage], *,
                 device_id: str | None = None, bus: EventBus | None = None,
                 process: bool = True) -> IngestResult:
    """Store messages of ONE thread; duplicates (same channel + external id) are skipped.
    Returns once everything is committed: the caller may acknowledge the platform then.
    `process=False` (imported history) stores without queueing the brain for new inbound ones."""
    if not messages:
        raise ValueError("ingest needs at least one message")
    first = messages[0]
    if any((m.channel, m.thread_id) != (first.channel, first.thread_id) for m in messages):
        raise ValueError("ingest takes the messages of one thread at a time")
    unique = list({m.external_id: m for m in messages}.values())
    result = await db.write(_store_thread, db, unique, device_id, clock.now(), process)
    result.duplicates = len(messages) - len(result.stored)
    if bus is not None:
        publish_new(bus, result)
    return result


def _sender_label(message: InboundMessage) -> str:
    return message.sender.value if message.sender else ""


def publish_new(bus: EventBus, result: IngestResult) -> None:
    for message in result.stored:
        if message.direction == INBOUND:
            bus.publish(NEW_REPLY, conversation_id=result.conversation_id, message_id=message.id,
                        sender=message.sender, timestamp=message.sent_at.isoformat().replace("+00:00", "Z"))
