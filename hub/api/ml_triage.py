"""Seed 000 triage routes (POST /triage, POST /triage/batch), the app's trained classifiers and the owner's
label corrections (POST /classifiers/corrections, an extension).

The classifiers of one app live in a `ClassifierSet` under `<data_dir>/models` (versioned files, see
brain/classifier.py), made on first use. The job `classifiers.retrain` (and the "retrain" training run of
hub/retraining.py) reloads the owner's corrections (table `label_corrections`) so the next prediction
uses models that learnt them.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any, Literal

import sqlalchemy as sa
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from brain.classifier import ClassifierSet, Correction
from hub import jobs
from hub.api.common import json_response
from hub.errors import ApiError
from hub.state import BRAIN, CLOCK, DB, SETTINGS
from hub.validation import parse_body
from storage.models import LabelCorrection, Message

routes = web.RouteTableDef()
RETRAIN_JOB = "classifiers.retrain"
MAX_BATCH = 500
MAX_TEXT = 20_000
Contact = Literal["friend", "family", "work", "acquaintance", "unknown"]
Task = Literal["priority", "intent", "emotional_tone", "needs_action", "sales_intent"]
# The app is frozen before its first request or job, so its classifiers hang off it by weak reference.
_CLASSIFIERS: weakref.WeakKeyDictionary[web.Application, ClassifierSet] = weakref.WeakKeyDictionary()


class TriageItem(BaseModel):
    model_config = ConfigDict(extra="ignore")
    message: str = Field(min_length=1, max_length=MAX_TEXT)
    contact_classification: Contact = "unknown"
    message_id: str | None = Field(None, max_length=255)


class TriageBatch(BaseModel):
    model_config = ConfigDict(extra="ignore")
    messages: list[TriageItem] = Field(min_length=1, max_length=MAX_BATCH)


class CorrectionBody(BaseModel):
    """The owner's label for a text (or a stored message's text): a training sample for the next model."""

    model_config = ConfigDict(extra="ignore")
    task: Task
    label: str = Field(min_length=1, max_length=64)
    text: str | None = Field(None, min_length=1, max_length=MAX_TEXT)
    message_id: str | None = Field(None, min_length=1, max_length=36, description="a stored message's uid")


def classifiers(app: web.Application) -> ClassifierSet:
    """The app's trained models, versioned under `<data_dir>/models`."""
    models = _CLASSIFIERS.get(app)
    if models is None:
        models = _CLASSIFIERS.setdefault(app, ClassifierSet(app[SETTINGS].data_path / "models"))
    return models


async def ml_parts(app: web.Application) -> tuple[Any, ClassifierSet]:
    """The embedder (503 when it cannot load) and the app's classifiers."""
    try:
        embedder = await app[BRAIN].embedder()
    except Exception as exc:  # a missing model package, a broken install
        raise ApiError(503, f"The embedding model is not available: {exc}") from None
    return embedder, classifiers(app)


async def run_triage(app: web.Application, items: list[TriageItem]) -> list[dict[str, Any]]:
    from brain.triage import triage_batch

    embedder, models = await ml_parts(app)
    pairs = [(item.message, item.contact_classification) for item in items]
    results = await asyncio.to_thread(triage_batch, pairs, now=app[CLOCK].now(), embedder=embedder, models=models)
    out = []
    for item, result in zip(items, results):
        body = result.to_dict()
        if item.message_id is not None:
            body = {"message_id": item.message_id, **body}
        out.append(body)
    return out


@routes.post("/triage")
async def triage_one(request: web.Request) -> web.Response:
    body = await parse_body(request, TriageItem)
    return json_response((await run_triage(request.app, [body]))[0])


@routes.post("/triage/batch")
async def triage_many(request: web.Request) -> web.Response:
    body = await parse_body(request, TriageBatch)
    results = await run_triage(request.app, body.messages)
    return json_response({"results": results, "count": len(results)})


def task_labels(task: str) -> list[str]:
    """The labels a task's shipped dataset uses (a correction must be one of them)."""
    from brain.sales import SALES_INTENT
    from brain.triage import TASKS

    spec = next(s for s in (*TASKS, SALES_INTENT) if s.name == task)
    return sorted({e.label for e in spec.load()})


def _store_correction(conn: sa.Connection, body: CorrectionBody, now: Any) -> dict[str, Any]:
    message = None
    if body.message_id is not None:
        message = conn.execute(sa.select(Message.id, Message.text).where(Message.uid == body.message_id)).first()
        if message is None:
            raise ApiError(404, f"No message {body.message_id}")
    text = body.text or (message.text if message is not None else "")
    if not (text or "").strip():
        raise ApiError(400, "A correction needs a text or the id of a message with text")
    row_id = conn.execute(sa.insert(LabelCorrection).values(
        task=body.task, text=text, label=body.label, message_id=message.id if message is not None else None,
        created_at=now).returning(LabelCorrection.id)).scalar_one()
    return {"id": row_id, "task": body.task, "label": body.label, "text": text}


@routes.post("/classifiers/corrections")
async def add_correction(request: web.Request) -> web.Response:
    """Record a corrected label; the next retraining (job, schedule or POST /api/training/retrain) learns it."""
    body = await parse_body(request, CorrectionBody)
    labels = task_labels(body.task)
    if body.label.lower() not in labels:
        raise ApiError(400, f"label must be one of: {', '.join(labels)}")
    body = body.model_copy(update={"label": body.label.lower()})
    stored = await request.app[DB].write(_store_correction, body, request.app[CLOCK].now())
    return json_response(stored, status=201)


def _load_corrections(conn: sa.Connection) -> list[Correction]:
    rows = conn.execute(sa.select(LabelCorrection.task, LabelCorrection.text, LabelCorrection.label)
                        .order_by(LabelCorrection.id)).all()
    return [Correction(r.task, r.text, r.label) for r in rows]


async def retrain(app: web.Application) -> None:
    """Load the owner's corrections and retrain the triage and sales models they change."""
    from brain.analysis import train_models

    corrections = await app[DB].read(_load_corrections)
    embedder, models = await ml_parts(app)
    models.set_corrections(corrections)
    await asyncio.to_thread(train_models, embedder, models)


def register_jobs(app: web.Application, worker: jobs.Worker) -> None:
    async def handle(job: jobs.ClaimedJob) -> None:
        await retrain(app)

    worker.register(RETRAIN_JOB, handle)
