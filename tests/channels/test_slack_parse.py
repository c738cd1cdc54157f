"""Pure parsing of Slack webhooks: events, edits, ignored senders, card actions, modal submissions."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import urlencode

import pytest

from channels import slack_blocks as sb
from channels.base import ApprovalCard, Handle, InboundMessage, MessageDeleted, MessageEdited, OwnerAction
from channels.slack_parse import (CardReply, ModalRequest, SlackContext, is_ssl_check, parse_events,
                                  parse_interactivity, parse_webhook, plain_text)

CTX = SlackContext(approval_channel="CAPPROVE", bot_user_id="UBOT")
TS = "1710000000.000100"


def envelope(event: dict, event_id: str = "Ev1") -> bytes:
    return json.dumps({"type": "event_callback", "team_id": "T1", "event_id": event_id, "event": event}).encode()


def message(text: str = "Hello there", **extra) -> dict:
    return {"type": "message", "channel": "D1", "channel_type": "im", "user": "U1", "text": text, "ts": TS,
            "event_ts": TS, **extra}


def events(event: dict) -> list:
    return parse_events(envelope(event), CTX).events


def interaction(payload: dict) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def card_message(suggestion_id: int = 7, draft: str = "Yes & thanks <3") -> dict:
    card = ApprovalCard(suggestion_id, "Ann", "slack", "Hi", draft)
    return {"type": "message", "ts": "1710000001.000200", "blocks": sb.card_blocks(card)}


def click(action_id: str, *, value: str = "7", tone: str | None = None, channel: str = "CAPPROVE") -> dict:
    selected = {"selected_option": {"value": tone}} if tone else {"selected_option": None}
    return {"type": "block_actions", "user": {"id": "UOWNER"}, "trigger_id": "trig-1",
            "channel": {"id": channel}, "message": card_message(),
            "state": {"values": {"replydesk_actions:7": {sb.TONE: {"type": "static_select", **selected}}}},
            "actions": [{"action_id": action_id, "block_id": "replydesk_actions:7", "value": value}]}


def submission(callback_id: str, text: str | None, suggestion_id: int = 7) -> dict:
    state = {"values": {sb.TEXT_BLOCK: {sb.TEXT_ACTION: {"type": "plain_text_input", "value": text}}}}
    return {"type": "view_submission", "user": {"id": "UOWNER"},
            "view": {"id": "V1", "callback_id": callback_id, "state": state,
                     "private_metadata": json.dumps({"suggestion_id": suggestion_id})}}


def test_url_verification_answers_the_challenge():
    parsed = parse_events(json.dumps({"type": "url_verification", "challenge": "3eZbrw1a"}).encode(), CTX)
    assert parsed.events == [] and parsed.ack_status == 200 and parsed.ack_body == {"challenge": "3eZbrw1a"}


def test_ssl_check_is_an_empty_200_on_both_endpoints():
    body = b"ssl_check=1&token=legacy"
    assert is_ssl_check(body) and not is_ssl_check(b'{"ssl_check": 1}')
    for endpoint in ("events", "interactivity"):
        parsed = parse_webhook(endpoint, body, CTX)
        assert parsed.events == [] and parsed.ack_body is None


def test_direct_message_becomes_an_inbound_message():
    (event,) = events(message("Do you have it in <https://shop.example/m|size M>? &amp; price?",
                              user_profile={"display_name": "Ann", "real_name": "Ann Lee"}))
    assert isinstance(event, InboundMessage)
    assert (event.channel, event.external_id, event.thread_id) == ("slack", f"D1:{TS}", "D1")
    assert event.sender == Handle("slack", "U1") and event.sender_name == "Ann"
    assert event.text == "Do you have it in size M (https://shop.example/m)? & price?"
    assert event.sent_at == datetime.fromtimestamp(1710000000.0001, timezone.utc)
    assert not event.is_group and event.reply_to_external_id is None
    assert event.raw["event_id"] == "Ev1" and event.raw["event"]["ts"] == TS


def test_thread_replies_stay_in_their_thread_and_parents_do_not():
    (reply,) = events(message(ts="1710000050.000100", thread_ts=TS, channel="C9", channel_type="channel"))
    assert reply.thread_id == f"C9:{TS}" and reply.reply_to_external_id == f"C9:{TS}"
    assert reply.external_id == "C9:1710000050.000100"
    (parent,) = events(message(thread_ts=TS, channel="C9"))
    assert parent.thread_id == "C9" and parent.reply_to_external_id is None
    (broadcast,) = events(message(ts="1710000060.000100", thread_ts=TS, subtype="thread_broadcast"))
    assert broadcast.thread_id == f"D1:{TS}"


def test_files_are_attachments():
    files = [{"id": "F1", "name": "photo.jpg", "mimetype": "image/jpeg", "size": 2048,
              "url_private": "https://files.slack.com/F1"},
             {"id": "F2", "name": "quote.pdf", "mimetype": "application/pdf", "size": 10}]
    (event,) = events(message("", subtype="file_share", files=files))
    assert [(a.kind, a.name, a.mime_type, a.size) for a in event.attachments] == [
        ("photo", "photo.jpg", "image/jpeg", 2048), ("file", "quote.pdf", "application/pdf", 10)]
    assert event.attachments[0].url == "https://files.slack.com/F1" and event.attachments[0].extra == {"id": "F1"}
    assert event.message_type == "photo"


@pytest.mark.parametrize("event", [
    message(bot_id="B2"), message(subtype="bot_message", bot_id="B2"), message(user="UBOT"),
    message(subtype="channel_join"), message(subtype="channel_leave"), message(subtype="channel_topic"),
    message(subtype="channel_purpose"), message(subtype="pinned_item"), message(subtype="group_join"),
    {k: v for k, v in message().items() if k != "user"},
], ids=["bot_id", "bot_message", "own_bot_user", "join", "leave", "topic", "purpose", "pin", "group_join",
        "no_user"])
def test_bots_and_system_messages_are_ignored(event):
    assert events(event) == []


def test_other_event_types_and_envelopes_are_ignored():
    assert events({"type": "reaction_added", "user": "U1", "item": {}}) == []
    assert parse_events(json.dumps({"type": "app_rate_limited"}).encode(), CTX).events == []


def test_message_changed_is_an_edit_unless_only_an_unfurl_changed():
    changed = message(subtype="message_changed", hidden=True, ts="1710000099.000001", event_ts="1710000099.000001",
                      message={"type": "message", "user": "U1", "text": "Size L actually", "ts": TS,
                               "edited": {"user": "U1", "ts": "1710000090.000000"}},
                      previous_message={"user": "U1", "text": "Size M", "ts": TS})
    changed.pop("user")
    (edit,) = events(changed)
    assert isinstance(edit, MessageEdited) and edit.external_id == f"D1:{TS}" and edit.text == "Size L actually"
    assert edit.edited_at == datetime.fromtimestamp(1710000090, timezone.utc)
    unfurl = {**changed, "message": {"user": "U1", "text": "Size M", "ts": TS, "attachments": [{}]}}
    assert events(unfurl) == []
    bot_edit = {**changed, "message": {**changed["message"], "bot_id": "B2"}}
    assert events(bot_edit) == []


def test_message_deleted_marks_the_message():
    deleted = {"type": "message", "subtype": "message_deleted", "hidden": True, "channel": "D1",
               "ts": "1710000099.000001", "event_ts": "1710000099.000001", "deleted_ts": TS}
    (event,) = events(deleted)
    assert isinstance(event, MessageDeleted) and event.external_id == f"D1:{TS}"
    assert event.deleted_at == datetime.fromtimestamp(1710000099.000001, timezone.utc)


def test_app_mention_is_the_same_message_without_our_mention():
    (mention,) = events({"type": "app_mention", "channel": "C9", "user": "U1", "text": "<@UBOT> any update?",
                         "ts": TS, "event_ts": TS})
    (same,) = events(message("<@UBOT> any update?", channel="C9", channel_type="channel"))
    assert mention.text == "any update?" and mention.external_id == same.external_id == f"C9:{TS}"


def test_plain_text_decodes_slack_markup():
    assert plain_text("<@U2> see <#C1|general> <!here> <https://x.example> <mailto:a@b.c|a@b.c> &lt;3") == \
        "@U2 see #general @here https://x.example a@b.c (mailto:a@b.c) <3"
    assert plain_text("<!subteam^S1|@team> hi") == "@team hi"


def test_the_approval_channel_is_never_customer_messages_and_thread_replies_answer_cards():
    top_level = message("note to self", channel="CAPPROVE", channel_type="channel", user="UOWNER")
    reply = {**top_level, "text": "Tell her &lt;b&gt;yes&lt;/b&gt;", "ts": "1710000002.000001",
             "thread_ts": "1710000001.000200"}
    assert events(top_level) == []
    assert events(reply) == [
        CardReply(channel="CAPPROVE", thread_ts="1710000001.000200", text="Tell her <b>yes</b>", actor="UOWNER")]
    assert events({**reply, "bot_id": "BBOT"}) == [] and events({**reply, "user": "UBOT"}) == []
    assert events({**reply, "subtype": "channel_join"}) == [] and events({**reply, "text": ""}) == []
    assert events({**reply, "subtype": "message_changed", "message": {"user": "UOWNER", "text": "x"}}) == []
    assert not any(isinstance(e, CardReply) for e in events(message(thread_ts="1.0", ts="2.0")))


def test_approve_and_regenerate_clicks_are_owner_actions():
    (approve,) = parse_interactivity(interaction(click(sb.APPROVE)), CTX).events
    assert approve == OwnerAction(surface="slack", suggestion_id=7, action="approve", actor="UOWNER",
                                  raw=approve.raw)
    (regenerate,) = parse_interactivity(interaction(click(sb.REGENERATE, tone="shorter")), CTX).events
    assert (regenerate.action, regenerate.tone) == ("regenerate", "shorter")
    (plain,) = parse_interactivity(interaction(click(sb.REGENERATE)), CTX).events
    assert plain.tone is None
    parsed = parse_interactivity(interaction(click(sb.APPROVE)), CTX)
    assert parsed.ack_status == 200 and parsed.ack_body is None


def test_edit_and_reject_clicks_ask_for_a_modal_and_decide_nothing_yet():
    for action_id, kind in ((sb.EDIT, "edit"), (sb.REJECT, "reject")):
        parsed = parse_interactivity(interaction(click(action_id)), CTX)
        assert parsed.events == [ModalRequest(kind=kind, trigger_id="trig-1", suggestion_id=7,
                                              draft="Yes & thanks <3")]
        assert parsed.ack_body is None
    no_trigger = {**click(sb.EDIT), "trigger_id": ""}
    assert parse_interactivity(interaction(no_trigger), CTX).events == []


def test_clicks_outside_our_cards_are_ignored():
    assert parse_interactivity(interaction(click(sb.TONE, value="")), CTX).events == []
    assert parse_interactivity(interaction(click(sb.APPROVE, channel="COTHER")), CTX).events == []
    assert parse_interactivity(interaction(click("someone_elses_button")), CTX).events == []
    assert parse_interactivity(interaction({"type": "shortcut", "callback_id": "x"}), CTX).events == []


def test_modal_submissions_are_edit_and_reject_decisions():
    (edit,) = parse_interactivity(interaction(submission(sb.EDIT_VIEW, "  Size M, 49 EUR.  ")), CTX).events
    assert (edit.action, edit.suggestion_id, edit.text, edit.actor) == ("edit", 7, "Size M, 49 EUR.", "UOWNER")
    (reject,) = parse_interactivity(interaction(submission(sb.REJECT_VIEW, "too formal")), CTX).events
    assert (reject.action, reject.text) == ("reject", "too formal")
    (silent,) = parse_interactivity(interaction(submission(sb.REJECT_VIEW, None)), CTX).events
    assert silent.text is None
    assert parse_interactivity(interaction(submission("someone_elses_view", "x")), CTX).events == []


def test_an_empty_edit_keeps_the_modal_open_with_an_error():
    parsed = parse_interactivity(interaction(submission(sb.EDIT_VIEW, "   ")), CTX)
    assert parsed.events == []
    assert parsed.ack_body == {"response_action": "errors", "errors": {sb.TEXT_BLOCK: "Write the reply to send."}}


@pytest.mark.parametrize("endpoint, body", [
    ("events", b"not json"), ("events", b"[1, 2]"), ("events", b'{"type": "event_callback", "event": 3}'),
    ("events", b"\xff\xfe"), ("interactivity", b"payload=not-json"), ("interactivity", b"nothing=here"),
    ("elsewhere", b"{}"),
])
def test_malformed_bodies_raise_for_a_400(endpoint, body):
    with pytest.raises((ValueError, KeyError, TypeError)):
        parse_webhook(endpoint, body, CTX)
