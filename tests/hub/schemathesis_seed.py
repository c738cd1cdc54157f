"""Data for the schemathesis run (tests/hub/test_schemathesis.py): one of each thing the routes look
up, created through the API where it can be (rows the model would have written are inserted), and
the path ids and body fields that name them, so generated requests reach the 2xx responses too."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from storage.models import AssistantThread, Suggestion
from storage.training_models import TrainingJob
from tests.conftest import Hub

Inputs = dict[str, tuple[dict[str, Any], dict[str, Any]]]  # "METHOD /path" -> (path parameters, body fields)


async def _post(hub: Hub, path: str, token: str | None = None, **kwargs: Any) -> Any:
    resp = await hub.request("POST", path, token, **kwargs)
    assert resp.status in (200, 201), f"seeding {path}: {resp.status} {await resp.text()}"
    return await resp.json()


async def _conversation(hub: Hub, device_token: str) -> None:
    """Conversation 1 (contact 1) with inbound message 1, and pending suggestions 1, 2 and 3."""
    await _post(hub, "/api/sync/messages", device_token, json={
        "conversationImessageId": "chat-1", "conversationDisplayName": "Ada",
        "messages": [{"imessageGuid": "g-1", "senderId": "+14155550100", "direction": "incoming",
                      "text": "Are you free on Saturday?", "sentAt": "2024-01-01T12:00:00Z"}]})
    now = datetime.now(timezone.utc)
    for body in ("Yes, Saturday works!", "Let me check.", "Sure!"):
        await hub.db.execute(sa.insert(Suggestion).values(conversation_id=1, reply_to_message_id=1, body=body,
                                                          confidence=0.8, created_at=now))


async def _ml(hub: Hub) -> dict[str, str]:
    job = await _post(hub, "/generate/async", json={"prompt": "Them: hi\nMe:"})
    memory = await _post(hub, "/memory/store", json={"user_id": "u1", "contact_id": "c1", "messages": [
        {"role": "user", "content": "I love gala apples"}]})
    await _post(hub, "/style/learn", json={"user_id": "u1", "contact_id": "c1", "samples": [
        {"output": "hey! sounds good :)"}, {"output": "sure thing, see you at 5"}]})
    await _post(hub, "/flirty/style/learn", json={"creator_id": "creator-1", "samples": [
        {"output": "maybe... if you ask nicely 😏"}]})
    return {"job_id": job["job_id"], "memory_id": memory["memory_ids"][0]}


async def _ai_hub(hub: Hub) -> dict[str, str]:
    folder = (await _post(hub, "/api/ai-hub/folders", json={"name": "FAQ"}))["folder"]["id"]
    document = await _post(hub, f"/api/ai-hub/folders/{folder}/documents",
                           json={"filename": "faq.md", "text": "# Hours\nWe open at nine every weekday."})
    await _post(hub, "/api/ai-hub/assistants", json={"id": "assistant-1", "name": "Helper", "foldersId": [folder]})
    return {"folder": folder, "document": document["document"]["id"]}


async def _rows(hub: Hub) -> None:
    """What a model or a training process would have written: a /prompt thread, a finished training job."""
    now = datetime.now(timezone.utc)
    await hub.db.execute(sa.insert(AssistantThread).values(
        id="thread-1", kind="prompt", created_at=now, updated_at=now, messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]))
    await hub.db.execute(sa.insert(TrainingJob).values(
        id="job-1", kind="lora", slot="api_key:seed", status="completed", progress=100.0, base_model="seed.gguf",
        created_at=now, updated_at=now, finished_at=now))


async def _warm_classifiers(hub: Hub) -> None:
    """The first triage and sales calls build their classifiers (many seconds on a loaded machine):
    done here, outside the run's per-request timeout."""
    await _post(hub, "/triage", json={"message": "Can we talk today?"})
    await _post(hub, "/sales/classify", json={"message": "How much is it?"})
    await _post(hub, "/sales/detect-bad-actor", json={"conversation": [{"sender": "contact", "content": "Free?"}]})


