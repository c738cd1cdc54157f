"""The brain's steps in `inbound.process`: remember the message, then draft when a reply is needed.

Skipped: messages the owner sent, automated mail and bots (flagged by the channel in `raw`),
group conversations, and messages the analysis marked as needing no reply ("ok thanks 👍").
"""

from __future__ import annotations

import logging

from typing import Awaitable, Callable

import sqlalchemy as sa
from aiohttp import web

from hub.drafting import OWNER_ID, generate_suggestion, load_context
from hub.jobs import ClaimedJob
from hub.processing import InboundProcessor
from hub.state import BRAIN, DB
from storage.models import Message

log = logging.getLogger("replydesk.brain_steps")


def skip_reason(message: sa.Row, is_group: bool) -> str | None:
    raw = message.raw or {}
    if message.direction != "inbound":
        return "sent by the owner"
    if raw.get("automated") or raw.get("is_bot"):
        return "automated sender"
    if message.message_type in ("system", "service", "reaction"):
        return f"{message.message_type} message"
    if is_group:
        return "group conversation"
    analysis = message.analysis or {}
    if analysis.get("needs_reply") is False:
        return "no reply needed: " + "; ".join(analysis.get("reasons") or ["low priority"])
    if not (message.text or "").strip():
        return "no text"
    return None


async def remember(app: web.Application, message: sa.Row, contact_uid: str | None, conversation_uid: str) -> None:
    """Store the turn in the contact's memory; a failure here never blocks drafting."""
    if not contact_uid or not (message.text or "").strip():
        return
    try:
        memory = await app[BRAIN].memory()
        role = "user" if message.direction == "inbound" else "assistant"
        await memory.store(user_id=OWNER_ID, contact_id=contact_uid, conversation_id=conversation_uid,
                           messages=[{"role": role, "content": message.text, "message_id": message.uid,
                                      "sent_at": message.sent_at.isoformat()}])
    except Exception:
        log.warning("could not store message %s in memory", message.uid, exc_info=True)


EXAMPLES_SCOPE = "*"  # the owner's exchanges with everyone, one scope


def exchange_text(theirs: str, mine: str) -> str:
    return f"They wrote: {theirs}\nYou replied: {mine}"


def parse_exchange(text: str) -> tuple[str, str] | None:
    theirs, sep, mine = text.partition("\nYou replied: ")
    if not sep or not theirs.startswith("They wrote: "):
        return None
    return theirs[len("They wrote: "):], mine


def _previous_inbound(conn: sa.Connection, message: sa.Row) -> str | None:
    return conn.execute(sa.select(Message.text).where(
        Message.conversation_id == message.conversation_id, Message.direction == "inbound",
        Message.sent_at <= message.sent_at).order_by(Message.sent_at.desc(), Message.id.desc()).limit(1)).scalar()


def learn_outbound_handler(app: web.Application) -> Callable[[ClaimedJob], Awaitable[None]]:
    """What the owner sent (from here or elsewhere) feeds memory and the few-shot examples bank."""
    async def handle(job: ClaimedJob) -> None:
        context = await app[DB].read(load_context, job.payload["message_id"], 1)
        if context is None or not (context.message.text or "").strip():
            return
        contact_uid = context.contact.uid if context.contact is not None else None
        await remember(app, context.message, contact_uid, context.conversation.uid)
        theirs = await app[DB].read(_previous_inbound, context.message)
        if theirs:
            examples = await app[BRAIN].examples()
            await examples.store(user_id=OWNER_ID, contact_id=EXAMPLES_SCOPE,
                                 conversation_id=context.conversation.uid,
                                 messages=[{"role": "exchange", "content": exchange_text(theirs, context.message.text),
                                            "message_id": context.message.uid}])

    return handle


def draft_step(app: web.Application) -> InboundProcessor:
    async def step(message: sa.Row) -> None:
        context = await app[DB].read(load_context, message.id, 1)
        if context is None:
            return
        contact_uid = context.contact.uid if context.contact is not None else None
        reason = skip_reason(context.message, context.conversation.is_group)
        if reason:
            log.info("no draft for message %s: %s", message.uid, reason)
        else:
            await generate_suggestion(app, message.id)
        # Remembered after drafting: the draft never recalls the message it answers, and the
        # owner should not wait for the memory write.
        await remember(app, context.message, contact_uid, context.conversation.uid)

    return step
