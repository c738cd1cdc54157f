"""Seed 000 conversations: paged list and paged messages of one conversation."""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from aiohttp import web
from pydantic import ConfigDict, Field

from hub.api.common import PageQuery, iso, json_response
from hub.errors import ApiError
from hub.state import DB
from hub.validation import parse_query
from storage.ids import id_or_uid
from storage.models import Contact, Conversation, Message

routes = web.RouteTableDef()


class MessagesQuery(PageQuery):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")
    page_size: int = Field(50, alias="pageSize", ge=1, le=200)
    order: Literal["asc", "desc"] = "asc"


def conversation_view(row: sa.Row) -> dict:
    return {
        "id": row.uid, "channel": row.channel, "externalId": row.external_id,
        "displayName": row.display_name or row.contact_name or "", "subject": row.subject,
        "isGroup": row.is_group, "participantIds": row.participants or [], "status": row.status,
        "messageCount": row.message_count, "lastMessageAt": iso(row.last_message_at),
        "lastInboundAt": iso(row.last_inbound_at), "lastOutboundAt": iso(row.last_outbound_at),
        "contact": {"id": row.contact_uid, "displayName": row.contact_name} if row.contact_uid else None,
        "createdAt": iso(row.created_at), "updatedAt": iso(row.updated_at),
    }


def message_view(row: sa.Row, conversation_uid: str) -> dict:
    return {
        "id": row.uid, "conversationId": conversation_uid, "externalId": row.external_id,
        "imessageGuid": row.external_id if row.channel == "imessage" else None,
        "channel": row.channel, "direction": "incoming" if row.direction == "inbound" else "outgoing",
        "messageType": row.message_type, "senderId": row.sender_handle.split(":", 1)[-1] or None,
        "senderName": row.sender_name, "text": row.text, "subject": row.subject or None,
        "attachments": row.attachments or [], "sentAt": iso(row.sent_at),
        "replyToId": row.reply_to_external_id, "editedAt": iso(row.edited_at),
        "analysis": row.analysis, "createdAt": iso(row.created_at),
    }


def _conversation_select() -> sa.Select:
    return (sa.select(Conversation, Contact.uid.label("contact_uid"),
                      Contact.display_name.label("contact_name"))
            .outerjoin(Contact, Contact.id == Conversation.contact_id))


def find_conversation(conn: sa.Connection, key: str) -> sa.Row | None:
    """By numeric id or uid."""
    return conn.execute(_conversation_select().where(id_or_uid(Conversation.id, Conversation.uid, key))).first()


def _conversation_page(conn: sa.Connection, query: PageQuery) -> tuple[int, list[sa.Row]]:
    total = conn.execute(sa.select(sa.func.count()).select_from(Conversation)).scalar_one()
    rows = conn.execute(_conversation_select()
                        .order_by(Conversation.last_message_at.desc().nulls_last(), Conversation.id.desc())
                        .offset(query.offset).limit(query.page_size)).all()
    return total, rows


def _message_page(conn: sa.Connection, key: str, query: MessagesQuery) -> tuple[sa.Row | None, int, list[sa.Row]]:
    conversation = find_conversation(conn, key)
    if conversation is None:
        return None, 0, []
    where = Message.conversation_id == conversation.id
    total = conn.execute(sa.select(sa.func.count()).select_from(Message).where(where)).scalar_one()
    order = (Message.sent_at.asc(), Message.id.asc()) if query.order == "asc" \
        else (Message.sent_at.desc(), Message.id.desc())
    rows = conn.execute(sa.select(Message).where(where).order_by(*order)
                        .offset(query.offset).limit(query.page_size)).all()
    return conversation, total, rows


@routes.get("/api/conversations")
async def list_conversations(request: web.Request) -> web.Response:
    query = parse_query(request, PageQuery)
    total, rows = await request.app[DB].read(_conversation_page, query)
    return json_response({"conversations": [conversation_view(r) for r in rows], "total": total,
                          "page": query.page, "pageSize": query.page_size})


@routes.get("/api/conversations/{id}/messages")
async def conversation_messages(request: web.Request) -> web.Response:
    query = parse_query(request, MessagesQuery)
    key = request.match_info["id"]
    conversation, total, rows = await request.app[DB].read(_message_page, key, query)
    if conversation is None:
        raise ApiError(404, f"Conversation {key} not found")
    return json_response({"messages": [message_view(r, conversation.uid) for r in rows], "total": total,
                          "page": query.page, "pageSize": query.page_size})
