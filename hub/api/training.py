"""Seed 000 training: the server API (/api/training/…) and the ML API (/training/…), plus on-demand
retraining (POST /api/training/retrain, an extension).

A LoRA job fine-tunes the configured model on the owner's accepted and edited drafts in a separate
process (hub/training_runs.py, brain/train_worker.py) and publishes `training:progress` on /ws.
One active job per device (or API key): a second start answers 409, as does a reused ML job id.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal

import sqlalchemy as sa
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from brain.training import Sample
from hub import jobs
from hub.api.common import PageQuery, iso, json_response
from hub.errors import ApiError
from hub.lora_jobs import BadTrainingRequest, LoraParams, load_samples, resolve_base_model, sample_of, start_lora_job
from hub.retraining import start_retraining
from hub.state import CLOCK, DB, PRINCIPAL, SETTINGS
from hub.training_runs import JobExists, SlotBusy, fail_orphans, training_runner
from hub.validation import parse_body, parse_query
from storage.models import Conversation, Suggestion, TrainingSample, new_uid
from storage.training_models import TrainingJob

routes = web.RouteTableDef()
JOB_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"  # also a folder name under data_dir/training


class SamplesQuery(PageQuery):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")
    action: Literal["accept", "edit", "reject"] | None = None


class _Tuning(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    epochs: int = Field(3, ge=1, le=50)
    lora_rank: int = Field(8, alias="loraRank", ge=1, le=64)
    lora_alpha: float | None = Field(None, alias="loraAlpha", gt=0, le=1024)
    batch_size: int = Field(4, alias="batchSize", ge=1, le=64)
    max_length: int = Field(256, alias="maxLength", ge=32, le=2048)


class StartBody(_Tuning):
    """POST /api/training/start (camelCase, as seed 000 documents it)."""

    base_model: str | None = Field(None, alias="baseModel", max_length=1024)
    learning_rate: float = Field(1e-4, alias="learningRate", gt=0, le=1)
    sample_ids: list[str] | None = Field(None, alias="sampleIds", max_length=10_000)

    @field_validator("sample_ids")
    @classmethod
    def _ids(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and any(not item or len(item) > 64 for item in value):
            raise ValueError("each sample id must be 1 to 64 characters")
        return value


class MlSample(BaseModel):
    model_config = ConfigDict(extra="ignore")
    input: str = Field(max_length=20_000)
    output: str = Field(min_length=1, max_length=20_000, pattern=r"\S")
    quality: float = Field(1.0, ge=0, le=1)


class MlStartBody(_Tuning):
    """POST /training/start (snake_case, the ML service's shape)."""

    job_id: str | None = Field(None, pattern=JOB_ID_PATTERN)
    base_model: str | None = Field(None, max_length=1024)
    learning_rate: float = Field(1e-4, gt=0, le=1)
    samples: list[MlSample] = Field(min_length=1, max_length=10_000)


def params_of(body: StartBody | MlStartBody) -> LoraParams:
    return LoraParams(epochs=body.epochs, learning_rate=body.learning_rate, lora_rank=body.lora_rank,
                      lora_alpha=body.lora_alpha, batch_size=body.batch_size, max_length=body.max_length)


def _common(row: Any) -> dict[str, Any]:
    return {"status": row.status, "progress": round(row.progress, 1), "error": row.error, "kind": row.kind,
            "phase": row.phase, "epochs": row.epochs, "metrics": row.metrics or {}}


def job_view(row: Any) -> dict[str, Any]:
    return {"id": row.id, **_common(row), "baseModel": row.base_model, "learningRate": row.learning_rate,
            "options": row.options or {}, "sampleIds": row.sample_ids or [], "adapterPath": row.adapter_path,
            "deviceId": row.device_id, "createdAt": iso(row.created_at), "startedAt": iso(row.started_at),
            "finishedAt": iso(row.finished_at)}


def ml_job_view(row: Any) -> dict[str, Any]:
    samples = len(row.samples or row.sample_ids or [])
    return {"job_id": row.id, **_common(row), "base_model": row.base_model, "learning_rate": row.learning_rate,
            "samples": samples, "adapter_path": row.adapter_path, "created_at": iso(row.created_at),
            "started_at": iso(row.started_at), "completed_at": iso(row.finished_at)}


def sample_view(row: Any) -> dict[str, Any]:
    return {"id": row.uid, "action": row.action, "input": row.input_text, "output": row.final_output,
            "originalOutput": row.original_output, "finalOutput": row.final_output,
            "rejectionReason": row.rejection_reason, "quality": row.quality, "responseId": row.response_uid,
            "conversationId": row.conversation_uid, "deviceId": row.device_id, "createdAt": iso(row.created_at)}


def _sample_page(conn: sa.Connection, query: SamplesQuery) -> tuple[int, list[sa.Row]]:
    where = [TrainingSample.action == query.action] if query.action else []
    total = conn.execute(sa.select(sa.func.count()).select_from(TrainingSample).where(*where)).scalar_one()
    rows = conn.execute(
        sa.select(TrainingSample, Suggestion.uid.label("response_uid"), Conversation.uid.label("conversation_uid"))
        .outerjoin(Suggestion, Suggestion.id == TrainingSample.suggestion_id)
        .outerjoin(Conversation, Conversation.id == TrainingSample.conversation_id).where(*where)
        .order_by(TrainingSample.created_at.desc(), TrainingSample.id.desc())
        .offset(query.offset).limit(query.page_size)).all()
    return total, rows


def slot_of(request: web.Request) -> tuple[str, str | None]:
    principal = request[PRINCIPAL]
    return f"{principal.kind}:{principal.id}", principal.device_id


async def _job(request: web.Request, key: str) -> Any:
    row = await request.app[DB].first(sa.select(TrainingJob).where(TrainingJob.id == request.match_info[key]))
    if row is None:
        raise ApiError(404, f"Training job {request.match_info[key]} not found")
    return row


async def _start(request: web.Request, job_id: str, base: str | None, samples: list[Sample], params: LoraParams,
                 sample_ids: list[str] | None = None, inline: bool = False) -> Any:
    """Start a LoRA job; the API's 400 / 409 for what cannot start."""
    slot, device_id = slot_of(request)
    try:
        model = resolve_base_model(request.app[SETTINGS], base)
        return await start_lora_job(request.app, job_id=job_id, slot=slot, device_id=device_id, base=model,
                                    samples=samples, params=params, sample_ids=sample_ids, inline=inline)
    except BadTrainingRequest as exc:
        raise ApiError(400, str(exc)) from None
    except SlotBusy as exc:
        raise ApiError(409, f"A training job is already active for this device ({exc.job_id}); "
                            "wait for it or cancel it first") from None
    except JobExists:
        raise ApiError(409, f"Training job {job_id} already exists") from None


async def _cancel(request: web.Request, row: Any) -> Any:
    if not await training_runner(request.app).cancel(row.id):
        raise ApiError(409, f"Training job {row.id} is already {row.status}; nothing to cancel")
    return await request.app[DB].first(sa.select(TrainingJob).where(TrainingJob.id == row.id))


# ---------------------------------------------------------------- server API (seed 000)

@routes.get("/api/training/samples")
async def list_samples(request: web.Request) -> web.Response:
    query = parse_query(request, SamplesQuery)
    total, rows = await request.app[DB].read(_sample_page, query)
    return json_response({"samples": [sample_view(r) for r in rows], "total": total, "page": query.page,
                          "pageSize": query.page_size})


@routes.post("/api/training/start")
async def start_training(request: web.Request) -> web.Response:
    body = await parse_body(request, StartBody)
    try:
        rows = await request.app[DB].read(load_samples, body.sample_ids)
    except BadTrainingRequest as exc:
        raise ApiError(400, str(exc)) from None
    row = await _start(request, new_uid(), body.base_model, [sample_of(r) for r in rows], params_of(body),
                       sample_ids=[r.uid for r in rows])
    return json_response({"job": job_view(row)}, status=201)


@routes.get("/api/training/jobs/{id}")
async def get_job(request: web.Request) -> web.Response:
    return json_response({"job": job_view(await _job(request, "id"))})


@routes.post("/api/training/jobs/{id}/cancel")
async def cancel_job(request: web.Request) -> web.Response:
    return json_response({"job": job_view(await _cancel(request, await _job(request, "id")))})


@routes.post("/api/training/retrain")
async def retrain(request: web.Request) -> web.Response:
    """Rebuild style profiles, refresh the examples bank and retrain the classifiers now."""
    try:
        row = await start_retraining(request.app)
    except SlotBusy as exc:
        raise ApiError(409, f"A retraining run is already active ({exc.job_id})") from None
    return json_response({"job": job_view(row)}, status=201)


# ---------------------------------------------------------------- ML API (seed 000)

@routes.post("/training/start")
async def ml_start(request: web.Request) -> web.Response:
    body = await parse_body(request, MlStartBody)
    samples = [Sample(s.input, s.output, s.quality) for s in body.samples]
    row = await _start(request, body.job_id or new_uid(), body.base_model, samples, params_of(body), inline=True)
    return json_response(ml_job_view(row))


@routes.get("/training/status/{job_id}")
async def ml_status(request: web.Request) -> web.Response:
    return json_response(ml_job_view(await _job(request, "job_id")))


@routes.post("/training/cancel/{job_id}")
async def ml_cancel(request: web.Request) -> web.Response:
    return json_response(ml_job_view(await _cancel(request, await _job(request, "job_id"))))


# ---------------------------------------------------------------- start-up

async def _fail_orphans(app: web.Application) -> None:
    await app[DB].write(fail_orphans, app[CLOCK].now())


async def training_ctx(app: web.Application) -> AsyncIterator[None]:
    """create_app's cleanup context: at shutdown, stop this hub's training tasks and processes (a
    worker process also exits by itself when the hub's end of its stdin closes)."""
    yield
    await training_runner(app).close()


def register_jobs(app: web.Application, worker: jobs.Worker) -> None:
    """No durable job kinds: at start, fail the jobs of hubs that died. (The retraining schedule runs
    in the scheduler: hub/retraining.schedule_retraining.)"""
    training_runner(app).spawn(_fail_orphans(app), "training orphans")
