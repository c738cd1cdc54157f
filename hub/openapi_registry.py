"""The registry /openapi.json is built from: one `Op` per route of the hub, the seed 000 server API
and seeds 002, 003 and 004 (the ML API is in hub/openapi_registry_ml.py, training and follow-ups in
hub/openapi_registry_jobs.py; webhooks are derived from the enabled channels). Request models are the route modules' own, imported, never copied.

A route added without an entry here is listed by `hub.openapi.undocumented_routes` and fails
tests/hub/api/test_spec.py. `brain` marks a route that calls a model once its input is valid.
"""

from __future__ import annotations

from collections.abc import Iterable

from hub.api.ai_hub import AskBody
from hub.api.ai_hub_setup import AssistantBody, FolderBody, TextDocument
from hub.api.assistant import PromptQuery
from hub.api.common import PageQuery
from hub.api.conversations import MessagesQuery
from hub.api.device_outbox import OutboxAck, OutboxQuery
from hub.api.devices import RegisterDevice, VerifyDevice
from hub.api.responses import GenerateResponse, ResponseAction
from hub.api.sync import SyncContacts, SyncMessages
from hub.api.v1_conversations import IDEMPOTENCY_KEY_MAX, ApproveBody, ArchiveBody, ListQuery, RegenerateBody, RejectBody, ReplyBody
from hub.openapi import Op, Reply, json_reply
from hub.openapi_models import (AssistantConversation, ContactsSynced, ConversationPage, DeviceDeactivated, DeviceList,
                                DeviceRegistered, DeviceToken, Health, MessagePage, MessagesSynced, OutboxAcked,
                                OutboxPoll, PromptAnswer, ResponseDecided, ResponseGenerated)
from hub.openapi_models_v1 import (AiSuggestion, AskAnswer, AskEvent, AssistantEnvelope, AssistantList, ConversationArchived,
                                   Deleted, DocumentEnvelope, DocumentList, FolderEnvelope, FolderList,
                                   LeadConversationPage, LeadStats, LeadThread, ReplySent, SuggestionRejected)
from hub.openapi_registry_jobs import JOB_OPERATIONS
from hub.openapi_registry_ml import ML_OPERATIONS
from storage.ids import ROW_ID_MAX

HUB, SERVER = "Hub", "Server API (seed 000)"
ASSISTANT, LEADS, AI_HUB, WEBHOOKS = ("Assistant (seed 002)", "Lead conversations (seed 003)", "AI hub (seed 004)",
                                      "Webhooks")
V1 = "/api/v1/conversations"
V1_ID = {"id": {"type": "integer", "minimum": 0, "maximum": ROW_ID_MAX, "description": "The conversation id"}}
UPLOAD = {"type": "object", "required": ["file"],
          "properties": {"file": {"type": "string", "format": "binary",
                                  "description": "A text, Markdown or PDF file"}}}
ASSET_TYPES = ("text/html", "text/javascript", "text/css", "image/svg+xml")

HUB_OPERATIONS = (
    Op("GET", "/health", "Health of the database, the model and the queue", HUB, auth="public",
       ok={200: Health, 503: json_reply(Health, "The database is unreachable")}),
    Op("GET", "/ws", "Event stream (WebSocket)", HUB, errors=(400,),
       ok={101: Reply(description="Switching to a WebSocket of JSON events")},
       description="Events `conversation:new_reply`, `conversation:ai_ready`, `conversation:sent`, "
                   "`conversation:error`; send `ping` for `{\"type\": \"pong\"}`. Browsers may pass the "
                   "credential as `?token=`. A plain GET (no upgrade) is a 400."),
    Op("GET", "/openapi.json", "This document (OpenAPI 3.1)", HUB, auth="public",
       ok={200: json_reply({"type": "object"}, "The OpenAPI document")}),
    Op("GET", "/docs", "This document as a page", HUB, auth="public",
       ok={200: Reply({"text/html": {"type": "string"}}, "An HTML page rendering /openapi.json")}),
    Op("GET", "/", "The web inbox (it asks for the API key itself)", HUB, auth="public",
       ok={200: Reply({"text/html": {"type": "string"}}, "The inbox page"), 304: Reply(description="Not modified")}),
    Op("GET", "/static/{name}", "An asset of the web inbox", HUB, auth="public",
       ok={200: Reply({kind: {"type": "string"} for kind in ASSET_TYPES}, "The file"),
           304: Reply(description="Not modified")}),
)

