"""Seed 003: conversation management under /api/v1/conversations (errors as {"detail": …})."""

from __future__ import annotations

import uuid
from typing import Any, Literal

import sqlalchemy as sa
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from brain.llm import LLMError
from hub.api.common import iso, json_response
from hub.api.v1_queries import conversation_page, stats, thread
from hub.api.v1_views import suggestion_view
from hub.approvals import refresh_cards
from hub.decisions import ACCEPT, EDIT, REJECT, decide
from hub.dispatch import attempt_send
from hub.drafting import DraftOptions, generate_suggestion
from hub.errors import ApiError, ValidationFailed
from hub.outbox import DEVICE_CHANNELS, enqueue_reply
from hub.state import CLOCK, DB, PRINCIPAL, SETTINGS
from hub.validation import parse_body, parse_query
from storage.ids import RowId, numeric_id
from storage.models import Conversation, ConversationStatus, Message, Suggestion, SuggestionStatus

routes = web.RouteTableDef()
BASE = "/api/v1/conversations"
IDEMPOTENCY_KEY_MAX = 200
Tone = Literal["more_formal", "more_casual", "shorter", "add_humor"]


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    status: Literal["active", "needs_reply", "waiting", "archived"] | None = None
    lead_id: RowId | None = None
    has_pending_suggestion: bool | None = None
    search: str | None = Field(None, max_length=200)
    page: int = Field(1, ge=1, le=1_000_000)
    page_size: int = Field(20, ge=1, le=100)
    sort_by: Literal["last_message_at", "created_at", "message_count"] = "last_message_at"
    sort_order: Literal["asc", "desc"] = "desc"


class ApproveBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    suggestion_id: RowId
    edited_body: str | None = Field(None, max_length=50_000)
    edited_subject: str | None = Field(None, max_length=998)


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    suggestion_id: RowId
    reason: str | None = Field(None, max_length=2_000)


class ReplyBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    subject: str | None = Field(None, max_length=998)
    body: str = Field(min_length=1, max_length=50_000)
    body_html: str | None = Field(None, max_length=200_000)


class RegenerateBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    message_id: RowId | None = None
    tone: Tone | None = None
    length: Literal["shorter", "longer"] | None = None
    custom_prompt: str | None = Field(None, max_length=1_000)


class ArchiveBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    reason: str | None = Field(None, max_length=2_000)


def _decided(status: str) -> str:
    """Seed 003 says "already approved" for a draft that was approved (and perhaps sent since)."""
    return "approved" if status in (SuggestionStatus.APPROVED, SuggestionStatus.SENT) else status


def _conversation_id(request: web.Request) -> int:
    """The path's id; one no row can have (beyond the id column) is a 404, not a driver error."""
    key = numeric_id(request.match_info["id"])
    if key is None:
        raise ApiError(404, f"Conversation {request.match_info['id']} not found")
    return key


async def _require_conversation(request: web.Request) -> sa.Row:
    key = _conversation_id(request)
    row = await request.app[DB].first(sa.select(Conversation).where(Conversation.id == key))
    if row is None:
        raise ApiError(404, f"Conversation {key} not found")
    return row


async def _require_suggestion(request: web.Request, conversation_id: int, suggestion_id: int) -> sa.Row:
    row = await request.app[DB].first(sa.select(Suggestion).where(
        Suggestion.id == suggestion_id, Suggestion.conversation_id == conversation_id))
    if row is None:
        raise ApiError(404, f"Suggestion {suggestion_id} not found in conversation {conversation_id}")
    return row


@routes.get(BASE)
async def list_conversations(request: web.Request) -> web.Response:
    query = parse_query(request, ListQuery)
    total, items = await request.app[DB].read(conversation_page, query)
    return json_response({"conversations": items, "total": total, "page": query.page,
                          "page_size": query.page_size, "has_more": query.page * query.page_size < total})


@routes.get(BASE + "/stats")
async def conversation_stats(request: web.Request) -> web.Response:
    return json_response(await request.app[DB].read(stats, request.app[CLOCK].now()))


