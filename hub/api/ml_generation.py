"""Seed 000 ML service: generation (sync with cache, async as a durable job), cache invalidation,
model reload, and themed suggestions served in pages from the suggestion_requests table."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from hub import jobs
from hub.api.common import iso, json_response
from hub.api.ml_common import ChatMessage, get_llm, llm_errors, llm_timeout, ml_state
from hub.errors import ApiError
from hub.generation_cache import request_key
from hub.lora_jobs import trained_adapter
from hub.reply_options import draft_options, split_count
from hub.state import CLOCK, DB, SETTINGS, WORKER
from hub.validation import parse_body, parse_query
from storage.models import Job, JobStatus, SuggestionRequest, new_uid

routes = web.RouteTableDef()
GENERATE_JOB = "ml.generate"
DEFAULT_THEMES = ("casual", "brief", "empathetic")
_STATUS = {JobStatus.QUEUED: "queued", JobStatus.RUNNING: "processing", JobStatus.DONE: "completed",
           JobStatus.DEAD: "failed"}
Theme = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True,
                                         pattern=r"^[a-z][a-z0-9_ -]{0,31}$")]


class GenerateBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    prompt: str = Field(min_length=1, max_length=32_000)
    max_tokens: int = Field(256, ge=1, le=2048)
    temperature: float = Field(0.7, ge=0, le=2)
    top_p: float = Field(0.9, gt=0, le=1)
    repeat_penalty: float = Field(1.1, ge=0.5, le=2)
    stop: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(default_factory=list, max_length=8)
    cache_key: str | None = Field(None, min_length=1, max_length=255)


class ReloadQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model_id: str = Field("", max_length=4096)


class CacheQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    pattern: str = Field("*", min_length=1, max_length=255)


class SuggestionsBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    conversation_id: str | None = Field(None, max_length=255)
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    count: int = Field(6, ge=1, le=12)
    themes: list[Theme] = Field(default_factory=lambda: list(DEFAULT_THEMES), min_length=1, max_length=8)

    @field_validator("themes")
    @classmethod
    def _distinct(cls, themes: list[str]) -> list[str]:
        return list(dict.fromkeys(themes))


class MoreQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    limit: int | None = Field(None, ge=1, le=100)


# ---------------------------------------------------------------- generation

async def generate(app: web.Application, body: GenerateBody) -> dict[str, Any]:
    llm = await get_llm(app)
    async with llm_errors():
        result = await llm.complete(body.prompt, max_tokens=body.max_tokens, temperature=body.temperature,
                                    top_p=body.top_p, repeat_penalty=body.repeat_penalty, stop=body.stop,
                                    timeout=llm_timeout(app))
    return {"response": result.text, "confidence": round(result.confidence, 4),
            "model_version": result.model_version, "tokens_used": result.tokens_used}


@routes.post("/generate")
async def generate_sync(request: web.Request) -> web.Response:
    body = await parse_body(request, GenerateBody)
    cache = ml_state(request.app).cache
    key = body.cache_key or request_key(body.model_dump(exclude={"cache_key"}))
    hit = cache.get(key)
    if hit is not None:
        return json_response({**hit, "cached": True, "cache_key": key})
    result = await generate(request.app, body)
    if result["response"]:  # an empty answer is worth another try, not a cache entry
        cache.put(key, result)
    return json_response({**result, "cached": False, "cache_key": key})


@routes.delete("/cache")
async def clear_cache(request: web.Request) -> web.Response:
    query = parse_query(request, CacheQuery)
    return json_response({"invalidated": ml_state(request.app).cache.invalidate(query.pattern)})


# ---------------------------------------------------------------- async generation (durable job)

def _job_key(job_id: str) -> str:
    return f"{GENERATE_JOB}:{job_id}"


@routes.post("/generate/async")
async def generate_async(request: web.Request) -> web.Response:
    body = await parse_body(request, GenerateBody)
    db, now, job_id = request.app[DB], request.app[CLOCK].now(), new_uid()
    payload = {"job_id": job_id, "request": body.model_dump()}
    await db.write(lambda conn: jobs.enqueue(db, conn, GENERATE_JOB, payload, dedup_key=_job_key(job_id),
                                             max_attempts=3, now=now))
    request.app[WORKER].notify()
    return json_response({"job_id": job_id, "status": "queued"})


def _job_view(job_id: str, row: sa.Row) -> dict[str, Any]:
    result = row.result or None
    status = _STATUS.get(row.status, "queued")
    error = None
    if result and "error" in result:  # a request the model refused: final, not retried
        status, error, result = "failed", result["error"], None
    elif status == "failed":
        error = re.sub(r"^ApiError: ", "", row.last_error or "generation failed")
    finished = row.finished_at if status in ("completed", "failed") else None
    return {"job_id": job_id, "status": status, "result": result if status == "completed" else None,
            "error": error, "created_at": iso(row.created_at), "completed_at": iso(finished)}


@routes.get("/generate/status/{job_id}")
async def generate_status(request: web.Request) -> web.Response:
    job_id = request.match_info["job_id"]
    row = await request.app[DB].first(sa.select(Job).where(Job.dedup_key == _job_key(job_id)))
    if row is None:
        raise ApiError(404, f"Unknown job id: {job_id}")
    return json_response(_job_view(job_id, row))


def _generate_handler(app: web.Application) -> jobs.JobHandler:
    async def run(job: jobs.ClaimedJob) -> None:
        body = GenerateBody.model_validate(job.payload["request"])
        try:
            result = await generate(app, body)
        except ApiError as exc:
            if exc.status >= 500:
                raise  # the model is busy or down: the worker retries with backoff
            result = {"error": exc.message}
        await app[DB].execute(sa.update(Job).where(Job.id == job.id).values(result=result))
    return run


def register_jobs(app: web.Application, worker: jobs.Worker) -> None:
    worker.register(GENERATE_JOB, _generate_handler(app))


# ---------------------------------------------------------------- model reload

def _model_path(app: web.Application, model_id: str) -> str:
    """The GGUF file to load: `model_id` (absolute, or relative to the config file), else the configured one."""
    from brain.llm import bundled_gguf_path

    settings = app[SETTINGS]
    if not model_id:
        configured = settings.brain.model_path
        return str(settings.resolve_path(configured) if configured else bundled_gguf_path())
    if not model_id.lower().endswith(".gguf"):
        raise ApiError(400, "model_id must be the path of a .gguf file, a completed training job's id, "
                             "or empty for the configured model")
    path = settings.resolve_path(Path(model_id).expanduser())
    if not path.is_file():
        raise ApiError(404, f"Model not found: {model_id}")
    return str(path)


@routes.post("/model/reload")
async def reload_model(request: web.Request) -> web.Response:
    query = parse_query(request, ReloadQuery)
    app = request.app
    llm = await get_llm(app)
    async with llm_errors():
        model_id = query.model_id.strip()
        if app[SETTINGS].brain.llm_backend == "openai":
            await llm.reload(query.model_id or app[SETTINGS].brain.openai_model or None)
        elif model_id and (trained := await trained_adapter(app, model_id)) is not None:
            # a completed training job's id: its base model with its LoRA adapter
            await llm.reload(trained[0], lora_path=trained[1])
        else:
            await llm.reload(_model_path(app, model_id))
    invalidated = ml_state(app).cache.invalidate("*")  # answers of the previous model
    return json_response({"status": "reloaded", "model_loaded": llm.loaded, "model_version": llm.model_version,
                          "model_id": query.model_id or None, "cache_invalidated": invalidated})


# ---------------------------------------------------------------- suggestions

def _insert_request(conn: sa.Connection, values: dict[str, Any]) -> None:
    conn.execute(sa.insert(SuggestionRequest).values(**values))


async def create_suggestions(app: web.Application, body: SuggestionsBody, *, kind: str, guidance: str = "",
                             polish: Callable[[str], str] | None = None,
                             page_all: bool = False) -> tuple[str, list[dict[str, Any]], int]:
    """Draft every option in one LLM call, store them all, and return (request id, options, first page size).
    The first page holds one option per theme; /suggestions/more serves the rest from the table."""
    llm = await get_llm(app)
    messages = [m.model_dump() for m in body.messages]
    async with llm_errors():
        options = await draft_options(llm, messages, body.themes, body.count, timeout=llm_timeout(app),
                                      guidance=guidance, polish=polish)
    page = len(options) if page_all else min(len(options), len(split_count(body.themes, body.count)))
    request_id = new_uid()
    await app[DB].write(_insert_request, {
        "id": request_id, "kind": kind, "conversation_id": body.conversation_id or "", "options": options,
        "served": page, "created_at": app[CLOCK].now()})
    return request_id, options, page


def suggestions_view(request_id: str, conversation_id: str | None, options: list[dict[str, Any]],
                     served: int, page: list[dict[str, Any]]) -> dict[str, Any]:
    return {"request_id": request_id, "conversation_id": conversation_id or None, "options": page,
            "has_more": served < len(options), "total_count": len(options)}


@routes.post("/suggestions")
async def suggestions(request: web.Request) -> web.Response:
    body = await parse_body(request, SuggestionsBody)
    request_id, options, page = await create_suggestions(request.app, body, kind="suggestions")
    return json_response(suggestions_view(request_id, body.conversation_id, options, page, options[:page]))


def _next_page(conn: sa.Connection, request_id: str, limit: int | None) -> dict[str, Any] | None:
    row = conn.execute(sa.select(SuggestionRequest).where(SuggestionRequest.id == request_id)
                       .with_for_update()).first()
    if row is None:
        return None
    options = row.options or []
    end = len(options) if limit is None else min(len(options), row.served + limit)
    page = options[row.served:end]
    if end > row.served:
        conn.execute(sa.update(SuggestionRequest).where(SuggestionRequest.id == request_id).values(served=end))
    return suggestions_view(row.id, row.conversation_id, options, max(end, row.served), page)


@routes.get("/suggestions/more/{request_id}")
async def more_suggestions(request: web.Request) -> web.Response:
    query = parse_query(request, MoreQuery)
    request_id = request.match_info["request_id"]
    view = await request.app[DB].write(_next_page, request_id, query.limit)
    if view is None:
        raise ApiError(404, f"Unknown suggestion request: {request_id}")
    return json_response(view)
