"""Seed 000 conversation memory: store, recall (scoped per user and contact), inject, stats, delete.

Every stored message gets a message id (the client's, or a stable one derived from its text), so every
recalled memory names the message ids it came from.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hub.api.common import iso, json_response
from hub.api.ml_common import ROLE_PATTERN, ChatMessage
from hub.errors import ApiError
from hub.state import BRAIN, CLOCK
from hub.validation import parse_body, parse_query

if TYPE_CHECKING:
    from brain.memory import Memory, MemoryStore

routes = web.RouteTableDef()


class MemoryMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: str = Field(pattern=ROLE_PATTERN)
    content: str = Field(max_length=20_000)
    message_id: str | None = Field(None, min_length=1, max_length=255)
    id: str | None = Field(None, min_length=1, max_length=255)
    sent_at: datetime | None = None

    def source_id(self) -> str:
        """The client's id, else a stable one from role and text (storing it again updates, not duplicates)."""
        given = self.message_id or self.id
        if given:
            return given
        return "msg_" + hashlib.sha256(f"{self.role}\x1f{self.content.strip()}".encode()).hexdigest()[:24]


class StoreBody(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    user_id: str = Field(min_length=1, max_length=255)
    contact_id: str = Field(min_length=1, max_length=255)
    conversation_id: str | None = Field(None, max_length=255)
    messages: list[MemoryMessage] = Field(default_factory=list, max_length=1000)
    summary: str | None = Field(None, max_length=20_000)


class RecallBody(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    user_id: str = Field(min_length=1, max_length=255)
    contact_id: str = Field(min_length=1, max_length=255)
    query: str = Field(min_length=1, max_length=4000)
    top_k: int = Field(3, ge=1, le=50)
    conversation_id: str | None = Field(None, max_length=255)
    min_score: float | None = Field(None, ge=-1, le=1)


class MemoryIn(BaseModel):
    """A memory as /memory/recall returned it (only `text` is required)."""

    model_config = ConfigDict(extra="ignore")
    id: str = Field("", max_length=255)
    text: str = Field(min_length=1, max_length=20_000)
    user_id: str = ""
    contact_id: str = ""
    conversation_id: str | None = None
    source_message_ids: list[str] = Field(default_factory=list)
    role: str | None = None
    created_at: datetime | None = None


class InjectBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    messages: list[ChatMessage] = Field(max_length=1000)
    memories: list[MemoryIn] = Field(max_length=100)


class StatsQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    user_id: str | None = Field(None, max_length=255)  # absent or blank: every user


def memory_view(memory: Memory) -> dict[str, Any]:
    return {**memory.as_dict(), "created_at": iso(memory.created_at),
            "score": None if memory.score is None else round(memory.score, 4)}


async def _store(request: web.Request) -> MemoryStore:
    return await request.app[BRAIN].memory()


@routes.post("/memory/store")
async def store_memory(request: web.Request) -> web.Response:
    body = await parse_body(request, StoreBody)
    if not any(m.content.strip() for m in body.messages) and not (body.summary or "").strip():
        raise ApiError(400, "Nothing to remember: give at least one non-empty message or a summary")
    messages = [{"role": m.role, "content": m.content, "message_id": m.source_id(), "sent_at": m.sent_at}
                for m in body.messages]
    ids = await (await _store(request)).store(user_id=body.user_id, contact_id=body.contact_id,
                                                conversation_id=body.conversation_id, messages=messages,
                                                summary=body.summary)
    return json_response({"stored": len(ids), "memory_ids": ids,
                          "message_ids": [m["message_id"] for m in messages if m["content"].strip()]})


@routes.post("/memory/recall")
async def recall_memory(request: web.Request) -> web.Response:
    body = await parse_body(request, RecallBody)
    memories = await (await _store(request)).recall(
        user_id=body.user_id, contact_id=body.contact_id, query=body.query, top_k=body.top_k,
        conversation_id=body.conversation_id, min_score=body.min_score)
    return json_response({"memories": [memory_view(m) for m in memories], "count": len(memories)})


def _as_memory(item: MemoryIn, now: datetime) -> Memory:
    from brain.memory import Memory

    return Memory(id=item.id, text=item.text, user_id=item.user_id, contact_id=item.contact_id,
                  conversation_id=item.conversation_id, source_message_ids=item.source_message_ids,
                  role=item.role, created_at=item.created_at or now)


@routes.post("/memory/inject")
async def inject_memory(request: web.Request) -> web.Response:
    body = await parse_body(request, InjectBody)
    now = request.app[CLOCK].now()
    memories = [_as_memory(item, now) for item in body.memories]
    messages = (await _store(request)).inject([m.model_dump() for m in body.messages], memories)
    return json_response({"messages": messages, "injected": len(memories)})


@routes.get("/memory/stats")
async def memory_stats(request: web.Request) -> web.Response:
    query = parse_query(request, StatsQuery)
    return json_response(await (await _store(request)).stats(user_id=query.user_id or None))


@routes.delete("/memory/{memory_id}")
async def delete_memory(request: web.Request) -> web.Response:
    memory_id = request.match_info["memory_id"]
    if not await (await _store(request)).delete(memory_id):
        raise ApiError(404, f"Unknown memory id: {memory_id}")
    return json_response({"deleted": True, "memory_id": memory_id})
