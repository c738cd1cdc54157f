"""Seed 002: POST /prompt (create or continue a thread; returns only the new messages, tool calls
and results included) and GET /conversation/{conversation_id} (the whole history, system prompt
first). FastAPI-style errors: {"detail": …}, 422 for validation."""

from __future__ import annotations

import sqlalchemy as sa
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from brain.assistant import run_turn, system_message
from brain.llm import LLMError
from hub.api.common import json_response
from hub.assistant_tools import build_tools
from hub.errors import ApiError
from hub.state import BRAIN, CLOCK, DB, SETTINGS
from hub.validation import parse_query
from storage.models import AssistantThread, new_uid

routes = web.RouteTableDef()


class PromptQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    prompt: str = Field(min_length=1, max_length=8_000)
    conversation_id: str | None = Field(None, max_length=64)


async def _thread(request: web.Request, conversation_id: str) -> sa.Row:
    row = await request.app[DB].first(sa.select(AssistantThread).where(
        AssistantThread.id == conversation_id, AssistantThread.kind == "prompt"))
    if row is None:
        raise ApiError(404, f"Conversation {conversation_id} not found")
    return row


@routes.post("/prompt")
async def send_prompt(request: web.Request) -> web.Response:
    query = parse_query(request, PromptQuery)
    app, now = request.app, request.app[CLOCK].now()
    if query.conversation_id:
        thread_id, history = query.conversation_id, list((await _thread(request, query.conversation_id)).messages)
    else:
        thread_id, history = new_uid(), [system_message(app[SETTINGS].owner.name, now)]
    try:
        new = await run_turn(await app[BRAIN].llm(), history, query.prompt, build_tools(app))
    except LLMError as exc:
        raise ApiError(503, f"The language model is unavailable: {exc}") from None
    messages = history + new
    table = AssistantThread.__table__
    if query.conversation_id:
        await app[DB].execute(sa.update(table).where(table.c.id == thread_id).values(messages=messages, updated_at=now))
    else:
        await app[DB].execute(sa.insert(table).values(id=thread_id, kind="prompt", messages=messages,
                                                      created_at=now, updated_at=now))
    # Only what this turn added, without echoing the user's own prompt (as the seed shows).
    return json_response({"conversation_id": thread_id, "new_messages": new[1:]})


@routes.get("/conversation/{conversation_id}")
async def get_conversation(request: web.Request) -> web.Response:
    row = await _thread(request, request.match_info["conversation_id"])
    return json_response({"conversation_id": row.id, "messages": row.messages})
