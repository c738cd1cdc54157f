"""Seed 004 over real HTTP with the bundled models: the ask route (validation issues per field, assistant
not found, metadata, preview, grounding in the named folders only, conversation threads, streaming, rate
limit, auth) and the set-up routes for assistants, knowledge folders and documents."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import sqlalchemy as sa

from brain.knowledge import NO_KNOWLEDGE_ANSWER
from hub.api.ai_hub import ASK_BURST, PARSE_PROBLEM, thread_key
from hub.keys import create_key
from storage.models import AssistantThread
from tests.brain.test_knowledge import HANDBOOK, HOURS, minimal_pdf

ASK = "/api/ai-hub/assistant/ask"
FAST = 24  # maxTokens for the few real generations


async def call(hub, method: str, path: str, payload: Any = None, expected: int = 200, **kwargs: Any) -> dict:
    if payload is not None:
        kwargs["json"] = payload
    resp = await hub.request(method, path, **kwargs)
    body = await resp.json()
    assert resp.status == expected, body
    return body


def assert_error(body: dict, error: str, *extra: str) -> None:
    assert set(body) == {"success", "error", *extra}, body
    assert body["success"] is False and body["error"] == error


async def folder(hub, name: str) -> str:
    body = await call(hub, "POST", "/api/ai-hub/folders", {"name": name}, 201)
    return body["folder"]["id"]


async def upload_text(hub, folder_id: str, filename: str, text: str, expected: int = 201) -> dict:
    return await call(hub, "POST", f"/api/ai-hub/folders/{folder_id}/documents",
                      {"filename": filename, "text": text}, expected)


async def studio(hub) -> dict[str, str]:
    """A studio folder with the handbook, and another folder that contradicts it."""
    ids = {"studio": await folder(hub, "Studio"), "other": await folder(hub, "Other studio")}
    ids["handbook"] = (await upload_text(hub, ids["studio"], "handbook.md", HANDBOOK))["document"]["id"]
    ids["rival"] = (await upload_text(hub, ids["other"], "rival.txt",
                                      "Studio hours are Monday only, 06:00 to 07:00."))["document"]["id"]
    return ids


def ask_body(content: str, assistant_id: str, **extra: Any) -> dict:
    return {"message": {"id": extra.pop("message_id", None) or f"m-{abs(hash(content))}", "role": "user",
                        "content": content, "createdAt": "2024-01-20T15:30:00Z"},
            "assistantId": assistant_id, "maxTokens": FAST, **extra}


async def assistant(hub, folders: list[str] | None = None, **extra: Any) -> str:
    body = await call(hub, "POST", "/api/ai-hub/assistants",
                      {"name": "Studio Bot", "instructions": "Answer questions from members.",
                       "foldersId": folders or [], **extra}, 201)
    return body["assistant"]["id"]


# ---------------------------------------------------------------- errors and validation

async def test_ask_needs_an_api_key(brain_hub):
    resp = await brain_hub.client.post(ASK, json=ask_body("hi", "a-1"))
    assert resp.status == 401
    assert_error(await resp.json(), "Missing credentials: send Authorization: Bearer <token>")


async def test_missing_fields_are_reported_per_field_in_the_seeds_words(brain_hub):
    body = await call(brain_hub, "POST", ASK, {}, 400)
    assert_error(body, PARSE_PROBLEM, "issues")
    assert body["issues"] == [{"field": "message", "message": "The message is required!"},
                              {"field": "assistantId", "message": "The assistant id is required!"}]
    blank = await call(brain_hub, "POST", ASK, {"message": {"content": "   "}, "assistantId": ""}, 400)
    assert blank["issues"] == [{"field": "message.content", "message": "The message content is required!"},
                               {"field": "assistantId", "message": "The assistant id is required!"}]


async def test_wrong_types_are_reported_per_field(brain_hub):
    body = await call(brain_hub, "POST", ASK, {
        "message": {"content": "hi", "role": "robot", "createdAt": "yesterday"}, "id": 5, "assistantId": "a-1",
        "metadata": ["channel"], "foldersId": "f-1", "previewAssistantData": "x", "stream": "often"}, 400)
    assert_error(body, PARSE_PROBLEM, "issues")
    fields = [issue["field"] for issue in body["issues"]]
    assert fields == ["message.role", "message.createdAt", "id", "metadata", "foldersId", "previewAssistantData",
                      "stream"]
    assert all(set(issue) == {"field", "message"} and issue["message"] for issue in body["issues"])
    not_object = await call(brain_hub, "POST", ASK, {"message": "hi", "assistantId": "a-1"}, 400)
    assert [i["field"] for i in not_object["issues"]] == ["message"]
    malformed = await call(brain_hub, "POST", ASK, expected=400, data=b"{nope",
                           headers={"Content-Type": "application/json"})
    assert_error(malformed, PARSE_PROBLEM, "issues")
    assert malformed["issues"][0]["field"] == "body"


async def test_an_unknown_assistant_is_not_found_and_named(brain_hub):
    body = await call(brain_hub, "POST", ASK, ask_body("hi", "550e8400-e29b-41d4-a716-446655440001"), 404)
    assert body == {"success": False, "error": "Assistant not found or not deployed",
                    "assistant_id": "550e8400-e29b-41d4-a716-446655440001"}


async def test_an_unknown_folder_in_folders_id_is_a_field_issue(brain_hub):
    assistant_id = await assistant(brain_hub)
    body = await call(brain_hub, "POST", ASK, ask_body("hi", assistant_id, foldersId=["nope"]), 400)
    assert body["issues"] == [{"field": "foldersId.0", "message": "Knowledge folder nope not found"}]


async def test_the_rate_limit_answers_429_with_retry_after_per_client(brain_hub, clock):
    for _ in range(ASK_BURST):
        await call(brain_hub, "POST", ASK, {}, 400)
    resp = await brain_hub.request("POST", ASK, json={})
    body = await resp.json()
    assert resp.status == 429 and body == {"success": False, "error": "Rate limit exceeded", "retry_after": 3}
    assert resp.headers["Retry-After"] == "3"
    _, other_key = await create_key(brain_hub.db, "other client", clock.now())
    await call(brain_hub, "POST", ASK, {}, 400, token=other_key)  # its own bucket
    clock.advance(seconds=3)
    await call(brain_hub, "POST", ASK, {}, 400)
    await call(brain_hub, "POST", ASK, {}, 429)


# ---------------------------------------------------------------- answers

async def test_an_answer_is_grounded_in_the_named_folder_and_lists_its_source(brain_hub):
    ids = await studio(brain_hub)
    assistant_id = await assistant(brain_hub, [ids["studio"]])
    body = await call(brain_hub, "POST", ASK, ask_body(
        "What are the studio hours?", assistant_id, id="conv-hours", foldersId=[ids["studio"]],
        metadata={"User_ID": "user_456", "Channel": "web", "session_id": "s-789"}))
    assert set(body) == {"success", "message", "metadata"} and body["success"] is True
    message, meta = body["message"], body["metadata"]
    assert message["role"] == "assistant" and message["content"] and message["id"].startswith("msg_")
    assert message["createdAt"].endswith("Z")
    assert isinstance(meta["processing_time"], int) and meta["tokens_used"] > 0
    assert meta["knowledge_sources"] == [ids["handbook"]]
    top = meta["knowledge_chunks"][0]
    assert HOURS in top["text"] and top["filename"] == "handbook.md" and top["folder_name"] == "Studio"
    assert top["document_id"] == ids["handbook"] and top["folder_id"] == ids["studio"] and top["score"] > 0.3
    assert all(chunk["folder_id"] == ids["studio"] for chunk in meta["knowledge_chunks"])
    assert meta["conversation_metadata"] == {"user_id": "user_456", "channel": "web", "session_id": "s-789"}
    assert meta["conversation_id"] == "conv-hours" and meta["preview"] is False


async def test_without_folders_id_the_assistants_folders_are_used_and_only_those(brain_hub):
    ids = await studio(brain_hub)
    assistant_id = await assistant(brain_hub, [ids["other"]])
    body = await call(brain_hub, "POST", ASK, ask_body("When is the studio open?", assistant_id))
    assert body["metadata"]["knowledge_sources"] == [ids["rival"]]
    empty = await folder(brain_hub, "Empty")
    none = await call(brain_hub, "POST", ASK, ask_body("When is the studio open?", assistant_id, foldersId=[empty]))
    assert none["message"]["content"] == NO_KNOWLEDGE_ANSWER
    assert none["metadata"]["knowledge_sources"] == [] and none["metadata"]["tokens_used"] == 0


async def test_when_nothing_relevant_is_found_the_answer_says_so(brain_hub):
    ids = await studio(brain_hub)
    assistant_id = await assistant(brain_hub, [ids["studio"]])
    body = await call(brain_hub, "POST", ASK, ask_body("What is the capital of Australia?", assistant_id))
    assert body["message"]["content"] == NO_KNOWLEDGE_ANSWER
    assert body["metadata"]["knowledge_sources"] == [] and body["metadata"]["knowledge_chunks"] == []


async def test_a_conversation_id_keeps_context_and_metadata_and_ids_are_isolated(brain_hub):
    assistant_id = await assistant(brain_hub)
    first = await call(brain_hub, "POST", ASK, ask_body("My favourite colour is teal.", assistant_id, id="conv-a",
                                                        message_id="m-1", metadata={"Language": "pt-BR"}))
    assert first["metadata"]["history_messages"] == 0
    note = await call(brain_hub, "POST", ASK, {"message": {"id": "m-2", "role": "system", "content": "User is a VIP"},
                                              "id": "conv-a", "assistantId": assistant_id})
    assert note["message"]["role"] == "system" and note["metadata"]["tokens_used"] == 0
    second = await call(brain_hub, "POST", ASK, ask_body("What is my favourite colour?", assistant_id, id="conv-a",
                                                         message_id="m-3", metadata={"TimeZone": "America/Sao_Paulo"}))
    assert second["metadata"]["history_messages"] == 2  # the first exchange; the note goes to the system prompt
    assert second["metadata"]["conversation_metadata"] == {"language": "pt-BR", "timezone": "America/Sao_Paulo"}
    other = await call(brain_hub, "POST", ASK, ask_body("What is my favourite colour?", assistant_id, id="conv-b"))
    assert other["metadata"]["history_messages"] == 0 and other["metadata"]["conversation_metadata"] == {}
    again = await call(brain_hub, "POST", ASK, ask_body("What is my favourite colour?", assistant_id, id="conv-a",
                                                        message_id="m-3"))
    assert again["message"] == second["message"] and again["metadata"]["replayed"] is True
    thread = await brain_hub.db.first(sa.select(AssistantThread).where(AssistantThread.id == thread_key("conv-a")))
    assert thread.kind == "ask" and thread.assistant_id == assistant_id
    assert [m["id"] for m in thread.messages] == ["m-1", first["message"]["id"], "m-2", "m-3", second["message"]["id"]]
    assert thread._mapping["metadata"]["context"] == {"language": "pt-BR", "timezone": "America/Sao_Paulo"}


async def test_preview_mode_answers_as_an_assistant_that_is_not_stored(brain_hub):
    body = await call(brain_hub, "POST", ASK, {
        "message": {"id": "msg_123", "role": "user", "content": "Test message"}, "id": "preview_conv_123",
        "assistantId": "preview_assistant", "maxTokens": FAST,
        "previewAssistantData": {"name": "Test Assistant", "description": "Testing new configuration"}})
    assert body["success"] is True and body["message"]["content"] and body["metadata"]["preview"] is True
    assert body["metadata"]["conversation_id"] == "preview_conv_123"


# ---------------------------------------------------------------- streaming

async def events(resp: aiohttp.ClientResponse) -> list[tuple[str, dict]]:
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
    parsed = []
    for block in (await resp.text()).strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        parsed.append((lines["event"], json.loads(lines["data"])))
    return parsed


async def test_accept_event_stream_sends_text_pieces_then_the_envelope(brain_hub):
    assistant_id = await assistant(brain_hub)
    resp = await brain_hub.request("POST", ASK, json=ask_body("Say hello.", assistant_id, id="conv-s"),
                                   headers={"Accept": "text/event-stream"})
    stream = await events(resp)
    names = [name for name, _ in stream]
    assert names[0] == "start" and names[-1] == "done" and set(names[1:-1]) == {"delta"}
    assert stream[0][1] == {"conversation_id": "conv-s", "assistant_id": assistant_id}
    envelope = stream[-1][1]
    assert envelope["success"] is True
    assert "".join(data["content"] for name, data in stream if name == "delta") == envelope["message"]["content"]


async def test_stream_true_streams_too_and_errors_before_it_stay_json(brain_hub):
    ids = await studio(brain_hub)
    assistant_id = await assistant(brain_hub, [ids["studio"]])
    resp = await brain_hub.request("POST", ASK, json=ask_body("Who won the 1998 World Cup?", assistant_id,
                                                              stream=True))
    stream = await events(resp)
    assert "".join(data["content"] for name, data in stream if name == "delta") == NO_KNOWLEDGE_ANSWER
    assert stream[-1][1]["message"]["content"] == NO_KNOWLEDGE_ANSWER
    body = await call(brain_hub, "POST", ASK, {**ask_body("hi", "missing"), "stream": True}, 404)
    assert body["assistant_id"] == "missing"


# ---------------------------------------------------------------- set-up routes

async def test_assistants_can_be_created_listed_fetched_and_deleted(brain_hub):
    studio_id = await folder(brain_hub, "Studio")
    created = await call(brain_hub, "POST", "/api/ai-hub/assistants", {
        "id": "whatsapp-bot", "name": "WhatsApp Bot", "instructions": "Be brief.", "foldersId": [studio_id]}, 201)
    view = created["assistant"]
    assert view["id"] == "whatsapp-bot" and view["foldersId"] == [studio_id] and view["instructions"] == "Be brief."
    assert (await call(brain_hub, "GET", "/api/ai-hub/assistants/whatsapp-bot"))["assistant"] == view
    assert [a["id"] for a in (await call(brain_hub, "GET", "/api/ai-hub/assistants"))["assistants"]] == ["whatsapp-bot"]
    dup = await call(brain_hub, "POST", "/api/ai-hub/assistants", {"id": "whatsapp-bot", "name": "x"}, 409)
    assert_error(dup, "Assistant whatsapp-bot already exists")
    bad = await call(brain_hub, "POST", "/api/ai-hub/assistants", {"name": "", "foldersId": ["nope"]}, 400)
    assert bad["issues"] == [{"field": "name", "message": "String should have at least 1 character"}]
    unknown = await call(brain_hub, "POST", "/api/ai-hub/assistants", {"name": "x", "foldersId": ["nope"]}, 400)
    assert unknown["issues"] == [{"field": "foldersId.0", "message": "Knowledge folder nope not found"}]
    await call(brain_hub, "DELETE", "/api/ai-hub/assistants/whatsapp-bot")
    gone = await call(brain_hub, "GET", "/api/ai-hub/assistants/whatsapp-bot", expected=404)
    assert_error(gone, "Assistant whatsapp-bot not found")


async def test_documents_upload_as_json_text_markdown_and_pdf(brain_hub, clock):
    folder_id = await folder(brain_hub, "Policies")
    md = (await upload_text(brain_hub, folder_id, "../notes/handbook.md", HANDBOOK))["document"]
    assert md["mimeType"] == "text/markdown" and md["chunks"] >= 4 and md["folderId"] == folder_id
    assert md["filename"] == "handbook.md"  # a path never survives into the name
    clock.advance(seconds=1)
    form = aiohttp.FormData()
    form.add_field("file", minimal_pdf("Refund policy", "Refunds are paid within 14 days."),
                   filename="refunds.pdf", content_type="application/pdf")
    pdf = await call(brain_hub, "POST", f"/api/ai-hub/folders/{folder_id}/documents", data=form, expected=201)
    assert pdf["document"]["mimeType"] == "application/pdf" and pdf["document"]["chunks"] == 1
    clock.advance(seconds=1)
    text_form = aiohttp.FormData()
    text_form.add_field("file", b"Parking is free after 17:00.", filename="parking.txt", content_type="text/plain")
    txt = await call(brain_hub, "POST", f"/api/ai-hub/folders/{folder_id}/documents", data=text_form, expected=201)
    assert txt["document"]["filename"] == "parking.txt" and txt["duplicate"] is False
    again = await upload_text(brain_hub, folder_id, "copy.md", HANDBOOK, expected=200)
    assert again["duplicate"] is True and again["document"]["id"] == md["id"]
    listed = await call(brain_hub, "GET", f"/api/ai-hub/folders/{folder_id}/documents")
    assert [d["filename"] for d in listed["documents"]] == ["handbook.md", "refunds.pdf", "parking.txt"]
    folders = await call(brain_hub, "GET", "/api/ai-hub/folders")
    assert [(f["name"], f["documents"]) for f in folders["folders"]] == [("Policies", 3)]


async def test_unsupported_or_empty_documents_are_refused(brain_hub):
    folder_id = await folder(brain_hub, "Policies")
    form = aiohttp.FormData()
    form.add_field("file", b"\x89PNG\r\n", filename="logo.png", content_type="image/png")
    body = await call(brain_hub, "POST", f"/api/ai-hub/folders/{folder_id}/documents", data=form, expected=415)
    assert_error(body, "'logo.png' is not a text, Markdown or PDF document")
    scanned = aiohttp.FormData()
    scanned.add_field("file", minimal_pdf(), filename="scan.pdf", content_type="application/pdf")
    empty = await call(brain_hub, "POST", f"/api/ai-hub/folders/{folder_id}/documents", data=scanned, expected=400)
    assert empty["issues"] == [{"field": "file", "message": "the document holds no extractable text"}]
    missing = await call(brain_hub, "POST", f"/api/ai-hub/folders/{folder_id}/documents", {"filename": "a.txt"}, 400)
    assert missing["issues"] == [{"field": "text", "message": "text is required"}]
    huge = aiohttp.FormData()
    huge.add_field("file", b"x" * (1024 * 1024 + 1), filename="huge.txt", content_type="text/plain")
    too_big = await call(brain_hub, "POST", f"/api/ai-hub/folders/{folder_id}/documents", data=huge, expected=413)
    assert_error(too_big, "Request body is too large")
    nowhere = await upload_text(brain_hub, "no-such-folder", "a.txt", "hello", expected=404)
    assert_error(nowhere, "Knowledge folder no-such-folder not found")


async def test_deleted_documents_and_folders_are_never_used_again(brain_hub):
    ids = await studio(brain_hub)
    assistant_id = await assistant(brain_hub, [ids["studio"], ids["other"]])
    await call(brain_hub, "DELETE", f"/api/ai-hub/documents/{ids['handbook']}")
    assert_error(await call(brain_hub, "DELETE", f"/api/ai-hub/documents/{ids['handbook']}", expected=404),
                 f"Document {ids['handbook']} not found")
    await call(brain_hub, "DELETE", f"/api/ai-hub/folders/{ids['other']}")
    view = await call(brain_hub, "GET", f"/api/ai-hub/assistants/{assistant_id}")
    assert view["assistant"]["foldersId"] == [ids["studio"]]
    body = await call(brain_hub, "POST", ASK, ask_body("What are the studio hours?", assistant_id))
    assert body["message"]["content"] == NO_KNOWLEDGE_ANSWER and body["metadata"]["knowledge_sources"] == []
