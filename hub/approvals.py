"""Approval cards on every configured owner surface (Slack, Telegram), kept in step with the draft.

A pending draft gets a card on each surface; each change of its fate (sent, rejected, superseded)
edits every card to show the outcome. The owner's taps arrive as OwnerAction events and go
through the same once-only decision as the API (hub/decisions.py): a second tap anywhere sends
nothing more, it only refreshes the cards.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from aiohttp import web

from channels.base import ApprovalCard, ApprovalSurface, OwnerAction
from hub.decisions import EDIT, REJECT, ACCEPT, decide
from hub.jobs import ClaimedJob, enqueue
from hub.state import CHANNELS, CLOCK, DB, SETTINGS, WORKER
from storage.models import (ApprovalCardRow, Contact, Conversation, Message, OutboxItem, Suggestion,
                            SuggestionStatus)

log = logging.getLogger("replydesk.approvals")
CARD_JOB = "approval.card"
REGENERATE_JOB = "suggestion.regenerate"
_ACTIONS = {"approve": ACCEPT, "edit": EDIT, "reply": EDIT, "reject": REJECT}
_SURFACE_NAMES = {"slack": "Slack", "telegram": "Telegram", "api": "the API", "inbox": "the web inbox"}


def surfaces(app: web.Application) -> dict[str, ApprovalSurface]:
    return {name: channel for name, channel in app[CHANNELS].items()
            if isinstance(channel, ApprovalSurface) and getattr(channel, "approvals_enabled", False)}


def _enqueue_cards(conn: sa.Connection, app: web.Application, suggestion_ids: list[int], now: datetime) -> None:
    names = list(surfaces(app))
    for suggestion_id in suggestion_ids:
        status = conn.execute(sa.select(Suggestion.status).where(Suggestion.id == suggestion_id)).scalar()
        for name in names:
            enqueue(app[DB], conn, CARD_JOB, {"suggestion_id": suggestion_id, "surface": name},
                    dedup_key=f"card:{suggestion_id}:{name}:{status}", now=now)


async def refresh_cards(app: web.Application, *suggestion_ids: int) -> None:
    """Queue a card post or edit on every surface for these suggestions' current state."""
    if not surfaces(app) or not suggestion_ids:
        return
    await app[DB].write(_enqueue_cards, app, list(suggestion_ids), app[CLOCK].now())
    app[WORKER].notify()


def _when(app: web.Application, moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(app[SETTINGS].owner.timezone)).strftime("%H:%M")


def _via(decided_via: str | None) -> str:
    surface = (decided_via or "").split(":", 1)[0]
    return _SURFACE_NAMES.get(surface, surface or "the owner")


def outcome_text(app: web.Application, suggestion: sa.Row, failed: str | None) -> str:
    status = suggestion.status
    if failed:
        return f"Failed to send: {failed}"
    if status == SuggestionStatus.SENT:
        return f"Sent by {_via(suggestion.decided_via)} at {_when(app, suggestion.sent_at or suggestion.approved_at)}"
    if status == SuggestionStatus.APPROVED:
        return f"Approved by {_via(suggestion.decided_via)} at {_when(app, suggestion.approved_at)}, sending…"
    if status == SuggestionStatus.REJECTED:
        return f"Rejected: {suggestion.rejection_reason or 'no reason given'}"
    if status == SuggestionStatus.SUPERSEDED:
        return "Superseded by a newer draft"
    return ""


def _card_data(conn: sa.Connection, suggestion_id: int) -> tuple[sa.Row, sa.Row, sa.Row | None, sa.Row | None,
                                                                   str | None] | None:
    suggestion = conn.execute(sa.select(Suggestion).where(Suggestion.id == suggestion_id)).first()
    if suggestion is None:
        return None
    conversation = conn.execute(sa.select(Conversation).where(Conversation.id == suggestion.conversation_id)).one()
    contact = conn.execute(sa.select(Contact).where(Contact.id == conversation.contact_id)).first()
    inbound = conn.execute(sa.select(Message).where(Message.id == suggestion.reply_to_message_id)).first()
    failed = conn.execute(sa.select(OutboxItem.error).where(OutboxItem.suggestion_id == suggestion_id,
                                                            OutboxItem.status == "failed")).scalar()
    return suggestion, conversation, contact, inbound, failed


def build_card(app: web.Application, data: tuple) -> ApprovalCard:
    suggestion, conversation, contact, inbound, failed = data
    name = (contact.display_name if contact is not None else "") or conversation.display_name or "Unknown"
    return ApprovalCard(
        suggestion_id=suggestion.id, contact_name=name, channel=conversation.channel,
        inbound_text=inbound.text if inbound is not None else "", draft=suggestion.edited_body or suggestion.body,
        signals=(inbound.analysis if inbound is not None else None) or {},
        status="failed" if failed else suggestion.status, outcome=outcome_text(app, suggestion, failed))


def card_handler(app: web.Application):
    async def handle(job: ClaimedJob) -> None:
        db, name = app[DB], job.payload["surface"]
        surface = surfaces(app).get(name)
        data = await db.read(_card_data, job.payload["suggestion_id"])
        if surface is None or data is None:
            return
        card = build_card(app, data)
        existing = await db.first(sa.select(ApprovalCardRow).where(
            ApprovalCardRow.suggestion_id == card.suggestion_id, ApprovalCardRow.surface == name))
        now = app[CLOCK].now()
        if existing is not None:
            await surface.update_card(existing.reference, card)
            await db.execute(sa.update(ApprovalCardRow).where(ApprovalCardRow.id == existing.id)
                             .values(status=card.status, updated_at=now))
        elif card.status == SuggestionStatus.PENDING:
            reference = await surface.post_card(card)
            await db.execute(db.insert_ignore(ApprovalCardRow).values(
                suggestion_id=card.suggestion_id, surface=name, reference=reference, status=card.status,
                created_at=now, updated_at=now))

    return handle


async def apply_owner_action(app: web.Application, action: OwnerAction) -> None:
    """Approve / edit / reply / reject once; regenerate in the background; refresh every card."""
    db = app[DB]
    if action.action == "regenerate":
        await db.write(lambda conn: enqueue(db, conn, REGENERATE_JOB,
                                            {"suggestion_id": action.suggestion_id, "tone": action.tone},
                                            now=app[CLOCK].now()))
        app[WORKER].notify()
        return
    kind = _ACTIONS.get(action.action)
    if kind is None:
        log.warning("unknown owner action %r from %s", action.action, action.surface)
        return
    decision = await db.write(decide, db, action.suggestion_id, kind, now=app[CLOCK].now(),
                              edited_body=action.text if kind == EDIT else None,
                              reason=action.text if kind == REJECT else None,
                              via=f"{action.surface}:{action.actor}")
    if not decision.ok:
        log.info("%s %s on suggestion %s changed nothing (%s)", action.surface, action.action,
                 action.suggestion_id, decision.problem)
    await refresh_cards(app, action.suggestion_id)


def regenerate_handler(app: web.Application):
    async def handle(job: ClaimedJob) -> None:
        from hub.drafting import DraftOptions, generate_suggestion

        message_id = await app[DB].scalar(sa.select(Suggestion.reply_to_message_id).where(
            Suggestion.id == job.payload["suggestion_id"]))
        if message_id is not None:
            await generate_suggestion(app, message_id, DraftOptions(tone=job.payload.get("tone")))

    return handle
