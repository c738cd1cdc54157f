"""Seed 000 sync over real HTTP: messages stored once, contacts merged, bad input refused."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from storage.models import Contact, ContactHandle, Conversation, Job, Message
from tests.hub.api.helpers import assert_seed000_error, pair_device


def sync_payload(guids, thread="chat-john", sender="+1 (415) 555-0100", direction="incoming", **extra):
    return {
        "conversationImessageId": thread, "conversationDisplayName": "John Doe", "isGroup": False,
        "participantIds": [sender],
        "messages": [{"imessageGuid": g, "senderId": sender, "direction": direction, "messageType": "text",
                      "text": f"Hello {g}", "sentAt": f"2024-01-01T12:{i:02d}:00Z"} for i, g in enumerate(guids)],
        **extra,
    }


async def count(hub, model, *where):
    return await hub.db.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


async def test_sync_stores_messages_and_reports_duplicates(hub):
    paired = await pair_device(hub)
    resp = await hub.request("POST", "/api/sync/messages", paired["token"], json=sync_payload(["g1", "g2"]))
    assert resp.status == 200
    body = await resp.json()
    assert (body["stored"], body["duplicates"], body["received"]) == (2, 0, 2)
    assert body["cursor"] == "2024-01-01T12:01:00Z"
    resp = await hub.request("POST", "/api/sync/messages", paired["token"], json=sync_payload(["g2", "g3"]))
    body = await resp.json()
    assert (body["stored"], body["duplicates"]) == (1, 1)
    assert await count(hub, Message) == 3
    assert await count(hub, Job, Job.kind == "inbound.process") == 3


async def test_twenty_identical_concurrent_syncs_store_each_message_once(hub):
    paired = await pair_device(hub)
    payload = sync_payload([f"c{i}" for i in range(10)])
    responses = await asyncio.gather(*(hub.request("POST", "/api/sync/messages", paired["token"], json=payload)
                                       for _ in range(20)))
    bodies = [await r.json() for r in responses]
    assert all(r.status == 200 for r in responses), bodies
    assert sum(b["stored"] for b in bodies) == 10
    assert sum(b["duplicates"] for b in bodies) == 190
    assert await count(hub, Message) == 10
    assert await count(hub, Conversation) == 1
    assert await count(hub, Contact) == 1
    assert await count(hub, Job) == 10


async def test_phone_numbers_normalise_to_one_contact_and_conversation_state(hub):
    paired = await pair_device(hub)
    await hub.request("POST", "/api/sync/messages", paired["token"],
                      json=sync_payload(["a1"], sender="+14155550100"))
    await hub.request("POST", "/api/sync/messages", paired["token"],
                      json=sync_payload(["a2"], thread="chat-john-sms", sender="(415) 555-0100"))
    handles = await hub.db.rows(sa.select(ContactHandle.kind, ContactHandle.value))
    conversations = await hub.db.rows(sa.select(Conversation))
    assert [tuple(h) for h in handles] == [("phone", "+14155550100")]
    assert len(conversations) == 2 and len({c.contact_id for c in conversations}) == 1
    assert all(c.status == "needs_reply" for c in conversations)
    resp = await hub.request("POST", "/api/sync/messages", paired["token"],
                             json=sync_payload(["a3"], direction="outgoing", sender="+14155550100") |
                             {"messages": [{"imessageGuid": "a3", "direction": "outgoing", "text": "on my way",
                                            "sentAt": "2024-01-01T13:00:00Z"}]})
    assert resp.status == 200
    resp = await hub.request("GET", "/api/conversations", paired["token"])
    listed = {c["externalId"]: c for c in (await resp.json())["conversations"]}
    assert listed["chat-john"]["status"] == "waiting"
    assert listed["chat-john"]["lastOutboundAt"] == "2024-01-01T13:00:00Z"
    assert listed["chat-john-sms"]["status"] == "needs_reply"


async def test_late_older_message_does_not_rewind_last_message_time(hub):
    paired = await pair_device(hub)
    await hub.request("POST", "/api/sync/messages", paired["token"], json=sync_payload(["n1"]) | {
        "messages": [{"imessageGuid": "n1", "direction": "outgoing", "text": "newer", "sentAt": "2024-02-01T00:00:00Z"}]})
    await hub.request("POST", "/api/sync/messages", paired["token"], json=sync_payload(["o1"]))
    resp = await hub.request("GET", "/api/conversations", paired["token"])
    conversation = (await resp.json())["conversations"][0]
    assert conversation["lastMessageAt"] == "2024-02-01T00:00:00Z"
    assert conversation["status"] == "waiting"
    assert conversation["messageCount"] == 2


async def test_bad_sync_bodies_get_400_and_store_nothing(hub):
    paired = await pair_device(hub)
    good = sync_payload(["b1"])
    bad_message = dict(good["messages"][0])
    cases = [
        b"{\"conversationImessageId\": ",
        b"\"just a string\"",
        {**good, "messages": []},
        {**good, "messages": [{**bad_message, "sentAt": "yesterday"}]},
        {**good, "messages": [{**bad_message, "direction": "sideways"}]},
        {**good, "messages": [{k: v for k, v in bad_message.items() if k != "imessageGuid"}]},
        {**good, "conversationImessageId": 42},
        {k: v for k, v in good.items() if k != "conversationImessageId"},
        {**good, "messages": [bad_message, {**bad_message, "imessageGuid": "b2", "sentAt": None}]},
    ]
    for case in cases:
        kwargs = {"data": case, "headers": {"Content-Type": "application/json"}} if isinstance(case, bytes) \
            else {"json": case}
        resp = await hub.request("POST", "/api/sync/messages", paired["token"], **kwargs)
        assert resp.status == 400, case
        assert_seed000_error(await resp.json(), 400)
    assert await count(hub, Message) == 0
    assert await count(hub, Conversation) == 0


async def test_two_megabyte_body_is_413_and_stores_nothing(hub):
    paired = await pair_device(hub)
    payload = sync_payload(["big"])
    payload["messages"][0]["text"] = "x" * (2 * 1024 * 1024)
    resp = await hub.request("POST", "/api/sync/messages", paired["token"], json=payload)
    assert resp.status == 413
    assert_seed000_error(await resp.json(), 413)
    assert await count(hub, Message) == 0


async def test_sync_needs_a_token(hub):
    resp = await hub.client.post("/api/sync/messages", json=sync_payload(["t1"]))
    assert resp.status == 401
    assert_seed000_error(await resp.json(), 401)
    assert await count(hub, Message) == 0


async def test_sync_contacts_merges_handles_into_one_contact(hub):
    paired = await pair_device(hub)
    await hub.request("POST", "/api/sync/messages", paired["token"], json=sync_payload(["m1"], sender="john@Example.com"))
    resp = await hub.request("POST", "/api/sync/contacts", paired["token"], json={"contacts": [
        {"appleId": "john@icloud.com", "phoneNumber": "+1 415 555 0100", "email": "JOHN@example.com",
         "displayName": "John Doe", "avatarHash": None},
        {"displayName": "No handles"},
    ]})
    assert resp.status == 200
    assert await resp.json() == {"received": 2, "created": 0, "updated": 1, "skipped": 1}
    handles = await hub.db.rows(sa.select(ContactHandle.contact_id, ContactHandle.value))
    names = [r.display_name for r in await hub.db.rows(sa.select(Contact.display_name))]
    assert {h.value for h in handles} == {"john@example.com", "john@icloud.com", "+14155550100"}
    assert len({h.contact_id for h in handles}) == 1
    assert names == ["John Doe"]


async def test_sync_contacts_rejects_wrong_types(hub):
    paired = await pair_device(hub)
    resp = await hub.request("POST", "/api/sync/contacts", paired["token"], json={"contacts": "nope"})
    assert resp.status == 400
    assert_seed000_error(await resp.json(), 400)
