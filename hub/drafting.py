"""Drafting in the pipeline: from a stored inbound message to a pending suggestion.

`generate_suggestion` is shared by the `inbound.process` job, seed 000's /api/responses/generate
and every "regenerate with a tone" button. The owner always decides; nothing here sends.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from aiohttp import web

from brain.draft import Draft, DraftRequest, Turn, detect_language, draft_metadata, draft_reply
from brain.style import StyleProfile
from hub.approvals import refresh_cards
from hub.events import AI_READY, RESPONSE_COMPLETED, RESPONSE_GENERATING
from hub.state import BRAIN, BUS, CLOCK, DB, SETTINGS
from storage.models import (Contact, Conversation, Message, StyleProfileRow, Suggestion, SuggestionStatus,
                            new_uid)

log = logging.getLogger("replydesk.drafting")
OWNER_ID = "owner"


@dataclass(frozen=True)
class DraftContext:
    message: sa.Row
    conversation: sa.Row
    contact: sa.Row | None
    history: list[sa.Row]
    style: dict[str, Any] | None


@dataclass(frozen=True)
class DraftOptions:
    tone: str | None = None
    length: str | None = None
    custom_instruction: str | None = None
    max_history: int = 10
    temperature: float | None = None  # None: brain.draft_temperature
    max_tokens: int | None = None
    kind: str = "reply"


def load_context(conn: sa.Connection, message_id: int, max_history: int) -> DraftContext | None:
    message = conn.execute(sa.select(Message).where(Message.id == message_id)).first()
    if message is None:
        return None
    conversation = conn.execute(sa.select(Conversation).where(Conversation.id == message.conversation_id)).one()
    contact_id = message.contact_id or conversation.contact_id
    contact = conn.execute(sa.select(Contact).where(Contact.id == contact_id)).first() if contact_id else None
    history = conn.execute(sa.select(Message).where(
        Message.conversation_id == conversation.id, Message.deleted_at.is_(None),
        sa.or_(Message.sent_at < message.sent_at, Message.id == message.id))
        .order_by(Message.sent_at.desc(), Message.id.desc()).limit(max_history)).all()
    return DraftContext(message, conversation, contact, list(reversed(history)), _style(conn, contact))


def _style(conn: sa.Connection, contact: sa.Row | None) -> dict[str, Any] | None:
    """The owner's style for this contact, else the owner's overall style."""
    scopes = ([contact.uid] if contact is not None else []) + [""]
    rows = conn.execute(sa.select(StyleProfileRow.contact_id, StyleProfileRow.profile).where(
        StyleProfileRow.kind == "style", StyleProfileRow.owner_id == OWNER_ID,
        StyleProfileRow.contact_id.in_(scopes))).all()
    by_scope = {r.contact_id: r.profile for r in rows if r.profile}
    return next((by_scope[s] for s in scopes if s in by_scope), None)


async def _recall(app: web.Application, context: DraftContext) -> list[Any]:
    if context.contact is None or not context.message.text:
        return []
    try:
        memory = await app[BRAIN].memory()
        found = await memory.recall(user_id=OWNER_ID, contact_id=context.contact.uid,
                                    query=context.message.text, top_k=4)
    except Exception:  # memory is an aid: a draft without it is still a draft
        log.warning("memory recall failed; drafting without memories", exc_info=True)
        return []
    return [m for m in found if context.message.uid not in m.source_message_ids][:3]


async def _examples(app: web.Application, context: DraftContext) -> list[tuple[str, str]]:
    """The owner's own past replies to the most similar messages (few-shot), any contact."""
    from hub.brain_steps import EXAMPLES_SCOPE, parse_exchange

    if not context.message.text:
        return []
    try:
        bank = await app[BRAIN].examples()
        found = await bank.recall(user_id=OWNER_ID, contact_id=EXAMPLES_SCOPE, query=context.message.text,
                                  top_k=2, min_score=0.45)
    except Exception:
        log.warning("examples recall failed; drafting without examples", exc_info=True)
        return []
    return [pair for m in found if (pair := parse_exchange(m.text))]


