"""Pure parsing of Slack webhooks: Events API and interactivity bodies into channel events.

Nothing here does I/O. What needs Slack's API right after the ack (opening a modal with the
click's trigger_id, finding which card an owner's thread reply answers) rides along in the parsed
events as a Slack-only follow-up (`ModalRequest`, `CardReply`): `apply_events` passes those by and
the hub hands them to the adapter's `acknowledge`, as it does Telegram's CardTap.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

from channels import slack_blocks as blocks
from channels.base import (Attachment, ChannelEvent, Handle, InboundMessage, MessageDeleted, MessageEdited,
                           OwnerAction, ParsedWebhook)

NAME = "slack"
EVENTS = "events"
INTERACTIVITY = "interactivity"
# Subtypes that are a person writing; everything else (channel_join, channel_topic, bot_message,
# pinned_item, …) is the system talking and never becomes a customer message.
USER_SUBTYPES = frozenset({None, "file_share", "thread_broadcast", "me_message"})
_CONTROL = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


@dataclass(frozen=True)
class SlackContext:
    """What parsing needs to know about this workspace (learned at start: our bot's user id)."""

    approval_channel: str = ""
    bot_user_id: str = ""


@dataclass(frozen=True)
class ModalRequest:
    """Open the edit or reject modal for a card: needs views.open within 3 s of the click."""

    kind: str  # "edit" or "reject"
    trigger_id: str
    suggestion_id: int
    draft: str = ""


@dataclass(frozen=True)
class CardReply:
    """The owner answered a card in its thread: the card's suggestion is looked up, then replied to."""

    channel: str
    thread_ts: str
    text: str
    actor: str


FollowUp = ModalRequest | CardReply
SlackEvent = ChannelEvent | FollowUp


def slack_time(ts: Any) -> datetime:
    return datetime.fromtimestamp(float(ts), timezone.utc)


def _obj(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} is not an object")
    return value


def _sub(parent: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """A nested object of a payload, or {} when it is absent or not an object."""
    value = parent.get(key)
    return value if isinstance(value, Mapping) else {}


def _form(body: bytes) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}


def is_ssl_check(body: bytes) -> bool:
    """Slack's certificate probe (`ssl_check=1&token=…`): answered 200, stores nothing."""
    if body[:1] in (b"{", b"["):
        return False
    try:
        form = _form(body)
    except UnicodeDecodeError:
        return False
    return "ssl_check" in form and "payload" not in form


def plain_text(text: str, bot_user_id: str = "") -> str:
    """Slack's markup to plain text: `<@U1>` → `@U1`, `<url|label>` → `label (url)`, entities decoded;
    a mention of our own bot is dropped."""
    def replace(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith("@"):
            return "" if bot_user_id and target[1:] == bot_user_id else f"@{(label or target[1:]).lstrip('@')}"
        if target.startswith("#"):
            return f"#{(label or target[1:]).lstrip('#')}"
        if target.startswith("!"):
            return f"@{(label or target[1:].split('^')[0]).lstrip('@')}"
        return f"{label} ({target})" if label and label != target else target
    return blocks.unescape(_CONTROL.sub(replace, text)).strip()


def _from_bot(message: Mapping[str, Any], context: SlackContext) -> bool:
    return bool(message.get("bot_id") or message.get("subtype") == "bot_message" or not message.get("user")
                or (context.bot_user_id and message.get("user") == context.bot_user_id))


def _attachment(file: Mapping[str, Any]) -> Attachment:
    mime = str(file.get("mimetype") or "")
    kind = "photo" if mime.startswith("image/") else "file"
    return Attachment(kind=kind, name=str(file.get("name") or ""), mime_type=mime, size=file.get("size"),
                      url=str(file.get("url_private") or ""), extra={"id": str(file.get("id") or "")})


def _inbound(channel: str, event: Mapping[str, Any], envelope: Mapping[str, Any],
             context: SlackContext) -> InboundMessage:
    ts, thread_ts = str(event["ts"]), str(event.get("thread_ts") or "")
    in_thread = bool(thread_ts) and thread_ts != ts
    files = tuple(_attachment(f) for f in event.get("files") or () if isinstance(f, Mapping))
    text = plain_text(str(event.get("text") or ""), context.bot_user_id)
    profile = _sub(event, "user_profile")
    return InboundMessage(
        channel=NAME, external_id=f"{channel}:{ts}", thread_id=f"{channel}:{thread_ts}" if in_thread else channel,
        sender=Handle(NAME, str(event["user"])), text=text, sent_at=slack_time(ts),
        sender_name=str(profile.get("display_name") or profile.get("real_name") or ""),
        is_group=event.get("channel_type") == "mpim", attachments=files,
        message_type="text" if text or not files else files[0].kind,
        reply_to_external_id=f"{channel}:{thread_ts}" if in_thread else None,
        raw={"event_id": envelope.get("event_id"), "team_id": envelope.get("team_id"), "event": dict(event)})


def _edited(channel: str, event: Mapping[str, Any], context: SlackContext) -> list[SlackEvent]:
    message = _obj(event.get("message"), "message_changed.message")
    previous = _sub(event, "previous_message")
    if _from_bot(message, context):
        return []
    if "edited" not in message and message.get("text") == previous.get("text"):
        return []  # an unfurl or a reaction count changed, not the words
    edited = _sub(message, "edited")
    when = edited.get("ts") or event.get("event_ts") or event["ts"]
    return [MessageEdited(channel=NAME, external_id=f"{channel}:{message['ts']}",
                          text=plain_text(str(message.get("text") or ""), context.bot_user_id),
                          edited_at=slack_time(when), raw=dict(event))]


def _deleted(channel: str, event: Mapping[str, Any]) -> list[SlackEvent]:
    return [MessageDeleted(channel=NAME, external_id=f"{channel}:{event['deleted_ts']}",
                           deleted_at=slack_time(event.get("event_ts") or event["ts"]), raw=dict(event))]


def _card_reply(event: Mapping[str, Any], context: SlackContext) -> list[SlackEvent]:
    """A person's thread reply in the approval channel: the owner answering a card."""
    ts, thread_ts = str(event.get("ts") or ""), str(event.get("thread_ts") or "")
    if (event.get("type") != "message" or not thread_ts or thread_ts == ts
            or event.get("subtype") not in (None, "thread_broadcast") or _from_bot(event, context)):
        return []
    text = plain_text(str(event.get("text") or ""), context.bot_user_id)
    return [CardReply(channel=context.approval_channel, thread_ts=thread_ts, text=text,
                      actor=str(event["user"]))] if text else []


def _message_events(event: Mapping[str, Any], envelope: Mapping[str, Any],
                    context: SlackContext) -> list[SlackEvent]:
    channel, subtype = str(event.get("channel") or ""), event.get("subtype")
    if channel and channel == context.approval_channel:
        return _card_reply(event, context)  # the owner's room: cards and answers, never customers
    if not channel:
        return []
    if subtype == "message_changed":
        return _edited(channel, event, context)
    if subtype == "message_deleted":
        return _deleted(channel, event)
    if subtype not in USER_SUBTYPES or _from_bot(event, context) or event.get("hidden"):
        return []
    return [_inbound(channel, event, envelope, context)]


def _envelope(body: bytes) -> Mapping[str, Any]:
    return _obj(json.loads(body), "Slack event body")


def parse_events(body: bytes, context: SlackContext) -> ParsedWebhook:
    """The Events API: url_verification, then event_callback message / app_mention events."""
    if is_ssl_check(body):
        return ParsedWebhook([])
    envelope = _envelope(body)
    if envelope.get("type") == "url_verification":
        return ParsedWebhook([], ack_body={"challenge": str(envelope.get("challenge") or "")})
    if envelope.get("type") != "event_callback":
        return ParsedWebhook([])
    event = _obj(envelope.get("event"), "event")
    if event.get("type") not in ("message", "app_mention"):
        return ParsedWebhook([])
    events: list[Any] = _message_events(event, envelope, context)  # follow-ups ride along
    return ParsedWebhook(events)


def _interaction(body: bytes) -> Mapping[str, Any]:
    return _obj(json.loads(_form(body)["payload"]), "interactivity payload")


def _actor(payload: Mapping[str, Any]) -> str:
    user = _sub(payload, "user")
    return str(user.get("id") or "")


def selected_tone(state: Any) -> str | None:
    """The tone picked in the card's static_select, from the payload's state.values."""
    values = state.get("values") if isinstance(state, Mapping) else None
    for block in (values or {}).values():
        selected = (block.get(blocks.TONE) or {}).get("selected_option") if isinstance(block, Mapping) else None
        if isinstance(selected, Mapping) and selected.get("value"):
            return str(selected["value"])
    return None


def _card_actions(payload: Mapping[str, Any], context: SlackContext) -> list[Mapping[str, Any]]:
    """The button presses on our cards (in the approval channel, when we know which it is)."""
    channel = _sub(payload, "channel")
    if context.approval_channel and channel.get("id") not in (None, context.approval_channel):
        return []
    actions = payload.get("actions") or []
    return [a for a in actions if isinstance(a, Mapping) and str(a.get("value") or "").isdigit()]


def _modal_request(payload: Mapping[str, Any], action: Mapping[str, Any], kind: str) -> list[SlackEvent]:
    message = _sub(payload, "message")
    if not payload.get("trigger_id"):
        return []
    return [ModalRequest(kind=kind, trigger_id=str(payload["trigger_id"]), suggestion_id=int(action["value"]),
                         draft=blocks.draft_of(message.get("blocks") or []))]


def _block_action_events(payload: Mapping[str, Any], context: SlackContext) -> list[SlackEvent]:
    """Approve and Regenerate decide now; Edit and Reject first open a modal (a follow-up)."""
    events: list[SlackEvent] = []
    for action in _card_actions(payload, context):
        action_id = str(action.get("action_id"))
        if action_id in (blocks.EDIT, blocks.REJECT):
            events += _modal_request(payload, action, "edit" if action_id == blocks.EDIT else "reject")
        elif action_id in (blocks.APPROVE, blocks.REGENERATE):
            kind = "approve" if action_id == blocks.APPROVE else "regenerate"
            tone = selected_tone(payload.get("state")) if kind == "regenerate" else None
            events.append(OwnerAction(surface=NAME, suggestion_id=int(action["value"]), action=kind,
                                      actor=_actor(payload), tone=tone, raw={"action": dict(action)}))
    return events


def _submitted_text(view: Mapping[str, Any]) -> str:
    values = (view.get("state") or {}).get("values") or {}
    field = (values.get(blocks.TEXT_BLOCK) or {}).get(blocks.TEXT_ACTION) or {}
    return str(field.get("value") or "").strip()


def _view_submission(payload: Mapping[str, Any]) -> ParsedWebhook:
    view = _obj(payload.get("view"), "view")
    action = {blocks.EDIT_VIEW: "edit", blocks.REJECT_VIEW: "reject"}.get(str(view.get("callback_id")))
    if action is None:
        return ParsedWebhook([])
    suggestion_id = int(json.loads(str(view.get("private_metadata") or "{}"))["suggestion_id"])
    text = _submitted_text(view)
    if action == "edit" and not text:
        return ParsedWebhook([], ack_body={"response_action": "errors",
                                           "errors": {blocks.TEXT_BLOCK: "Write the reply to send."}})
    return ParsedWebhook([OwnerAction(surface=NAME, suggestion_id=suggestion_id, action=action,
                                      actor=_actor(payload), text=text or None,
                                      raw={"view_id": view.get("id"), "callback_id": view.get("callback_id")})])


def parse_interactivity(body: bytes, context: SlackContext) -> ParsedWebhook:
    """Button presses and modal submissions; the ack is an empty 200 (or a view response_action)."""
    if is_ssl_check(body):
        return ParsedWebhook([])
    payload = _interaction(body)
    if payload.get("type") == "block_actions":
        events: list[Any] = _block_action_events(payload, context)  # follow-ups ride along
        return ParsedWebhook(events)
    if payload.get("type") == "view_submission":
        return _view_submission(payload)
    return ParsedWebhook([])


def parse_webhook(endpoint: str, body: bytes, context: SlackContext) -> ParsedWebhook:
    if endpoint == EVENTS:
        return parse_events(body, context)
    if endpoint == INTERACTIVITY:
        return parse_interactivity(body, context)
    raise ValueError(f"unknown Slack endpoint {endpoint!r}")
