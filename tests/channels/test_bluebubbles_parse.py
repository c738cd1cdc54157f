"""Pure mapping of BlueBubbles payloads: chat-guid variants, direction, updates never new messages,
tapbacks, groups, attachments, and the echo aliases for sends answered without a guid."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from channels.base import DeliveryUpdate, Handle, InboundMessage, MessageDeleted, MessageEdited
from channels.bluebubbles import EchoBook
from channels.bluebubbles_parse import (normalize_chat_guid, parse_payload, parse_webhook, queried_events,
                                        send_chat_guid)
from tests.channels.fakes.bluebubbles_server import message, millis

AT = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
CHAT = "iMessage;-;+15551234567"


def new(data: dict) -> InboundMessage:
    (event,) = parse_payload({"type": "new-message", "data": data})
    assert isinstance(event, InboundMessage)
    return event


@pytest.mark.parametrize("variant", ["iMessage;-;+15551234567", "SMS;-;+15551234567", "any;-;+15551234567",
                                     "iMessage;-;+1 (555) 123-4567", "SMS;-;5551234567"])
def test_every_variant_of_a_one_to_one_chat_is_one_thread(variant):
    assert normalize_chat_guid(variant) == "any;-;+15551234567"


def test_emails_and_groups_normalise_too():
    assert normalize_chat_guid("iMessage;-;Ann@Example.COM") == "any;-;ann@example.com"
    assert normalize_chat_guid("iMessage;+;chat123456789") == "any;+;chat123456789"
    assert send_chat_guid("any;-;+15551234567") == "iMessage;-;+15551234567"
    with pytest.raises(ValueError):
        normalize_chat_guid("not-a-chat")


def test_a_new_message_from_a_contact_is_inbound_with_their_phone_handle():
    event = new(message("G1", "Hi! Are you open on Sunday?", CHAT, at=AT))
    assert (event.channel, event.external_id, event.thread_id, event.direction) == (
        "bluebubbles", "G1", "any;-;+15551234567", "inbound")
    assert event.sender == Handle("phone", "+15551234567") and event.participants == (event.sender,)
    assert (event.sent_at, event.is_group, event.raw["chat_guid"]) == (AT, False, CHAT)


def test_a_message_the_owner_sent_elsewhere_is_outbound_with_the_contact_as_participant():
    event = new(message("G2", "See you then", "SMS;-;+15551234567", at=AT, from_me=True))
    assert event.direction == "outbound" and event.sender is None
    assert event.participants == (Handle("phone", "+15551234567"),) and event.thread_id == "any;-;+15551234567"


def test_a_group_message_keeps_its_participants_and_name():
    data = message("G3", "Who brings cake?", "iMessage;+;chat99", at=AT, address="+15550000001")
    data["chats"][0].update(displayName="Family", participants=[{"address": "+15550000001"},
                                                                {"address": "bob@example.com"}])
    event = new(data)
    assert (event.is_group, event.thread_id, event.thread_name) == (True, "any;+;chat99", "Family")
    assert event.participants == (Handle("phone", "+15550000001"), Handle("email", "bob@example.com"))


def test_tapbacks_are_reactions_and_attachments_keep_metadata_only():
    tapback = new(message("G4", "Loved “Hi”", CHAT, at=AT, associatedMessageGuid="p:0/G1",
                          associatedMessageType="love"))
    assert (tapback.message_type, tapback.reply_to_external_id) == ("reaction", "G1")
    photo = new(message("G5", "\ufffc", CHAT, at=AT, attachments=[
        {"guid": "A1", "mimeType": "image/heic", "transferName": "IMG_1.HEIC", "totalBytes": 2048}]))
    (attachment,) = photo.attachments
    assert (photo.text, photo.message_type) == ("", "photo")
    assert (attachment.name, attachment.size, attachment.url) == ("IMG_1.HEIC", 2048, "")
    assert attachment.extra == {"guid": "A1"}


def test_an_update_is_never_a_new_message():
    data = message("G6", "On my way", CHAT, at=AT, from_me=True)
    assert parse_payload({"type": "updated-message", "data": data}) == []
    delivered = {**data, "dateDelivered": millis(AT + timedelta(seconds=5))}
    (receipt,) = parse_payload({"type": "updated-message", "data": delivered})
    assert isinstance(receipt, DeliveryUpdate) and (receipt.provider_message_id, receipt.status) == ("G6", "delivered")
    read = {**delivered, "dateRead": millis(AT + timedelta(minutes=1))}
    assert [e.status for e in parse_payload({"type": "updated-message", "data": read})] == ["read"]
    edited = {**read, "text": "On my way, 5 min", "dateEdited": millis(AT + timedelta(minutes=2))}
    events = parse_payload({"type": "updated-message", "data": edited})
    assert isinstance(events[0], MessageEdited) and events[0].text == "On my way, 5 min"
    unsent = {**data, "dateRetracted": millis(AT + timedelta(minutes=3))}
    assert [type(e) for e in parse_payload({"type": "updated-message", "data": unsent})] == [MessageDeleted]


def test_receipts_of_their_messages_and_other_events_say_nothing():
    read_by_owner = {**message("G7", "Hi", CHAT, at=AT), "dateRead": millis(AT)}
    assert parse_payload({"type": "updated-message", "data": read_by_owner}) == []
    assert parse_payload({"type": "typing-indicator", "data": {"display": True, "guid": CHAT}}) == []
    assert parse_webhook(json.dumps({"type": "chat-read-status-changed", "data": {}}).encode()).events == []
    with pytest.raises(ValueError):
        parse_webhook(b"[]")


def test_a_queried_message_brings_its_receipts_along():
    data = {**message("G8", "Done", CHAT, at=AT, from_me=True), "dateDelivered": millis(AT)}
    assert [type(e) for e in queried_events(data)] == [InboundMessage, DeliveryUpdate]


def test_the_echo_of_a_send_answered_without_guid_takes_our_temp_guid():
    book = EchoBook()
    book.expect("any;-;+15551234567", "On my way", "outbox-uid-1", AT)
    echo = new(message("REAL-1", "On my way", "SMS;-;+15551234567", at=AT, from_me=True))
    other = new(message("REAL-2", "On my way", CHAT, at=AT))  # inbound, same text: not ours
    rewritten, untouched = book.rewrite([echo, other], AT + timedelta(seconds=3))
    assert (rewritten.external_id, rewritten.raw["guid"]) == ("outbox-uid-1", "REAL-1")
    assert untouched.external_id == "REAL-2"
    receipt = parse_payload({"type": "updated-message", "data": {
        **message("REAL-1", "On my way", CHAT, at=AT, from_me=True), "dateRead": millis(AT)}})
    assert book.rewrite(receipt, AT)[0].provider_message_id == "outbox-uid-1"
    again = book.rewrite([echo], AT + timedelta(minutes=5))[0]  # the reconciliation's copy
    assert again.external_id == "outbox-uid-1"
    book.expect("any;-;+15551234567", "Late", "outbox-uid-2", AT)
    late = new(message("REAL-3", "Late", CHAT, at=AT, from_me=True))
    assert book.rewrite([late], AT + timedelta(hours=1))[0].external_id == "REAL-3"  # expired