def _inputs(ids: dict[str, str]) -> Inputs:
    v1, style, job = {"id": 1}, {"user_id": "u1", "contact_id": "c1"}, {"id": "job-1"}
    folder, creator = {"id": ids["folder"]}, {"creator_id": "creator-1"}
    return {
        "GET /static/{name}": ({"name": "app.js"}, {}),
        "POST /api/devices/{id}/deactivate": ({"id": ids["spare_device"]}, {}),
        "GET /api/conversations/{id}/messages": ({"id": "1"}, {}),
        "POST /api/responses/generate": ({}, {"messageId": "1"}),
        "POST /api/responses/{id}/action": ({"id": "3"}, {}),
        "GET /generate/status/{job_id}": ({"job_id": ids["job_id"]}, {}),
        "DELETE /memory/{memory_id}": ({"memory_id": ids["memory_id"]}, {}),
        "GET /style/{user_id}/{contact_id}": (style, {}), "DELETE /style/{user_id}/{contact_id}": (style, {}),
        "POST /style/apply": ({}, style),
        "GET /flirty/style/{creator_id}": (creator, {}), "DELETE /flirty/style/{creator_id}": (creator, {}),
        "POST /flirty/style/apply": ({}, creator),
        "GET /conversation/{conversation_id}": ({"conversation_id": "thread-1"}, {}),
        **{f"{method} /api/v1/conversations/{{id}}{tail}": (v1, {}) for method, tail in (
            ("GET", ""), ("GET", "/ai-suggestion"), ("POST", "/reply"), ("POST", "/regenerate"),
            ("PATCH", "/archive"))},
        "POST /api/v1/conversations/{id}/approve": (v1, {"suggestion_id": 1}),
        "POST /api/v1/conversations/{id}/reject": (v1, {"suggestion_id": 2}),
        "POST /api/ai-hub/assistant/ask": ({}, {"assistantId": "assistant-1"}),
        "GET /api/ai-hub/assistants/{id}": ({"id": "assistant-1"}, {}),
        "DELETE /api/ai-hub/assistants/{id}": ({"id": "assistant-1"}, {}),
        **{f"{method} /api/ai-hub/folders/{{id}}{tail}": (folder, {}) for method, tail in (
            ("POST", "/documents"), ("GET", "/documents"), ("DELETE", ""))},
        "DELETE /api/ai-hub/documents/{id}": ({"id": ids["document"]}, {}),
        "GET /api/training/jobs/{id}": (job, {}), "POST /api/training/jobs/{id}/cancel": (job, {}),
        "GET /training/status/{job_id}": ({"job_id": "job-1"}, {}),
        "POST /training/cancel/{job_id}": ({"job_id": "job-1"}, {}),
        "GET /api/followups/contacts/{id}/settings": ({"id": "1"}, {}),
        "PUT /api/followups/contacts/{id}/settings": ({"id": "1"}, {}),
    }


async def seed(hub: Hub, device_token: str) -> Inputs:
    """Create the data; return the inputs that name it, per operation."""
    await _conversation(hub, device_token)
    spare = await _post(hub, "/api/devices/register", json={"name": "Spare", "hardwareId": "HW-spare",
                                                            "platform": "macos"})
    ids = {**await _ml(hub), **await _ai_hub(hub), "spare_device": spare["deviceId"]}
    await _rows(hub)
    await _warm_classifiers(hub)
    return _inputs(ids)


def with_seeded(case: Any, inputs: Inputs) -> Any:
    """The generated case, naming seeded things instead of random ones."""
    path, body = inputs.get(case.operation.label, ({}, {}))
    if path:
        case.path_parameters = {**(case.path_parameters or {}), **path}
    if body and isinstance(case.body, dict):
        case.body = {**case.body, **body}
    return case
