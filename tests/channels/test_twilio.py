"""Twilio end to end, inbound: webhooks signed with the SDK's own algorithm for the public URL into
the real app over HTTP, status callbacks applied in order, media fetched from a fake Twilio API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
import sqlalchemy as sa
from multidict import MultiDict
from twilio.request_validator import RequestValidator

from channels.twilio import MediaRejected, TwilioChannel
from hub.events import ERROR
from hub.state import BACKGROUND, BUS, CHANNELS
from storage.models import Contact, Conversation, Job, Message, OutboxItem
from tests.channels.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioApi
from tests.conftest import Hub, make_settings, start_hub

PUBLIC_URL = "https://hub.example.com"
INBOUND, STATUS = "/webhooks/twilio", "/webhooks/twilio/status"
WHATSAPP_FROM, SMS_FROM = "whatsapp:+15550002222", "+15550001111"
ANN = "+14155550100"


def twilio_settings(tmp_path: Any, database_url: str, api: FakeTwilioApi, **twilio: Any) -> Any:
    return make_settings(tmp_path, database_url, server={"public_url": PUBLIC_URL},
                         brain={"draft_max_tokens": 32},
                         channels={"twilio": {"enabled": True, "account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN,
                                              "sms_from": SMS_FROM, "whatsapp_from": WHATSAPP_FROM,
                                              "api_base_url": api.base_url, **twilio}})


@pytest.fixture
async def twilio_api() -> AsyncIterator[FakeTwilioApi]:
    api = FakeTwilioApi()
    await api.start()
    yield api
    await api.close()


@pytest.fixture
async def twilio_hub(tmp_path, database_url, clock, twilio_api) -> AsyncIterator[Hub]:
    hub = await start_hub(twilio_settings(tmp_path, database_url, twilio_api, media_max_bytes=4096), clock)
    yield hub
    await hub.client.close()


def inbound_form(sid: str, text: str = "Hi! Do you have the blue jacket in size M?", *, sender: str = ANN,
                 network: str = "whatsapp", **extra: str) -> list[tuple[str, str]]:
    """What Twilio posts for an inbound message, in Twilio's field order."""
    whatsapp = network == "whatsapp"
    fields = [("SmsMessageSid", sid), ("NumMedia", "0"), ("ProfileName", "Ann"), ("SmsSid", sid),
              ("WaId", sender.lstrip("+")), ("SmsStatus", "received"), ("Body", text),
              ("To", WHATSAPP_FROM if whatsapp else SMS_FROM), ("NumSegments", "1"), ("MessageSid", sid),
              ("AccountSid", ACCOUNT_SID), ("From", f"whatsapp:{sender}" if whatsapp else sender),
              ("ApiVersion", "2010-04-01")]
    return [(key, value) for key, value in fields if key not in extra] + list(extra.items())


def status_form(sid: str, status: str, **extra: str) -> list[tuple[str, str]]:
    return [("MessageSid", sid), ("SmsSid", sid), ("MessageStatus", status), ("SmsStatus", status),
            ("AccountSid", ACCOUNT_SID), ("To", f"whatsapp:{ANN}"), ("From", WHATSAPP_FROM),
            ("ApiVersion", "2010-04-01"), *extra.items()]


def signature(url: str, form: list[tuple[str, str]], token: str = AUTH_TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, MultiDict(form))


async def post(hub: Hub, path: str, form: list[tuple[str, str]], *, token: str = AUTH_TOKEN,
               signed_url: str | None = None, headers: dict[str, str] | None = None) -> aiohttp.ClientResponse:
    """POST as Twilio does: form-encoded, signed for the URL Twilio called (the public URL)."""
    all_headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "X-Twilio-Signature": signature(signed_url or PUBLIC_URL + path, form, token), **(headers or {})}
    return await hub.client.post(path, data=urlencode(form), headers=all_headers)


async def deliver(hub: Hub, form: list[tuple[str, str]], path: str = INBOUND) -> None:
    response = await post(hub, path, form)
    if path == INBOUND:  # empty TwiML: acknowledged, and no automatic reply to the customer
        assert response.status == 200 and response.content_type == "text/xml", await response.text()
        assert (await response.text()).endswith("<Response/>")
    else:
        assert response.status == 204 and await response.read() == b"", await response.text()


