"""Starting a LoRA fine-tuning job: the base model, the samples, the worker's spec, the row.

Samples are the owner's accepted and edited drafts (`training_samples`): input = the contact's
message, output = the text the owner approved. The base model is the configured GGUF (the bundled
SmolLM2 by default); the finished adapter is `<data_dir>/training/<job id>/lora-<job id>.gguf`, which
llama.cpp loads over that base (`POST /model/reload?model_id=<job id>`: `trained_adapter`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiohttp import web

from brain.training import Sample, TrainingSpec
from hub.errors import ApiError
from hub.state import CLOCK, DB, SETTINGS
from hub.training_runs import insert_job, training_runner
from storage.models import TrainingSample
from storage.training_models import TrainingJob, TrainingKind, TrainingStatus

MAX_SAMPLES = 2000  # the newest usable samples when none are named
USABLE_ACTIONS = ("accept", "edit")


class BadTrainingRequest(ValueError):
    """The request names something unusable (an unknown model or sample); the API answers 400."""


@dataclass(frozen=True)
class LoraParams:
    epochs: int = 3
    learning_rate: float = 1e-4
    lora_rank: int = 8
    lora_alpha: float | None = None  # default: twice the rank
    batch_size: int = 4
    max_length: int = 256

    def options(self) -> dict[str, Any]:
        return {"lora_rank": self.lora_rank, "lora_alpha": self.alpha, "batch_size": self.batch_size,
                "max_length": self.max_length}

    @property
    def alpha(self) -> float:
        return self.lora_alpha if self.lora_alpha is not None else 2.0 * self.lora_rank


def configured_model(settings: Any) -> Path:
    from brain.llm import bundled_gguf_path

    configured = settings.brain.model_path
    return settings.resolve_path(configured) if configured else bundled_gguf_path()


def resolve_base_model(settings: Any, requested: str | None) -> Path:
    """The configured model when `requested` is empty or names it; else an existing .gguf path."""
    configured = configured_model(settings)
    name = (requested or "").strip()
    if not name or name in (configured.stem, configured.name, str(configured)):
        return configured
    if not name.lower().endswith(".gguf"):
        raise BadTrainingRequest(f"Unknown base model {name!r}: this hub fine-tunes {configured.stem} "
                                 "(or give the path of a llama-architecture .gguf file)")
    path = settings.resolve_path(Path(name).expanduser())
    if not path.is_file():
        raise BadTrainingRequest(f"Base model not found: {name}")
    return path


def _usable(row: Any) -> bool:
    return row.action in USABLE_ACTIONS and bool((row.final_output or "").strip()) and bool(row.input_text.strip())


def load_samples(conn: sa.Connection, sample_ids: list[str] | None) -> list[sa.Row]:
    """The named samples (each must exist and be an accepted or edited draft), else the newest usable ones."""
    if not sample_ids:
        rows = conn.execute(sa.select(TrainingSample).where(
            TrainingSample.action.in_(USABLE_ACTIONS), TrainingSample.final_output.is_not(None))
            .order_by(TrainingSample.id.desc()).limit(MAX_SAMPLES * 2)).all()
        return [row for row in rows if _usable(row)][:MAX_SAMPLES][::-1]
    wanted = list(dict.fromkeys(sample_ids))
    rows = {r.uid: r for r in conn.execute(sa.select(TrainingSample).where(TrainingSample.uid.in_(wanted))).all()}
    missing = [uid for uid in wanted if uid not in rows]
    if missing:
        raise BadTrainingRequest(f"Unknown training sample id(s): {', '.join(missing[:5])}")
    unusable = [uid for uid in wanted if not _usable(rows[uid])]
    if unusable:
        raise BadTrainingRequest("Only accepted or edited drafts with the contact's message can train the model; "
                                 f"not usable: {', '.join(unusable[:5])}")
    return [rows[uid] for uid in wanted]


def spec_for(app: web.Application, job_id: str, base: Path, samples: list[Sample], params: LoraParams) -> TrainingSpec:
    settings = app[SETTINGS]
    return TrainingSpec(
        job_id=job_id, base_model=str(base), output_dir=str(settings.data_path / "training" / job_id),
        samples=samples, epochs=params.epochs, learning_rate=params.learning_rate, lora_rank=params.lora_rank,
        lora_alpha=params.alpha, batch_size=params.batch_size, max_length=params.max_length,
        system_prompt=drafting_system_prompt(settings))


def drafting_system_prompt(settings: Any) -> str:
    """The system prompt drafting gives the model (brain/draft.py), without a contact's details, so
    the adapter learns replies in the setting it will be used in."""
    from brain.draft import DraftRequest, build_messages

    request = DraftRequest(owner_name=settings.owner.name, contact_name="", channel="messages", history=[],
                           owner_about=settings.owner.about)
    return build_messages(request)[0]["content"]


async def start_lora_job(app: web.Application, *, job_id: str, slot: str, device_id: str | None, base: Path,
                         samples: list[Sample], params: LoraParams, sample_ids: list[str] | None = None,
                         inline: bool = False) -> sa.Row:
    """Insert the job (SlotBusy / JobExists propagate), start its worker process; the row as inserted."""
    if not samples:
        raise BadTrainingRequest("There are no accepted or edited drafts to train on yet")
    db = app[DB]
    values = {"id": job_id, "kind": TrainingKind.LORA, "slot": slot, "device_id": device_id,
              "base_model": str(base), "epochs": params.epochs, "learning_rate": params.learning_rate,
              "options": params.options(), "sample_ids": sample_ids,
              "samples": [s.__dict__ for s in samples] if inline else None}
    row = await db.write(insert_job, db, values, app[CLOCK].now())
    training_runner(app).launch_lora(job_id, spec_for(app, job_id, base, samples, params))
    return row


def sample_of(row: Any) -> Sample:
    return Sample(input=row.input_text, output=row.final_output or "", quality=row.quality)


async def trained_adapter(app: web.Application, job_id: str) -> tuple[str, str] | None:
    """(base model, LoRA GGUF) of the training job `job_id` for /model/reload; None when no job has
    that id; 409 when the job has no adapter (still running, failed or cancelled)."""
    row = await app[DB].first(sa.select(TrainingJob).where(TrainingJob.id == job_id,
                                                           TrainingJob.kind == TrainingKind.LORA))
    if row is None:
        return None
    if row.status != TrainingStatus.COMPLETED or not row.adapter_path or not Path(row.adapter_path).is_file():
        raise ApiError(409, f"Training job {job_id} has no adapter to load (it is {row.status})")
    return row.base_model, row.adapter_path
