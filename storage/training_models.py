"""The `training_jobs` table: LoRA fine-tuning runs and the retraining runs (style, examples, classifiers).

`storage/models.py` imports this module at its end, so Alembic sees the table on SQLModel.metadata.
At most one job per `slot` is active (queued or training): a partial unique index holds that on
both backends, behind the locked check that answers 409 (hub/training_runs.py).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.models import UTCDateTime, new_uid, utcnow


class TrainingStatus(StrEnum):
    QUEUED = "queued"
    TRAINING = "training"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class TrainingKind(StrEnum):
    LORA = "lora"  # an LLM adapter, trained in a separate process
    RETRAIN = "retrain"  # style profiles, few-shot examples, classifier heads


ACTIVE_STATUSES = (TrainingStatus.QUEUED, TrainingStatus.TRAINING)
_ACTIVE_SQL = sa.text("status IN ('queued', 'training')")


def _when(nullable: bool = True, **kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, nullable=nullable, **kwargs)


def _json() -> Any:
    return Field(default=None, sa_type=sa.JSON, nullable=True)


class TrainingJob(SQLModel, table=True):
    """One run: what it trains on, how far it got (progress 0..100, loss per step), what it made."""

    __tablename__ = "training_jobs"
    __table_args__ = (
        sa.Index("uq_training_active_slot", "slot", unique=True, sqlite_where=_ACTIVE_SQL,
                 postgresql_where=_ACTIVE_SQL),
        sa.Index("ix_training_jobs_kind_created", "kind", "created_at"),
    )
    id: str = Field(default_factory=new_uid, primary_key=True, max_length=64)
    kind: str = Field(default=TrainingKind.LORA, max_length=16)
    slot: str = Field(max_length=128)  # "device:<id>", "api_key:<id>" or "retrain": one active job each
    device_id: str | None = Field(default=None, max_length=36, index=True)
    status: str = Field(default=TrainingStatus.QUEUED, max_length=16, index=True)
    progress: float = 0.0
    phase: str | None = Field(default=None, max_length=32)
    base_model: str = Field(default="", max_length=1024)
    epochs: int = 3
    learning_rate: float = 1e-4
    options: dict[str, Any] | None = _json()  # LoRA rank, batch size, … as the run used them
    sample_ids: list[str] | None = _json()  # training_samples.uid (server API)
    samples: list[dict[str, Any]] | None = _json()  # inline samples (ML API /training/start)
    metrics: dict[str, Any] | None = _json()  # {"loss": [per step], eval losses, timings, …}
    adapter_path: str | None = Field(default=None, max_length=1024)
    error: str | None = None
    runner: str | None = Field(default=None, max_length=128)  # host:pid of the hub process running it
    worker_pid: int | None = None  # the training process (LoRA runs)
    created_at: datetime = _when(nullable=False, default_factory=utcnow)
    started_at: datetime | None = _when()
    finished_at: datetime | None = _when()
    updated_at: datetime = _when(nullable=False, default_factory=utcnow)  # also the run's heartbeat
