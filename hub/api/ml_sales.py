"""Seed 000 sales routes: POST /sales/classify, /sales/detect-bad-actor, /sales/detect-agreement and
/sales/follow-up. The learned parts run in a worker thread with the app's classifiers (ml_triage)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hub.api.common import json_response
from hub.api.ml_triage import MAX_TEXT, ml_parts
from hub.state import CLOCK
from hub.validation import parse_body

routes = web.RouteTableDef()
MAX_TURNS = 200


class Turn(BaseModel):
    """One message of a conversation: {"content", "sender": "contact" | "creator"}."""

    model_config = ConfigDict(extra="ignore")
    content: str = Field(max_length=MAX_TEXT)
    sender: Literal["contact", "creator"] = "contact"


class ClassifyBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    message: str = Field(min_length=1, max_length=MAX_TEXT)
    context: list[str | Turn] = Field(default_factory=list, max_length=MAX_TURNS)
    contact_id: str | None = Field(None, max_length=255)


class ConversationBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    conversation: list[Turn] = Field(min_length=1, max_length=MAX_TURNS)
    contact_id: str | None = Field(None, max_length=255)


class BadActorBody(ConversationBody):
    include_reasoning: bool = True


class FollowUpBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    contact_id: str = Field(min_length=1, max_length=255)
    conversation: list[Turn] = Field(min_length=1, max_length=MAX_TURNS)
    last_interaction: datetime | None = None


def _turns(turns: list[Turn]) -> list[dict[str, str]]:
    return [{"content": t.content, "sender": t.sender} for t in turns]


@routes.post("/sales/classify")
async def classify(request: web.Request) -> web.Response:
    from brain.sales import classify_sales

    body = await parse_body(request, ClassifyBody)
    embedder, models = await ml_parts(request.app)
    context = [c if isinstance(c, str) else c.content for c in body.context]
    result = await asyncio.to_thread(classify_sales, body.message, context, embedder=embedder, models=models)
    return json_response(result)


@routes.post("/sales/detect-bad-actor")
async def detect_bad_actor(request: web.Request) -> web.Response:
    from brain.sales import detect_bad_actor as detect

    body = await parse_body(request, BadActorBody)
    embedder, models = await ml_parts(request.app)
    result = await asyncio.to_thread(detect, _turns(body.conversation), body.include_reasoning,
                                     embedder=embedder, models=models)
    return json_response(result)


@routes.post("/sales/detect-agreement")
async def detect_agreement(request: web.Request) -> web.Response:
    from brain.agreement import detect_agreement as detect

    body = await parse_body(request, ConversationBody)
    result = await asyncio.to_thread(detect, _turns(body.conversation), now=request.app[CLOCK].now())
    return json_response(result.to_dict())


@routes.post("/sales/follow-up")
async def follow_up(request: web.Request) -> web.Response:
    from brain.agreement import follow_up_recommendation

    body = await parse_body(request, FollowUpBody)
    last = body.last_interaction
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=timezone.utc)
    result = await asyncio.to_thread(follow_up_recommendation, body.contact_id, _turns(body.conversation), last,
                                     now=request.app[CLOCK].now())
    return json_response(result)
