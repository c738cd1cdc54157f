"""Seed 000 conversation memory over real HTTP with the bundled embedder: store, recall (scoped per
contact, citing source message ids), inject, stats, delete."""

from __future__ import annotations

import pytest

from tests.hub.api.helpers import assert_seed000_error

DOG = {"role": "user", "content": "My dog is called Biscuit and he loves the beach.", "message_id": "m-dog"}
CONCERT = {"role": "user", "content": "The Radiohead concert last month was amazing!", "message_id": "m-gig"}


async def call(hub, method: str, path: str, payload: dict | None = None, expected: int = 200, **kwargs) -> dict:
    resp = await hub.request(method, path, json=payload, **kwargs)
    body = await resp.json()
    assert resp.status == expected, body
    return body


async def store(hub, contact_id: str, messages: list[dict], user_id: str = "user-123", **extra) -> dict:
    return await call(hub, "POST", "/memory/store", {"user_id": user_id, "contact_id": contact_id,
                                                     "conversation_id": "conv-789", "messages": messages, **extra})


async def recall(hub, contact_id: str, query: str, user_id: str = "user-123", top_k: int = 3) -> list[dict]:
    body = await call(hub, "POST", "/memory/recall", {"user_id": user_id, "contact_id": contact_id,
                                                      "query": query, "top_k": top_k})
    assert body["count"] == len(body["memories"])
    return body["memories"]


async def test_stored_messages_are_recalled_with_their_source_message_ids(brain_hub):
    stored = await store(brain_hub, "contact-a", [DOG, CONCERT])
    assert stored["stored"] == 2 and len(stored["memory_ids"]) == 2
    assert stored["message_ids"] == ["m-dog", "m-gig"]
    memories = await recall(brain_hub, "contact-a", "concert last month", top_k=1)
    assert len(memories) == 1
    memory = memories[0]
    assert memory["text"] == CONCERT["content"] and memory["source_message_ids"] == ["m-gig"]
    assert memory["id"] in stored["memory_ids"] and memory["contact_id"] == "contact-a"
    assert memory["conversation_id"] == "conv-789" and memory["role"] == "user"
    assert isinstance(memory["score"], float) and memory["created_at"].endswith("Z")


async def test_a_contacts_facts_are_never_recalled_for_another_contact(brain_hub):
    await store(brain_hub, "contact-a", [DOG])
    await store(brain_hub, "contact-b", [{"role": "user", "content": "I am allergic to cats."}])
    await store(brain_hub, "contact-a", [DOG], user_id="someone-else")
    for_b = await recall(brain_hub, "contact-b", "what is the dog called", top_k=10)
    assert [m["text"] for m in for_b] == ["I am allergic to cats."]
    assert all(m["contact_id"] == "contact-b" and m["user_id"] == "user-123" for m in for_b)
    assert await recall(brain_hub, "contact-c", "dog") == []


async def test_messages_without_ids_get_stable_ids_and_the_summary_cites_them(brain_hub):
    messages = [{"role": "user", "content": "Can we move dinner to Friday?"},
                {"role": "assistant", "content": "Friday works, 7pm at Luigi's."}]
    first = await store(brain_hub, "contact-a", messages, summary="Dinner moved to Friday 7pm at Luigi's.")
    again = await store(brain_hub, "contact-a", messages, summary="Dinner moved to Friday 7pm at Luigi's.")
    assert first == again and first["stored"] == 3 and len(set(first["message_ids"])) == 2
    memories = await recall(brain_hub, "contact-a", "when is dinner", top_k=3)
    assert len(memories) == 3 and all(m["source_message_ids"] for m in memories)
    summary = next(m for m in memories if m["role"] == "summary")
    assert summary["source_message_ids"] == first["message_ids"]
    assert (await call(brain_hub, "GET", "/memory/stats"))["total_memories"] == 3


