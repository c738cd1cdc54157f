"""Seed 002 /prompt and /conversation/{id} with the real bundled model, and the read-only tools."""

from __future__ import annotations

import json
from datetime import timedelta

from channels.base import Handle, InboundMessage
from hub.assistant_tools import build_tools
from hub.pipeline import ingest


async def seed(hub, clock):
    await ingest(hub.db, clock, [InboundMessage(
        channel="telegram", external_id="1:1", thread_id="1", sender=Handle("telegram", "77"), sender_name="Anna Berg",
        text="Could you retouch the wedding photos by Friday?", sent_at=clock.now() - timedelta(hours=3))],
        process=False)


async def test_tools_read_the_owners_data(hub, clock):
    await seed(hub, clock)
    tools = {t.name: t for t in build_tools(hub.app)}
    assert set(tools) == {"recall_memory", "search_conversations", "list_followups", "get_contact"}
    assert "retouch the wedding photos" in (await tools["search_conversations"].run("wedding"))[0]
    assert "Anna Berg" in (await tools["list_followups"].run(""))[0]
    contact = (await tools["get_contact"].run("anna"))[0]
    assert contact.startswith("Anna Berg") and "telegram 77" in contact
    assert "No conversation" in (await tools["search_conversations"].run("zeppelin"))[0]


async def test_prompt_creates_and_continues_a_thread(brain_hub, clock):
    await seed(brain_hub, clock)
    resp = await brain_hub.request("POST", "/prompt?prompt=Who%20is%20waiting%20for%20a%20reply%3F")
    assert resp.status == 200, await resp.text()
    first = await resp.json()
    messages = first["new_messages"]
    assert messages[-1]["role"] == "assistant" and messages[-1]["content"]
    calls = [m for m in messages if m.get("tool_calls")]
    for call in calls:
        function = call["tool_calls"][0]["function"]
        assert function["name"] in {"recall_memory", "search_conversations", "list_followups", "get_contact"}
        json.loads(function["arguments"])
        result = messages[messages.index(call) + 1]
        assert result["role"] == "tool" and result["tool_call_id"] == call["tool_calls"][0]["id"]
        assert isinstance(json.loads(result["content"]), list)
    conversation_id = first["conversation_id"]
    resp = await brain_hub.request("POST", f"/prompt?prompt=Thank%20you!&conversation_id={conversation_id}")
    second = await resp.json()
    assert second["conversation_id"] == conversation_id and second["new_messages"][-1]["role"] == "assistant"
    history = await (await brain_hub.request("GET", f"/conversation/{conversation_id}")).json()
    roles = [m["role"] for m in history["messages"]]
    assert roles[0] == "system" and "The current date is" in history["messages"][0]["content"]
    assert roles.count("user") == 2 and history["messages"][1]["content"] == "Who is waiting for a reply?"
    assert len(history["messages"]) == 1 + 2 + len(messages) + len(second["new_messages"])


async def test_errors(hub):
    resp = await hub.request("POST", "/prompt")
    assert resp.status == 422 and (await resp.json())["detail"][0]["loc"] == ["query", "prompt"]
    resp = await hub.request("POST", "/prompt?prompt=hi&conversation_id=nope")
    assert resp.status == 404 and "detail" in await resp.json()
    resp = await hub.request("GET", "/conversation/nope")
    assert resp.status == 404 and (await resp.json())["detail"] == "Conversation nope not found"
    resp = await hub.client.post("/prompt?prompt=hi")
    assert resp.status == 401 and "detail" in await resp.json()
