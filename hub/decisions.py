"""The owner's decision on a draft, taken exactly once from any surface (API, inbox, Slack, Telegram).

Approving marks the draft approved, queues the reply in the outbox under the key
`suggestion:<id>` and records a training sample, all in one transaction. A second tap finds the
draft no longer pending and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from hub.outbox import enqueue_reply
from storage.db import Database
from storage.models import Conversation, ConversationStatus, Message, Suggestion, SuggestionStatus, TrainingSample

ACCEPT, EDIT, REJECT = "accept", "edit", "reject"


@dataclass(frozen=True)
class Decision:
    ok: bool
    suggestion: sa.Row | None
    outbox_id: int | None = None
    problem: str | None = None  # "not_found" or "already_<status>"


def _sample(conn: sa.Connection, suggestion: sa.Row, action: str, final: str | None, reason: str | None,
            device_id: str | None, now: datetime) -> None:
    inbound = conn.execute(sa.select(Message.text).where(Message.id == suggestion.reply_to_message_id)).scalar()
    conn.execute(sa.insert(TrainingSample).values(
        suggestion_id=suggestion.id, conversation_id=suggestion.conversation_id, device_id=device_id,
        action=action, input_text=inbound or "", original_output=suggestion.body, final_output=final,
        rejection_reason=reason, quality={ACCEPT: 1.0, EDIT: 0.8, REJECT: 0.0}[action], created_at=now))


def decide(conn: sa.Connection, db: Database, suggestion_id: int, action: str, *, now: datetime,
           edited_body: str | None = None, edited_subject: str | None = None, reason: str | None = None,
           via: str = "api", device_id: str | None = None) -> Decision:
    """One unit of work. The UPDATE … WHERE status = 'pending' is the once-only guard."""
    suggestion = conn.execute(sa.select(Suggestion).where(Suggestion.id == suggestion_id)).first()
    if suggestion is None:
        return Decision(False, None, problem="not_found")
    approve = action in (ACCEPT, EDIT)
    values = ({"status": SuggestionStatus.APPROVED, "approved_at": now, "edited_body": edited_body}
              if approve else {"status": SuggestionStatus.REJECTED, "rejected_at": now, "rejection_reason": reason})
    claimed = conn.execute(sa.update(Suggestion).where(Suggestion.id == suggestion_id,
                                                       Suggestion.status == SuggestionStatus.PENDING)
                           .values(decided_via=via, **values))
    if claimed.rowcount != 1:  # someone decided first: report the state they left it in
        current = conn.execute(sa.select(Suggestion).where(Suggestion.id == suggestion_id)).one()
        return Decision(False, current, problem=f"already_{current.status}")
    final = edited_body if action == EDIT and edited_body else suggestion.body
    _sample(conn, suggestion, action, final if approve else None, reason, device_id, now)
    outbox_id = None
    if approve:
        outbox_id = enqueue_reply(db, conn, conversation_id=suggestion.conversation_id, body=final,
                                  subject=edited_subject or suggestion.subject,
                                  idempotency_key=f"suggestion:{suggestion.id}", suggestion_id=suggestion.id,
                                  now=now)
        conn.execute(sa.update(Conversation).where(Conversation.id == suggestion.conversation_id)
                     .values(status=ConversationStatus.WAITING, updated_at=now))
    updated = conn.execute(sa.select(Suggestion).where(Suggestion.id == suggestion_id)).one()
    return Decision(True, updated, outbox_id)
