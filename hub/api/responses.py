"""Seed 000 response generation: draft a reply to a stored message; accept, edit or reject it."""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from brain.llm import LLMError
from hub.api.common import json_response
from hub.approvals import refresh_cards
from hub.decisions import EDIT, decide
from hub.drafting import DraftOptions, generate_suggestion
from hub.errors import ApiError
from hub.state import CLOCK, DB, PRINCIPAL, WORKER
from hub.validation import parse_body
from storage.ids import id_or_uid
from storage.models import Message, Suggestion

routes = web.RouteTableDef()


class GenerateContext(BaseModel):
    model_config = ConfigDict(extra="ignore")
    maxHistory: int = Field(10, ge=1, le=100)
    includeContactInfo: bool = True
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    maxTokens: int = Field(256, ge=1, le=2048)


class GenerateResponse(BaseModel):
    model_config = ConfigDict(extra="ignore")
    messageId: str = Field(min_length=1, max_length=64)
    context: GenerateContext = GenerateContext()


class ResponseAction(BaseModel):
    model_config = ConfigDict(extra="ignore")
    action: Literal["accept", "edit", "reject"]
    editedResponse: str | None = Field(None, min_length=1, max_length=20_000)
    rejectionReason: str | None = Field(None, max_length=2_000)

    @model_validator(mode="after")
    def _edit_has_text(self) -> "ResponseAction":
        if self.action == EDIT and not (self.editedResponse or "").strip():
            raise ValueError("editedResponse is required for the edit action")
        return self


def _message_key(key: str) -> sa.ColumnElement[bool]:
    return id_or_uid(Message.id, Message.uid, key)


@routes.post("/api/responses/generate")
async def generate_response(request: web.Request) -> web.Response:
    body = await parse_body(request, GenerateResponse)
    db = request.app[DB]
    message = await db.first(sa.select(Message.id).where(_message_key(body.messageId)))
    if message is None:
        raise ApiError(404, f"Message {body.messageId} not found")
    options = DraftOptions(max_history=body.context.maxHistory, temperature=body.context.temperature,
                           max_tokens=body.context.maxTokens)
    try:
        suggestion = await generate_suggestion(request.app, message.id, options)
    except LLMError as exc:
        raise ApiError(503, f"The language model is unavailable: {exc}") from None
    assert suggestion is not None
    metadata = suggestion.model_metadata or {}
    return json_response({"responseId": suggestion.uid, "status": "completed", "response": suggestion.body,
                          "confidence": suggestion.confidence, "modelVersion": metadata.get("model"),
                          "tokensUsed": metadata.get("tokens_used")})


@routes.post("/api/responses/{id}/action")
async def response_action(request: web.Request) -> web.Response:
    body = await parse_body(request, ResponseAction)
    db, key = request.app[DB], request.match_info["id"]
    found = await db.first(sa.select(Suggestion.id).where(id_or_uid(Suggestion.id, Suggestion.uid, key)))
    if found is None:
        raise ApiError(404, f"Response {key} not found")
    principal = request[PRINCIPAL]
    decision = await db.write(decide, db, found.id, body.action, now=request.app[CLOCK].now(),
                              edited_body=body.editedResponse, reason=body.rejectionReason,
                              via=f"api:{principal.kind}", device_id=principal.device_id)
    if not decision.ok:
        status = decision.suggestion.status if decision.suggestion else "gone"
        raise ApiError(409, f"Response {key} was already {status}; nothing was changed")
    if decision.outbox_id is not None:
        request.app[WORKER].notify()
    await refresh_cards(request.app, found.id)
    suggestion = decision.suggestion
    return json_response({"responseId": suggestion.uid, "action": body.action, "status": suggestion.status,
                          "response": suggestion.edited_body or suggestion.body,
                          "sent": decision.outbox_id is not None, "trainingSampleRecorded": True})
