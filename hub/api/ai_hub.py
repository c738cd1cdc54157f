"""Seed 004: `POST /api/ai-hub/assistant/ask` ({success, message, metadata}; errors {success: false, error, issues}),
grounded in knowledge folders, with threads by conversation id, SSE streaming and a rate limit. The set-up
routes (assistants, folders, documents) live in hub/api/ai_hub_setup.py and are served from here."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import time
import uuid
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from aiohttp import web
from pydantic import Field

from brain import knowledge as kb
from brain.llm import LLMBusy, LLMError
from hub.api import ai_hub_setup as setup_api
from hub.api.common import iso, json_response
from hub.errors import ApiError, error_body
from hub.state import BRAIN, CLOCK, DB, PRINCIPAL, SETTINGS
from storage.db import Database
from storage.models import Assistant, AssistantThread, KnowledgeDocument

log = logging.getLogger("replydesk.ai_hub")
_ask_routes = web.RouteTableDef()
BASE = "/api/ai-hub"
PARSE_PROBLEM = "Message parse problem from ask assistant"
ASK_BURST, ASK_PER_MINUTE = 20, 20  # per API key or device
TOP_K, HISTORY_KEPT, DEFAULT_MAX_TOKENS = 3, 200, 256
NO_REPLY = "Sorry, I don't have an answer to that."


class AskMessage(setup_api.Body):
    id: str | None = Field(None, min_length=1, max_length=128)
    role: Literal["user", "assistant", "system"] = "user"
    content: str = Field(min_length=1, max_length=8000)
    createdAt: datetime | None = None


class PreviewAssistant(setup_api.Body):
    name: str | None = Field(None, min_length=1, max_length=255)
    description: str = Field("", max_length=2000)
    instructions: str = Field("", max_length=4000)


class AskBody(setup_api.Body):
    message: AskMessage
    id: str | None = Field(None, min_length=1, max_length=200)
    assistantId: str = Field(min_length=1, max_length=64)
    metadata: dict[str, Any] | None = Field(None, max_length=50)
    foldersId: setup_api.FolderIds | None = Field(None, max_length=20)
    previewAssistantData: PreviewAssistant | None = None
    stream: bool = False
    maxTokens: int = Field(DEFAULT_MAX_TOKENS, ge=1, le=1024)


# ---------------------------------------------------------------- limits and errors

class TokenBuckets:
    """In-process token buckets per client: `burst` requests at once, refilled at `per_minute`."""

    def __init__(self, burst: int = ASK_BURST, per_minute: float = ASK_PER_MINUTE) -> None:
        self.burst, self.rate = burst, per_minute / 60
        self._buckets: dict[str, tuple[float, datetime]] = {}

    def take(self, key: str, now: datetime) -> int:
        """0 when a request may go ahead (spending a token), else whole seconds until one may."""
        tokens, stamp = self._buckets.get(key, (float(self.burst), now))
        tokens = min(self.burst, tokens + max((now - stamp).total_seconds(), 0.0) * self.rate)
        if tokens < 1 - 1e-9:  # float dust must not turn "retry after 3 s" into 4
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((1 - tokens) / self.rate))
        if len(self._buckets) > 10_000:
            self._forget_full(now)
        self._buckets[key] = (tokens - 1, now)
        return 0

    def _forget_full(self, now: datetime) -> None:
        """Drop the buckets that have refilled: a full bucket is what an unknown client gets anyway."""
        self._buckets = {key: (tokens, stamp) for key, (tokens, stamp) in self._buckets.items()
                         if tokens + (now - stamp).total_seconds() * self.rate < self.burst}


# Per app, without a global shared between apps (hub.state has no key for it yet).
_LIMITERS: weakref.WeakKeyDictionary[web.Application, TokenBuckets] = weakref.WeakKeyDictionary()


def _rate_limit(request: web.Request) -> None:
    principal = request[PRINCIPAL]
    limiter = _LIMITERS.setdefault(request.app, TokenBuckets())
    wait = limiter.take(f"{principal.kind}:{principal.id}", request.app[CLOCK].now())
    if wait:
        raise ApiError(429, "Rate limit exceeded", headers={"Retry-After": str(wait)}, extra={"retry_after": wait})


def _assistant_not_found(assistant_id: str) -> web.Response:
    # hub/errors.py passes only issues and retry_after through; the seed names the assistant too.
    body = error_body("seed004", 404, "Assistant not found or not deployed", {})
    return json_response({**body, "assistant_id": assistant_id}, status=404)


# ---------------------------------------------------------------- the ask route

@dataclass(frozen=True)
class _Setup:
    profile: kb.AssistantProfile
    folders: dict[str, str]  # id -> name, in the order asked
    conversation_id: str
    preview: bool


@dataclass(frozen=True)
class _Answer:
    text: str
    tokens_used: int = 0
    hits: tuple[kb.Hit, ...] = ()
    sources: tuple[str, ...] = ()
    history_used: int = 0  # earlier messages of the thread that went into the prompt
    replayed: bool = False


async def _setup(request: web.Request, body: AskBody) -> _Setup | None:
    """The assistant to answer as (stored, overlaid by preview data) and its knowledge folders."""
    db, preview = request.app[DB], body.previewAssistantData
    row = await db.first(sa.select(Assistant).where(Assistant.id == body.assistantId))
    if row is None and preview is None:
        return None
    profile = kb.AssistantProfile(row.name if row else "Preview assistant", "", row.instructions if row else "")
    if preview is not None:
        profile = kb.AssistantProfile(preview.name or profile.name, preview.description,
                                      preview.instructions or profile.instructions)
    if body.foldersId is not None:
        folders = await setup_api.require_folders(db, body.foldersId, PARSE_PROBLEM)
    else:
        folders = await setup_api.folder_names(db, list(row.folder_ids or []) if row else [])
    return _Setup(profile, folders, body.id or f"conv_{uuid.uuid4().hex}", preview is not None)


def thread_key(conversation_id: str) -> str:
    """The assistant_threads id for a client's conversation id (kind "ask", never a /prompt thread)."""
    key = f"ask:{conversation_id}"
    return key if len(key) <= 64 else "ask#" + hashlib.sha256(conversation_id.encode()).hexdigest()[:60]


