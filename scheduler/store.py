"""Follow-ups as the owner sees them (REST API and CLI): the nudges with their reasons, the owner's
and each contact's settings, and cancelling a nudge by hand. Plain functions over a connection.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from scheduler.planning import ACTIVE, load_policies
from scheduler.policy import OVERRIDABLE
from storage.db import Database
from storage.ids import id_or_uid
from storage.models import Contact, Conversation, Suggestion
from storage.scheduling_models import (OWNER_SCOPE, FollowUp, FollowUpScan, FollowUpSettingsRow, contact_scope,
                                       FollowUpStatus as S)

STATUSES = tuple(s.value for s in S)
_CAMEL = {"enabled": "enabled", "timezone": "timezone", "quiet_start": "quietStart", "quiet_end": "quietEnd",
          "max_nudges": "maxNudges", "waiting_hours": "waitingHours", "agreed_hours": "agreedHours",
          "rules": "rules", "auto_send": "autoSend"}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _listing() -> sa.Select:
    return (sa.select(FollowUp, Conversation.uid.label("conversation_uid"), Conversation.channel,
                      Contact.uid.label("contact_uid"),
                      sa.func.coalesce(Contact.display_name, Conversation.display_name).label("contact_name"),
                      Suggestion.uid.label("suggestion_uid"), Suggestion.status.label("suggestion_status"))
            .join(Conversation, Conversation.id == FollowUp.conversation_id)
            .outerjoin(Contact, Contact.id == FollowUp.contact_id)
            .outerjoin(Suggestion, Suggestion.id == FollowUp.suggestion_id))


def list_followups(conn: sa.Connection, *, statuses: tuple[str, ...] = tuple(ACTIVE),
                   conversation_id: int | None = None, contact_id: int | None = None,
                   offset: int = 0, limit: int = 50) -> tuple[int, list[sa.Row]]:
    """Nudges in these states, the soonest first; (total, page)."""
    where = [FollowUp.status.in_(statuses)]
    if conversation_id is not None:
        where.append(FollowUp.conversation_id == conversation_id)
    if contact_id is not None:
        where.append(FollowUp.contact_id == contact_id)
    total = conn.execute(sa.select(sa.func.count()).select_from(FollowUp).where(*where)).scalar_one()
    rows = conn.execute(_listing().where(*where).order_by(FollowUp.fire_at, FollowUp.id)
                        .offset(offset).limit(limit)).all()
    return total, rows


def followup_view(row: sa.Row) -> dict[str, Any]:
    return {
        "id": row.uid, "conversationId": row.conversation_uid, "channel": row.channel,
        "contact": {"id": row.contact_uid, "displayName": row.contact_name or ""} if row.contact_uid else None,
        "rule": row.rule, "status": row.status, "reason": row.reason, "note": row.note, "cause": row.cause,
        "dueAt": _iso(row.due_at), "fireAt": _iso(row.fire_at), "firedAt": _iso(row.fired_at),
        "suggestion": {"id": row.suggestion_uid, "status": row.suggestion_status} if row.suggestion_uid else None,
        "autoSent": row.outbox_id is not None, "detail": row.detail or {},
        "createdAt": _iso(row.created_at), "updatedAt": _iso(row.updated_at),
    }


def find_contact(conn: sa.Connection, key: str) -> sa.Row | None:
    """By numeric id or uid."""
    return conn.execute(sa.select(Contact.id, Contact.uid, Contact.display_name)
                        .where(id_or_uid(Contact.id, Contact.uid, key))).first()


def find_conversation_id(conn: sa.Connection, key: str) -> int | None:
    return conn.execute(sa.select(Conversation.id).where(id_or_uid(Conversation.id, Conversation.uid, key))).scalar()


def _overrides(row: sa.Row | None, contact: bool) -> dict[str, Any]:
    if row is None:
        return {}
    names = OVERRIDABLE + (("auto_send",) if contact else ())
    return {_CAMEL[n]: getattr(row, n) for n in names if getattr(row, n) is not None}


def read_settings(conn: sa.Connection, contact_id: int | None, owner_timezone: str) -> dict[str, Any]:
    """What applies (`effective`) and what this scope sets itself (`overrides`; the rest inherits)."""
    scope = OWNER_SCOPE if contact_id is None else contact_scope(contact_id)
    row = conn.execute(sa.select(FollowUpSettingsRow).where(FollowUpSettingsRow.scope == scope)).first()
    policy = load_policies(conn, {contact_id}, owner_timezone)[contact_id]
    return {"scope": "owner" if contact_id is None else "contact", "effective": policy.to_dict(),
            "overrides": _overrides(row, contact_id is not None), "updatedAt": _iso(row.updated_at if row else None)}


def save_settings(conn: sa.Connection, db: Database, contact_id: int | None, changes: dict[str, Any],
                  now: datetime) -> None:
    """Set (or, with None, clear) some overrides of one scope; its conversations are planned again."""
    scope = OWNER_SCOPE if contact_id is None else contact_scope(contact_id)
    conn.execute(db.insert_ignore(FollowUpSettingsRow).values(scope=scope, contact_id=contact_id, updated_at=now))
    conn.execute(sa.update(FollowUpSettingsRow).where(FollowUpSettingsRow.scope == scope)
                 .values(updated_at=now, **changes))
    rescan = sa.delete(FollowUpScan)
    if contact_id is not None:
        rescan = rescan.where(FollowUpScan.conversation_id.in_(
            sa.select(Conversation.id).where(Conversation.contact_id == contact_id)))
    conn.execute(rescan)


def cancel_followup(conn: sa.Connection, key: str, now: datetime) -> sa.Row | None:
    """The owner cancels one nudge that has not fired yet; returns it as it now stands."""
    which = id_or_uid(FollowUp.id, FollowUp.uid, key)
    conn.execute(sa.update(FollowUp).where(which, FollowUp.status.in_(ACTIVE))
                 .values(status=S.CANCELLED, cause="owner_cancelled", note="cancelled by the owner", updated_at=now))
    return conn.execute(_listing().where(which)).first()
