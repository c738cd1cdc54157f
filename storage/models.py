"""SQLModel tables: the one conversation model every channel is normalised into."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_uid() -> str:
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC on the way in and out, on SQLite (which drops the zone) too."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Replydesk stores timezone-aware UTC only")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def _when(nullable: bool = True, **kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, nullable=nullable, **kwargs)


def _json(nullable: bool = True) -> Any:
    return Field(default=None, sa_type=sa.JSON, nullable=nullable)


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class ConversationStatus(StrEnum):
    ACTIVE = "active"
    NEEDS_REPLY = "needs_reply"
    WAITING = "waiting"
    ARCHIVED = "archived"


class SuggestionStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SENT = "sent"
    SUPERSEDED = "superseded"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"


class Contact(SQLModel, table=True):
    __tablename__ = "contacts"
    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(default_factory=new_uid, unique=True, max_length=36)
    display_name: str = Field(default="", max_length=255)
    classification: str = Field(default="unknown", max_length=20)
    avatar_hash: str | None = Field(default=None, max_length=128)
    notes: str = ""
    created_at: datetime = _when(nullable=False, default_factory=utcnow)
    updated_at: datetime = _when(nullable=False, default_factory=utcnow)


class ContactHandle(SQLModel, table=True):
    """One address of a contact: a phone number (E.164), email, Apple ID, platform user id."""

    __tablename__ = "contact_handles"
    __table_args__ = (sa.UniqueConstraint("kind", "value", name="uq_handle_kind_value"),)
    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contacts.id", index=True)
    kind: str = Field(max_length=20)
    value: str = Field(max_length=320)
    created_at: datetime = _when(nullable=False, default_factory=utcnow)


class Conversation(SQLModel, table=True):
    __tablename__ = "conversations"
    __table_args__ = (sa.UniqueConstraint("channel", "external_id", name="uq_conversation_thread"),)
    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(default_factory=new_uid, unique=True, max_length=36)
    channel: str = Field(max_length=32)
    external_id: str = Field(max_length=512)
    contact_id: int | None = Field(default=None, foreign_key="contacts.id", index=True)
    device_id: str | None = Field(default=None, max_length=36, index=True)
    display_name: str = Field(default="", max_length=255)
    subject: str = Field(default="", max_length=998)
    is_group: bool = False
    participants: list[str] | None = _json()
    status: str = Field(default=ConversationStatus.ACTIVE, max_length=20, index=True)
    message_count: int = 0
    last_message_at: datetime | None = _when(index=True)
    last_inbound_at: datetime | None = _when()
    last_outbound_at: datetime | None = _when()
    archived_at: datetime | None = _when()
    archive_reason: str | None = None
    created_at: datetime = _when(nullable=False, default_factory=utcnow)
    updated_at: datetime = _when(nullable=False, default_factory=utcnow)


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        sa.UniqueConstraint("channel", "external_id", name="uq_message_platform_key"),
        sa.Index("ix_messages_conversation_sent", "conversation_id", "sent_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(default_factory=new_uid, unique=True, max_length=36)
    conversation_id: int = Field(foreign_key="conversations.id")
    channel: str = Field(max_length=32)
    external_id: str = Field(max_length=512)
    direction: str = Field(max_length=10)
    message_type: str = Field(default="text", max_length=32)
    contact_id: int | None = Field(default=None, foreign_key="contacts.id")
    sender_handle: str = Field(default="", max_length=320)
    sender_name: str = Field(default="", max_length=255)
    subject: str = Field(default="", max_length=998)
    text: str = ""
    html: str | None = None
    attachments: list[dict[str, Any]] | None = _json()
    sent_at: datetime = _when(nullable=False)
    reply_to_external_id: str | None = Field(default=None, max_length=512)
    is_read: bool = False
    read_at: datetime | None = _when()
    edited_at: datetime | None = _when()
    deleted_at: datetime | None = _when()
    analysis: dict[str, Any] | None = _json()
    raw: dict[str, Any] | None = _json()
    created_at: datetime = _when(nullable=False, default_factory=utcnow)


class Suggestion(SQLModel, table=True):
    """A draft reply awaiting the owner's decision."""

    __tablename__ = "suggestions"
    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(default_factory=new_uid, unique=True, max_length=36)
    conversation_id: int = Field(foreign_key="conversations.id", index=True)
    reply_to_message_id: int | None = Field(default=None, foreign_key="messages.id")
    kind: str = Field(default="reply", max_length=20)
    status: str = Field(default=SuggestionStatus.PENDING, max_length=20, index=True)
    subject: str = Field(default="", max_length=998)
    body: str = ""
    edited_body: str | None = None
    tone: str | None = Field(default=None, max_length=64)
    confidence: float | None = None
    analysis: dict[str, Any] | None = _json()
    context_used: list[str] | None = _json()
    reasoning: str = ""
    model_metadata: dict[str, Any] | None = _json()
    rejection_reason: str | None = None
    decided_via: str | None = Field(default=None, max_length=32)
    user_rating: int | None = None
    feedback_notes: str | None = None
    created_at: datetime = _when(nullable=False, default_factory=utcnow)
    approved_at: datetime | None = _when()
    rejected_at: datetime | None = _when()
    sent_at: datetime | None = _when()


