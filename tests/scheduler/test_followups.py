"""Follow-up nudges end to end on the real database, time moved by a FakeClock: planned, fired once
into a follow_up suggestion with its reason, cancelled by the contact, through a restart, out of
quiet hours, within max nudges and WhatsApp's window, auto-sent only when the contact allows it."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from channels.base import INBOUND, OUTBOUND, Handle, InboundMessage
from hub.brain_services import BrainServices
from hub.clock import FakeClock
from hub.pipeline import ingest
from hub.state import CHANNELS
from scheduler import followups
from scheduler.firing import prepare
from storage.models import Job, Message, OutboxItem, Suggestion
from storage.scheduling_models import FollowUp
from tests.conftest import make_settings, start_hub
from tests.hub.test_dispatch import RecordingChannel

START = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)  # a Monday, 10:00 UTC (the owner's zone)
_ids = itertools.count(1)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def settings(tmp_path, database_url):
    return make_settings(tmp_path, database_url, brain={"draft_max_tokens": 24})


async def say(hub, clock, text: str, *, owner: bool = False, thread: str = "jane", name: str = "Jane Doe",
              number: str = "+14155550100", channel: str = "fakechan", process: bool = False) -> int:
    """One message in a thread, from the contact (default) or the owner; returns the conversation id."""
    handle = Handle("phone", number)
    message = InboundMessage(channel=channel, external_id=f"m{next(_ids)}", thread_id=thread,
                             sender=None if owner else handle, text=text, sent_at=clock.now(),
                             direction=OUTBOUND if owner else INBOUND, sender_name="" if owner else name,
                             participants=(handle,))
    return (await ingest(hub.db, clock, [message], process=process)).conversation_id


async def waiting_conversation(hub, clock, **who) -> int:
    await say(hub, clock, "Hi! Do you have time for a portrait session in April?", **who)
    clock.advance(minutes=5)
    return await say(hub, clock, "Yes, I do! Which dates work for you?", owner=True, **who)


async def nudges(hub, conversation_id: int | None = None) -> list[sa.Row]:
    stmt = sa.select(FollowUp).order_by(FollowUp.id)
    if conversation_id is not None:
        stmt = stmt.where(FollowUp.conversation_id == conversation_id)
    return await hub.db.rows(stmt)


async def follow_up_suggestions(hub) -> list[sa.Row]:
    return await hub.db.rows(sa.select(Suggestion).where(Suggestion.kind == "follow_up").order_by(Suggestion.id))


async def put_contact_settings(hub, conversation_id: int, body: dict) -> dict:
    contact = await hub.db.scalar(sa.text(f"SELECT contact_id FROM conversations WHERE id = {conversation_id}"))
    resp = await hub.request("PUT", f"/api/followups/contacts/{contact}/settings", json=body)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_fires_when_due_into_a_follow_up_suggestion_with_its_reason_once(brain_hub, clock):
    await waiting_conversation(brain_hub, clock)
    await followups.tick(brain_hub.app)
    (nudge,) = await nudges(brain_hub)
    assert (nudge.rule, nudge.status) == ("waiting", "planned")
    assert nudge.due_at == clock.now() + timedelta(hours=48) and "No reply from Jane Doe" in nudge.reason
    clock.advance(hours=47, minutes=59)
    assert (await followups.tick(brain_hub.app)).queued == []
    clock.advance(minutes=1)
    assert (await followups.tick(brain_hub.app)).queued == [nudge.id]
    assert await brain_hub.worker.run_until_idle() == 1
    (suggestion,) = await follow_up_suggestions(brain_hub)
    assert suggestion.status == "pending" and suggestion.body.strip()
    assert nudge.reason in suggestion.reasoning and suggestion.context_used[0] == f"follow_up:waiting: {nudge.reason}"
    (nudge,) = await nudges(brain_hub)
    assert (nudge.status, nudge.suggestion_id, nudge.outbox_id) == ("fired", suggestion.id, None)
    clock.advance(hours=3)  # ticks go on: nothing fires twice
    assert (await followups.tick(brain_hub.app)).queued == []
    assert await brain_hub.worker.run_until_idle() == 0 and len(await follow_up_suggestions(brain_hub)) == 1


async def test_a_message_from_the_contact_withdraws_the_nudge_suggestion_at_once(brain_hub, clock):
    conversation = await waiting_conversation(brain_hub, clock)
    await followups.tick(brain_hub.app)
    clock.advance(hours=49)
    await followups.tick(brain_hub.app)
    await brain_hub.worker.run_until_idle()
    (nudge,) = await nudges(brain_hub)
    assert nudge.status == "fired"
    await say(brain_hub, clock, "Sorry, busy week! Maybe the 12th?", process=True)
    await brain_hub.worker.run_until_idle()  # the hub's own inbound processing, no tick in between
    (suggestion,) = await follow_up_suggestions(brain_hub)
    (nudge,) = await nudges(brain_hub)
    assert suggestion.status == "superseded" and (nudge.status, nudge.cause) == ("cancelled", "contact_wrote")
    assert conversation == nudge.conversation_id


async def answered_nudge(hub, clock) -> sa.Row:
    """A nudge planned while waiting for the contact, who then wrote before it was due."""
    await waiting_conversation(hub, clock)
    await followups.tick(hub.app)
    clock.advance(hours=5)
    await say(hub, clock, "Thanks, let me check my calendar")
    await followups.tick(hub.app)
    (nudge,) = await nudges(hub)
    return nudge


async def test_a_reply_from_the_contact_cancels_the_planned_nudge(hub, clock):
    nudge = await answered_nudge(hub, clock)
    assert (nudge.status, nudge.cause) == ("cancelled", "contact_wrote")
    clock.advance(hours=60)
    assert (await followups.tick(hub.app)).queued == []
    assert await hub.db.scalar(sa.text("SELECT count(*) FROM jobs WHERE kind = 'followup.fire'")) == 0


async def test_survives_a_restart_and_fires_once(settings, clock, bundled_llm, shared_embedder):
    first = await start_hub(settings, clock)
    await waiting_conversation(first, clock)
    await followups.tick(first.app)
    await first.client.close()
    clock.advance(hours=50)  # the hub was down when the nudge fell due
    second = await start_hub(settings, clock, brain=BrainServices(settings, llm=bundled_llm,
                                                                  embedder=shared_embedder))
    try:
        assert len((await followups.tick(second.app)).queued) == 1
        assert len((await followups.tick(second.app)).queued) == 0
        assert await second.worker.run_until_idle() == 1
        assert len(await follow_up_suggestions(second)) == 1
        assert [n.status for n in await nudges(second)] == ["fired"]
    finally:
        await second.client.close()


async def test_waits_out_the_contacts_quiet_hours(hub, clock):
    night = await waiting_conversation(hub, clock)  # due 02:05 UTC = 21:05 in New York: quiet
    await put_contact_settings(hub, night, {"timezone": "America/New_York", "waitingHours": 16})
    late = await waiting_conversation(hub, clock, thread="sam", name="Sam Roe", number="+14155550111")
    await put_contact_settings(hub, late, {"timezone": "America/New_York", "waitingHours": 4})
    await followups.tick(hub.app)
    (planned,) = await nudges(hub, night)
    assert planned.fire_at == datetime(2026, 3, 3, 13, 0, tzinfo=timezone.utc)  # 08:00 in New York
    clock.advance(hours=17)  # 03:10 UTC: the hub was down when Sam's nudge fell due (14:10 UTC)
    assert (await followups.tick(hub.app)).queued == []
    (moved,) = await nudges(hub, late)
    assert moved.status == "planned" and moved.fire_at == planned.fire_at and "quiet hours" in moved.note
    clock.advance(hours=9, minutes=49)  # 12:59 UTC, 07:59 in New York
    assert (await followups.tick(hub.app)).queued == []
    clock.advance(minutes=1)
    assert sorted((await followups.tick(hub.app)).queued) == [planned.id, moved.id]


async def test_auto_send_only_where_the_contact_allows_it_and_at_most_max_nudges(brain_hub, clock):
    fake = brain_hub.app[CHANNELS]["fakechan"] = RecordingChannel([])
    ann = await waiting_conversation(brain_hub, clock, thread="ann", name="Ann", number="+14155550122")
    await put_contact_settings(brain_hub, ann, {"autoSend": True, "maxNudges": 1})
    bob = await waiting_conversation(brain_hub, clock, thread="bob", name="Bob", number="+14155550133")
    await followups.tick(brain_hub.app)
    clock.advance(hours=49)
    assert len((await followups.tick(brain_hub.app)).queued) == 2
    await brain_hub.worker.run_until_idle()
    outbox = await brain_hub.db.rows(sa.select(OutboxItem))
    assert [(o.conversation_id, o.status) for o in outbox] == [(ann, "sent")] and len(fake.sent) == 1
    by_conversation = {s.conversation_id: s for s in await follow_up_suggestions(brain_hub)}
    assert by_conversation[ann].status == "sent" and by_conversation[ann].decided_via == "followup:auto"
    assert by_conversation[bob].status == "pending"
    await followups.tick(brain_hub.app)  # Ann's nudge went out: she is waited for again
    clock.advance(hours=49)
    assert len((await followups.tick(brain_hub.app)).queued) == 1
    await brain_hub.worker.run_until_idle()
    second = (await nudges(brain_hub, ann))[-1]
    assert (second.status, second.cause) == ("skipped", "max_nudges")
    assert len(await follow_up_suggestions(brain_hub)) == 2 and len(fake.sent) == 1
    assert len(await brain_hub.db.rows(sa.select(OutboxItem))) == 1


async def test_whatsapp_outside_24_hours_is_held_without_a_template(hub, clock):
    held = await waiting_conversation(hub, clock, channel="twilio", thread="whatsapp:+14155550144",
                                      number="+14155550144")
    other = await waiting_conversation(hub, clock, channel="twilio", thread="whatsapp:+14155550155",
                                       number="+14155550155", name="Kim")
    await followups.tick(hub.app)
    clock.advance(hours=49)
    await followups.tick(hub.app)
    (queued,) = await nudges(hub, other)
    with_template = await hub.db.write(prepare, hub.db, queued.id, clock.now(), "UTC", True)
    assert with_template.action == "draft"  # a configured template lets it through
    await hub.worker.run_until_idle()
    (nudge,) = await nudges(hub, held)
    assert (nudge.status, nudge.cause) == ("held", "whatsapp_window")
    assert "24-hour window" in nudge.note and "whatsapp_template_sid" in nudge.note
    assert await follow_up_suggestions(hub) == []


async def test_price_agreed_and_the_contacts_own_date_are_planned_with_their_reasons(hub, clock):
    deal = await say(hub, clock, "Hi! How much for a portrait session?")
    await say(hub, clock, "It is $200 for one hour.", owner=True)
    await say(hub, clock, "Deal, $200 works for me!")
    await say(hub, clock, "Great, thank you!", owner=True)
    later = await say(hub, clock, "Let me think about it until Friday", thread="lee", name="Lee",
                      number="+14155550166")
    await say(hub, clock, "Sure, no rush!", owner=True, thread="lee", number="+14155550166")
    await followups.tick(hub.app)
    assert [(n.rule, n.due_at - clock.now()) for n in await nudges(hub, deal)] == [
        ("price_agreed", timedelta(hours=24)), ("waiting", timedelta(hours=48))]
    assert "Price agreed but no booking confirmed" in (await nudges(hub, deal))[0].reason
    (deferred,) = await nudges(hub, later)
    assert deferred.rule == "contact_deferred" and deferred.due_at == datetime(2026, 3, 6, 17, 0, tzinfo=timezone.utc)
    assert "until Friday" in deferred.reason


async def test_a_nudge_whose_drafting_keeps_failing_is_held_with_the_error(hub, clock):
    await waiting_conversation(hub, clock)
    await followups.tick(hub.app)
    clock.advance(hours=49)
    await followups.tick(hub.app)
    await hub.db.execute(sa.update(Job).where(Job.kind == followups.FIRE_JOB)
                         .values(status="dead", last_error="TimeoutError: the model did not answer"))
    await followups.tick(hub.app)
    (nudge,) = await nudges(hub)
    assert (nudge.status, nudge.cause) == ("held", "draft_failed") and "did not answer" in nudge.note


async def test_the_sales_signals_stored_with_the_message_plan_the_price_nudge(hub, clock):
    conversation = await say(hub, clock, "Perfect, that works for me")
    agreement = {"has_agreement": True, "schedule_info": None, "negotiation_stage": "agreed", "evidence": [],
                 "prices_mentioned": [], "agreed_price": {"amount": 150, "currency": "EUR", "raw_text": "150€",
                                                          "position": 0}}
    await hub.db.execute(sa.update(Message).where(Message.conversation_id == conversation)
                         .values(analysis={"agreement": agreement}))  # what hub/analysis_step.py stores
    await say(hub, clock, "Great, thank you!", owner=True)
    await followups.tick(hub.app)
    (price, _waiting) = await nudges(hub, conversation)
    assert price.rule == "price_agreed" and price.detail["signal"] == "message analysis"
    assert price.detail["agreedPrice"] == "150 EUR" and "150 EUR" in price.instruction
