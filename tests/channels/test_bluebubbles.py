"""BlueBubbles end to end: a fake BlueBubbles server posts webhooks to the real app over HTTP and
answers the adapter's REST calls; reconciliation, echoes, receipts and the password's secrecy."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from channels.bluebubbles import BlueBubblesChannel
from hub.brain_services import BrainServices
from hub.logs import redact
from hub.state import BACKGROUND, CHANNELS
from storage.models import Contact, Conversation, Message, OutboxItem, Suggestion
from tests.channels.fakes.bluebubbles_server import PASSWORD, FakeBlueBubblesServer, message, millis
from tests.conftest import Hub, make_settings, start_hub

ANN_CHAT, ANN = "iMessage;-;+15551234567", "+15551234567"
THREAD = "any;-;+15551234567"
QUESTION = "Hi! Is the blue jacket in size M still available?"


@pytest.fixture
async def bb_server(clock) -> AsyncIterator[FakeBlueBubblesServer]:
    server = FakeBlueBubblesServer(clock=clock)
    await server.start()
    yield server
    await server.close()


def bb_settings(tmp_path: Any, database_url: str, server: FakeBlueBubblesServer) -> Any:
    return make_settings(tmp_path, database_url, brain={"draft_max_tokens": 32},
                         channels={"bluebubbles": {"enabled": True, "url": server.url, "password": PASSWORD,
                                                   "reconcile_seconds": 3600}})


@pytest.fixture
async def bb_hub(tmp_path, database_url, clock, bb_server) -> AsyncIterator[Hub]:
    hub = await start_hub(bb_settings(tmp_path, database_url, bb_server), clock)
    yield hub
    await hub.client.close()


@pytest.fixture
async def drafting_hub(tmp_path, database_url, clock, bb_server, bundled_llm, shared_embedder) -> AsyncIterator[Hub]:
    settings = bb_settings(tmp_path, database_url, bb_server)
    hub = await start_hub(settings, clock, brain=BrainServices(settings, llm=bundled_llm, embedder=shared_embedder))
    yield hub
    await hub.client.close()


def webhook_url(hub: Hub, password: str | None = PASSWORD) -> str:
    url = hub.client.make_url("/webhooks/bluebubbles")
    return str(url.with_query(password=password) if password is not None else url)


def channel_of(hub: Hub) -> BlueBubblesChannel:
    return hub.app[CHANNELS]["bluebubbles"]


async def rows(hub: Hub, model: Any) -> list[Any]:
    return await hub.db.rows(sa.select(model).order_by(model.id))


async def webhook(hub: Hub, server: FakeBlueBubblesServer, kind: str, data: dict[str, Any]) -> None:
    assert await server.post_webhook(webhook_url(hub), kind, data) == 200
    await hub.app[BACKGROUND].close()  # the adapter's acknowledge: stored guids, real chat guids


async def test_a_message_by_webhook_update_and_reconciliation_is_stored_once_and_drafted_once(
        drafting_hub, bb_server, clock):
    first = message("G1", QUESTION, ANN_CHAT, at=clock.now())
    missed = message("G2", "Hello, can I pick up my order on Friday?", "SMS;-;+15559876543", at=clock.now())
    bb_server.messages += [first, missed]  # the Mac has both; only the first is sent by webhook
    await webhook(drafting_hub, bb_server, "new-message", first)
    await webhook(drafting_hub, bb_server, "updated-message", {**first, "dateRead": millis(clock.now())})
    await channel_of(drafting_hub).reconcile()
    await drafting_hub.worker.run_until_idle()
    await webhook(drafting_hub, bb_server, "new-message", first)
    await channel_of(drafting_hub).reconcile()
    await drafting_hub.worker.run_until_idle()
    messages = await rows(drafting_hub, Message)
    assert sorted(m.external_id for m in messages) == ["G1", "G2"]
    suggestions = await rows(drafting_hub, Suggestion)
    assert sorted(s.reply_to_message_id for s in suggestions) == sorted(m.id for m in messages)


async def test_the_variants_of_one_chat_land_in_one_conversation(bb_hub, bb_server, clock):
    for n, chat in enumerate(("iMessage;-;+15551234567", "SMS;-;+15551234567", "any;-;+15551234567",
                              "iMessage;-;+1 (555) 123-4567")):
        await webhook(bb_hub, bb_server, "new-message", message(f"V{n}", f"Question {n}?", chat,
                                                                at=clock.now() + timedelta(seconds=n)))
    (conversation,) = await rows(bb_hub, Conversation)
    assert conversation.external_id == THREAD
    assert len(await rows(bb_hub, Message)) == 4 and len(await rows(bb_hub, Contact)) == 1
    assert {m.sender_handle for m in await rows(bb_hub, Message)} == {f"phone:{ANN}"}


async def reply(hub: Hub, text: str) -> OutboxItem:
    (conversation,) = await rows(hub, Conversation)
    response = await hub.request("POST", f"/api/v1/conversations/{conversation.id}/reply", json={"body": text})
    assert response.status == 200, await response.text()
    return (await rows(hub, OutboxItem))[-1]


async def test_our_reply_is_sent_to_the_real_chat_and_its_echo_is_stored_once(bb_hub, bb_server, clock):
    await webhook(bb_hub, bb_server, "new-message", message("G1", QUESTION, "SMS;-;+15551234567", at=clock.now()))
    bb_server.webhook_url = webhook_url(bb_hub)  # the server echoes what it sends, before answering
    clock.advance(seconds=30)
    item = await reply(bb_hub, "Yes, we have it in M.")
    (send,) = bb_server.calls_to("/api/v1/message/text")
    assert send.body == {"chatGuid": "SMS;-;+15551234567", "message": "Yes, we have it in M.", "tempGuid": item.uid}
    sent_guid = bb_server.messages[-1]["guid"]
    assert (item.status, item.provider_message_id) == ("sent", sent_guid)
    await channel_of(bb_hub).reconcile()
    outbound = [m for m in await rows(bb_hub, Message) if m.direction == "outbound"]
    assert [m.external_id for m in outbound] == [sent_guid]


async def test_a_server_answering_without_guid_gets_its_echo_recognised(bb_hub, bb_server, clock):
    await webhook(bb_hub, bb_server, "new-message", message("G1", QUESTION, ANN_CHAT, at=clock.now()))
    bb_server.omit_guid = True
    item = await reply(bb_hub, "Yes, we have it in M.")
    assert item.provider_message_id == item.uid  # our tempGuid stands in
    echo = bb_server.messages[-1]
    await webhook(bb_hub, bb_server, "new-message", echo)
    await channel_of(bb_hub).reconcile()
    await webhook(bb_hub, bb_server, "updated-message", {**echo, "dateRead": millis(clock.now())})
    (outbound,) = [m for m in await rows(bb_hub, Message) if m.direction == "outbound"]
    assert (outbound.external_id, outbound.text) == (item.uid, "Yes, we have it in M.")
    assert (await rows(bb_hub, OutboxItem))[0].status == "read"


async def test_receipts_move_our_message_forward_and_edits_change_the_stored_text(bb_hub, bb_server, clock):
    inbound = message("G1", "Is it in stock?", ANN_CHAT, at=clock.now())
    await webhook(bb_hub, bb_server, "new-message", inbound)
    item = await reply(bb_hub, "Yes, it is.")
    sent = bb_server.messages[-1]
    for update, expected in (({"dateDelivered": millis(clock.now())}, "delivered"),
                             ({"dateDelivered": millis(clock.now()), "dateRead": millis(clock.now())}, "read"),
                             ({"dateDelivered": millis(clock.now())}, "read")):
        await webhook(bb_hub, bb_server, "updated-message", {**sent, **update})
        assert (await rows(bb_hub, OutboxItem))[0].status == expected
    edited_at = clock.now() + timedelta(minutes=1)
    await webhook(bb_hub, bb_server, "updated-message", {**inbound, "text": "Is the M in stock?",
                                                         "dateEdited": millis(edited_at)})
    stored = {m.external_id: m for m in await rows(bb_hub, Message)}
    assert len(stored) == 2 and stored["G1"].text == "Is the M in stock?" and stored["G1"].edited_at == edited_at
    assert item.provider_message_id == sent["guid"]


async def test_reconciliation_reads_pages_from_its_cursor_and_never_twice(bb_hub, bb_server, clock):
    channel = channel_of(bb_hub)
    await channel.reconcile()  # settles the first pass; the Mac has nothing new yet
    old = message("OLD", "From last week", ANN_CHAT, at=clock.now() - timedelta(days=7))
    start = clock.now()
    fresh = [message(f"M{n:03d}", f"Message {n}", ANN_CHAT, at=start + timedelta(seconds=n), from_me=n % 3 == 0)
             for n in range(250)]
    bb_server.messages += [old, *fresh]
    assert await channel.reconcile() == 250
    stored = await rows(bb_hub, Message)
    assert len(stored) == 250 and "OLD" not in {m.external_id for m in stored}
    assert {m.direction for m in stored if m.external_id == "M003"} == {"outbound"}
    queries = bb_server.calls_to("/api/v1/message/query")
    assert [q.body["offset"] for q in queries[-2:]] == [0, 200] and queries[-1].password == PASSWORD
    cursor = (await channel.state.get("reconcile"))["after_ms"]
    assert cursor == fresh[-1]["dateCreated"]
    assert await channel.reconcile() == 0
    assert bb_server.calls_to("/api/v1/message/query")[-1].body["after"] == cursor - 10 * 60 * 1000


async def test_a_wrong_or_missing_password_is_refused_and_the_password_is_never_logged(bb_hub, bb_server, clock,
                                                                                         caplog):
    caplog.set_level(logging.DEBUG)
    data = message("G1", QUESTION, ANN_CHAT, at=clock.now())
    assert await bb_server.post_webhook(webhook_url(bb_hub, "guessed"), "new-message", data) == 403
    assert await bb_server.post_webhook(webhook_url(bb_hub, None), "new-message", data) == 403
    assert await bb_server.post_webhook(webhook_url(bb_hub, PASSWORD[:-1]), "new-message", data) == 403
    assert await rows(bb_hub, Message) == []
    await webhook(bb_hub, bb_server, "new-message", data)
    channel = channel_of(bb_hub)
    bb_server.password = "rotated-on-the-mac"  # the server now refuses the adapter: it goes down
    await channel.reconcile_pass()
    await channel.reconcile_pass()
    bb_server.password = PASSWORD
    await channel.reconcile_pass()
    # Nothing of ours logs it, even raw; the test server's access log line carries the webhook URL
    # and the hub's log handler (hub/logs.RedactingFilter) redacts it; hub/cli.py runs without one.
    ours = [r for r in caplog.records if r.name.startswith("replydesk")]
    assert not [r for r in ours if PASSWORD in r.getMessage() or PASSWORD in (r.exc_text or "")]
    assert not [r for r in caplog.records if PASSWORD in redact(r.getMessage())]
    down = [r for r in ours if "reconciliation failed" in r.getMessage()]
    back = [r for r in ours if "answers again" in r.getMessage()]
    assert len(down) == 1 and len(back) == 1
    assert any("rejected" in r.getMessage() for r in ours)
    assert channel.scrub(f"GET http://mac:1234/api?password={PASSWORD}&x=1 {PASSWORD}") == (
        "GET http://mac:1234/api?password=[redacted]&x=1 [redacted]")