async def test_inject_puts_recalled_memories_before_the_first_user_message(brain_hub):
    await store(brain_hub, "contact-a", [DOG])
    memories = await recall(brain_hub, "contact-a", "dog", top_k=1)
    messages = [{"role": "system", "content": "You draft replies."},
                {"role": "user", "content": "Want to take the dog out Sunday?"}]
    body = await call(brain_hub, "POST", "/memory/inject", {"messages": messages, "memories": memories})
    assert body["injected"] == 1
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "system", "user"]
    assert "Biscuit" in body["messages"][1]["content"] and body["messages"][2] == messages[1]
    plain = await call(brain_hub, "POST", "/memory/inject", {"messages": messages,
                                                             "memories": [{"text": "Likes <b>tea</b>"}]})
    assert "Likes &lt;b&gt;tea&lt;/b&gt;" in plain["messages"][1]["content"]


async def test_stats_count_memories_contacts_and_users(brain_hub):
    empty = await call(brain_hub, "GET", "/memory/stats")
    assert empty["total_memories"] == 0
    await store(brain_hub, "contact-a", [DOG, CONCERT])
    await store(brain_hub, "contact-b", [DOG])
    await store(brain_hub, "contact-a", [DOG], user_id="user-2")
    stats = await call(brain_hub, "GET", "/memory/stats")
    assert {k: stats[k] for k in ("total_memories", "contacts", "users")} == \
        {"total_memories": 4, "contacts": 3, "users": 2}
    mine = await call(brain_hub, "GET", "/memory/stats", params={"user_id": "user-2"})
    assert mine["total_memories"] == 1 and mine["users"] == 1


async def test_delete_forgets_one_memory_and_unknown_ids_are_404(brain_hub):
    stored = await store(brain_hub, "contact-a", [DOG, CONCERT])
    doomed = stored["memory_ids"][0]
    assert await call(brain_hub, "DELETE", f"/memory/{doomed}") == {"deleted": True, "memory_id": doomed}
    left = await recall(brain_hub, "contact-a", "dog", top_k=5)
    assert [m["id"] for m in left] == [stored["memory_ids"][1]]
    body = await call(brain_hub, "DELETE", f"/memory/{doomed}", expected=404)
    assert_seed000_error(body, 404)


BASE = {"user_id": "u", "contact_id": "c"}
BAD_INPUT = [
    ("/memory/store", {"contact_id": "c", "messages": [DOG]}),
    ("/memory/store", {**BASE, "messages": "hello"}),
    ("/memory/store", {**BASE, "messages": [{"role": "user"}]}),
    ("/memory/store", {**BASE, "messages": [{"role": "user", "content": 5}]}),
    ("/memory/store", {**BASE, "messages": [{"role": "user", "content": "  "}]}),
    ("/memory/store", {**BASE, "user_id": "", "messages": [DOG]}),
    ("/memory/recall", {**BASE}),
    ("/memory/recall", {"user_id": "u", "query": "dog"}),
    ("/memory/recall", {**BASE, "query": "dog", "top_k": "three"}),
    ("/memory/recall", {**BASE, "query": "dog", "top_k": 0}),
    ("/memory/inject", {"messages": []}),
    ("/memory/inject", {"messages": [], "memories": [{"id": "x"}]}),
    ("/memory/inject", {"messages": "hi", "memories": []}),
]


@pytest.mark.parametrize("path, payload", BAD_INPUT)
async def test_bad_input_is_400_in_the_envelope(brain_hub, path, payload):
    assert_seed000_error(await call(brain_hub, "POST", path, payload, expected=400), 400)


@pytest.mark.parametrize("path", ["/memory/store", "/memory/recall", "/memory/inject"])
async def test_malformed_json_is_400(brain_hub, path):
    resp = await brain_hub.request("POST", path, data=b"[1, 2", headers={"Content-Type": "application/json"})
    assert resp.status == 400
    assert_seed000_error(await resp.json(), 400)


@pytest.mark.parametrize("method, path", [
    ("POST", "/memory/store"), ("POST", "/memory/recall"), ("POST", "/memory/inject"),
    ("GET", "/memory/stats"), ("DELETE", "/memory/mem_x")])
async def test_every_route_needs_an_api_key(brain_hub, method, path):
    resp = await brain_hub.client.request(method, path, json={})
    assert resp.status == 401
    assert_seed000_error(await resp.json(), 401)