@routes.get(BASE + r"/{id:\d+}")
async def get_thread(request: web.Request) -> web.Response:
    owner = request.app[SETTINGS].owner
    body = await request.app[DB].read(thread, _conversation_id(request), {"email": owner.email or None,
                                                                          "name": owner.name})
    if body is None:
        raise ApiError(404, f"Conversation {_conversation_id(request)} not found")
    return json_response(body)


@routes.get(BASE + r"/{id:\d+}/ai-suggestion")
async def current_suggestion(request: web.Request) -> web.Response:
    conversation = await _require_conversation(request)
    row = await request.app[DB].first(sa.select(Suggestion).where(
        Suggestion.conversation_id == conversation.id, Suggestion.status == SuggestionStatus.PENDING)
        .order_by(Suggestion.id.desc()).limit(1))
    if row is None:
        raise ApiError(404, f"No pending AI suggestion for conversation {conversation.id}")
    inbound = await request.app[DB].scalar(sa.select(Message.text).where(Message.id == row.reply_to_message_id))
    return json_response(suggestion_view(row, inbound or ""))


async def _send(request: web.Request, conversation: sa.Row, outbox_id: int | None, sent_text: str) -> dict[str, Any]:
    """Try to send now; the outbox job remains the fallback. Raises 500 (seed's shape) on failure."""
    data: dict[str, Any] = {"conversation_id": conversation.id, "message_id": None, "postmark_message_id": None}
    if outbox_id is None or conversation.channel in DEVICE_CHANNELS:
        return {"message": f"{sent_text} queued for the paired device", "data": data}
    outcome = await attempt_send(request.app, outbox_id)
    if outcome.state == "failed":
        raise ApiError(500, f"Failed to send: {outcome.result.error if outcome.result else 'unknown error'}")
    if outcome.state != "sent":
        return {"message": f"{sent_text} queued; the channel asked to retry later", "data": data}
    data.update(message_id=outcome.message_id, postmark_message_id=outcome.result.provider_message_id)
    return {"message": f"{sent_text} sent successfully", "data": data}


@routes.post(BASE + r"/{id:\d+}/approve")
async def approve(request: web.Request) -> web.Response:
    conversation = await _require_conversation(request)
    body = await parse_body(request, ApproveBody)
    await _require_suggestion(request, conversation.id, body.suggestion_id)
    db = request.app[DB]
    action = EDIT if body.edited_body else ACCEPT
    decision = await db.write(decide, db, body.suggestion_id, action, now=request.app[CLOCK].now(),
                              edited_body=body.edited_body, edited_subject=body.edited_subject,
                              via=f"api:{request[PRINCIPAL].kind}")
    if not decision.ok:
        raise ApiError(400, f"Suggestion already {_decided(decision.suggestion.status)}. Cannot approve.")
    await refresh_cards(request.app, body.suggestion_id)
    sent = await _send(request, conversation, decision.outbox_id, "Reply")
    return json_response({"success": True, **sent})


@routes.post(BASE + r"/{id:\d+}/reject")
async def reject(request: web.Request) -> web.Response:
    conversation = await _require_conversation(request)
    body = await parse_body(request, RejectBody)
    await _require_suggestion(request, conversation.id, body.suggestion_id)
    db = request.app[DB]
    decision = await db.write(decide, db, body.suggestion_id, REJECT, now=request.app[CLOCK].now(),
                              reason=body.reason, via=f"api:{request[PRINCIPAL].kind}")
    if not decision.ok:
        raise ApiError(400, f"Suggestion already {_decided(decision.suggestion.status)}. Cannot reject.")
    await refresh_cards(request.app, body.suggestion_id)
    return json_response({"success": True, "message": "AI suggestion rejected",
                          "data": {"suggestion_id": body.suggestion_id}})


