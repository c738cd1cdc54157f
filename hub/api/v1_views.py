"""Seed 003 shapes: conversations, messages, suggestions and stats rendered from rows (pure)."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from hub.api.common import iso

_POSITIVE = {"positive", "excited"}
_NEGATIVE = {"frustrated", "angry", "sad", "concerned", "sarcastic"}
_URGENCY = {"urgent": "high", "time-sensitive": "medium", "routine": "low", "low": "low"}


def lead_view(contact: sa.Row | None, email: str | None) -> dict[str, Any] | None:
    if contact is None:
        return None
    return {"id": contact.id, "name": contact.display_name, "email": email, "title": contact.notes or None}


def conversation_view(row: sa.Row, lead: dict[str, Any] | None, has_pending: bool) -> dict[str, Any]:
    return {
        "id": row.id, "lead": lead, "subject": row.subject or row.display_name, "status": row.status,
        "message_count": row.message_count, "last_message_at": iso(row.last_message_at),
        "last_inbound_at": iso(row.last_inbound_at), "last_outbound_at": iso(row.last_outbound_at),
        "has_pending_suggestion": has_pending, "created_at": iso(row.created_at), "channel": row.channel,
    }


def _party(handle: str, name: str) -> dict[str, Any]:
    return {"email": handle.split(":", 1)[-1] if handle else None, "name": name or None}


def message_view(row: sa.Row, owner: dict[str, Any], contact: dict[str, Any]) -> dict[str, Any]:
    inbound = row.direction == "inbound"
    sender = _party(row.sender_handle, row.sender_name) if inbound else owner
    return {
        "id": row.id, "conversation_id": row.conversation_id, "direction": row.direction,
        "sender": sender, "recipient": owner if inbound else contact, "subject": row.subject or None,
        "body_text": row.text, "body_html": row.html, "sent_at": iso(row.sent_at), "read_at": iso(row.read_at),
        "is_read": row.is_read, "created_at": iso(row.created_at), "attachments": row.attachments or [],
    }


def questions_in(text: str) -> list[str]:
    return [q.strip() for q in re.findall(r"[^.!?\n]*\?", text or "") if len(q.strip()) > 1]


def sentiment_view(analysis: dict[str, Any] | None, inbound_text: str) -> dict[str, Any]:
    """The draft's reading of the message, from the stored triage and sales analysis."""
    triage = (analysis or {}).get("triage") or {}
    sales = (analysis or {}).get("sales") or {}
    tone = triage.get("emotional_tone")
    sentiment = "positive" if tone in _POSITIVE else "negative" if tone in _NEGATIVE else "neutral" if tone else None
    questions = questions_in(inbound_text)
    return {
        "sentiment": sentiment, "sentiment_confidence": triage.get("tone_confidence"),
        "intent": triage.get("intent") or sales.get("intent"), "intent_confidence": sales.get("confidence"),
        "engagement_score": round(min(1.0, len((inbound_text or "").split()) / 40 + 0.2 * len(questions)), 2),
        "key_topics": (analysis or {}).get("key_topics") or [], "questions_asked": questions,
        "urgency_level": _URGENCY.get(triage.get("priority")),
    }


def suggestion_view(row: sa.Row, inbound_text: str) -> dict[str, Any]:
    metadata = row.model_metadata or {}
    return {
        "id": row.id, "conversation_id": row.conversation_id, "reply_to_message_id": row.reply_to_message_id,
        "suggested_subject": row.subject or None, "suggested_body": row.body, "edited_body": row.edited_body,
        "confidence_score": row.confidence, "sentiment_analysis": sentiment_view(row.analysis, inbound_text),
        "context_used": row.context_used or [], "ai_reasoning": row.reasoning,
        "ai_metadata": {"provider": metadata.get("provider", "replydesk"), "model": metadata.get("model"),
                        "tokens_used": metadata.get("tokens_used"), "cost": metadata.get("cost", 0.0)},
        "status": row.status, "tone": row.tone, "created_at": iso(row.created_at),
        "approved_at": iso(row.approved_at), "rejected_at": iso(row.rejected_at), "sent_at": iso(row.sent_at),
        "user_rating": row.user_rating, "feedback_notes": row.feedback_notes,
    }


def rate(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0