SERVER_OPERATIONS = (
    Op("POST", "/api/devices/register", "Register a device: a 6-digit pairing code", SERVER, auth="optional",
       body=RegisterDevice, ok={201: DeviceRegistered}, errors=(403,),
       description="Public from this machine; from another one it needs an API key unless "
                   "`devices.open_registration` is set."),
    Op("POST", "/api/devices/verify", "Verify a pairing code for a device token (JWT)", SERVER, auth="public",
       body=VerifyDevice, ok={200: DeviceToken}, errors=(401, 429)),
    Op("GET", "/api/devices", "List devices", SERVER, ok={200: DeviceList}),
    Op("POST", "/api/devices/{id}/deactivate", "Deactivate a device", SERVER, ok={200: DeviceDeactivated}),
    Op("POST", "/api/sync/messages", "Sync iMessage messages of one conversation", SERVER, body=SyncMessages,
       ok={200: MessagesSynced}, slow=True),
    Op("POST", "/api/sync/contacts", "Sync contacts", SERVER, body=SyncContacts, ok={200: ContactsSynced},
       slow=True),
    Op("GET", "/api/sync/outbox", "Poll the device outbox for approved replies", SERVER, auth="device",
       query=OutboxQuery, ok={200: OutboxPoll}),
    Op("POST", "/api/sync/outbox/{id}/ack", "Acknowledge an outbox item as sent or failed", SERVER, auth="device",
       body=OutboxAck, ok={200: OutboxAcked}, errors=(409,)),
    Op("GET", "/api/conversations", "List conversations", SERVER, query=PageQuery, ok={200: ConversationPage}),
    Op("GET", "/api/conversations/{id}/messages", "Messages of a conversation", SERVER, query=MessagesQuery,
       ok={200: MessagePage}, params={"id": {"type": "string", "description": "Numeric id or uid"}}),
    Op("POST", "/api/responses/generate", "Draft a reply to a stored message", SERVER, body=GenerateResponse,
       ok={200: ResponseGenerated}, errors=(404, 503), brain="llm"),
    Op("POST", "/api/responses/{id}/action", "Accept, edit or reject a drafted reply", SERVER, body=ResponseAction,
       ok={200: ResponseDecided}, errors=(409,)),
)

ASSISTANT_OPERATIONS = (
    Op("POST", "/prompt", "Create or continue an assistant thread", ASSISTANT, query=PromptQuery,
       ok={200: PromptAnswer}, errors=(404, 503), brain="llm",
       description="Returns only the messages this turn added, tool calls and tool results included."),
    Op("GET", "/conversation/{conversation_id}", "A whole assistant thread, system prompt first", ASSISTANT,
       ok={200: AssistantConversation}),
)

LEAD_OPERATIONS = (
    Op("GET", V1, "List conversations", LEADS, query=ListQuery, ok={200: LeadConversationPage}),
    Op("GET", V1 + "/stats", "The last seven days in numbers", LEADS, ok={200: LeadStats}),
    Op("GET", V1 + "/{id}", "A conversation with its messages and pending suggestions", LEADS, params=V1_ID,
       ok={200: LeadThread}),
    Op("GET", V1 + "/{id}/ai-suggestion", "The current AI suggestion", LEADS, params=V1_ID, ok={200: AiSuggestion}),
    Op("POST", V1 + "/{id}/approve", "Approve a suggestion (with edits) and send it", LEADS, params=V1_ID,
       body=ApproveBody, ok={200: ReplySent}, errors=(400, 500)),
    Op("POST", V1 + "/{id}/reject", "Reject a suggestion", LEADS, params=V1_ID, body=RejectBody,
       ok={200: SuggestionRejected}, errors=(400,)),
    Op("POST", V1 + "/{id}/reply", "Send a reply of your own", LEADS, params=V1_ID, body=ReplyBody,
       ok={200: ReplySent}, errors=(400, 500),
       headers={"Idempotency-Key": {"type": "string", "maxLength": IDEMPOTENCY_KEY_MAX}},
       description="An `Idempotency-Key` header makes a retried request send once."),
    Op("POST", V1 + "/{id}/regenerate", "Draft the suggestion again (tone, length, instructions)", LEADS,
       params=V1_ID, body=RegenerateBody, ok={200: AiSuggestion}, errors=(503,), brain="llm"),
    Op("PATCH", V1 + "/{id}/archive", "Archive a conversation", LEADS, params=V1_ID, body=ArchiveBody,
       body_required=False, ok={200: ConversationArchived}),
)

