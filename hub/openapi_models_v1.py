"""Response models for /openapi.json of seed 003 (/api/v1/conversations, hub/api/v1_views.py and
v1_queries.py) and seed 004 (/api/ai-hub, hub/api/ai_hub.py and ai_hub_setup.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, Json, RootModel

from hub.openapi_models import Seed004Error, View

# ---------------------------------------------------------------- seed 003


class Lead(View):
    id: int
    name: str
    email: str | None
    title: str | None


class LeadConversation(View):
    """v1_views.conversation_view."""

    id: int
    lead: Lead | None
    subject: str
    status: str
    message_count: int
    last_message_at: datetime | None
    last_inbound_at: datetime | None
    last_outbound_at: datetime | None
    has_pending_suggestion: bool
    created_at: datetime
    channel: str


class LeadConversationPage(View):
    conversations: list[LeadConversation]
    total: int
    page: int
    page_size: int
    has_more: bool


class Party(View):
    email: str | None
    name: str | None


class LeadMessage(View):
    """v1_views.message_view."""

    id: int
    conversation_id: int
    direction: Literal["inbound", "outbound"]
    sender: Party
    recipient: Party
    subject: str | None
    body_text: str
    body_html: str | None
    sent_at: datetime
    read_at: datetime | None
    is_read: bool
    created_at: datetime
    attachments: list[dict[str, Any]]


class SentimentAnalysis(View):
    """v1_views.sentiment_view."""

    sentiment: Literal["positive", "negative", "neutral"] | None
    sentiment_confidence: float | None
    intent: str | None
    intent_confidence: float | None
    engagement_score: float
    key_topics: list[str]
    questions_asked: list[str]
    urgency_level: Literal["high", "medium", "low"] | None


class AiMetadata(View):
    provider: str
    model: str | None
    tokens_used: int | None
    cost: float


class AiSuggestion(View):
    """v1_views.suggestion_view."""

    id: int
    conversation_id: int
    reply_to_message_id: int | None
    suggested_subject: str | None
    suggested_body: str
    edited_body: str | None
    confidence_score: float | None
    sentiment_analysis: SentimentAnalysis
    context_used: list[str]
    ai_reasoning: str
    ai_metadata: AiMetadata
    status: str
    tone: str | None
    created_at: datetime
    approved_at: datetime | None
    rejected_at: datetime | None
    sent_at: datetime | None
    user_rating: int | None
    feedback_notes: str | None


class LeadThread(LeadConversation):
    """v1_queries.thread: the conversation with its messages and pending suggestions."""

    updated_at: datetime
    archived_at: datetime | None
    messages: list[LeadMessage]
    pending_suggestions: list[AiSuggestion]


class LeadStats(View):
    """v1_queries.stats: the last seven days (rates in percent)."""

    total_conversations: int
    active_conversations: int
    needs_reply: int
    waiting_for_response: int
    archived_conversations: int
    emails_sent_week: int
    emails_received_week: int
    response_rate_week: float
    avg_response_time_hours: float | None
    ai_suggestions_generated_week: int
    ai_suggestions_approved_week: int
    ai_approval_rate_week: float
    avg_confidence_score: float | None
    emails_opened_week: int
    emails_clicked_week: int
    open_rate_week: float
    click_rate_week: float


class SentData(View):
    conversation_id: int
    message_id: int | None
    postmark_message_id: str | None


class ReplySent(View):
    success: Literal[True]
    message: str
    data: SentData


class RejectedData(View):
    suggestion_id: int


class SuggestionRejected(View):
    success: Literal[True]
    message: str
    data: RejectedData


class ArchivedData(View):
    conversation_id: int
    archived_at: datetime


class ConversationArchived(View):
    success: Literal[True]
    message: str
    data: ArchivedData


# ---------------------------------------------------------------- seed 004


class AssistantOut(View):
    """ai_hub_setup.assistant_view."""

    id: str
    name: str
    instructions: str
    foldersId: list[str]
    createdAt: datetime
    updatedAt: datetime


class AssistantEnvelope(View):
    success: Literal[True]
    assistant: AssistantOut


class AssistantList(View):
    success: Literal[True]
    assistants: list[AssistantOut]


class FolderOut(View):
    id: str
    name: str
    documents: int
    createdAt: datetime


class FolderEnvelope(View):
    success: Literal[True]
    folder: FolderOut


class FolderList(View):
    success: Literal[True]
    folders: list[FolderOut]


class DocumentOut(View):
    id: str
    folderId: str
    filename: str
    mimeType: Literal["application/pdf", "text/markdown", "text/plain"]
    size: int
    chunks: int
    sha256: str
    createdAt: datetime


class DocumentEnvelope(View):
    success: Literal[True]
    document: DocumentOut
    duplicate: bool = Field(description="true when the folder held these exact bytes already")


class DocumentList(View):
    success: Literal[True]
    documents: list[DocumentOut]


class Deleted(View):
    success: Literal[True]
    id: str


class AskMessageOut(View):
    id: str
    role: Literal["user", "assistant", "system"]
    content: str
    createdAt: datetime | None


class KnowledgeChunk(View):
    document_id: str
    filename: str
    folder_id: str
    folder_name: str
    chunk_index: int
    score: float
    text: str


class AskMetadata(View):
    processing_time: int = Field(description="milliseconds")
    tokens_used: int
    knowledge_sources: list[str]
    knowledge_chunks: list[KnowledgeChunk]
    conversation_id: str
    assistant_id: str
    preview: bool
    history_messages: int
    replayed: bool
    conversation_metadata: dict[str, Any]


class AskAnswer(View):
    success: Literal[True]
    message: AskMessageOut
    metadata: AskMetadata


class AskStarted(View):
    conversation_id: str
    assistant_id: str


class AskDelta(View):
    content: str


class AskStartEvent(View):
    event: Literal["start"]
    data: Json[AskStarted]


class AskDeltaEvent(View):
    event: Literal["delta"]
    data: Json[AskDelta]


class AskDoneEvent(View):
    event: Literal["done"]
    data: Json[AskAnswer]


class AskErrorEvent(View):
    event: Literal["error"]
    data: Json[Seed004Error]


class AskEvent(RootModel[Annotated[AskStartEvent | AskDeltaEvent | AskDoneEvent | AskErrorEvent,
                                   Field(discriminator="event")]]):
    """One server-sent event of a streamed answer: `start`, `delta` pieces of the answer, then `done`
    with the whole envelope, or `error` with the error envelope. `data` is a JSON text."""
