"""Telegram updates into channel events: a pure mapping over the update's JSON, no I/O.

- `message` / `channel_post` → InboundMessage; `edited_message` / `edited_channel_post` →
  MessageEdited. external_id is `{chat_id}:{message_id}` (stable across redelivery), thread_id the
  chat id, the sender `Handle("telegram", <user id>)` (a channel's or anonymous admin's chat id
  when there is no user). A caption is the text; media become Attachments with their file_id.
  `raw` keeps the update plus: `is_bot` (the hub never drafts for bots), `forwarded` (who it was
  forwarded from), `entities` (each with the `text` it covers: offsets are UTF-16 units).
- Service messages (joins, pins, title changes) and every other update kind (my_chat_member,
  chat_member, polls, …) give no events.
- The owner's chat (`owner_chat_id`) is the approval surface, never a customer conversation
  (whoever writes there counts as the owner: it is their private chat, or a group they chose):
  * a button on a card → OwnerAction (approve, regenerate [tone]) or, for Edit and Reject, a
    `CardTap` that only asks the owner a question (see telegram_cards for the button data);
  * a text replying to one of our messages, by its first-line marker:
      reply to a card          → OwnerAction "reply": send this text instead of the draft;
      reply to an Edit prompt  → OwnerAction "edit" with the text;
      reply to a Reject prompt → OwnerAction "reject" with the text as reason ("-": no reason);
  * anything else there is ignored.
  Each OwnerAction / CardTap from a button keeps `callback_query_id` so it can be answered.
- A private owner chat's id is the owner's user id, so what the owner writes in a group the bot
  is in is stored as outbound.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from channels.base import INBOUND, OUTBOUND, Attachment, Handle, InboundMessage, MessageEdited, OwnerAction
from channels.telegram_cards import read_callback, read_marker
from channels.telegram_text import utf16_slice

CHANNEL = "telegram"
_NEW = ("message", "channel_post")
_EDITED = ("edited_message", "edited_channel_post")
_GROUP_TYPES = ("group", "supergroup", "channel")
_STICKER_MIME = {"animated": "application/x-tgsticker", "video": "video/webm", "regular": "image/webp"}
NO_REASON = "-"


@dataclass(frozen=True)
class ParseContext:
    owner_chat_id: int | None  # where the approval cards are; None: approvals are off
    bot_id: int | None  # our bot's user id: only replies to our own messages are answers


@dataclass(frozen=True)
class CardTap:
    """A button tap the hub has nothing to store for: it is answered, and for Edit / Reject the
    owner is asked for the text (`ask`). Telegram-only; `apply_events` passes it by."""

    callback_query_id: str
    suggestion_id: int | None = None
    ask: str | None = None  # "edit" or "reject"


TelegramEvent = InboundMessage | MessageEdited | OwnerAction | CardTap


def parse_update(update: Any, context: ParseContext) -> list[TelegramEvent]:
    """Every event one update carries (at most one). ValueError if it is not a JSON object."""
    if not isinstance(update, Mapping):
        raise ValueError("a Telegram update must be a JSON object")
    for kind in _NEW:
        if isinstance(update.get(kind), Mapping):
            return _new_message(update, update[kind], context)
    for kind in _EDITED:
        if isinstance(update.get(kind), Mapping):
            edited = _edited(update, update[kind], context)
            return [edited] if edited else []
    if isinstance(update.get("callback_query"), Mapping):
        return _tap(update["callback_query"], context)
    return []


def utc(stamp: Any) -> datetime | None:
    return datetime.fromtimestamp(stamp, timezone.utc) if isinstance(stamp, (int, float)) and stamp > 0 else None


def _ids(message: Mapping[str, Any]) -> tuple[int, int] | None:
    chat_id, message_id = (message.get("chat") or {}).get("id"), message.get("message_id")
    return (chat_id, message_id) if isinstance(chat_id, int) and isinstance(message_id, int) else None


def person_name(who: Mapping[str, Any]) -> str:
    """First and last name, else the title (chats), else the @username."""
    full = " ".join(str(who[k]) for k in ("first_name", "last_name") if who.get(k)).strip()
    username = who.get("username")
    return full or str(who.get("title") or "") or (f"@{username}" if username else "")


def _text(message: Mapping[str, Any]) -> tuple[str, list[Any]]:
    if isinstance(message.get("text"), str):
        return message["text"], list(message.get("entities") or [])
    return str(message.get("caption") or ""), list(message.get("caption_entities") or [])


def entities_with_text(text: str, entities: list[Any]) -> list[dict[str, Any]]:
    """Each entity as Telegram sent it, plus the substring it covers (UTF-16 offsets)."""
    found = []
    for entity in entities:
        if isinstance(entity, Mapping) and isinstance(entity.get("offset"), int) and \
                isinstance(entity.get("length"), int):
            found.append({**entity, "text": utf16_slice(text, entity["offset"], entity["length"])})
    return found


def _file(kind: str, media: Mapping[str, Any], name: str = "", mime: str = "", **extra: Any) -> Attachment:
    keep = {k: media[k] for k in ("file_id", "file_unique_id", "width", "height", "duration") if k in media}
    return Attachment(kind, name=str(media.get("file_name") or name), mime_type=str(media.get("mime_type") or mime),
                      size=media.get("file_size"), extra={**keep, **{k: v for k, v in extra.items() if v}})


def _sticker(sticker: Mapping[str, Any]) -> Attachment:
    shape = "animated" if sticker.get("is_animated") else "video" if sticker.get("is_video") else "regular"
    return _file("sticker", sticker, mime=_STICKER_MIME[shape], emoji=sticker.get("emoji"),
                 set_name=sticker.get("set_name"))


def _place(message: Mapping[str, Any]) -> Attachment:
    venue = message.get("venue") or {}
    location = message.get("location") or venue.get("location") or {}
    extra = {k: location[k] for k in ("latitude", "longitude", "horizontal_accuracy") if k in location}
    extra |= {k: venue[k] for k in ("title", "address") if venue.get(k)}
    return Attachment("venue" if venue else "location", name=str(venue.get("title") or ""), extra=extra)


def _contact(contact: Mapping[str, Any]) -> Attachment:
    extra = {k: contact[k] for k in ("phone_number", "user_id", "vcard") if contact.get(k)}
    return Attachment("contact", name=person_name(contact), extra=extra)


def attachments_of(message: Mapping[str, Any]) -> tuple[Attachment, ...]:
    """Media metadata only (file ids, MIME type, size): files are fetched, if ever, by file_id."""
    found: list[Attachment] = []
    if message.get("photo"):
        found.append(_file("photo", message["photo"][-1], mime="image/jpeg"))  # the largest size
    for kind in ("animation", "video", "video_note", "voice", "audio"):
        if isinstance(message.get(kind), Mapping):
            found.append(_file(kind, message[kind], name=str(message[kind].get("title") or ""),
                               performer=message[kind].get("performer")))
    if isinstance(message.get("document"), Mapping) and "animation" not in message:  # a GIF comes as both
        found.append(_file("document", message["document"]))
    if isinstance(message.get("sticker"), Mapping):
        found.append(_sticker(message["sticker"]))
    if isinstance(message.get("location"), Mapping) or isinstance(message.get("venue"), Mapping):
        found.append(_place(message))
    if isinstance(message.get("contact"), Mapping):
        found.append(_contact(message["contact"]))
    if isinstance(message.get("poll"), Mapping):
        found.append(Attachment("poll", name=str(message["poll"].get("question") or "")))
    return tuple(found)


def forwarded_from(message: Mapping[str, Any]) -> dict[str, Any] | None:
    """Who a forwarded message first came from (Bot API 7 `forward_origin`, else the older fields)."""
    origin = message.get("forward_origin")
    if isinstance(origin, Mapping):
        source = origin.get("sender_user") or origin.get("sender_chat") or origin.get("chat") or {}
        name = person_name(source) or str(origin.get("sender_user_name") or "")
        return {"type": origin.get("type"), "name": name, "date": origin.get("date")}
    legacy = message.get("forward_from") or message.get("forward_from_chat")
    if isinstance(legacy, Mapping) or message.get("forward_sender_name"):
        name = person_name(legacy or {}) or str(message.get("forward_sender_name") or "")
        return {"type": "legacy", "name": name, "date": message.get("forward_date")}
    return None


def _raw(update: Mapping[str, Any], message: Mapping[str, Any], text: str, entities: list[Any]) -> dict[str, Any]:
    who = message.get("from") or {}
    raw: dict[str, Any] = {"update_id": update.get("update_id"), "message": dict(message),
                           "chat_type": (message.get("chat") or {}).get("type")}
    if who.get("is_bot"):
        raw["is_bot"] = True
    forwarded = forwarded_from(message)
    if forwarded:
        raw["forwarded"] = forwarded
    if entities:
        raw["entities"] = entities_with_text(text, entities)
    return raw


def _reply_to(message: Mapping[str, Any]) -> str | None:
    reply = message.get("reply_to_message")
    ids = _ids(reply) if isinstance(reply, Mapping) else None
    return f"{ids[0]}:{ids[1]}" if ids else None


def _inbound(update: Mapping[str, Any], message: Mapping[str, Any], ids: tuple[int, int],
             context: ParseContext) -> InboundMessage | None:
    """A message in a customer's chat (outbound when the owner wrote it, in a group the bot is in);
    None for a service message (no text, no media) or one without a date."""
    text, entities = _text(message)
    attachments, sent_at = attachments_of(message), utc(message.get("date"))
    if (not text and not attachments) or sent_at is None:
        return None
    chat, (chat_id, message_id) = message["chat"], ids
    who = message.get("from") or message.get("sender_chat") or {}
    owner = context.owner_chat_id
    by_owner = owner is not None and owner > 0 and who.get("id") == owner
    return InboundMessage(
        channel=CHANNEL, external_id=f"{chat_id}:{message_id}", thread_id=str(chat_id),
        sender=Handle(CHANNEL, str(who["id"])) if isinstance(who.get("id"), int) else None,
        direction=OUTBOUND if by_owner else INBOUND,
        text=text, sent_at=sent_at, sender_name=person_name(who), thread_name=person_name(chat),
        is_group=chat.get("type") in _GROUP_TYPES, attachments=attachments,
        message_type=attachments[0].kind if attachments else "text", reply_to_external_id=_reply_to(message),
        raw=_raw(update, message, text, entities))


def _new_message(update: Mapping[str, Any], message: Mapping[str, Any], context: ParseContext) -> list[TelegramEvent]:
    ids = _ids(message)
    if ids is None:
        return []
    if context.owner_chat_id is not None and ids[0] == context.owner_chat_id:
        return list(_owner_reply(message, context))
    inbound = _inbound(update, message, ids, context)
    return [inbound] if inbound else []


def _edited(update: Mapping[str, Any], message: Mapping[str, Any], context: ParseContext) -> MessageEdited | None:
    ids = _ids(message)
    edited_at = utc(message.get("edit_date")) or utc(message.get("date"))
    if ids is None or edited_at is None or ids[0] == context.owner_chat_id:
        return None
    text, entities = _text(message)
    raw = {"update_id": update.get("update_id"), "entities": entities_with_text(text, entities)}
    return MessageEdited(CHANNEL, f"{ids[0]}:{ids[1]}", text, edited_at, raw)


def _owner_reply(message: Mapping[str, Any], context: ParseContext) -> list[OwnerAction]:
    """The owner's text answering one of our cards or prompts; anything else in the owner's chat
    is ignored (it is never a customer message)."""
    reply, who = message.get("reply_to_message"), message.get("from") or {}
    if not isinstance(reply, Mapping) or who.get("is_bot"):
        return []
    if context.bot_id is not None and (reply.get("from") or {}).get("id") != context.bot_id:
        return []
    marker, text = read_marker(str(reply.get("text") or "")), str(message.get("text") or "").strip()
    if marker is None or not text:
        return []
    kind, suggestion_id = marker
    action = {"card": "reply", "edit": "edit", "reject": "reject"}[kind]
    raw = {"chat_id": message["chat"]["id"], "message_id": message.get("message_id"),
           "reply_to_message_id": reply.get("message_id")}
    return [OwnerAction(CHANNEL, suggestion_id, action, str(who.get("id") or ""),
                        text=None if action == "reject" and text == NO_REASON else text, raw=raw)]


def _tap(query: Mapping[str, Any], context: ParseContext) -> list[TelegramEvent]:
    """A button on a card. Anything not ours (another chat, unknown data) is only answered."""
    query_id = str(query.get("id") or "")
    if not query_id:
        return []
    message = query.get("message") or {}
    chat_id = (message.get("chat") or {}).get("id")
    tap = read_callback(str(query.get("data") or ""))
    if tap is None or context.owner_chat_id is None or chat_id != context.owner_chat_id:
        return [CardTap(query_id)]
    if tap.action in ("edit", "reject"):
        return [CardTap(query_id, tap.suggestion_id, ask=tap.action)]
    raw = {"callback_query_id": query_id, "chat_id": chat_id, "message_id": message.get("message_id"),
           "data": query.get("data")}
    actor = str((query.get("from") or {}).get("id") or "")
    return [OwnerAction(CHANNEL, tap.suggestion_id, tap.action, actor, tone=tap.tone, raw=raw)]