class OutboxItem(SQLModel, table=True):
    """One reply to send, written in the same transaction as the decision to send it."""

    __tablename__ = "outbox"
    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(default_factory=new_uid, unique=True, max_length=36)
    idempotency_key: str = Field(unique=True, max_length=255)
    conversation_id: int = Field(foreign_key="conversations.id", index=True)
    suggestion_id: int | None = Field(default=None, foreign_key="suggestions.id")
    channel: str = Field(max_length=32)
    device_id: str | None = Field(default=None, max_length=36, index=True)
    recipient: str = Field(default="", max_length=512)
    subject: str = Field(default="", max_length=998)
    body: str = ""
    body_html: str | None = None
    status: str = Field(default=OutboxStatus.PENDING, max_length=20, index=True)
    attempts: int = 0
    next_attempt_at: datetime | None = _when()
    provider_message_id: str | None = Field(default=None, max_length=512)
    message_id: int | None = Field(default=None, foreign_key="messages.id")
    error: str | None = None
    created_at: datetime = _when(nullable=False, default_factory=utcnow)
    sent_at: datetime | None = _when()


class Device(SQLModel, table=True):
    """A paired companion (the Mac that syncs iMessage)."""

    __tablename__ = "devices"
    id: str = Field(default_factory=new_uid, primary_key=True, max_length=36)
    name: str = Field(max_length=255)
    hardware_id: str = Field(max_length=255, index=True)
    platform: str = Field(max_length=32)
    os_version: str = Field(default="", max_length=64)
    code_hash: str | None = Field(default=None, max_length=128)
    code_expires_at: datetime | None = _when()
    verified_at: datetime | None = _when()
    is_active: bool = True
    last_seen_at: datetime | None = _when()
    last_synced_at: datetime | None = _when()
    created_at: datetime = _when(nullable=False, default_factory=utcnow)
    deactivated_at: datetime | None = _when()


class VerifyAttempt(SQLModel, table=True):
    """A failed pairing-code attempt, counted per device and per client address."""

    __tablename__ = "verify_attempts"
    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(max_length=36, index=True)
    client_addr: str = Field(max_length=64, index=True)
    attempted_at: datetime = _when(nullable=False, default_factory=utcnow, index=True)


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=255)
    prefix: str = Field(max_length=16)
    key_hash: str = Field(unique=True, max_length=128)
    created_at: datetime = _when(nullable=False, default_factory=utcnow)
    last_used_at: datetime | None = _when()
    revoked_at: datetime | None = _when()