def _custom_reply(conn: sa.Connection, db: Any, conversation_id: int, body: ReplyBody, key: str,
                  now: Any) -> tuple[int | None, list[int]]:
    superseded = conn.execute(sa.update(Suggestion).where(
        Suggestion.conversation_id == conversation_id, Suggestion.status == SuggestionStatus.PENDING)
        .values(status=SuggestionStatus.SUPERSEDED).returning(Suggestion.id)).scalars().all()
    outbox_id = enqueue_reply(db, conn, conversation_id=conversation_id, body=body.body, subject=body.subject or "",
                              body_html=body.body_html, idempotency_key=key, now=now)
    conn.execute(sa.update(Conversation).where(Conversation.id == conversation_id)
                 .values(status=ConversationStatus.WAITING, updated_at=now))
    return outbox_id, list(superseded)


def _idempotency_key(request: web.Request) -> str | None:
    """The client's key, short enough for outbox.idempotency_key (255 with the "custom:" prefix)."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and len(key) > IDEMPOTENCY_KEY_MAX:
        raise ValidationFailed("Idempotency-Key is too long", [{
            "path": "Idempotency-Key", "type": "string_too_long",
            "message": f"String should have at most {IDEMPOTENCY_KEY_MAX} characters"}], source="header")
    return key


@routes.post(BASE + r"/{id:\d+}/reply")
async def custom_reply(request: web.Request) -> web.Response:
    conversation = await _require_conversation(request)
    body = await parse_body(request, ReplyBody)
    key = "custom:" + (_idempotency_key(request) or uuid.uuid4().hex)
    db = request.app[DB]
    outbox_id, superseded = await db.write(_custom_reply, db, conversation.id, body, key, request.app[CLOCK].now())
    if outbox_id is None:
        raise ApiError(400, "This Idempotency-Key was used already; the reply was not sent twice.")
    await refresh_cards(request.app, *superseded)
    sent = await _send(request, conversation, outbox_id, "Custom reply")
    return json_response({"success": True, **sent})


@routes.post(BASE + r"/{id:\d+}/regenerate")
async def regenerate(request: web.Request) -> web.Response:
    conversation = await _require_conversation(request)
    body = await parse_body(request, RegenerateBody)
    where = [Message.conversation_id == conversation.id, Message.direction == "inbound"]
    if body.message_id is not None:
        where.append(Message.id == body.message_id)
    message = await request.app[DB].first(sa.select(Message.id, Message.text).where(*where)
                                          .order_by(Message.sent_at.desc(), Message.id.desc()).limit(1))
    if message is None:
        raise ApiError(404, f"Message {body.message_id} not found in conversation {conversation.id}"
                       if body.message_id is not None else f"Conversation {conversation.id} has no message to answer")
    options = DraftOptions(tone=body.tone, length=body.length, custom_instruction=body.custom_prompt)
    try:
        suggestion = await generate_suggestion(request.app, message.id, options)
    except LLMError as exc:
        raise ApiError(503, f"The language model is unavailable: {exc}") from None
    return json_response(suggestion_view(suggestion, message.text))


def _archive(conn: sa.Connection, conversation_id: int, reason: str | None, now: Any) -> list[int]:
    conn.execute(sa.update(Conversation).where(Conversation.id == conversation_id).values(
        status=ConversationStatus.ARCHIVED, archived_at=now, archive_reason=reason, updated_at=now))
    return list(conn.execute(sa.update(Suggestion).where(
        Suggestion.conversation_id == conversation_id, Suggestion.status == SuggestionStatus.PENDING)
        .values(status=SuggestionStatus.SUPERSEDED).returning(Suggestion.id)).scalars().all())


@routes.patch(BASE + r"/{id:\d+}/archive")
async def archive(request: web.Request) -> web.Response:
    conversation = await _require_conversation(request)
    raw = await request.read()
    body = await parse_body(request, ArchiveBody) if raw.strip() else ArchiveBody()
    now = request.app[CLOCK].now()
    superseded = await request.app[DB].write(_archive, conversation.id, body.reason, now)
    await refresh_cards(request.app, *superseded)
    return json_response({"success": True, "message": "Conversation archived successfully",
                          "data": {"conversation_id": conversation.id, "archived_at": iso(now)}})
