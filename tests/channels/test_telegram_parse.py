"""Telegram updates into channel events: pure, no loop, no server."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from channels.base import ApprovalCard, Attachment, Handle, InboundMessage, MessageEdited, OwnerAction
from channels.telegram_cards import render_card, render_prompt
from channels.telegram_parse import CardTap, ParseContext, parse_update
from tests.channels.fakes.telegram_api import (BOT_USER, DATE, JANE, OWNER, OWNER_CHAT, callback_update,
                                               message_update, plain_text, reply_update)

CONTEXT = ParseContext(owner_chat_id=OWNER_CHAT, bot_id=BOT_USER["id"])
GROUP = {"id": -1001234567890, "type": "supergroup", "title": "Photo club"}
NEWS = {"id": -1009876543210, "type": "channel", "title": "Studio news", "username": "studionews"}


def parse(update, context=CONTEXT):
    return parse_update(update, context)


def one(update, context=CONTEXT):
    events = parse(update, context)
    assert len(events) == 1, events
    return events[0]


def bot_message(text: str, message_id: int = 900) -> dict:
    """One of our bot's messages in the owner's chat, as Telegram quotes it in reply_to_message."""
    return {"message_id": message_id, "date": DATE, "from": BOT_USER, "text": text,
            "chat": {"id": OWNER_CHAT, "type": "private", "first_name": "Olive"}}


def a_card(suggestion_id: int = 42) -> dict:
    return bot_message(plain_text(render_card(ApprovalCard(suggestion_id, "Jane", "telegram", "hi", "hello")), "HTML"))


# -- messages ---------------------------------------------------------------------------------------

def test_a_text_message():
    update = message_update("Hi, are you free on Saturday?", message_id=17)
    message = one(update)
    assert isinstance(message, InboundMessage)
    assert (message.channel, message.external_id, message.thread_id) == ("telegram", "1001:17", "1001")
    assert message.sender == Handle("telegram", "1001") and message.sender_name == "Jane Doe"
    assert message.thread_name == "Jane Doe" and not message.is_group
    assert message.text == "Hi, are you free on Saturday?" and message.message_type == "text"
    assert message.sent_at == datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
    assert message.raw["update_id"] == update["update_id"] and "is_bot" not in message.raw
    assert message.raw["message"]["message_id"] == 17


def test_the_same_message_delivered_again_has_the_same_key():
    update = message_update("again", message_id=5)
    assert one(update).external_id == one(dict(update, update_id=update["update_id"] + 99)).external_id


def test_sender_name_falls_back_to_the_username():
    sender = {"id": 77, "is_bot": False, "first_name": "", "username": "nomad"}
    assert one(message_update("hey", sender=sender)).sender_name == "@nomad"


def test_an_edited_message():
    update = message_update("Saturday at 10, sorry", kind="edited_message", message_id=17, edit_date=DATE + 60)
    edited = one(update)
    assert isinstance(edited, MessageEdited)
    assert (edited.external_id, edited.text) == ("1001:17", "Saturday at 10, sorry")
    assert edited.edited_at == datetime(2026, 1, 1, 12, 1, tzinfo=timezone.utc)


def test_a_caption_is_the_text_and_the_largest_photo_is_kept():
    sizes = [{"file_id": f"p{i}", "file_unique_id": f"u{i}", "width": w, "height": w, "file_size": w * 10}
             for i, w in enumerate((90, 320, 1280))]
    message = one(message_update(None, photo=sizes, caption="Like this one?"))
    assert message.text == "Like this one?" and message.message_type == "photo"
    (photo,) = message.attachments
    assert (photo.kind, photo.mime_type, photo.size) == ("photo", "image/jpeg", 12800)
    assert photo.extra == {"file_id": "p2", "file_unique_id": "u2", "width": 1280, "height": 1280}


@pytest.mark.parametrize("fields, expected", [
    ({"document": {"file_id": "d1", "file_name": "quote.pdf", "mime_type": "application/pdf", "file_size": 2048}},
     Attachment("document", "quote.pdf", "application/pdf", 2048, extra={"file_id": "d1"})),
    ({"voice": {"file_id": "v1", "duration": 4, "mime_type": "audio/ogg", "file_size": 9000}},
     Attachment("voice", "", "audio/ogg", 9000, extra={"file_id": "v1", "duration": 4})),
    ({"audio": {"file_id": "au", "duration": 200, "title": "Song", "performer": "Band", "mime_type": "audio/mpeg"}},
     Attachment("audio", "Song", "audio/mpeg", None, extra={"file_id": "au", "duration": 200, "performer": "Band"})),
    ({"video": {"file_id": "vi", "width": 640, "height": 480, "duration": 9, "mime_type": "video/mp4"}},
     Attachment("video", "", "video/mp4", None, extra={"file_id": "vi", "width": 640, "height": 480, "duration": 9})),
    ({"sticker": {"file_id": "st", "emoji": "😂", "set_name": "Funny", "is_animated": False, "is_video": False,
                  "width": 512, "height": 512, "type": "regular"}},
     Attachment("sticker", "", "image/webp", None,
                extra={"file_id": "st", "width": 512, "height": 512, "emoji": "😂", "set_name": "Funny"})),
    ({"sticker": {"file_id": "st2", "emoji": "🔥", "is_animated": True, "is_video": False}},
     Attachment("sticker", "", "application/x-tgsticker", None, extra={"file_id": "st2", "emoji": "🔥"})),
    ({"location": {"latitude": 48.8584, "longitude": 2.2945}},
     Attachment("location", extra={"latitude": 48.8584, "longitude": 2.2945})),
    ({"venue": {"location": {"latitude": 1.5, "longitude": 2.5}, "title": "Studio", "address": "1 Main St"},
      "location": {"latitude": 1.5, "longitude": 2.5}},
     Attachment("venue", "Studio",
                extra={"latitude": 1.5, "longitude": 2.5, "title": "Studio", "address": "1 Main St"})),
    ({"contact": {"phone_number": "+14155550100", "first_name": "Bob", "last_name": "Ray", "user_id": 55}},
     Attachment("contact", "Bob Ray", extra={"phone_number": "+14155550100", "user_id": 55})),
])
def test_media_become_attachment_metadata(fields, expected):
    message = one(message_update(None, **fields))
    assert message.attachments == (expected,)
    assert message.message_type == expected.kind and message.text == ""


def test_a_gif_is_one_animation_not_also_a_document():
    gif = {"file_id": "g1", "mime_type": "video/mp4", "file_name": "fun.gif.mp4"}
    message = one(message_update(None, animation=gif, document=gif))
    assert [a.kind for a in message.attachments] == ["animation"]


def test_a_group_message_replying_to_another():
    reply_to = {"message_id": 40, "date": DATE, "chat": GROUP, "from": JANE, "text": "earlier"}
    message = one(message_update("+1", chat=GROUP, message_id=41, reply_to_message=reply_to))
    assert message.is_group and message.thread_id == "-1001234567890" and message.thread_name == "Photo club"
    assert message.external_id == "-1001234567890:41"
    assert message.reply_to_external_id == "-1001234567890:40"
    assert message.sender == Handle("telegram", "1001") and message.raw["chat_type"] == "supergroup"


def test_what_the_owner_writes_in_a_group_is_outbound():
    message = one(message_update("I'll bring the prints", sender=OWNER, chat=GROUP))
    assert message.direction == "outbound" and message.thread_id == str(GROUP["id"])
    assert one(message_update("me too", chat=GROUP)).direction == "inbound"


def test_channel_posts_and_their_edits():
    post = one(message_update("New prices from Monday", sender={}, chat=NEWS, kind="channel_post", message_id=8,
                              sender_chat=NEWS))
    assert post.is_group and post.sender == Handle("telegram", "-1009876543210")
    assert post.sender_name == "Studio news" and post.external_id == "-1009876543210:8"
    edited = one(message_update("New prices from Tuesday", sender={}, chat=NEWS, kind="edited_channel_post",
                                message_id=8, edit_date=DATE + 5))
    assert isinstance(edited, MessageEdited) and edited.external_id == "-1009876543210:8"


@pytest.mark.parametrize("forward, expected", [
    ({"forward_origin": {"type": "user", "date": DATE - 100, "sender_user": {"id": 9, "first_name": "Ann"}}},
     {"type": "user", "name": "Ann", "date": DATE - 100}),
    ({"forward_origin": {"type": "hidden_user", "date": DATE - 1, "sender_user_name": "Secret Sam"}},
     {"type": "hidden_user", "name": "Secret Sam", "date": DATE - 1}),
    ({"forward_origin": {"type": "channel", "date": DATE - 2, "chat": NEWS, "message_id": 3}},
     {"type": "channel", "name": "Studio news", "date": DATE - 2}),
    ({"forward_from": {"id": 9, "first_name": "Ann", "last_name": "Lee"}, "forward_date": DATE - 3},
     {"type": "legacy", "name": "Ann Lee", "date": DATE - 3}),
])
def test_forwarded_messages_say_where_from(forward, expected):
    message = one(message_update("look at this", **forward))
    assert message.raw["forwarded"] == expected
    assert message.sender_name == "Jane Doe"  # the one who forwarded it


def test_entities_keep_utf16_offsets_that_map_to_the_right_text():
    text = "👋 Hi @bob, 🇺🇸 see https://x.io #deal"
    entities = [{"type": "mention", "offset": 6, "length": 4},
                {"type": "url", "offset": 21, "length": 12},  # after 👋 (2 units) and 🇺🇸 (4 units)
                {"type": "hashtag", "offset": 34, "length": 5},
                {"type": "bold", "offset": 0, "length": 2}]
    message = one(message_update(text, entities=entities))
    assert [e["text"] for e in message.raw["entities"]] == ["@bob", "https://x.io", "#deal", "👋"]
    assert message.raw["entities"][0]["offset"] == 6  # kept as Telegram sent it (UTF-16 units)


def test_entities_in_right_to_left_text_and_captions():
    text = "שלום 😀 @דני مرحبا"
    entities = [{"type": "mention", "offset": 8, "length": 4}, {"type": "italic", "offset": 13, "length": 5}]
    message = one(message_update(None, caption=text, caption_entities=entities,
                                 photo=[{"file_id": "p", "file_unique_id": "u", "width": 1, "height": 1}]))
    assert [e["text"] for e in message.raw["entities"]] == ["@דני", "مرحبا"]


def test_a_4096_character_text_is_kept_whole():
    text = ("😀" + "a" * 98 + " ") * 40 + "z" * 56
    message = one(message_update(text, entities=[{"type": "bold", "offset": 4092, "length": 4}]))
    assert message.text == text and len(text) == 4056
    assert message.raw["entities"][0]["text"] == "zzzz"


def test_a_bot_sender_is_flagged_so_the_hub_never_drafts_for_it():
    other_bot = {"id": 31337, "is_bot": True, "first_name": "Shopbot"}
    assert one(message_update("Your order shipped", sender=other_bot)).raw["is_bot"] is True


@pytest.mark.parametrize("update", [
    {"update_id": 1, "my_chat_member": {"chat": GROUP, "from": JANE, "date": DATE,
                                        "old_chat_member": {}, "new_chat_member": {}}},
    {"update_id": 2, "chat_member": {"chat": GROUP, "from": JANE, "date": DATE}},
    {"update_id": 3, "poll_answer": {"poll_id": "1", "option_ids": [0]}},
    {"update_id": 4, "inline_query": {"id": "1", "from": JANE, "query": "x", "offset": ""}},
    {"update_id": 5, "some_future_kind": {"anything": True}},
    {"update_id": 6},
    message_update(None, chat=GROUP, new_chat_members=[JANE]),
    message_update(None, chat=GROUP, pinned_message={"message_id": 1, "date": DATE, "chat": GROUP}),
    {"update_id": 7, "message": {"message_id": 1, "text": "no chat"}},
    {"update_id": 8, "message": {"message_id": 1, "chat": {"id": 5}, "text": "no date"}},
    {"update_id": 9, "message": "not an object"},
    {"update_id": 10, "callback_query": {"data": "a:1"}},
])
def test_other_updates_give_no_events(update):
    assert parse(update) == []


def test_not_an_update_is_an_error():
    with pytest.raises(ValueError):
        parse([1, 2, 3])


# -- the owner's chat -------------------------------------------------------------------------------

def test_owner_buttons_become_owner_actions():
    approve = callback_update("a:42", message=a_card())
    action = one(approve)
    assert isinstance(action, OwnerAction)
    assert (action.surface, action.suggestion_id, action.action, action.actor) == ("telegram", 42, "approve", "4242")
    assert action.raw["callback_query_id"] == approve["callback_query"]["id"]
    tone = one(callback_update("t:42:more_formal", message=a_card()))
    assert (tone.action, tone.tone) == ("regenerate", "more_formal")
    plain = one(callback_update("g:42", message=a_card()))
    assert (plain.action, plain.tone) == ("regenerate", None)


def test_edit_and_reject_buttons_only_ask_a_question():
    edit = one(callback_update("e:42", message=a_card()))
    reject = one(callback_update("r:42", message=a_card()))
    assert isinstance(edit, CardTap) and (edit.suggestion_id, edit.ask) == (42, "edit")
    assert isinstance(reject, CardTap) and (reject.suggestion_id, reject.ask) == (42, "reject")


@pytest.mark.parametrize("data, chat_id, context", [
    ("a:42", 1001, CONTEXT),  # a button in another chat
    ("t:42:evil", OWNER_CHAT, CONTEXT),  # data we never wrote
    ("a:42", OWNER_CHAT, ParseContext(None, BOT_USER["id"])),  # approvals are off
])
def test_buttons_that_are_not_ours_are_only_answered(data, chat_id, context):
    update = callback_update(data, message=dict(a_card(), chat={"id": chat_id, "type": "private"}))
    assert parse(update, context) == [CardTap(update["callback_query"]["id"])]


def test_replying_to_a_card_sends_that_text_instead():
    action = one(reply_update("Sure, Saturday works!", to=a_card(7)))
    assert (action.action, action.suggestion_id, action.text, action.actor) == ("reply", 7, "Sure, Saturday works!",
                                                                                "4242")


def test_replying_to_the_edit_prompt_is_an_edit():
    prompt = bot_message(render_prompt("edit", 7)[0])
    action = one(reply_update("  Saturday 10am is perfect.  ", to=prompt))
    assert (action.action, action.suggestion_id, action.text) == ("edit", 7, "Saturday 10am is perfect.")


def test_replying_to_the_reject_prompt_gives_the_reason():
    prompt = bot_message(render_prompt("reject", 7)[0])
    action = one(reply_update("too formal", to=prompt))
    assert (action.action, action.text) == ("reject", "too formal")
    assert one(reply_update("-", to=prompt)).text is None


@pytest.mark.parametrize("update", [
    message_update("/start", sender=OWNER),
    message_update("just chatting", sender=OWNER),
    reply_update("text", to=dict(bot_message("📝 Draft #7"), **{"from": JANE})),  # not our bot's message
    reply_update("text", to=bot_message("Welcome! I am your bot.")),
    reply_update("", to=bot_message("📝 Draft #7")),
    reply_update("x", to=bot_message("📝 Draft #7"), sender={"id": 31337, "is_bot": True, "first_name": "B"}),
    message_update("edited", sender=OWNER, kind="edited_message"),
])
def test_nothing_else_in_the_owners_chat_is_stored(update):
    assert parse(update) == []


def test_without_an_owner_chat_every_chat_is_a_customer():
    message = one(message_update("hello", sender=OWNER), ParseContext(None, BOT_USER["id"]))
    assert isinstance(message, InboundMessage) and message.thread_id == str(OWNER_CHAT)