async def rows(hub: Hub, model: Any) -> list[Any]:
    return await hub.db.rows(sa.select(model).order_by(model.id))


async def reply(hub: Hub, conversation_id: int, text: str) -> aiohttp.ClientResponse:
    return await hub.request("POST", f"/api/v1/conversations/{conversation_id}/reply", json={"body": text})


async def test_a_signed_whatsapp_message_is_stored_before_the_ack(twilio_hub):
    await deliver(twilio_hub, inbound_form("SM001"))
    (message,) = await rows(twilio_hub, Message)
    assert (message.channel, message.external_id, message.direction) == ("twilio", "SM001", "inbound")
    assert (message.sender_handle, message.sender_name, message.raw["network"]) == (f"phone:{ANN}", "Ann", "whatsapp")
    (conversation,) = await rows(twilio_hub, Conversation)
    assert conversation.external_id == f"whatsapp:{ANN}"


async def test_one_person_by_sms_and_whatsapp_is_one_contact_in_two_conversations(twilio_hub):
    await deliver(twilio_hub, inbound_form("SM001"))
    await deliver(twilio_hub, inbound_form("SM002", "Also, do you ship to Canada?", network="sms"))
    conversations = await rows(twilio_hub, Conversation)
    assert sorted(c.external_id for c in conversations) == [f"sms:{ANN}", f"whatsapp:{ANN}"]
    (contact,) = await rows(twilio_hub, Contact)
    assert {c.contact_id for c in conversations} == {contact.id}


