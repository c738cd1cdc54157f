"""Outbox dispatch: sent once on the conversation's channel; Retry-After honoured; a send whose
outcome is unknown after a crash is reported, never repeated."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from channels.base import Handle, InboundMessage, SendResult
from hub.events import ERROR, SENT
from hub.outbox import enqueue_reply
from hub.pipeline import ingest
from hub.state import BUS, CHANNELS
from storage.models import Job, Message, OutboxItem


class RecordingChannel:
    name = "fakechan"

    def __init__(self, results):
        self.results = list(results)
        self.sent = []

    async def start(self, emit):
        pass

    async def stop(self):
        pass

    async def send(self, message):
        self.sent.append(message)
        return self.results.pop(0) if self.results else SendResult(ok=True, provider_message_id=f"p{len(self.sent)}")


async def conversation(hub, clock):
    stored = await ingest(hub.db, clock, [InboundMessage(
        channel="fakechan", external_id="in-1", thread_id="thread-9", sender=Handle("fakechan", "u1"),
        text="hello?", sent_at=clock.now())], process=False)
    return stored.conversation_id


async def queue(hub, clock, conversation_id, key="k1"):
    return await hub.db.write(lambda conn: enqueue_reply(hub.db, conn, conversation_id=conversation_id, body="Hi!",
                                                         idempotency_key=key, now=clock.now()))


def channel(hub, *results):
    fake = RecordingChannel(results)
    hub.app[CHANNELS]["fakechan"] = fake
    return fake


async def test_sent_once_and_echo_stored(hub, clock):
    fake = channel(hub)
    events = hub.app[BUS].subscribe()
    await queue(hub, clock, await conversation(hub, clock))
    await hub.worker.run_until_idle()
    await hub.worker.run_until_idle()
    assert [m.text for m in fake.sent] == ["Hi!"] and fake.sent[0].thread_id == "thread-9"
    item = await hub.db.first(sa.select(OutboxItem))
    assert item.status == "sent" and item.provider_message_id == "p1"
    echo = await hub.db.first(sa.select(Message).where(Message.direction == "outbound"))
    assert echo.external_id == "p1"
    assert SENT in [events.get_nowait()["type"] for _ in range(events.qsize())]


async def test_retry_after_is_honoured(hub, clock):
    fake = channel(hub, SendResult(ok=False, retryable=True, retry_after=30, error="429 Too Many Requests"))
    await queue(hub, clock, await conversation(hub, clock))
    await hub.worker.run_until_idle()
    job = await hub.db.first(sa.select(Job).where(Job.kind == "outbox.send"))
    assert job.status == "queued" and job.run_at == clock.now() + timedelta(seconds=30)
    assert (await hub.db.first(sa.select(OutboxItem))).status == "pending"
    clock.advance(seconds=29)
    assert await hub.worker.run_until_idle() == 0
    clock.advance(seconds=2)
    await hub.worker.run_until_idle()
    assert len(fake.sent) == 2 and (await hub.db.first(sa.select(OutboxItem))).status == "sent"


async def test_permanent_failure_is_reported(hub, clock):
    channel(hub, SendResult(ok=False, error="chat not found"))
    events = hub.app[BUS].subscribe()
    await queue(hub, clock, await conversation(hub, clock))
    await hub.worker.run_until_idle()
    item = await hub.db.first(sa.select(OutboxItem))
    assert item.status == "failed" and item.error == "chat not found"
    errors = [e for e in (events.get_nowait() for _ in range(events.qsize())) if e["type"] == ERROR]
    assert errors and "chat not found" in errors[0]["error"]


async def test_a_send_interrupted_by_a_crash_is_not_repeated(hub, clock):
    fake = channel(hub)
    outbox_id = await queue(hub, clock, await conversation(hub, clock))
    await hub.db.execute(sa.update(OutboxItem).where(OutboxItem.id == outbox_id).values(status="sending"))
    await hub.worker.run_until_idle()
    assert fake.sent == []
    item = await hub.db.first(sa.select(OutboxItem))
    assert item.status == "failed" and "outcome unknown" in item.error


async def test_same_idempotency_key_is_queued_once_and_a_disabled_channel_fails_clearly(hub, clock):
    conversation_id = await conversation(hub, clock)
    assert await queue(hub, clock, conversation_id) is not None
    assert await queue(hub, clock, conversation_id) is None
    await hub.worker.run_until_idle()
    item = await hub.db.first(sa.select(OutboxItem))
    assert item.status == "failed" and "not enabled" in item.error


async def test_an_item_being_sent_right_now_is_left_alone_until_its_lease_ends(hub, clock):
    fake = channel(hub)
    outbox_id = await queue(hub, clock, await conversation(hub, clock))
    await hub.db.execute(sa.update(OutboxItem).where(OutboxItem.id == outbox_id).values(
        status="sending", next_attempt_at=clock.now() + timedelta(minutes=2)))
    await hub.worker.run_until_idle()
    assert fake.sent == [] and (await hub.db.first(sa.select(OutboxItem))).status == "sending"
    job = await hub.db.first(sa.select(Job).where(Job.kind == "outbox.send"))
    assert job.status == "queued" and job.run_at == clock.now() + timedelta(minutes=2)
