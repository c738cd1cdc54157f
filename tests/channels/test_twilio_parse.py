"""Pure mapping of Twilio webhooks: senders, threads, media, locations, quick replies, statuses."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlencode

import pytest

from channels.base import DeliveryUpdate, Handle, InboundMessage
from channels.twilio_parse import (MESSAGE, STATUS, address_for, is_twilio_host, parse_webhook, split_thread,
                                   thread_id_for)

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
SID = "SM" + "1" * 32


def body(**fields: str) -> bytes:
    return urlencode({"MessageSid": SID, "AccountSid": "AC1", "To": "whatsapp:+15550002222",
                      "From": "whatsapp:+14155550100", "Body": "Hello", "NumMedia": "0", **fields}).encode()


def inbound(**fields: str) -> InboundMessage:
    (event,) = parse_webhook(MESSAGE, body(**fields), NOW).events
    assert isinstance(event, InboundMessage)
    return event


def test_a_whatsapp_message_is_keyed_by_its_sid_and_threaded_by_network_and_number():
    message = inbound(ProfileName="Ann")
    assert (message.channel, message.external_id, message.thread_id) == ("twilio", SID, "whatsapp:+14155550100")
    assert message.sender == Handle("phone", "+14155550100") and message.participants == (message.sender,)
    assert (message.text, message.sender_name, message.sent_at) == ("Hello", "Ann", NOW)
    assert message.raw["network"] == "whatsapp" and message.raw["MessageSid"] == SID


def test_the_same_person_by_sms_is_the_same_handle_in_another_thread():
    message = inbound(From="+14155550100", To="+15550001111")
    assert message.sender == Handle("phone", "+14155550100")
    assert message.thread_id == "sms:+14155550100" and message.raw["network"] == "sms"


def test_media_urls_are_kept_with_their_types_and_never_fetched():
    photo_url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
    message = inbound(Body="", NumMedia="2", MediaUrl0=photo_url, MediaContentType0="image/jpeg",
                      MediaUrl1="https://api.twilio.com/x/Media/ME2", MediaContentType1="audio/ogg")
    photo, voice = message.attachments
    assert (photo.kind, photo.mime_type, photo.name) == ("photo", "image/jpeg", "ME1")
    assert photo.url.endswith("/Media/ME1") and voice.kind == "voice" and voice.extra == {"media_index": 1}
    assert message.message_type == "photo" and message.text == ""


def test_a_location_pin_becomes_a_location_attachment():
    message = inbound(Body="", Latitude="52.5200", Longitude="13.4050", Address="Unter den Linden 1",
                      Label="The shop")
    (pin,) = message.attachments
    assert (pin.kind, pin.name, message.message_type) == ("location", "The shop", "location")
    assert pin.extra == {"latitude": 52.52, "longitude": 13.405, "address": "Unter den Linden 1", "label": "The shop"}


def test_a_quick_reply_button_gives_its_text_and_keeps_its_payload():
    message = inbound(Body="", ButtonText="Yes, book it", ButtonPayload="book:42")
    assert message.text == "Yes, book it"
    assert (message.raw["button_text"], message.raw["button_payload"]) == ("Yes, book it", "book:42")


def test_an_opt_out_keyword_twilio_answers_itself_is_a_service_message():
    assert inbound(From="+14155550100", Body="STOP", OptOutType="STOP").message_type == "service"


def test_a_message_without_sid_or_sender_is_malformed():
    with pytest.raises(ValueError):
        parse_webhook(MESSAGE, urlencode({"Body": "hi", "From": "+14155550100"}).encode(), NOW)
    with pytest.raises(ValueError):
        parse_webhook(MESSAGE, urlencode({"MessageSid": SID, "Body": "hi"}).encode(), NOW)


def test_a_status_callback_is_a_delivery_update_with_twilio_error_details():
    form = urlencode({"MessageSid": SID, "MessageStatus": "undelivered", "ErrorCode": "30008",
                      "ErrorMessage": "Unknown error"}).encode()
    parsed = parse_webhook(STATUS, form, NOW)
    assert parsed.events == [DeliveryUpdate("twilio", SID, "undelivered", NOW, "30008", "Unknown error",
                                            raw={"MessageSid": SID, "MessageStatus": "undelivered",
                                                 "ErrorCode": "30008", "ErrorMessage": "Unknown error"})]
    assert (parsed.ack_status, parsed.ack_body) == (204, None)


def test_threads_round_trip_to_twilio_addresses():
    assert split_thread(thread_id_for("whatsapp", "+14155550100")) == ("whatsapp", "+14155550100")
    assert address_for("whatsapp", "+14155550100") == "whatsapp:+14155550100"
    assert address_for("sms", "+14155550100") == "+14155550100"
    for bad in ("", "telegram:123", "sms:", "+14155550100"):
        with pytest.raises(ValueError):
            split_thread(bad)


@pytest.mark.parametrize("url, allowed", [
    ("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", True),
    ("https://media.twiliocdn.com/AC1/abc", True),
    ("https://mms.twiliocdn.com/AC1/abc", True),
    ("https://api.us1.twilio.com/x", True),
    ("http://api.twilio.com/x", False),
    ("https://twilio.com.evil.example/x", False),
    ("https://evil.example/api.twilio.com", False),
    ("https://api.twilio.com@evil.example/x", False),
])
def test_only_twilio_hosts_over_https_are_media_hosts(url, allowed):
    assert is_twilio_host(url) is allowed
