"""Ingest: stored once, one contact across channels, conversation state, durable brain job."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from channels.base import OUTBOUND, Handle, InboundMessage
from hub.events import EventBus
from hub.pipeline import ingest
from storage import migrate
from storage.db import Database
from storage.models import Contact, Conversation, Job, Message

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
async def db(database_url):
    await asyncio.to_thread(migrate.upgrade, database_url)
    database = Database(database_url)
    yield database
    await database.dispose()


def msg(external_id, *, channel="telegram", thread="chat-1", sender=Handle("phone", "+14155550100"),
        minutes=0, direction="inbound", **extra):
    return InboundMessage(channel=channel, external_id=external_id, thread_id=thread, sender=sender,
                          text=f"text {external_id}", sent_at=T0 + timedelta(minutes=minutes),
                          direction=direction, sender_name="Ana", **extra)


async def scalar(db, stmt):
    return await db.scalar(stmt)


async def test_same_person_on_two_channels_is_one_contact(db, clock):
    await ingest(db, clock, [msg("1", channel="telegram", thread="tg-1")])
    await ingest(db, clock, [msg("1", channel="whatsapp", thread="wa-1")])
    assert await scalar(db, sa.select(sa.func.count()).select_from(Contact)) == 1
    assert await scalar(db, sa.select(sa.func.count()).select_from(Conversation)) == 2
    assert await scalar(db, sa.select(sa.func.count()).select_from(Message)) == 2


async def test_concurrent_first_messages_open_one_conversation(db, clock):
    results = await asyncio.gather(*(ingest(db, clock, [msg(str(i), minutes=i)]) for i in range(10)))
    assert len({r.conversation_id for r in results}) == 1
    assert await scalar(db, sa.select(sa.func.count()).select_from(Contact)) == 1
    assert await scalar(db, sa.select(Conversation.message_count)) == 10


async def test_outbound_observed_message_is_learned_not_drafted_and_sets_waiting(db, clock):
    await ingest(db, clock, [msg("in", minutes=0)])
    await ingest(db, clock, [msg("out", minutes=1, direction=OUTBOUND, sender=None)])
    assert await scalar(db, sa.select(Conversation.status)) == "waiting"
    kinds = sorted(r.kind for r in await db.rows(sa.select(Job.kind)))
    assert kinds == ["inbound.process", "outbound.learn"]


async def test_imported_history_queues_nothing(db, clock):
    await ingest(db, clock, [msg("in"), msg("out", minutes=1, direction=OUTBOUND, sender=None)], process=False)
    assert await scalar(db, sa.select(sa.func.count()).select_from(Job)) == 0


async def test_archived_conversation_reopens_on_a_new_inbound(db, clock):
    await ingest(db, clock, [msg("a", minutes=0)])
    await db.execute(sa.update(Conversation).values(status="archived", archived_at=T0))
    await ingest(db, clock, [msg("b", minutes=5)])
    assert await scalar(db, sa.select(Conversation.status)) == "needs_reply"


async def test_bus_gets_one_event_per_new_inbound(db, clock):
    bus = EventBus()
    queue = bus.subscribe()
    await ingest(db, clock, [msg("x"), msg("y", minutes=1)], bus=bus)
    await ingest(db, clock, [msg("x")], bus=bus)
    events = [queue.get_nowait() for _ in range(queue.qsize())]
    assert [e["type"] for e in events] == ["conversation:new_reply"] * 2


async def test_mixed_threads_are_refused(db, clock):
    with pytest.raises(ValueError):
        await ingest(db, clock, [msg("1", thread="a"), msg("2", thread="b")])


def test_naive_times_are_refused():
    with pytest.raises(ValueError):
        InboundMessage(channel="x", external_id="1", thread_id="t", sender=None, text="",
                       sent_at=datetime(2024, 1, 1))


async def test_a_nul_character_in_inbound_text_is_dropped_not_a_failed_delivery(db, clock):
    """PostgreSQL text cannot hold NUL; a platform that sends one must not make the webhook fail."""
    message = InboundMessage(channel="telegram", external_id="nul\x00-1", thread_id="chat-1",
                             sender=Handle("phone", "+14155550100"), text="hi\x00 there",
                             sent_at=T0, sender_name="A\x00na", subject="s\x00")
    await ingest(db, clock, [message])
    stored = (await db.rows(sa.select(Message.external_id, Message.text, Message.sender_name)))[0]
    assert tuple(stored) == ("nul-1", "hi there", "Ana")