AI_HUB_OPERATIONS = (
    Op("POST", "/api/ai-hub/assistant/ask", "Ask an assistant", AI_HUB, body=AskBody,
       ok={200: Reply({"application/json": AskAnswer, "text/event-stream": AskEvent},
                      "The answer; server-sent events with `stream` or `Accept: text/event-stream`")},
       errors=(404, 422, 429, 503), brain="llm"),
    Op("POST", "/api/ai-hub/assistants", "Create an assistant", AI_HUB, body=AssistantBody,
       ok={201: AssistantEnvelope}, errors=(409,)),
    Op("GET", "/api/ai-hub/assistants", "List assistants", AI_HUB, ok={200: AssistantList}),
    Op("GET", "/api/ai-hub/assistants/{id}", "An assistant", AI_HUB, ok={200: AssistantEnvelope}),
    Op("DELETE", "/api/ai-hub/assistants/{id}", "Delete an assistant", AI_HUB, ok={200: Deleted}),
    Op("POST", "/api/ai-hub/folders", "Create a knowledge folder", AI_HUB, body=FolderBody, ok={201: FolderEnvelope}),
    Op("GET", "/api/ai-hub/folders", "List knowledge folders", AI_HUB, ok={200: FolderList}),
    Op("POST", "/api/ai-hub/folders/{id}/documents", "Upload a document (text, Markdown or PDF)", AI_HUB,
       body={"application/json": TextDocument, "multipart/form-data": UPLOAD}, errors=(415,), brain="embedder",
       ok={200: json_reply(DocumentEnvelope, "The folder held these bytes already"), 201: DocumentEnvelope}),
    Op("GET", "/api/ai-hub/folders/{id}/documents", "Documents of a folder", AI_HUB, ok={200: DocumentList}),
    Op("DELETE", "/api/ai-hub/documents/{id}", "Delete a document", AI_HUB, ok={200: Deleted}, brain="embedder"),
    Op("DELETE", "/api/ai-hub/folders/{id}", "Delete a folder and its documents", AI_HUB, ok={200: Deleted},
       brain="embedder"),
)

OPERATIONS: tuple[Op, ...] = (*HUB_OPERATIONS, *SERVER_OPERATIONS, *ML_OPERATIONS, *ASSISTANT_OPERATIONS,
                              *LEAD_OPERATIONS, *AI_HUB_OPERATIONS, *JOB_OPERATIONS)


def webhook_operations(channel_names: Iterable[str]) -> list[Op]:
    """One Op per webhook path of each named channel (their modules are imported, so pass enabled ones)."""
    from channels import channel_class

    ops = []
    for name in channel_names:
        for path, endpoint in channel_class(name).webhooks.items():
            ops.append(Op("POST", path, f"{name} webhook ({endpoint})", WEBHOOKS, auth="public",
                          body={"application/json": {"type": "object"},
                                "application/x-www-form-urlencoded": {"type": "object"}},
                          ok={200: Reply({"application/json": {"type": "object"}, "text/plain": {"type": "string"},
                                          "text/xml": {"type": "string"}}, "Stored and acknowledged"),
                              204: Reply(description="Stored and acknowledged")},
                          errors=(400, 401, 403, 404),
                          description="Verified with the channel's own scheme before anything is parsed."))
    return ops