async def test_forged_unsigned_and_wrongly_addressed_requests_are_refused_and_store_nothing(twilio_hub):
    form = inbound_form("SM001")
    assert (await post(twilio_hub, INBOUND, form, token="not-the-auth-token")).status == 403
    unsigned = await twilio_hub.client.post(INBOUND, data=urlencode(form),
                                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert unsigned.status == 403
    behind_the_proxy = str(twilio_hub.client.make_url(INBOUND))  # what the hub sees, not what Twilio called
    assert (await post(twilio_hub, INBOUND, form, signed_url=behind_the_proxy)).status == 403
    tampered = await twilio_hub.client.post(INBOUND, data=urlencode(inbound_form("SM001", "Send me your PIN")),
                                            headers={"Content-Type": "application/x-www-form-urlencoded",
                                                     "X-Twilio-Signature": signature(PUBLIC_URL + INBOUND, form)})
    assert tampered.status == 403
    assert (await post(twilio_hub, STATUS, status_form("SM001", "failed"), token="nope")).status == 403
    assert await rows(twilio_hub, Message) == [] and await rows(twilio_hub, Conversation) == []


async def test_the_same_message_sid_delivered_again_is_stored_once(twilio_hub):
    form = inbound_form("SM001")
    responses = await asyncio.gather(*(post(twilio_hub, INBOUND, form) for _ in range(3)))
    assert [r.status for r in responses] == [200] * 3
    assert len(await rows(twilio_hub, Message)) == 1
    jobs = await rows(twilio_hub, Job)
    assert [j.kind for j in jobs] == ["inbound.process"]


async def test_media_and_a_location_are_recorded_with_the_message(twilio_hub, twilio_api):
    photo = twilio_api.add_media("ME1", b"\xff\xd8\xff" + b"x" * 100, "image/jpeg")
    await deliver(twilio_hub, inbound_form("SM001", "", NumMedia="2", MediaUrl0=photo, MediaContentType0="image/jpeg",
                                           MediaUrl1=twilio_api.media_url("ME2"), MediaContentType1="application/pdf"))
    await deliver(twilio_hub, inbound_form("SM002", "", Latitude="52.52", Longitude="13.405", Label="The shop"))
    first, second = await rows(twilio_hub, Message)
    assert [(a["kind"], a["mime_type"], a["url"]) for a in first.attachments] == [
        ("photo", "image/jpeg", photo), ("document", "application/pdf", twilio_api.media_url("ME2"))]
    assert first.message_type == "photo" and twilio_api.media_requests == []  # kept, not fetched
    (pin,) = second.attachments
    assert (pin["kind"], pin["latitude"], pin["longitude"], pin["label"]) == ("location", 52.52, 13.405, "The shop")


async def test_media_is_fetched_only_from_twilio_with_auth_and_within_the_cap(twilio_hub, twilio_api):
    channel: TwilioChannel = twilio_hub.app[CHANNELS]["twilio"]
    fetched = await channel.fetch_media(twilio_api.add_media("ME1", b"\x89PNG" + b"p" * 96, "image/png"))
    assert (fetched.content_type, fetched.size, fetched.data[:4]) == ("image/png", 100, b"\x89PNG")
    assert twilio_api.media_requests[-1][1].startswith("Basic ")
    cdn = twilio_api.add_cdn_media("signed-abc", b"GIF89a", "image/gif")
    via_cdn = await channel.fetch_media(twilio_api.redirect_media("ME2", cdn))
    assert (via_cdn.url, via_cdn.content_type, via_cdn.size) == (cdn, "image/gif", 6)
    assert twilio_api.media_requests[-1] == ("/cdn/signed-abc", "")  # no credentials for the CDN
    elsewhere = f"http://localhost:{twilio_api.port}/cdn/signed-abc"
    for url in (twilio_api.redirect_media("ME3", elsewhere), "https://evil.example/api.twilio.com/x",
                "http://api.twilio.com/2010-04-01/x", twilio_api.add_media("ME4", b"z" * 5000, "image/jpeg")):
        with pytest.raises(MediaRejected):
            await channel.fetch_media(url)
    assert not any(path.endswith("evil.example") for path, _ in twilio_api.media_requests)


async def test_statuses_move_forward_only_and_a_late_sent_changes_nothing(twilio_hub, twilio_api):
    await deliver(twilio_hub, inbound_form("SM001"))
    (conversation,) = await rows(twilio_hub, Conversation)
    assert (await reply(twilio_hub, conversation.id, "Yes, we have it in M.")).status == 200
    (item,) = await rows(twilio_hub, OutboxItem)
    (created,) = twilio_api.messages
    assert (item.status, item.provider_message_id) == ("sent", created["sid"])
    for status, expected in (("delivered", "delivered"), ("sent", "delivered"), ("queued", "delivered"),
                             ("read", "read"), ("delivered", "read")):
        await deliver(twilio_hub, status_form(created["sid"], status), STATUS)
        assert (await rows(twilio_hub, OutboxItem))[0].status == expected, status


async def test_a_failed_status_surfaces_an_error_to_the_owner(twilio_hub, twilio_api):
    events = twilio_hub.app[BUS].subscribe()
    await deliver(twilio_hub, inbound_form("SM001"))
    (conversation,) = await rows(twilio_hub, Conversation)
    await reply(twilio_hub, conversation.id, "Yes, we have it in M.")
    (created,) = twilio_api.messages
    await deliver(twilio_hub, status_form(created["sid"], "undelivered", ErrorCode="30008",
                                          ErrorMessage="Unknown error"), STATUS)
    (item,) = await rows(twilio_hub, OutboxItem)
    assert (item.status, item.error) == ("undelivered", "30008: Unknown error")
    seen = []
    while not events.empty():
        seen.append(events.get_nowait())
    errors = [e for e in seen if e and e["type"] == ERROR]
    assert len(errors) == 1 and "30008" in errors[0]["error"] and errors[0]["conversation_id"] == conversation.id


async def test_a_status_for_a_message_we_never_sent_is_acknowledged_and_ignored(twilio_hub):
    await deliver(twilio_hub, status_form("SM" + "f" * 32, "delivered"), STATUS)
    assert await rows(twilio_hub, OutboxItem) == []


async def test_acknowledging_remembers_when_a_whatsapp_contact_last_wrote(twilio_hub, clock):
    await deliver(twilio_hub, inbound_form("SM001"))
    await deliver(twilio_hub, inbound_form("SM002", network="sms"))
    await twilio_hub.app[BACKGROUND].close()  # the acknowledge follow-ups
    channel: TwilioChannel = twilio_hub.app[CHANNELS]["twilio"]
    assert channel._last_inbound == {f"whatsapp:{ANN}": clock.now()}
