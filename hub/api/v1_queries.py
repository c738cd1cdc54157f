"""Seed 003 reads as units of work: the filtered conversation list, one thread, the week's stats."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from hub.api.common import iso
from hub.api.v1_views import conversation_view, lead_view, message_view, rate, suggestion_view
from storage.models import Contact, ContactHandle, Conversation, Message, Suggestion, SuggestionStatus, UTCDateTime

_PENDING = (sa.select(Suggestion.id).where(Suggestion.conversation_id == Conversation.id,
                                           Suggestion.status == SuggestionStatus.PENDING).exists())
_SORT = {"last_message_at": Conversation.last_message_at, "created_at": Conversation.created_at,
         "message_count": Conversation.message_count}


def _lead_email(conn: sa.Connection, contact_ids: set[int]) -> dict[int, str]:
    if not contact_ids:
        return {}
    rows = conn.execute(sa.select(ContactHandle.contact_id, sa.func.min(ContactHandle.value))
                        .where(ContactHandle.contact_id.in_(contact_ids), ContactHandle.kind == "email")
                        .group_by(ContactHandle.contact_id)).all()
    return {contact_id: value for contact_id, value in rows}


def _filters(query: Any) -> list[Any]:
    where = []
    if query.status:
        where.append(Conversation.status == query.status)
    if query.lead_id is not None:
        where.append(Conversation.contact_id == query.lead_id)
    if query.has_pending_suggestion is not None:
        where.append(_PENDING if query.has_pending_suggestion else ~_PENDING)
    if query.search:
        term = "%" + query.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").lower() + "%"
        where.append(sa.or_(sa.func.lower(Conversation.subject).like(term, escape="\\"),
                            sa.func.lower(Conversation.display_name).like(term, escape="\\"),
                            sa.func.lower(Contact.display_name).like(term, escape="\\")))
    return where


def conversation_page(conn: sa.Connection, query: Any) -> tuple[int, list[dict[str, Any]]]:
    base = sa.select(Conversation, Contact.id.label("lead_id"), Contact.display_name.label("lead_name"),
                     Contact.notes.label("lead_notes"), _PENDING.label("has_pending")) \
        .outerjoin(Contact, Contact.id == Conversation.contact_id).where(*_filters(query))
    total = conn.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()
    column = _SORT[query.sort_by]
    order = column.asc().nulls_last() if query.sort_order == "asc" else column.desc().nulls_last()
    rows = conn.execute(base.order_by(order, Conversation.id.desc())
                        .offset((query.page - 1) * query.page_size).limit(query.page_size)).all()
    emails = _lead_email(conn, {r.lead_id for r in rows if r.lead_id})
    items = []
    for r in rows:
        lead = {"id": r.lead_id, "name": r.lead_name, "email": emails.get(r.lead_id), "title": r.lead_notes or None} \
            if r.lead_id else None
        items.append(conversation_view(r, lead, bool(r.has_pending)))
    return total, items


def thread(conn: sa.Connection, conversation_id: int, owner: dict[str, Any]) -> dict[str, Any] | None:
    row = conn.execute(sa.select(Conversation).where(Conversation.id == conversation_id)).first()
    if row is None:
        return None
    contact = conn.execute(sa.select(Contact).where(Contact.id == row.contact_id)).first() if row.contact_id else None
    email = _lead_email(conn, {contact.id}).get(contact.id) if contact is not None else None
    lead = lead_view(contact, email)
    messages = conn.execute(sa.select(Message).where(Message.conversation_id == row.id, Message.deleted_at.is_(None))
                            .order_by(Message.sent_at, Message.id)).all()
    pending = conn.execute(sa.select(Suggestion).where(Suggestion.conversation_id == row.id,
                                                       Suggestion.status == SuggestionStatus.PENDING)
                           .order_by(Suggestion.id)).all()
    texts = {m.id: m.text for m in messages}
    contact_party = {"email": email, "name": contact.display_name if contact is not None else None}
    body = conversation_view(row, lead, bool(pending))
    body.update(updated_at=iso(row.updated_at), archived_at=iso(row.archived_at),
                messages=[message_view(m, owner, contact_party) for m in messages],
                pending_suggestions=[suggestion_view(s, texts.get(s.reply_to_message_id, "")) for s in pending])
    return body


def _count(conn: sa.Connection, model: Any, *where: Any) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(model).where(*where)).scalar_one()


def _avg_response_hours(conn: sa.Connection, since: datetime) -> float | None:
    """Mean time from an inbound message to the owner's next outbound one in the same conversation."""
    rows = conn.execute(sa.select(Message.conversation_id, Message.direction, Message.sent_at)
                        .where(Message.sent_at >= sa.literal(since, UTCDateTime()))
                        .order_by(Message.conversation_id, Message.sent_at)).all()
    waits, waiting_since, current = [], None, None
    for row in rows:
        if row.conversation_id != current:
            current, waiting_since = row.conversation_id, None
        if row.direction == "inbound" and waiting_since is None:
            waiting_since = row.sent_at
        elif row.direction == "outbound" and waiting_since is not None:
            waits.append((row.sent_at - waiting_since).total_seconds() / 3600)
            waiting_since = None
    return round(sum(waits) / len(waits), 2) if waits else None


def stats(conn: sa.Connection, now: datetime) -> dict[str, Any]:
    week = sa.literal(now - timedelta(days=7), UTCDateTime())
    by_status = dict(conn.execute(sa.select(Conversation.status, sa.func.count()).group_by(Conversation.status)).all())
    sent = _count(conn, Message, Message.direction == "outbound", Message.sent_at >= week)
    received = _count(conn, Message, Message.direction == "inbound", Message.sent_at >= week)
    generated = _count(conn, Suggestion, Suggestion.created_at >= week)
    approved = _count(conn, Suggestion, Suggestion.created_at >= week,
                      Suggestion.status.in_([SuggestionStatus.APPROVED, SuggestionStatus.SENT]))
    confidence = conn.execute(sa.select(sa.func.avg(Suggestion.confidence))
                              .where(Suggestion.created_at >= week)).scalar()
    return {
        "total_conversations": sum(by_status.values()), "active_conversations": by_status.get("active", 0),
        "needs_reply": by_status.get("needs_reply", 0), "waiting_for_response": by_status.get("waiting", 0),
        "archived_conversations": by_status.get("archived", 0), "emails_sent_week": sent,
        "emails_received_week": received, "response_rate_week": rate(received, sent),
        "avg_response_time_hours": _avg_response_hours(conn, now - timedelta(days=7)),
        "ai_suggestions_generated_week": generated, "ai_suggestions_approved_week": approved,
        "ai_approval_rate_week": rate(approved, generated),
        "avg_confidence_score": round(float(confidence), 3) if confidence is not None else None,
        # Replydesk sends no tracking pixels or tracked links: opens and clicks are not measured.
        "emails_opened_week": 0, "emails_clicked_week": 0, "open_rate_week": 0.0, "click_rate_week": 0.0,
    }
