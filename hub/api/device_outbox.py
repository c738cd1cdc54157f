"""The device outbox: the Mac companion polls for approved iMessage replies and acknowledges each.

    GET  /api/sync/outbox?limit=20     -> {"messages": [{id, conversationImessageId, text, ...}]}
    POST /api/sync/outbox/{id}/ack     {"status": "sent", "imessageGuid": "...", "sentAt": "..."}
                                       {"status": "failed", "error": "..."}

A polled item is leased to the device for `LEASE`; unacknowledged, it is offered again. The ack
stores the sent message under its iMessage guid, so the device's later sync of that same message
is recognised as our own echo and stored once.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Literal

import sqlalchemy as sa
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from channels.base import OUTBOUND, InboundMessage
from hub.api.common import iso, json_response
from hub.api.sync import CHANNEL, _require_device
from hub.approvals import refresh_cards
from hub.errors import ApiError
from hub.events import ERROR, SENT
from hub.pipeline import ingest
from hub.state import BUS, CLOCK, DB
from hub.validation import parse_body, parse_query
from storage.models import Conversation, OutboxItem, OutboxStatus, Suggestion, SuggestionStatus, UTCDateTime

routes = web.RouteTableDef()
LEASE = timedelta(minutes=5)


class OutboxQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    limit: int = Field(20, ge=1, le=100)


class OutboxAck(BaseModel):
    model_config = ConfigDict(extra="ignore")
    status: Literal["sent", "failed"]
    imessageGuid: str | None = Field(None, min_length=1, max_length=255)
    sentAt: datetime | None = None
    error: str | None = Field(None, max_length=2000)

    @field_validator("sentAt")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=timezone.utc) if value and value.tzinfo is None else value

    @model_validator(mode="after")
    def _guid_when_sent(self) -> "OutboxAck":
        if self.status == "sent" and not self.imessageGuid:
            raise ValueError("imessageGuid is required when status is sent")
        return self


def _item_view(row: sa.Row) -> dict:
    return {"id": row.uid, "conversationImessageId": row.recipient, "text": row.body,
            "attempt": row.attempts, "createdAt": iso(row.created_at)}


@routes.get("/api/sync/outbox")
async def poll_outbox(request: web.Request) -> web.Response:
    device_id = _require_device(request)
    query = parse_query(request, OutboxQuery)
    db, now = request.app[DB], request.app[CLOCK].now()
    o = OutboxItem
    due = sa.or_(o.status == OutboxStatus.PENDING,
                 sa.and_(o.status == OutboxStatus.SENDING,
                         o.next_attempt_at < sa.literal(now, UTCDateTime())))
    mine = sa.or_(o.device_id == device_id, o.device_id.is_(None))
    ids = sa.select(o.id).where(o.channel == CHANNEL, due, mine).order_by(o.id).limit(query.limit)
    if not db.is_sqlite:
        ids = ids.with_for_update(skip_locked=True)
    lease = (sa.update(o).where(o.id.in_(ids.scalar_subquery()))
             .values(status=OutboxStatus.SENDING, attempts=o.attempts + 1, device_id=device_id,
                     next_attempt_at=now + LEASE)
             .returning(o.uid, o.recipient, o.body, o.attempts, o.created_at, o.id))
    rows = await db.write(lambda conn: conn.execute(lease).all())
    rows.sort(key=lambda r: r.id)
    return json_response({"messages": [_item_view(r) for r in rows]})


async def _record_sent(request: web.Request, item: sa.Row, ack: OutboxAck, device_id: str) -> None:
    app = request.app
    now = app[CLOCK].now()
    sent = InboundMessage(channel=CHANNEL, external_id=ack.imessageGuid or "", thread_id=item.recipient,
                          sender=None, text=item.body, sent_at=ack.sentAt or now, direction=OUTBOUND,
                          raw={"outbox_id": item.uid})
    result = await ingest(app[DB], app[CLOCK], [sent], device_id=device_id)
    message_id = result.stored[0].id if result.stored else None
    await app[DB].write(_mark_sent, item, ack.imessageGuid, message_id, now)
    app[BUS].publish(SENT, conversation_id=item.conversation_id, message_id=message_id)
    if item.suggestion_id:
        await refresh_cards(app, item.suggestion_id)


def _mark_sent(conn: sa.Connection, item: sa.Row, guid: str | None, message_id: int | None,
               now: datetime) -> None:
    conn.execute(sa.update(OutboxItem).where(OutboxItem.id == item.id).values(
        status=OutboxStatus.SENT, provider_message_id=guid, sent_at=now, message_id=message_id, error=None))
    if item.suggestion_id:
        conn.execute(sa.update(Suggestion).where(Suggestion.id == item.suggestion_id)
                     .values(status=SuggestionStatus.SENT, sent_at=now))


@routes.post("/api/sync/outbox/{id}/ack")
async def ack_outbox(request: web.Request) -> web.Response:
    device_id = _require_device(request)
    ack = await parse_body(request, OutboxAck)
    app = request.app
    item = await app[DB].first(sa.select(OutboxItem).where(
        OutboxItem.uid == request.match_info["id"], OutboxItem.channel == CHANNEL))
    if item is None:
        raise ApiError(404, f"Outbox item {request.match_info['id']} not found")
    if item.device_id not in (None, device_id):
        raise ApiError(403, "This outbox item is leased to another device")
    if item.status == OutboxStatus.SENT:
        if ack.status == "sent" and ack.imessageGuid == item.provider_message_id:
            return json_response({"id": item.uid, "status": "sent", "duplicate": True})
        raise ApiError(409, "Outbox item was already acknowledged as sent")
    if ack.status == "sent":
        await _record_sent(request, item, ack, device_id)
    else:
        await app[DB].execute(sa.update(OutboxItem).where(OutboxItem.id == item.id).values(
            status=OutboxStatus.FAILED, error=ack.error or "failed on device"))
        app[BUS].publish(ERROR, conversation_id=item.conversation_id,
                         error=f"iMessage send failed: {ack.error or 'unknown error'}")
    return json_response({"id": item.uid, "status": ack.status, "duplicate": False})
