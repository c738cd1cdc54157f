"""Response models for /openapi.json: the error envelope of each API family, the hub's own routes,
the seed 000 server API and seeds 002 and 003. Each mirrors a view function of a route module
(named in its docstring); `extra="forbid"` makes a field the view adds without documenting it a
schemathesis failure. The ML API and seed 004 shapes are in hub/openapi_models_ml.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class View(BaseModel):
    """A documented JSON object: every field listed, none other allowed."""

    model_config = ConfigDict(extra="forbid")


def _drop_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def absent(**constraints: Any) -> Any:
    """A key the view leaves out when it has nothing to say (not required, never null)."""
    return Field(default=None, json_schema_extra=_drop_default, **constraints)


# ---------------------------------------------------------------- error envelopes (hub/errors.py)

class Seed000Error(View):
    """Seed 000 (and the hub's own routes): `{statusCode, message, error}`."""

    statusCode: int
    message: str
    error: str


class DetailError(View):
    """Seeds 002 and 003: `{detail}`."""

    detail: str


class ValidationErrorItem(View):
    loc: list[str | int]
    msg: str
    type: str


class HTTPValidationError(View):
    """Seeds 002 and 003, FastAPI's 422: `{detail: [{loc, msg, type}]}`."""

    detail: list[ValidationErrorItem]


class Seed003ServerError(View):
    """Seed 003's 500: `{error, message, timestamp, request_id}`."""

    error: str
    message: str
    timestamp: datetime
    request_id: str


class Seed004Issue(View):
    field: str
    message: str


class Seed004Error(View):
    """Seed 004: `{success: false, error}`, with `issues` on a 400, `retry_after` on a 429 (and a busy
    503), `assistant_id` on the ask route's 404."""

    success: Literal[False]
    error: str
    issues: list[Seed004Issue] = absent()
    retry_after: int = absent(ge=0)
    assistant_id: str = absent()


class WebhookError(View):
    """Channel webhooks: `{error}`."""

    error: str


# ---------------------------------------------------------------- the hub (hub/api/health.py)

class Health(View):
    status: Literal["healthy", "unhealthy"]
    model_loaded: bool
    model_version: str | None
    database_connected: bool
    queue_length: int = Field(ge=0)


# ---------------------------------------------------------------- seed 000 devices (hub/api/devices.py)

class DeviceRegistered(View):
    deviceId: str
    code: str = Field(pattern=r"^\d{6}$")
    expiresAt: datetime


class DeviceToken(View):
    token: str
    expiresAt: datetime


class DeviceView(View):
    """devices.device_view."""

    id: str
    name: str
    hardwareId: str
    platform: str
    osVersion: str
    isActive: bool
    isVerified: bool
    verifiedAt: datetime | None
    lastSeenAt: datetime | None
    lastSyncedAt: datetime | None
    createdAt: datetime
    deactivatedAt: datetime | None


class DeviceList(View):
    devices: list[DeviceView]


class DeviceDeactivated(View):
    device: DeviceView
    deactivatedBy: Literal["api_key", "device"]


# ---------------------------------------------------------------- seed 000 sync (sync.py, device_outbox.py)

class MessagesSynced(View):
    conversationId: str
    received: int
    stored: int
    duplicates: int
    cursor: datetime | None
    messageIds: dict[str, str] = Field(description="iMessage guid → stored message id, for the new messages")


class ContactsSynced(View):
    received: int
    created: int
    updated: int
    skipped: int


class OutboxItemView(View):
    """device_outbox._item_view."""

    id: str
    conversationImessageId: str
    text: str
    attempt: int
    createdAt: datetime


class OutboxPoll(View):
    messages: list[OutboxItemView]


class OutboxAcked(View):
    id: str
    status: Literal["sent", "failed"]
    duplicate: bool


# ---------------------------------------------------------------- seed 000 conversations, responses

class ContactRef(View):
    id: str
    displayName: str | None


class ConversationView(View):
    """conversations.conversation_view."""

    id: str
    channel: str
    externalId: str
    displayName: str
    subject: str
    isGroup: bool
    participantIds: list[Any]
    status: str
    messageCount: int
    lastMessageAt: datetime | None
    lastInboundAt: datetime | None
    lastOutboundAt: datetime | None
    contact: ContactRef | None
    createdAt: datetime
    updatedAt: datetime


class ConversationPage(View):
    conversations: list[ConversationView]
    total: int
    page: int
    pageSize: int


class MessageView(View):
    """conversations.message_view."""

    id: str
    conversationId: str
    externalId: str
    imessageGuid: str | None
    channel: str
    direction: Literal["incoming", "outgoing"]
    messageType: str
    senderId: str | None
    senderName: str
    text: str
    subject: str | None
    attachments: list[dict[str, Any]]
    sentAt: datetime
    replyToId: str | None
    editedAt: datetime | None
    analysis: dict[str, Any] | None
    createdAt: datetime


class MessagePage(View):
    messages: list[MessageView]
    total: int
    page: int
    pageSize: int


class ResponseGenerated(View):
    responseId: str
    status: Literal["completed"]
    response: str
    confidence: float | None
    modelVersion: str | None
    tokensUsed: int | None


class ResponseDecided(View):
    responseId: str
    action: Literal["accept", "edit", "reject"]
    status: str
    response: str
    sent: bool
    trainingSampleRecorded: bool


# ---------------------------------------------------------------- seed 002 (hub/api/assistant.py)

class ToolFunction(View):
    name: str
    arguments: str = Field(description="The call's arguments as a JSON text")


class ToolCall(View):
    id: str
    function: ToolFunction
    type: Literal["function"]


class AssistantTurn(View):
    """One message of a thread: system, user, assistant (perhaps calling a tool) or a tool result."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str
    tool_calls: list[ToolCall] = absent()
    name: str = absent()
    tool_call_id: str = absent()


class PromptAnswer(View):
    conversation_id: str
    new_messages: list[AssistantTurn]


class AssistantConversation(View):
    conversation_id: str
    messages: list[AssistantTurn]
