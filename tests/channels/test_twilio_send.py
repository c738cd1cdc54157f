"""Twilio end to end, outbound: drafts approved through the real app go out once through the real
twilio SDK to a fake Twilio API, on the network the message came in on; 429 and 5xx are retried on
the hub's clock; WhatsApp's 24-hour window picks the approved template or refuses."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace

import aiohttp
import pytest

from channels.base import OutboundMessage
from channels.twilio import OUTSIDE_WINDOW, TwilioChannel
from hub.brain_services import BrainServices
from hub.state import BACKGROUND
from storage.models import Conversation, OutboxItem, Suggestion
from tests.channels.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioApi
from tests.channels.test_twilio import (ANN, PUBLIC_URL, SMS_FROM, WHATSAPP_FROM, deliver, inbound_form, reply, rows,
                                        twilio_settings)
from tests.conftest import Hub, start_hub

TEMPLATE_SID = "HX" + "b" * 32


@pytest.fixture
async def twilio_api() -> AsyncIterator[FakeTwilioApi]:
    api = FakeTwilioApi()
    await api.start()
    yield api
    await api.close()


@pytest.fixture
async def twilio_hub(tmp_path, database_url, clock, twilio_api) -> AsyncIterator[Hub]:
    hub = await start_hub(twilio_settings(tmp_path, database_url, twilio_api, whatsapp_template_sid=TEMPLATE_SID),
                          clock)
    yield hub
    await hub.client.close()


@pytest.fixture
async def drafting_hub(tmp_path, database_url, clock, twilio_api, bundled_llm, shared_embedder) -> AsyncIterator[Hub]:
    settings = twilio_settings(tmp_path, database_url, twilio_api)
    hub = await start_hub(settings, clock, brain=BrainServices(settings, llm=bundled_llm, embedder=shared_embedder))
    yield hub
    await hub.client.close()


async def conversation_of(hub: Hub, thread_id: str) -> Conversation:
    return next(c for c in await rows(hub, Conversation) if c.external_id == thread_id)


async def test_approving_drafts_sends_one_message_each_on_the_network_it_came_in_on(drafting_hub, twilio_api):
    await deliver(drafting_hub, inbound_form("SM001", "Hi! Is the blue jacket in size M still available?"))
    await deliver(drafting_hub, inbound_form("SM002", "Hello, can I pick up my order on Friday?", network="sms"))
    await drafting_hub.worker.run_until_idle()
    suggestions = {s.conversation_id: s for s in await rows(drafting_hub, Suggestion) if s.status == "pending"}
    for thread_id in (f"whatsapp:{ANN}", f"sms:{ANN}"):
        conversation = await conversation_of(drafting_hub, thread_id)
        response = await drafting_hub.request("POST", f"/api/v1/conversations/{conversation.id}/approve",
                                              json={"suggestion_id": suggestions[conversation.id].id})
        assert response.status == 200, await response.text()
    await drafting_hub.worker.run_until_idle()  # the outbox jobs find the rows sent: nothing goes twice
    whatsapp, sms = twilio_api.creates
    assert (whatsapp.get("From"), whatsapp.get("To")) == (WHATSAPP_FROM, f"whatsapp:{ANN}")
    assert (sms.get("From"), sms.get("To")) == (SMS_FROM, ANN)
    for create in (whatsapp, sms):
        assert create.get("StatusCallback") == PUBLIC_URL + "/webhooks/twilio/status"
        assert create.get("Body") in {s.body for s in suggestions.values()}
    items = await rows(drafting_hub, OutboxItem)
    assert sorted(i.provider_message_id for i in items) == sorted(m["sid"] for m in twilio_api.messages)


async def test_a_429_is_retried_after_retry_after_on_the_hub_clock_and_sent_once(twilio_hub, twilio_api, clock):
    await deliver(twilio_hub, inbound_form("SM001"))
    conversation = await conversation_of(twilio_hub, f"whatsapp:{ANN}")
    twilio_api.rate_limit(times=2, retry_after=30)
    response = await reply(twilio_hub, conversation.id, "Yes, we have it in M.")
    assert response.status == 200 and "retry later" in (await response.json())["message"]
    await twilio_hub.worker.run_until_idle()  # the outbox job: a second 429, then it waits 30 s
    await twilio_hub.worker.run_until_idle()
    assert (len(twilio_api.creates), twilio_api.messages) == (2, [])
    clock.advance(seconds=31)
    await twilio_hub.worker.run_until_idle()
    (item,) = await rows(twilio_hub, OutboxItem)
    assert len(twilio_api.messages) == 1 and (item.status, item.provider_message_id) == (
        "sent", twilio_api.messages[0]["sid"])


async def test_a_5xx_is_retried_with_backoff(twilio_hub, twilio_api, clock):
    await deliver(twilio_hub, inbound_form("SM001"))
    conversation = await conversation_of(twilio_hub, f"whatsapp:{ANN}")
    twilio_api.fail(503, 20500, "Service Unavailable", times=2)
    await reply(twilio_hub, conversation.id, "Yes, we have it in M.")
    for _ in range(4):
        clock.advance(seconds=10)
        await twilio_hub.worker.run_until_idle()
    assert len(twilio_api.messages) == 1 and (await rows(twilio_hub, OutboxItem))[0].status == "sent"


async def test_other_4xx_are_final_and_carry_twilio_code_and_message(twilio_hub, twilio_api, clock):
    await deliver(twilio_hub, inbound_form("SM001"))
    conversation = await conversation_of(twilio_hub, f"whatsapp:{ANN}")
    twilio_api.fail(400, 21211, "The 'To' number whatsapp:+14155550100 is not a valid phone number.")
    response = await reply(twilio_hub, conversation.id, "Yes, we have it in M.")
    assert response.status == 500 and "21211" in await response.text()
    clock.advance(minutes=10)
    await twilio_hub.worker.run_until_idle()
    (item,) = await rows(twilio_hub, OutboxItem)
    assert len(twilio_api.creates) == 1 and item.status == "failed"
    assert item.error == "21211: The 'To' number whatsapp:+14155550100 is not a valid phone number."


async def test_outside_the_whatsapp_window_the_approved_template_goes_instead(twilio_hub, twilio_api, clock):
    await deliver(twilio_hub, inbound_form("SM001"))
    await twilio_hub.app[BACKGROUND].close()  # the adapter notes when Ann last wrote
    conversation = await conversation_of(twilio_hub, f"whatsapp:{ANN}")
    clock.advance(hours=23)
    await reply(twilio_hub, conversation.id, "Still there?")
    clock.advance(hours=2)
    await reply(twilio_hub, conversation.id, "Your jacket is ready.")
    inside, outside = twilio_api.creates
    assert inside.get("Body") == "Still there?" and inside.get("ContentSid") is None
    assert outside.get("Body") is None and outside.get("ContentSid") == TEMPLATE_SID
    assert json.loads(outside.get("ContentVariables")) == {"1": "Your jacket is ready."}


# -- the adapter alone, on its own session -------------------------------------------------------


@dataclass(frozen=True)
class WithLastInbound(OutboundMessage):
    """OutboundMessage with the field the hub is asked to add (see the report)."""

    last_inbound_at: datetime | None = None


def settings(api: FakeTwilioApi, **extra: object) -> SimpleNamespace:
    values = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "sms_from": SMS_FROM, "whatsapp_from": "",
              "api_base_url": api.base_url, "whatsapp_template_sid": "", "media_max_bytes": 1024, **extra}
    return SimpleNamespace(**values)


async def test_outside_the_window_without_a_template_nothing_is_sent(twilio_api, clock):
    async with aiohttp.ClientSession() as session:
        channel = TwilioChannel(settings(twilio_api, whatsapp_from="+15550002222"), session=session, clock=clock)
        stale = WithLastInbound("twilio", f"whatsapp:{ANN}", "Hello again", "key-1",
                                last_inbound_at=clock.now() - timedelta(hours=25))
        result = await channel.send(stale)
        assert (result.ok, result.error, result.retryable) == (False, OUTSIDE_WINDOW, False)
        assert twilio_api.creates == []
        fresh = await channel.send(WithLastInbound("twilio", f"whatsapp:{ANN}", "Hello", "key-2",
                                                   last_inbound_at=clock.now() - timedelta(hours=1)))
        assert fresh.ok and twilio_api.creates[0].get("From") == "whatsapp:+15550002222"
        assert twilio_api.creates[0].get("StatusCallback") is None  # no public URL: no callbacks asked for


async def test_sending_needs_a_sender_for_the_network_and_a_twilio_thread(twilio_api, clock):
    async with aiohttp.ClientSession() as session:
        channel = TwilioChannel(settings(twilio_api), session=session, clock=clock)
        no_sender = await channel.send(OutboundMessage("twilio", f"whatsapp:{ANN}", "Hi", "key-1"))
        assert not no_sender.ok and "whatsapp_from" in (no_sender.error or "")
        not_ours = await channel.send(OutboundMessage("twilio", "123456", "Hi", "key-2"))
        assert not not_ours.ok and twilio_api.creates == []


async def test_a_refused_connection_is_retryable_and_a_429_keeps_retry_after(twilio_api, clock):
    async with aiohttp.ClientSession() as session:
        down = TwilioChannel(settings(SimpleNamespace(base_url="http://127.0.0.1:9")), session=session, clock=clock)
        result = await down.send(OutboundMessage("twilio", f"sms:{ANN}", "Hi", "key-1"))
        assert result.retryable and not result.ok
        twilio_api.rate_limit(retry_after=12)
        limited = await TwilioChannel(settings(twilio_api), session=session, clock=clock).send(
            OutboundMessage("twilio", f"sms:{ANN}", "Hi", "key-2"))
        assert (limited.retryable, limited.retry_after, limited.error) == (True, 12.0, "20429: Too Many Requests")
