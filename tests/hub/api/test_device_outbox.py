"""The device outbox: approved iMessage replies polled by the Mac, acknowledged, sent once."""

from __future__ import annotations

import sqlalchemy as sa

from hub.outbox import enqueue_reply
from storage.models import Conversation, Message, OutboxItem
from tests.hub.api.helpers import assert_seed000_error, pair_device
from tests.hub.api.test_sync import sync_payload


async def queue_reply(hub, clock, key="approve:1", body="See you at 5!"):
    def queue(conn):
        conversation_id = conn.execute(sa.select(Conversation.id)).scalar_one()
        return enqueue_reply(hub.db, conn, conversation_id=conversation_id, body=body,
                             idempotency_key=key, now=clock.now())
    return await hub.db.write(queue)


async def setup_conversation(hub):
    paired = await pair_device(hub)
    resp = await hub.request("POST", "/api/sync/messages", paired["token"], json=sync_payload(["in-1"]))
    assert resp.status == 200
    return paired


async def poll(hub, token):
    resp = await hub.request("GET", "/api/sync/outbox", token)
    assert resp.status == 200
    return (await resp.json())["messages"]


async def test_reply_is_polled_acknowledged_and_its_echo_stored_once(hub, clock):
    paired = await setup_conversation(hub)
    assert await queue_reply(hub, clock) is not None
    assert await queue_reply(hub, clock) is None  # same idempotency key: not queued twice
    (item,) = await poll(hub, paired["token"])
    assert item["conversationImessageId"] == "chat-john" and item["text"] == "See you at 5!"
    assert await poll(hub, paired["token"]) == []  # leased, not offered twice
    resp = await hub.request("POST", f"/api/sync/outbox/{item['id']}/ack", paired["token"],
                             json={"status": "sent", "imessageGuid": "out-guid-1"})
    assert resp.status == 200
    again = await hub.request("POST", f"/api/sync/outbox/{item['id']}/ack", paired["token"],
                              json={"status": "sent", "imessageGuid": "out-guid-1"})
    assert (await again.json())["duplicate"] is True
    echo = sync_payload(["out-guid-1"]) | {"messages": [{"imessageGuid": "out-guid-1", "direction": "outgoing",
                                                          "text": "See you at 5!", "sentAt": "2024-01-01T13:00:00Z"}]}
    resp = await hub.request("POST", "/api/sync/messages", paired["token"], json=echo)
    assert (await resp.json())["duplicates"] == 1
    outbound = await hub.db.rows(sa.select(Message).where(Message.direction == "outbound"))
    status = await hub.db.scalar(sa.select(Conversation.status))
    assert [m.external_id for m in outbound] == ["out-guid-1"]
    assert status == "waiting"


async def test_unacknowledged_item_is_offered_again_after_the_lease(hub, clock):
    paired = await setup_conversation(hub)
    await queue_reply(hub, clock)
    (first,) = await poll(hub, paired["token"])
    clock.advance(minutes=5, seconds=1)
    (second,) = await poll(hub, paired["token"])
    assert second["id"] == first["id"] and second["attempt"] == 2


async def test_failed_ack_is_recorded_and_not_retried(hub, clock):
    paired = await setup_conversation(hub)
    await queue_reply(hub, clock)
    (item,) = await poll(hub, paired["token"])
    resp = await hub.request("POST", f"/api/sync/outbox/{item['id']}/ack", paired["token"],
                             json={"status": "failed", "error": "Not registered with iMessage"})
    assert resp.status == 200
    row = await hub.db.first(sa.select(OutboxItem))
    assert row.status == "failed" and "Not registered" in row.error


async def test_outbox_needs_a_device_and_validates_acks(hub, clock):
    paired = await setup_conversation(hub)
    await queue_reply(hub, clock)
    resp = await hub.request("GET", "/api/sync/outbox")  # an API key is not a device
    assert resp.status == 403
    assert_seed000_error(await resp.json(), 403)
    (item,) = await poll(hub, paired["token"])
    for bad in ({"status": "sent"}, {"status": "maybe"}, {}):
        resp = await hub.request("POST", f"/api/sync/outbox/{item['id']}/ack", paired["token"], json=bad)
        assert resp.status == 400, bad
        assert_seed000_error(await resp.json(), 400)
    resp = await hub.request("POST", "/api/sync/outbox/unknown/ack", paired["token"],
                             json={"status": "sent", "imessageGuid": "x"})
    assert resp.status == 404
    other = await pair_device(hub, hardware_id="HW-2")
    resp = await hub.request("POST", f"/api/sync/outbox/{item['id']}/ack", other["token"],
                             json={"status": "sent", "imessageGuid": "x"})
    assert resp.status == 403
