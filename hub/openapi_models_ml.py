"""Response models of the seed 000 ML service API for /openapi.json (generation, suggestions,
memory, style, persona, triage, sales). The style and persona profiles are built from the brain's
own dataclasses, so a field added there is documented here without a second list."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Any, Literal, get_type_hints

from pydantic import Field, create_model

from brain.memory import Memory
from brain.persona import PersonaProfile
from brain.style import StyleProfile
from brain.triage import TriageResult
from hub.openapi_models import View, absent


def view_of(name: str, dataclass: type, **extra: Any) -> type[View]:
    """A View with every field of `dataclass` (all required: the routes send `asdict`) plus `extra`."""
    hints = get_type_hints(dataclass)
    fields: dict[str, Any] = {f.name: (hints[f.name], ...) for f in dataclasses.fields(dataclass)}
    return create_model(name, __base__=View, __module__=__name__, **{**fields, **extra})


# ---------------------------------------------------------------- generation (hub/api/ml_generation.py)

class Generation(View):
    response: str
    confidence: float
    model_version: str
    tokens_used: int


class Generated(Generation):
    cached: bool
    cache_key: str


class JobQueued(View):
    job_id: str
    status: Literal["queued"]


class JobStatus(View):
    """ml_generation._job_view."""

    job_id: str
    status: Literal["queued", "processing", "completed", "failed"]
    result: Generation | None
    error: str | None
    created_at: datetime
    completed_at: datetime | None


class CacheInvalidated(View):
    invalidated: int = Field(ge=0)


class ModelReloaded(View):
    status: Literal["reloaded"]
    model_loaded: bool
    model_version: str | None
    model_id: str | None
    cache_invalidated: int = Field(ge=0)


class SuggestionOption(View):
    """hub.reply_options: one drafted reply option."""

    text: str
    descriptor: str
    theme: str
    confidence: float
    quality_score: float


class SuggestionPage(View):
    """ml_generation.suggestions_view."""

    request_id: str
    conversation_id: str | None
    options: list[SuggestionOption]
    has_more: bool
    total_count: int = Field(ge=0)


# ---------------------------------------------------------------- memory (hub/api/ml_memory.py)

MemoryOut = view_of("MemoryOut", Memory)  # brain.memory.Memory.as_dict, with `score` on recall


class MemoryStored(View):
    stored: int
    memory_ids: list[str]
    message_ids: list[str]


class MemoriesRecalled(View):
    memories: list[MemoryOut]
    count: int


class MemoryChatMessage(View):
    role: str
    content: str


class MemoriesInjected(View):
    messages: list[MemoryChatMessage]
    injected: int


class MemoryStats(View):
    total_memories: int
    contacts: int
    users: int
    collection: str


class MemoryDeleted(View):
    deleted: Literal[True]
    memory_id: str


# ---------------------------------------------------------------- style and persona (ml_style.py, ml_persona.py)

StyleProfileView = view_of("StyleProfileView", StyleProfile, user_id=(str, ...), contact_id=(str, ...),
                           updated_at=(datetime, ...))
PersonaProfileOut = view_of("PersonaProfileOut", PersonaProfile)
PersonaProfileView = view_of("PersonaProfileView", PersonaProfile, creator_id=(str, ...), updated_at=(datetime, ...),
                             samples_kept=(int, ...))


class Styled(View):
    styled_response: str
    original_response: str
    transformations_applied: list[str]
    used_llm: bool


class StyleDeleted(View):
    deleted: Literal[True]
    user_id: str
    contact_id: str


class PersonaDeleted(View):
    deleted: Literal[True]
    creator_id: str
    samples_deleted: bool
    samples_kept: int


# ---------------------------------------------------------------- triage and sales (ml_triage.py, ml_sales.py)

# brain.triage.TriageResult.to_dict, with the request's `message_id` when it gave one.
Triage = view_of("Triage", TriageResult, message_id=(str, absent()),
                 priority=(Literal["urgent", "time-sensitive", "routine", "low"], ...))


class TriageBatchResult(View):
    results: list[Triage]
    count: int


class CorrectionStored(View):
    """hub.api.ml_triage.add_correction: the stored training sample."""

    id: int
    task: str
    label: str
    text: str


class SalesClassification(View):
    """brain.sales.sales_result."""

    intent: str
    confidence: float
    secondary_intents: list[Annotated[list[str | float], Field(min_length=2, max_length=2)]] = Field(
        description="[intent, probability] pairs, most likely first")
    is_positive_signal: bool
    is_negative_signal: bool
    requires_attention: bool
    raw_message: str
    evidence: dict[str, Any]


class RedFlag(View):
    flag: str
    message_index: int
    severity: float
    reasoning: str = absent()


class BadActorReport(View):
    freeloader_score: float
    scam_risk: float
    time_waste_score: float
    combined_risk: float
    red_flags: list[RedFlag]
    recommendation: str


class PriceOut(View):
    amount: float
    currency: str | None
    raw_text: str
    position: int


class AgreementReport(View):
    """brain.agreement.AgreementResult.to_dict."""

    prices_mentioned: list[PriceOut]
    has_agreement: bool
    agreed_price: PriceOut | None
    schedule_info: dict[str, Any] | None
    negotiation_stage: Literal["no_discussion", "inquiry", "negotiating", "agreed", "declined"]
    evidence: list[dict[str, Any]]


class FollowUp(View):
    """brain.follow_up.recommend."""

    contact_id: str
    priority: Literal["high", "medium", "low", "none"]
    reason: str
    suggested_message: str
    optimal_timing: str
    intent_summary: str
