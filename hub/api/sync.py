"""Seed 000 sync: the Mac companion pushes iMessage messages and contacts, and pulls replies."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated, Literal

import sqlalchemy as sa
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from channels.base import INBOUND, OUTBOUND, Attachment, Handle, InboundMessage
from channels.handles import normalize_handle
from hub.api.common import iso, json_response
from hub.contacts import upsert_contact
from hub.errors import ApiError
from hub.pipeline import ingest
from hub.state import BUS, CLOCK, DB, DEVICE_TOUCHES, PRINCIPAL, WORKER
from hub.validation import parse_body
from storage.db import Database
from storage.models import Device

routes = web.RouteTableDef()
CHANNEL = "imessage"
MAX_BATCH = 1000


class SyncedAttachment(BaseModel):
    model_config = ConfigDict(extra="ignore")
    filename: str = Field("", max_length=1024)
    mimeType: str = Field("", max_length=255)
    size: int | None = Field(None, ge=0)


# messages.sender_handle and contact_handles.value hold "<kind>:<value>" in 320 characters; "imessage:"
# is the longest kind prefix a synced handle gets.
HANDLE_MAX = 320 - len("imessage:")
HandleText = Annotated[str, Field(max_length=HANDLE_MAX)]


class SyncedMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    imessageGuid: str = Field(min_length=1, max_length=255)
    senderId: HandleText | None = None
    direction: Literal["incoming", "outgoing"]
    messageType: str = Field("text", max_length=32)
    text: str | None = Field(None, max_length=100_000)
    sentAt: datetime
    replyToGuid: str | None = Field(None, max_length=255)
    attachments: list[SyncedAttachment] = Field(default_factory=list, max_length=50)

    @field_validator("sentAt")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


class SyncMessages(BaseModel):
    model_config = ConfigDict(extra="ignore")
    conversationImessageId: str = Field(min_length=1, max_length=512)
    conversationDisplayName: str = Field("", max_length=255)
    isGroup: bool = False
    participantIds: list[HandleText] = Field(default_factory=list, max_length=200)
    messages: list[SyncedMessage] = Field(min_length=1, max_length=MAX_BATCH)


class SyncedContact(BaseModel):
    model_config = ConfigDict(extra="ignore")
    appleId: str | None = Field(None, max_length=320)
    phoneNumber: str | None = Field(None, max_length=64)
    email: str | None = Field(None, max_length=320)
    displayName: str = Field("", max_length=255)
    avatarHash: str | None = Field(None, max_length=128)


class SyncContacts(BaseModel):
    model_config = ConfigDict(extra="ignore")
    contacts: list[SyncedContact] = Field(max_length=10_000)


def _handle(value: str | None, region: str = "US") -> Handle | None:
    return normalize_handle(value or "", fallback_kind="imessage", default_region=region)


def to_inbound(body: SyncMessages, message: SyncedMessage, participants: tuple[Handle, ...]) -> InboundMessage:
    """Pure mapping of one synced message into the conversation model."""
    return InboundMessage(
        channel=CHANNEL, external_id=message.imessageGuid, thread_id=body.conversationImessageId,
        sender=_handle(message.senderId), text=message.text or "", sent_at=message.sentAt,
        direction=INBOUND if message.direction == "incoming" else OUTBOUND,
        sender_name=body.conversationDisplayName if not body.isGroup else "",
        thread_name=body.conversationDisplayName, is_group=body.isGroup, participants=participants,
        attachments=tuple(Attachment(kind="file", name=a.filename, mime_type=a.mimeType, size=a.size)
                          for a in message.attachments),
        message_type=message.messageType, reply_to_external_id=message.replyToGuid,
        raw=message.model_dump(mode="json"))


@routes.post("/api/sync/messages")
async def sync_messages(request: web.Request) -> web.Response:
    body = await parse_body(request, SyncMessages)
    app = request.app
    participants = tuple(h for h in (_handle(p) for p in body.participantIds) if h)
    inbound = [to_inbound(body, m, participants) for m in body.messages]
    device_id = request[PRINCIPAL].device_id
    result = await ingest(app[DB], app[CLOCK], inbound, device_id=device_id, bus=app[BUS])
    if device_id:
        await touch_device(request.app, device_id)
    if any(m.direction == INBOUND for m in result.stored):
        app[WORKER].notify()
    cursor = max((m.sentAt for m in body.messages), default=None)
    return json_response({
        "conversationId": result.conversation_uid,
        "received": len(body.messages),
        "stored": len(result.stored),
        "duplicates": result.duplicates,
        "cursor": iso(cursor),
        "messageIds": {m.external_id: m.uid for m in result.stored},
    })


@routes.post("/api/sync/contacts")
async def sync_contacts(request: web.Request) -> web.Response:
    body = await parse_body(request, SyncContacts)
    db, now = request.app[DB], request.app[CLOCK].now()
    created, updated, skipped = await db.write(_store_contacts, db, body.contacts, now)
    return json_response({"received": len(body.contacts), "created": created, "updated": updated,
                          "skipped": skipped})


def _store_contacts(conn: sa.Connection, db: Database, contacts: list[SyncedContact],
                    now: datetime) -> tuple[int, int, int]:
    created = updated = skipped = 0
    for contact in contacts:
        handles = [h for h in (_handle(contact.appleId), _handle(contact.phoneNumber),
                               _handle(contact.email)) if h]
        if not handles:
            skipped += 1
            continue
        _, was_created = upsert_contact(db, conn, handles, contact.displayName, now, contact.avatarHash)
        created += was_created
        updated += not was_created
    return created, updated, skipped


_TOUCH_EVERY = timedelta(seconds=30)


async def touch_device(app: web.Application, device_id: str) -> None:
    """Record the last sync time, at most every 30 s per device: it is shown, not relied on."""
    now = app[CLOCK].now()
    touches = app[DEVICE_TOUCHES]
    last = touches.get(device_id)
    if last is not None and now - last < _TOUCH_EVERY:
        return
    touches[device_id] = now
    await app[DB].execute(sa.update(Device).where(Device.id == device_id)
                          .values(last_synced_at=now, last_seen_at=now))


def _require_device(request: web.Request) -> str:
    device_id = request[PRINCIPAL].device_id
    if device_id is None:
        raise ApiError(403, "Only a paired device can use its outbox")
    return device_id