class Job(SQLModel, table=True):
    """A durable unit of background work; claimed with a lease, retried, then dead-lettered."""

    __tablename__ = "jobs"
    __table_args__ = (sa.Index("ix_jobs_claim", "status", "run_at"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=64)
    payload: dict[str, Any] | None = _json()
    dedup_key: str | None = Field(default=None, unique=True, max_length=255)
    status: str = Field(default=JobStatus.QUEUED, max_length=10)
    attempts: int = 0
    max_attempts: int = 5
    run_at: datetime = _when(nullable=False, default_factory=utcnow)
    locked_until: datetime | None = _when()
    locked_by: str | None = Field(default=None, max_length=64)
    last_error: str | None = None
    result: dict[str, Any] | None = _json()
    created_at: datetime = _when(nullable=False, default_factory=utcnow)
    finished_at: datetime | None = _when()


class TrainingSample(SQLModel, table=True):
    """What the owner did with a draft: accepted, edited (with the edit) or rejected (why)."""

    __tablename__ = "training_samples"
    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(default_factory=new_uid, unique=True, max_length=36)
    suggestion_id: int | None = Field(default=None, foreign_key="suggestions.id", index=True)
    conversation_id: int | None = Field(default=None, foreign_key="conversations.id")
    device_id: str | None = Field(default=None, max_length=36)
    action: str = Field(max_length=16)
    input_text: str = ""
    original_output: str = ""
    final_output: str | None = None
    rejection_reason: str | None = None
    quality: float = 1.0
    created_at: datetime = _when(nullable=False, default_factory=utcnow)


class StyleProfileRow(SQLModel, table=True):
    """A learned writing style: per owner and contact ("" = overall), or a persona preset."""

    __tablename__ = "style_profiles"
    __table_args__ = (sa.UniqueConstraint("kind", "owner_id", "contact_id", name="uq_style_scope"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # "style" or "persona"
    owner_id: str = Field(max_length=255)
    contact_id: str = Field(default="", max_length=255)
    profile: dict[str, Any] | None = _json()
    samples: list[dict[str, Any]] | None = _json()
    samples_count: int = 0
    updated_at: datetime = _when(nullable=False, default_factory=utcnow)


class SuggestionRequest(SQLModel, table=True):
    """Themed reply options generated for /suggestions, served in pages (/suggestions/more)."""

    __tablename__ = "suggestion_requests"
    id: str = Field(default_factory=new_uid, primary_key=True, max_length=36)
    kind: str = Field(default="suggestions", max_length=16)
    conversation_id: str = Field(default="", max_length=255)
    options: list[dict[str, Any]] | None = _json()
    served: int = 0
    created_at: datetime = _when(nullable=False, default_factory=utcnow)


class LabelCorrection(SQLModel, table=True):
    """The owner's correction of a classifier's label: a training sample for the next model."""

    __tablename__ = "label_corrections"
    id: int | None = Field(default=None, primary_key=True)
    task: str = Field(max_length=32, index=True)  # priority, intent, sales_intent, ...
    text: str
    label: str = Field(max_length=64)
    message_id: int | None = Field(default=None, foreign_key="messages.id")
    lang: str | None = Field(default=None, max_length=8)
    created_at: datetime = _when(nullable=False, default_factory=utcnow)


class ApprovalCardRow(SQLModel, table=True):
    """Where a suggestion's approval card was posted, so it can be edited with the outcome."""

    __tablename__ = "approval_cards"
    __table_args__ = (sa.UniqueConstraint("suggestion_id", "surface", name="uq_card_surface"),)
    id: int | None = Field(default=None, primary_key=True)
    suggestion_id: int = Field(foreign_key="suggestions.id", index=True)
    surface: str = Field(max_length=32)
    reference: str = Field(default="", max_length=512)  # chat/channel id and message id, as the surface needs
    status: str = Field(default="pending", max_length=20)
    created_at: datetime = _when(nullable=False, default_factory=utcnow)
    updated_at: datetime = _when(nullable=False, default_factory=utcnow)


class ChannelState(SQLModel, table=True):
    """Durable per-channel cursors: IMAP (mailbox, UIDVALIDITY, last UID), polling offsets, …"""

    __tablename__ = "channel_state"
    __table_args__ = (sa.UniqueConstraint("channel", "key", name="uq_channel_state"),)
    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=32)
    key: str = Field(max_length=255)
    value: dict[str, Any] | None = _json()
    updated_at: datetime = _when(nullable=False, default_factory=utcnow)


class AssistantThread(SQLModel, table=True):
    """A conversation with the owner's own assistant (seed 002 /prompt, seed 004 ask)."""

    __tablename__ = "assistant_threads"
    id: str = Field(default_factory=new_uid, primary_key=True, max_length=64)
    kind: str = Field(default="prompt", max_length=16)
    assistant_id: str | None = Field(default=None, max_length=64, index=True)
    messages: list[dict[str, Any]] | None = _json()
    metadata_: dict[str, Any] | None = Field(default=None, sa_column=sa.Column("metadata", sa.JSON))
    created_at: datetime = _when(nullable=False, default_factory=utcnow)
    updated_at: datetime = _when(nullable=False, default_factory=utcnow)


class Assistant(SQLModel, table=True):
    """A configured assistant (seed 004): instructions and the knowledge folders it may use."""

    __tablename__ = "assistants"
    id: str = Field(default_factory=new_uid, primary_key=True, max_length=64)
    name: str = Field(max_length=255)
    instructions: str = ""
    folder_ids: list[str] | None = _json()
    created_at: datetime = _when(nullable=False, default_factory=utcnow)
    updated_at: datetime = _when(nullable=False, default_factory=utcnow)


class KnowledgeFolder(SQLModel, table=True):
    __tablename__ = "knowledge_folders"
    id: str = Field(default_factory=new_uid, primary_key=True, max_length=64)
    name: str = Field(max_length=255)
    created_at: datetime = _when(nullable=False, default_factory=utcnow)


class KnowledgeDocument(SQLModel, table=True):
    """An uploaded document; its chunks live in the vector store with their folder id."""

    __tablename__ = "knowledge_documents"
    id: str = Field(default_factory=new_uid, primary_key=True, max_length=64)
    folder_id: str = Field(foreign_key="knowledge_folders.id", index=True, max_length=64)
    filename: str = Field(max_length=512)
    mime_type: str = Field(default="", max_length=128)
    size: int = 0
    chunks: int = 0
    sha256: str = Field(default="", max_length=64)
    created_at: datetime = _when(nullable=False, default_factory=utcnow)


# Tables kept in their own modules; imported here so SQLModel.metadata (and Alembic) sees them.
from storage import scheduling_models, training_models  # noqa: E402,F401