def draft_request(app: web.Application, context: DraftContext, memories: list[Any],
                  options: DraftOptions, examples: list[tuple[str, str]] | None = None) -> DraftRequest:
    owner = app[SETTINGS].owner
    turns = [Turn("contact" if m.direction == "inbound" else "owner", m.text) for m in context.history if m.text]
    contact_name = (context.contact.display_name if context.contact else "") or context.message.sender_name
    return DraftRequest(
        owner_name=owner.name, owner_about=owner.about, contact_name=contact_name,
        channel=context.conversation.channel, history=turns, memories=[m.text for m in memories],
        examples=examples or [],
        style=StyleProfile.from_dict(context.style) if context.style else None,
        tone=options.tone, length=options.length, custom_instruction=options.custom_instruction,
        language=detect_language(context.message.text))


def _memory_lines(memories: list[Any]) -> list[str]:
    return [f"memory: {m.text} (from message {', '.join(m.source_message_ids) or 'unknown'})" for m in memories]


def _store(conn: sa.Connection, context: DraftContext, draft: Draft, options: DraftOptions,
           analysis: dict[str, Any] | None, now: datetime, memory_lines: list[str]) -> tuple[sa.Row, list[int]]:
    """Supersede older pending drafts; a draft for a message that is no longer the latest inbound
    is stored superseded at once (a newer message's job drafts the reply)."""
    message = context.message
    newer = conn.execute(sa.select(Message.id).where(
        Message.conversation_id == message.conversation_id, Message.direction == "inbound",
        Message.id != message.id, Message.sent_at >= message.sent_at, Message.id > message.id).limit(1)).first()
    superseded = conn.execute(sa.update(Suggestion).where(Suggestion.conversation_id == message.conversation_id,
                                                          Suggestion.status == SuggestionStatus.PENDING)
                              .values(status=SuggestionStatus.SUPERSEDED).returning(Suggestion.id)).scalars().all()
    status = SuggestionStatus.SUPERSEDED if newer else SuggestionStatus.PENDING
    subject = f"Re: {context.conversation.subject}" if context.conversation.subject and \
        not context.conversation.subject.lower().startswith("re:") else context.conversation.subject
    return superseded, conn.execute(sa.insert(Suggestion).values(
        uid=new_uid(), conversation_id=message.conversation_id, reply_to_message_id=message.id,
        kind=options.kind, status=status, subject=subject or "", body=draft.text, tone=options.tone,
        confidence=round(draft.confidence, 4), analysis=analysis, context_used=draft.context_used + memory_lines,
        reasoning=draft.reasoning, model_metadata=draft_metadata(draft), created_at=now)
        .returning(Suggestion)).one()


async def generate_suggestion(app: web.Application, message_id: int,
                              options: DraftOptions = DraftOptions()) -> sa.Row | None:
    """Draft a reply to one stored message and store it as a suggestion. None if no such message."""
    db, bus, settings = app[DB], app[BUS], app[SETTINGS]
    context = await db.read(load_context, message_id, options.max_history)
    if context is None:
        return None
    bus.publish(RESPONSE_GENERATING, message_id=context.message.uid, conversation_id=context.conversation.id)
    memories, examples = await asyncio.gather(_recall(app, context), _examples(app, context))
    request = draft_request(app, context, memories, options, examples)
    llm = await app[BRAIN].llm()
    draft = await draft_reply(llm, request, max_tokens=options.max_tokens or settings.brain.draft_max_tokens,
                              temperature=settings.brain.draft_temperature if options.temperature is None
                              else options.temperature, timeout=settings.brain.draft_timeout_seconds)
    superseded, suggestion = await db.write(_store, context, draft, options, context.message.analysis,
                                            app[CLOCK].now(), _memory_lines(memories))
    await refresh_cards(app, *superseded, suggestion.id)
    bus.publish(RESPONSE_COMPLETED, response_id=suggestion.uid, message_id=context.message.uid)
    if suggestion.status == SuggestionStatus.PENDING:
        bus.publish(AI_READY, conversation_id=suggestion.conversation_id, suggestion_id=suggestion.id,
                    confidence=suggestion.confidence)
    return suggestion
