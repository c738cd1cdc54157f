"""The registry entries of the seed 000 ML service API (see hub/openapi_registry.py)."""

from __future__ import annotations

from hub.api import ml_persona, ml_style
from hub.api.ml_generation import CacheQuery, GenerateBody, MoreQuery, ReloadQuery, SuggestionsBody
from hub.api.ml_memory import InjectBody, RecallBody, StatsQuery, StoreBody
from hub.api.ml_sales import BadActorBody, ClassifyBody, ConversationBody, FollowUpBody
from hub.api.ml_triage import CorrectionBody, TriageBatch, TriageItem
from hub.openapi import Op
from hub.openapi_models_ml import (AgreementReport, BadActorReport, CacheInvalidated, CorrectionStored, FollowUp,
                                   Generated, JobQueued, JobStatus, MemoriesInjected, MemoriesRecalled, MemoryDeleted,
                                   MemoryStats, MemoryStored, ModelReloaded, PersonaDeleted, PersonaProfileOut,
                                   PersonaProfileView, SalesClassification, StyleDeleted, Styled, StyleProfileView,
                                   SuggestionPage, Triage, TriageBatchResult)

ML = "ML API (seed 000)"
USE_LLM = "With `use_llm` the model rewrites the draft; the rule-based result is kept when it drops a fact."

GENERATION = (
    Op("POST", "/generate", "Generate text (cached by request or `cache_key`)", ML, body=GenerateBody,
       ok={200: Generated}, errors=(503,), brain="llm"),
    Op("POST", "/generate/async", "Queue a generation job", ML, body=GenerateBody, ok={200: JobQueued}),
    Op("GET", "/generate/status/{job_id}", "Status and result of a generation job", ML, ok={200: JobStatus}),
    Op("DELETE", "/cache", "Invalidate cached generations matching a glob pattern", ML, query=CacheQuery,
       ok={200: CacheInvalidated}),
    Op("POST", "/model/reload", "Reload the language model (a .gguf path, a completed training job's id: the "
       "configured model with its LoRA adapter, or empty: the configured one)", ML,
       query=ReloadQuery, ok={200: ModelReloaded}, errors=(404, 409, 503), brain="llm"),
    Op("POST", "/suggestions", "Themed reply options (first page)", ML, body=SuggestionsBody,
       ok={200: SuggestionPage}, errors=(503,), brain="llm"),
    Op("GET", "/suggestions/more/{request_id}", "The next page of reply options", ML, query=MoreQuery,
       ok={200: SuggestionPage}),
)

MEMORY = (
    Op("POST", "/memory/store", "Remember messages or a summary", ML, body=StoreBody, ok={200: MemoryStored},
       brain="embedder", slow=True),
    Op("POST", "/memory/recall", "Recall memories of a user and contact", ML, body=RecallBody,
       ok={200: MemoriesRecalled}, brain="embedder"),
    Op("POST", "/memory/inject", "Put memories into a chat as one system message", ML, body=InjectBody,
       ok={200: MemoriesInjected}, brain="embedder", slow=True),
    Op("GET", "/memory/stats", "Counts of memories, contacts and users", ML, query=StatsQuery,
       ok={200: MemoryStats}, brain="embedder"),
    Op("DELETE", "/memory/{memory_id}", "Forget one memory", ML, ok={200: MemoryDeleted}, brain="embedder"),
)

STYLE = (
    Op("POST", "/style/learn", "Learn a writing style (merged with what was learned)", ML, body=ml_style.LearnBody,
       ok={200: StyleProfileView}, slow=True),
    Op("GET", "/style/{user_id}/{contact_id}", "A learned style", ML, ok={200: StyleProfileView}),
    Op("POST", "/style/apply", "Rewrite a draft in a learned style", ML, body=ml_style.ApplyBody,
       ok={200: Styled}, errors=(404, 503), brain="llm", description=USE_LLM),
    Op("DELETE", "/style/{user_id}/{contact_id}", "Delete a learned style", ML, ok={200: StyleDeleted}),
    Op("POST", "/flirty/style/learn", "Learn a creator's persona", ML, body=ml_persona.LearnBody,
       ok={200: PersonaProfileOut}, slow=True),
    Op("POST", "/flirty/style/mark", "Add one approved reply to a persona", ML, body=ml_persona.MarkBody,
       ok={200: PersonaProfileOut}),
    Op("GET", "/flirty/style/{creator_id}", "A creator's persona", ML, ok={200: PersonaProfileView}),
    Op("POST", "/flirty/style/apply", "Rewrite a draft in a creator's persona", ML, body=ml_persona.ApplyBody,
       ok={200: Styled}, errors=(404, 503), brain="llm", description=USE_LLM),
    Op("DELETE", "/flirty/style/{creator_id}", "Delete a persona (and perhaps its samples)", ML,
       query=ml_persona.DeleteQuery, ok={200: PersonaDeleted}),
    Op("POST", "/flirty/suggestions", "Persona-flavoured reply options", ML, body=ml_persona.FlirtySuggestionsBody,
       ok={200: SuggestionPage}, errors=(503,), brain="llm"),
)

CLASSIFIERS = (
    Op("POST", "/triage", "Urgency, intent and tone of a message", ML, body=TriageItem, ok={200: Triage},
       errors=(503,), brain="embedder"),
    Op("POST", "/triage/batch", "Triage of several messages", ML, body=TriageBatch, ok={200: TriageBatchResult},
       errors=(503,), brain="embedder", slow=True),
    Op("POST", "/sales/classify", "Sales intent of a message", ML, body=ClassifyBody, ok={200: SalesClassification},
       errors=(503,), brain="embedder"),
    Op("POST", "/sales/detect-bad-actor", "Freeloader, scam and time-waste risk of a conversation", ML,
       body=BadActorBody, ok={200: BadActorReport}, errors=(503,), brain="embedder"),
    Op("POST", "/sales/detect-agreement", "Prices and agreement in a conversation", ML, body=ConversationBody,
       ok={200: AgreementReport}),
    Op("POST", "/sales/follow-up", "The next step with a contact", ML, body=FollowUpBody, ok={200: FollowUp}),
    Op("POST", "/classifiers/corrections", "Correct a classifier's label: a training sample for the next retraining "
       "(an extension)", ML, body=CorrectionBody, ok={201: CorrectionStored}, errors=(404,)),
)

ML_OPERATIONS: tuple[Op, ...] = (*GENERATION, *MEMORY, *STYLE, *CLASSIFIERS)
