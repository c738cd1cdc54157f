"""Tables of the follow-up scheduler: planned nudges, per-owner and per-contact settings, scan marks,
and APScheduler's own job store (declared here so migrations create it and autogenerate keeps it).

`storage/models.py` imports this module at its end, so Alembic sees these tables on SQLModel.metadata.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.models import UTCDateTime, new_uid, utcnow

APSCHEDULER_TABLE = "apscheduler_jobs"
OWNER_SCOPE = "owner"


def contact_scope(contact_id: int) -> str:
    """The `followup_settings.scope` of one contact's overrides."""
    return f"contact:{contact_id}"


def _when(nullable: bool = True, **kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, nullable=nullable, **kwargs)


class FollowUpStatus(StrEnum):
    PLANNED = "planned"  # waiting for its fire time
    QUEUED = "queued"  # a `followup.fire` hub job is drafting it
    HELD = "held"  # could not be sent as is (WhatsApp window without a template): `note` says why
    FIRED = "fired"  # drafted: `suggestion_id` is the follow-up suggestion
    CANCELLED = "cancelled"  # the contact wrote, the owner cancelled, or the rule no longer applies
    SKIPPED = "skipped"  # max nudges reached, another nudge already went out, or far too late


class FollowUp(SQLModel, table=True):
    """One planned nudge, unique per (conversation, rule, due time): the idempotency key of firing."""

    __tablename__ = "followups"
    __table_args__ = (sa.UniqueConstraint("conversation_id", "rule", "due_at", name="uq_followup_key"),
                      sa.Index("ix_followups_status_fire", "status", "fire_at"))
    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(default_factory=new_uid, unique=True, max_length=36)
    conversation_id: int = Field(foreign_key="conversations.id", index=True)
    contact_id: int | None = Field(default=None, foreign_key="contacts.id")
    rule: str = Field(max_length=32)  # waiting, price_agreed, contact_deferred
    due_at: datetime = _when(nullable=False)  # when the rule says so
    fire_at: datetime = _when(nullable=False)  # due_at moved out of the contact's quiet hours
    basis_at: datetime = _when(nullable=False)  # a message from the contact after this cancels it
    status: str = Field(default=FollowUpStatus.PLANNED, max_length=16)
    cause: str | None = Field(default=None, max_length=32)  # why it was held, cancelled or skipped
    reason: str = ""  # why it was planned, for the owner
    instruction: str = ""  # what the drafting model is asked to write (never the contact's raw text)
    note: str = ""  # the latest thing that happened to it (moved, held, cancelled, …)
    detail: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON, nullable=True)
    suggestion_id: int | None = Field(default=None, foreign_key="suggestions.id")
    outbox_id: int | None = Field(default=None, foreign_key="outbox.id")
    created_at: datetime = _when(nullable=False, default_factory=utcnow)
    updated_at: datetime = _when(nullable=False, default_factory=utcnow)
    fired_at: datetime | None = _when()


class FollowUpSettingsRow(SQLModel, table=True):
    """Overrides of the follow-up defaults: scope "owner" for the owner's own defaults, or
    "contact:<id>" for one contact. NULL means "inherit"."""

    __tablename__ = "followup_settings"
    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(unique=True, max_length=64)
    contact_id: int | None = Field(default=None, foreign_key="contacts.id", index=True)
    enabled: bool | None = None
    timezone: str | None = Field(default=None, max_length=64)  # IANA zone, e.g. Europe/Lisbon
    quiet_start: str | None = Field(default=None, max_length=5)  # "HH:MM" local
    quiet_end: str | None = Field(default=None, max_length=5)
    max_nudges: int | None = None
    waiting_hours: float | None = None
    agreed_hours: float | None = None
    rules: list[str] | None = Field(default=None, sa_type=sa.JSON, nullable=True)
    auto_send: bool | None = None  # contact scope only: send without approval
    updated_at: datetime = _when(nullable=False, default_factory=utcnow)


class FollowUpScan(SQLModel, table=True):
    """The conversation state last planned from: a conversation is planned again only once its
    `last_message_at` moved past `message_at`, or its settings changed (the row is deleted)."""

    __tablename__ = "followup_scans"
    conversation_id: int = Field(foreign_key="conversations.id", primary_key=True)
    message_at: datetime | None = _when()
    scanned_at: datetime = _when(nullable=False, default_factory=utcnow)


# APScheduler 3.x's SQLAlchemyJobStore table, exactly as it declares it (it creates it only if missing).
apscheduler_jobs = sa.Table(
    APSCHEDULER_TABLE, SQLModel.metadata,
    sa.Column("id", sa.Unicode(191), primary_key=True),
    sa.Column("next_run_time", sa.Float(25), index=True),
    sa.Column("job_state", sa.LargeBinary, nullable=False),
)