async def _thread(db: Database, key: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    row = await db.first(sa.select(AssistantThread.messages, AssistantThread.metadata_.label("meta"))
                         .where(AssistantThread.id == key))
    if row is None:
        return [], {}
    return list(row.messages or []), dict((row.meta or {}).get("context") or {})


def _save_turn(conn: sa.Connection, db: Database, key: str, setup: _Setup, assistant_id: str,
               turn: list[dict[str, Any]], context: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Append the turn to the thread (creating it) and merge its metadata; returns the merged metadata."""
    db.lock(conn, key)
    row = conn.execute(sa.select(AssistantThread.messages, AssistantThread.metadata_.label("meta"))
                       .where(AssistantThread.id == key)).first()
    stored = list(row.messages or []) if row else []
    known = {message.get("id") for message in stored}
    messages = [*stored, *(m for m in turn if m["id"] not in known)][-HISTORY_KEPT:]
    merged = {**((row.meta or {}).get("context") or {} if row else {}), **context}
    values = {"assistant_id": assistant_id, "messages": messages, "updated_at": now,
              "metadata_": {"conversation_id": setup.conversation_id, "context": merged, "preview": setup.preview}}
    if row is None:
        conn.execute(sa.insert(AssistantThread).values(id=key, kind="ask", created_at=now, **values))
    else:
        conn.execute(sa.update(AssistantThread).where(AssistantThread.id == key).values(**values))
    return merged


async def _retrieve(request: web.Request, question: str, folders: dict[str, str]) -> list[kb.Hit]:
    if not folders:
        return []
    index = await setup_api.knowledge_index(request.app)
    hits = kb.relevant(await index.search(question, list(folders), TOP_K))
    ids = {hit.document_id for hit in hits}
    live = {row.id for row in await request.app[DB].rows(
        sa.select(KnowledgeDocument.id).where(KnowledgeDocument.id.in_(ids)))} if ids else set()
    return [hit for hit in hits if hit.document_id in live]  # never a deleted document's chunks


async def _chat(request: web.Request, messages: list[dict[str, str]], max_tokens: int) -> Any:
    settings = request.app[SETTINGS].brain
    try:
        llm = await request.app[BRAIN].llm()
        return await llm.chat(messages, max_tokens=max_tokens, temperature=0.3,
                              timeout=settings.draft_timeout_seconds * 2)
    except LLMBusy:
        raise ApiError(503, "The assistant is busy; try again shortly", headers={"Retry-After": "5"},
                       extra={"retry_after": 5}) from None
    except LLMError as exc:
        raise ApiError(503, f"The language model is unavailable: {exc}") from None
    except ValueError as exc:  # the prompt does not fit the model's context after all
        raise ApiError(422, f"The message and its context are too long for the language model: {exc}") from None


async def _generate(request: web.Request, body: AskBody, setup: _Setup, history: list[dict[str, Any]],
                    context: dict[str, Any]) -> _Answer:
    """An answer grounded in the setup's folders; without a relevant excerpt there, say so instead."""
    question = body.message.content
    hits = await _retrieve(request, question, setup.folders)
    if setup.folders and not hits:  # say so rather than let the model invent an answer
        return _Answer(kb.NO_KNOWLEDGE_ANSWER)
    notes = [f"Note from the client application: {m['content']}" for m in history if m.get("role") == "system"]
    budget = max((request.app[SETTINGS].brain.n_ctx - body.maxTokens - 64) * 3, 1000)  # ~3 chars a token
    hits = kb.fit_hits(hits, budget // 2)
    system = kb.system_prompt(setup.profile, hits, context, notes, max_chars=budget * 2 // 3)
    messages = kb.build_messages(system, history, question, budget)
    generation = await _chat(request, messages, body.maxTokens)
    sources = tuple(dict.fromkeys(hit.document_id for hit in hits))
    return _Answer(generation.text or NO_REPLY, generation.tokens_used, tuple(hits), sources, len(messages) - 2)


def _chunk_view(hit: kb.Hit, folders: dict[str, str]) -> dict[str, Any]:
    return {"document_id": hit.document_id, "filename": hit.filename, "folder_id": hit.folder_id,
            "folder_name": folders.get(hit.folder_id, ""), "chunk_index": hit.chunk_index,
            "score": round(hit.score, 4), "text": hit.text}


def _public(message: dict[str, Any]) -> dict[str, Any]:
    return {key: message.get(key) for key in ("id", "role", "content", "createdAt")}


async def _respond(request: web.Request, body: AskBody, setup: _Setup, history: list[dict[str, Any]],
                   context: dict[str, Any], incoming: dict[str, Any]) -> tuple[_Answer, dict[str, Any]]:
    """The answer and the message to return: the stored answer when a message id is sent again,
    the message itself for the context-only roles (system, assistant), else a new answer."""
    earlier = next((m for m in history if body.message.id and m.get("replyTo") == body.message.id), None)
    if earlier is not None:
        return _Answer(earlier["content"], sources=tuple(earlier.get("sources") or ()), replayed=True), earlier
    if body.message.role != "user":
        return _Answer(""), incoming
    answer = await _generate(request, body, setup, history, context)
    reply = {"id": f"msg_{uuid.uuid4().hex[:16]}", "role": "assistant", "content": answer.text,
             "createdAt": iso(request.app[CLOCK].now()), "replyTo": incoming["id"], "sources": list(answer.sources)}
    return answer, reply


async def _reply(request: web.Request, body: AskBody, setup: _Setup) -> dict[str, Any]:
    """One exchange: load the thread, answer, save the turn, and build the seed's envelope."""
    started, now, db = time.perf_counter(), request.app[CLOCK].now(), request.app[DB]
    key = thread_key(setup.conversation_id)
    history, context = await _thread(db, key)
    context = {**context, **{str(k).lower(): v for k, v in (body.metadata or {}).items()}}
    incoming = {"id": body.message.id or f"msg_{uuid.uuid4().hex[:16]}", "role": body.message.role,
                "content": body.message.content, "createdAt": iso(body.message.createdAt or now)}
    answer, reply = await _respond(request, body, setup, history, context, incoming)
    turn = [incoming] if reply is incoming else [incoming, reply]
    merged = await db.write(_save_turn, db, key, setup, body.assistantId, turn, context, now)
    metadata = {"processing_time": round((time.perf_counter() - started) * 1000), "tokens_used": answer.tokens_used,
                "knowledge_sources": list(answer.sources),
                "knowledge_chunks": [_chunk_view(hit, setup.folders) for hit in answer.hits],
                "conversation_id": setup.conversation_id, "assistant_id": body.assistantId, "preview": setup.preview,
                "history_messages": answer.history_used, "replayed": answer.replayed, "conversation_metadata": merged}
    return {"success": True, "message": _public(reply), "metadata": metadata}


def text_pieces(text: str, words: int = 3) -> list[str]:
    """The answer as small pieces that join back to exactly `text`, for incremental events."""
    tokens = re.findall(r"\s*\S+", text)
    pieces = ["".join(tokens[i:i + words]) for i in range(0, len(tokens), words)]
    return pieces + [text[len("".join(pieces)):]] if "".join(pieces) != text else pieces


async def _event(response: web.StreamResponse, name: str, data: dict[str, Any]) -> None:
    await response.write(f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode())


async def _stream(request: web.Request, body: AskBody, setup: _Setup) -> web.StreamResponse:
    """Server-sent events: `start`, `delta` pieces of the answer, then `done` with the full envelope
    (or `error` in the seed's error shape). The turn is saved even if the client goes away."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    try:
        await _event(response, "start", {"conversation_id": setup.conversation_id, "assistant_id": body.assistantId})
        name, data = await _outcome(request, body, setup)
        if name == "done":
            for piece in text_pieces(data["message"]["content"] or ""):
                await _event(response, "delta", {"content": piece})
        await _event(response, name, data)
        await response.write_eof()
    except ConnectionResetError:
        log.info("ask stream client went away (conversation %s)", setup.conversation_id)
    return response


async def _outcome(request: web.Request, body: AskBody, setup: _Setup) -> tuple[str, dict[str, Any]]:
    """("done", envelope) or ("error", the seed's error body): once headers are sent, the error
    boundary can no longer answer for us."""
    try:
        return "done", await _reply(request, body, setup)
    except ApiError as exc:
        return "error", error_body("seed004", exc.status, exc.message, exc.extra)
    except Exception:
        log.exception("ask stream failed for conversation %s", setup.conversation_id)
        return "error", error_body("seed004", 500, "Internal server error", {})


@_ask_routes.post(BASE + "/assistant/ask")
async def ask(request: web.Request) -> web.StreamResponse:
    _rate_limit(request)
    body = await setup_api.parse(request, AskBody, PARSE_PROBLEM)
    setup = await _setup(request, body)
    if setup is None:
        return _assistant_not_found(body.assistantId)
    if body.stream or "text/event-stream" in request.headers.get("Accept", ""):
        return await _stream(request, body, setup)
    return json_response(await _reply(request, body, setup))


routes: list[web.AbstractRouteDef] = [*_ask_routes, *setup_api.routes]
