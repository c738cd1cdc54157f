"""Seed 000 conversations: paging, ordering, lookups, 404s."""

from __future__ import annotations

from tests.hub.api.helpers import assert_seed000_error, pair_device
from tests.hub.api.test_sync import sync_payload


async def test_conversations_and_messages_are_paged(hub):
    paired = await pair_device(hub)
    for thread in ("t1", "t2", "t3"):
        payload = sync_payload([f"{thread}-{i}" for i in range(5)], thread=thread)
        await hub.request("POST", "/api/sync/messages", paired["token"], json=payload)
    resp = await hub.request("GET", "/api/conversations?page=2&pageSize=2")
    body = await resp.json()
    assert (body["total"], body["page"], body["pageSize"], len(body["conversations"])) == (3, 2, 2, 1)
    conversation = body["conversations"][0]
    assert conversation["messageCount"] == 5 and conversation["contact"]["displayName"] == "John Doe"
    resp = await hub.request("GET", f"/api/conversations/{conversation['id']}/messages?page=1&pageSize=2")
    body = await resp.json()
    assert body["total"] == 5 and [m["imessageGuid"] for m in body["messages"]] == [
        f"{conversation['externalId']}-0", f"{conversation['externalId']}-1"]
    assert body["messages"][0]["direction"] == "incoming"
    assert body["messages"][0]["sentAt"] == "2024-01-01T12:00:00Z"
    resp = await hub.request("GET", f"/api/conversations/{conversation['id']}/messages?order=desc&pageSize=1")
    assert (await resp.json())["messages"][0]["imessageGuid"].endswith("-4")


async def test_unknown_conversation_and_bad_paging(hub):
    resp = await hub.request("GET", "/api/conversations/does-not-exist/messages")
    assert resp.status == 404
    assert_seed000_error(await resp.json(), 404)
    for query in ("page=0", "pageSize=500", "page=abc"):
        resp = await hub.request("GET", f"/api/conversations?{query}")
        assert resp.status == 400, query
        assert_seed000_error(await resp.json(), 400)


async def test_unknown_route_and_wrong_method_keep_the_envelope(hub):
    resp = await hub.request("GET", "/api/nothing-here")
    assert resp.status == 404
    assert_seed000_error(await resp.json(), 404)
    resp = await hub.request("DELETE", "/api/conversations")
    assert resp.status == 405
    assert_seed000_error(await resp.json(), 405)
