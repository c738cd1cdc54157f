"""The channel contract: normalised message types and the Protocol every adapter implements.

`channels/` never imports from `hub/`: the hub hands each adapter what it needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Awaitable, Callable, Mapping, Protocol, runtime_checkable

INBOUND = "inbound"
OUTBOUND = "outbound"


@dataclass(frozen=True)
class Handle:
    """One address of a person on one network, already normalised (see channels.handles)."""

    kind: str
    value: str


@dataclass(frozen=True)
class Attachment:
    kind: str  # photo, document, voice, sticker, location, file, ...
    name: str = ""
    mime_type: str = ""
    size: int | None = None
    url: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


TEXT_FIELDS = ("external_id", "thread_id", "text", "sender_name", "thread_name", "subject", "html")


@dataclass(frozen=True)
class InboundMessage:
    """A message observed on a channel: normally from a contact, `direction=outbound` when the
    owner wrote it elsewhere (their phone, their mail client) and the channel reports it."""

    channel: str
    external_id: str
    thread_id: str
    sender: Handle | None
    text: str
    sent_at: datetime
    direction: str = INBOUND
    sender_name: str = ""
    thread_name: str = ""
    subject: str = ""
    html: str | None = None
    is_group: bool = False
    participants: tuple[Handle, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    message_type: str = "text"
    reply_to_external_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.sent_at.tzinfo is None:
            raise ValueError("InboundMessage.sent_at must be timezone-aware")
        if self.direction not in (INBOUND, OUTBOUND):
            raise ValueError(f"unknown direction {self.direction!r}")
        for name in TEXT_FIELDS:  # NUL cannot be stored in a PostgreSQL text column
            value = getattr(self, name)
            if value and "\x00" in value:
                object.__setattr__(self, name, value.replace("\x00", ""))


@dataclass(frozen=True)
class MessageEdited:
    """The sender changed a message we stored (Telegram edited_message, Slack message_changed)."""

    channel: str
    external_id: str
    text: str
    edited_at: datetime
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MessageDeleted:
    channel: str
    external_id: str
    deleted_at: datetime
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeliveryUpdate:
    """A provider's status callback for a message we sent (Twilio status, BlueBubbles receipt)."""

    channel: str
    provider_message_id: str
    status: str  # queued, sent, delivered, read, failed, undelivered
    at: datetime
    error_code: str | None = None
    error_message: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OwnerAction:
    """The owner pressed a button or answered a card on an approval surface (Slack, Telegram)."""

    surface: str
    suggestion_id: int
    action: str  # approve, edit, reject, regenerate, reply
    actor: str
    text: str | None = None  # the edited text, the custom reply, or the rejection reason
    tone: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


ChannelEvent = InboundMessage | MessageEdited | MessageDeleted | DeliveryUpdate | OwnerAction


class WebhookRejected(Exception):
    """Verification failed: the hub answers `status` and stores nothing."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class ParsedWebhook:
    """What one verified webhook request carried, and what to answer the platform."""

    events: list[ChannelEvent]
    ack_status: int = 200
    ack_body: bytes | str | Mapping[str, Any] | None = None
    ack_content_type: str | None = None  # for a text body, e.g. "text/xml" for Twilio's TwiML


@dataclass(frozen=True)
class OutboundMessage:
    """A reply to deliver. `idempotency_key` is the outbox key: one key, one delivery."""

    channel: str
    thread_id: str
    text: str
    idempotency_key: str
    recipient: str = ""
    subject: str = ""
    html: str | None = None
    reply_to_external_id: str | None = None
    references: tuple[str, ...] = ()  # email threading: earlier Message-IDs of the thread
    automated: bool = False  # sent without the owner's explicit approval (a permitted follow-up)
    last_inbound_at: datetime | None = None  # when the contact last wrote (WhatsApp's 24-hour window)


@dataclass(frozen=True)
class SendResult:
    ok: bool
    provider_message_id: str | None = None
    error: str | None = None
    retryable: bool = False
    retry_after: float | None = None


@dataclass(frozen=True)
class ApprovalCard:
    """Everything an approval card shows; surfaces render it (pure) and post or edit it."""

    suggestion_id: int
    contact_name: str
    channel: str
    inbound_text: str
    draft: str
    signals: Mapping[str, Any] = field(default_factory=dict)  # triage, sales, risk, with evidence
    status: str = "pending"  # pending, sent, rejected, superseded, approved
    outcome: str = ""  # "Sent by Slack at 14:02", "Rejected: too formal"


@runtime_checkable
class Channel(Protocol):
    """What the hub needs of a channel. Verification and parsing are pure; send does I/O.

    `webhooks` maps each webhook path the channel serves to an endpoint name; the hub routes a
    request there, calls `verify` on the raw bytes, then `parse`, stores the events, then answers
    with the ParsedWebhook's ack. Channels that poll (IMAP, Telegram polling, BlueBubbles
    reconciliation) feed the same events through the `emit` callback given to `start`.
    """

    name: str
    webhooks: Mapping[str, str]

    def verify(self, endpoint: str, headers: Mapping[str, str], body: bytes, url: str) -> None: ...

    def parse(self, endpoint: str, headers: Mapping[str, str], body: bytes) -> ParsedWebhook: ...

    async def send(self, message: OutboundMessage) -> SendResult: ...

    async def start(self, emit: Callable[[list[ChannelEvent]], Awaitable[None]]) -> None: ...

    async def stop(self) -> None: ...


@runtime_checkable
class ApprovalSurface(Protocol):
    """A channel that can show the owner approval cards (Slack, Telegram)."""

    name: str

    async def post_card(self, card: ApprovalCard) -> str: ...  # returns the card's message reference

    async def update_card(self, reference: str, card: ApprovalCard) -> None: ...
