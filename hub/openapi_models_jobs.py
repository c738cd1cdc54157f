"""Response models for /openapi.json of training (hub/api/training.py: the seed 000 server API under
/api/training and the ML API under /training) and follow-ups (hub/api/followups.py, scheduler/store.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from hub.openapi_models import View, absent

# ---------------------------------------------------------------- training


class JobProgress(View):
    """What training.job_view and training.ml_job_view share."""

    status: str
    progress: float
    error: str | None
    kind: str
    phase: str | None
    epochs: int
    metrics: dict[str, Any]


class TrainingJobView(JobProgress):
    """training.job_view."""

    id: str
    baseModel: str
    learningRate: float
    options: dict[str, Any]
    sampleIds: list[str]
    adapterPath: str | None
    deviceId: str | None
    createdAt: datetime
    startedAt: datetime | None
    finishedAt: datetime | None


class TrainingJobEnvelope(View):
    job: TrainingJobView


class MlTrainingJob(JobProgress):
    """training.ml_job_view."""

    job_id: str
    base_model: str
    learning_rate: float
    samples: int
    adapter_path: str | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None


class TrainingSampleView(View):
    """training.sample_view: what the owner did with a draft."""

    id: str
    action: Literal["accept", "edit", "reject"]
    input: str
    output: str | None
    originalOutput: str
    finalOutput: str | None
    rejectionReason: str | None
    quality: float
    responseId: str | None
    conversationId: str | None
    deviceId: str | None
    createdAt: datetime


class TrainingSamplePage(View):
    samples: list[TrainingSampleView]
    total: int
    page: int
    pageSize: int


# ---------------------------------------------------------------- follow-ups


class NamedRef(View):
    id: str
    displayName: str


class SuggestionRef(View):
    id: str
    status: str


class FollowUpView(View):
    """scheduler.store.followup_view."""

    id: str
    conversationId: str
    channel: str
    contact: NamedRef | None
    rule: str
    status: Literal["planned", "queued", "held", "fired", "cancelled", "skipped"]
    reason: str
    note: str
    cause: str | None
    dueAt: datetime
    fireAt: datetime
    firedAt: datetime | None
    suggestion: SuggestionRef | None
    autoSent: bool
    detail: dict[str, Any]
    createdAt: datetime
    updatedAt: datetime


class FollowUpPage(View):
    followups: list[FollowUpView]
    total: int
    page: int
    pageSize: int


class QuietHoursOut(View):
    start: str
    end: str


class EffectivePolicy(View):
    """scheduler.policy.Policy.to_dict: what applies."""

    enabled: bool
    timezone: str
    quietHours: QuietHoursOut
    maxNudges: int
    waitingHours: float
    agreedHours: float
    rules: list[str]
    autoSend: bool


class PolicyOverrides(View):
    """What this scope sets itself; a key left out is inherited."""

    enabled: bool = absent()
    timezone: str = absent()
    quietStart: str = absent()
    quietEnd: str = absent()
    maxNudges: int = absent()
    waitingHours: float = absent()
    agreedHours: float = absent()
    rules: list[str] = absent()
    autoSend: bool = absent()


class FollowUpSettings(View):
    """scheduler.store.read_settings (with `contact` for a contact's settings)."""

    scope: Literal["owner", "contact"]
    effective: EffectivePolicy
    overrides: PolicyOverrides
    updatedAt: datetime | None
    contact: NamedRef = absent()
