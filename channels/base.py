"""The channel contract: normalised message types and the Protocol every adapter implements.

`channels/` never imports from `hub/`: the hub hands each adapter what it needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Protocol, runtime_checkable

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


@dataclass(frozen=True)
class SendResult:
    ok: bool
    provider_message_id: str | None = None
    error: str | None = None
    retryable: bool = False
    retry_after: float | None = None


@runtime_checkable
class Channel(Protocol):
    """What the hub needs of a channel. Verification and parsing are pure; send does I/O."""

    name: str

    def verify(self, headers: Mapping[str, str], body: bytes, url: str) -> bool: ...

    def parse(self, body: bytes) -> list[InboundMessage]: ...

    async def send(self, message: OutboundMessage) -> SendResult: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...
