"""The analysis step of `inbound.process`, run before drafting: triage, sales intent, the contact's risk
and the price agreement of an inbound message (brain/analysis.py), stored in `Message.analysis`.

The draft step reads `needs_reply` from it (hub/brain_steps.skip_reason), the suggestion copies it and
every approval card shows its signals. A failed analysis is logged and never blocks the draft.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from aiohttp import web

from hub.processing import InboundProcessor
from hub.state import BRAIN, CLOCK, DB
from storage.models import Contact, Conversation, Message

log = logging.getLogger("replydesk.analysis_step")
HISTORY_TURNS = 30  # earlier turns read for the contact's risk and the price agreement


def needs_analysis(message: sa.Row) -> bool:
    """Inbound text not analysed yet (a retried job keeps the first analysis)."""
    return message.direction == "inbound" and bool((message.text or "").strip()) and message.analysis is None


def as_turn(message: sa.Row) -> dict[str, str]:
    """A stored message as brain/analysis.py reads it: the contact speaks, the owner is the creator."""
    return {"content": message.text or "", "sender": "contact" if message.direction == "inbound" else "creator"}


def load_inputs(conn: sa.Connection, message: sa.Row) -> tuple[str, list[dict[str, str]]]:
    """(contact classification, the conversation's earlier turns oldest first)."""
    contact_id = message.contact_id or conn.execute(
        sa.select(Conversation.contact_id).where(Conversation.id == message.conversation_id)).scalar()
    classification = conn.execute(
        sa.select(Contact.classification).where(Contact.id == contact_id)).scalar() if contact_id else None
    earlier = conn.execute(sa.select(Message).where(
        Message.conversation_id == message.conversation_id, Message.id != message.id,
        Message.deleted_at.is_(None), Message.sent_at <= message.sent_at)
        .order_by(Message.sent_at.desc(), Message.id.desc()).limit(HISTORY_TURNS)).all()
    turns = [as_turn(m) for m in reversed(earlier) if (m.text or "").strip()]
    return classification or "unknown", turns


async def analyse(app: web.Application, message: sa.Row) -> dict[str, Any]:
    from brain.analysis import analyze_inbound
    from hub.api.ml_triage import classifiers

    classification, turns = await app[DB].read(load_inputs, message)
    embedder = await app[BRAIN].embedder()
    return await analyze_inbound(embedder, message.text, contact_classification=classification,
                                 conversation=turns, models=classifiers(app), now=app[CLOCK].now())


def analysis_step(app: web.Application) -> InboundProcessor:
    async def step(message: sa.Row) -> None:
        if not needs_analysis(message):
            return
        try:
            analysis = await analyse(app, message)
        except Exception:  # the owner still gets a draft, only without signals
            log.warning("could not analyse message %s; drafting without analysis", message.uid, exc_info=True)
            return
        await app[DB].execute(sa.update(Message).where(Message.id == message.id).values(analysis=analysis))
        log.info("message %s: priority %s, sales intent %s, needs reply %s", message.uid,
                 analysis["triage"]["priority"], analysis["sales"]["intent"], analysis["needs_reply"])

    return step
