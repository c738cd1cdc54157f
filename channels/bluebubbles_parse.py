"""Pure mapping of BlueBubbles payloads (webhooks and REST query results) into channel events.

A BlueBubbles server sends `new-message` and, for the same message, `updated-message` (delivered,
read, edited, unsent). Only `new-message` (or a reconciliation query) creates a message; an update
is an edit, a deletion or a receipt keyed by the message guid, never a second message.

Chat guids name one chat several ways (`iMessage;-;+1555…`, `SMS;-;+1555…`, `any;-;+1555…`):
the thread id is the service-free form `any;-;<normalised address>` (`any;+;<id>` for groups), so
every variant lands in one conversation. The real chat guid rides in `raw["chat_guid"]`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from channels.base import (INBOUND, OUTBOUND, Attachment, ChannelEvent, DeliveryUpdate, Handle, InboundMessage,
                           MessageDeleted, MessageEdited, ParsedWebhook)
from channels.handles import normalize_handle

NAME = "bluebubbles"
EVENT = "event"
NEW_MESSAGE = "new-message"
UPDATED_MESSAGE = "updated-message"
DIRECT, GROUP = ";-;", ";+;"
_MIME_KINDS = (("image/", "photo"), ("video/", "video"), ("audio/", "voice"), ("text/vcard", "contact"),
               ("text/x-vcard", "contact"))


def ms_to_datetime(value: Any) -> datetime | None:
    """BlueBubbles dates are epoch milliseconds; 0 or null means "not yet"."""
    try:
        millis = float(value)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(millis / 1000, tz=timezone.utc) if millis > 0 else None


def handle_of(address: str) -> Handle | None:
    """A phone becomes E.164 and an Apple ID email is lower-cased: one person across networks."""
    return normalize_handle(address, fallback_kind="imessage")


def split_chat_guid(chat_guid: str) -> tuple[str, bool, str]:
    """`iMessage;-;+1555…` → ("iMessage", False, "+1555…"); `;+;` marks a group chat."""
    for separator, is_group in ((DIRECT, False), (GROUP, True)):
        service, found, identifier = chat_guid.partition(separator)
        if found and identifier:
            return service, is_group, identifier
    raise ValueError(f"not a chat guid: {chat_guid!r}")


def normalize_chat_guid(chat_guid: str) -> str:
    """Every service variant of one chat → one thread id (`any;-;+15551234567`, `any;+;chat1234`)."""
    _, is_group, identifier = split_chat_guid(chat_guid.strip())
    if is_group:
        return f"any{GROUP}{identifier}"
    handle = handle_of(identifier)
    return f"any{DIRECT}{handle.value if handle else identifier}"


def send_chat_guid(thread_id: str) -> str:
    """The chat guid to send to when no real one was seen: iMessage, the service every macOS knows."""
    _, is_group, identifier = split_chat_guid(thread_id)
    return f"iMessage{GROUP if is_group else DIRECT}{identifier}"


def _chat(data: Mapping[str, Any]) -> Mapping[str, Any]:
    chats = data.get("chats") or ([data["chat"]] if isinstance(data.get("chat"), Mapping) else [])
    return chats[0] if chats and isinstance(chats[0], Mapping) else {}


def chat_guid_of(data: Mapping[str, Any]) -> str:
    """The message's chat; a payload without one is a 1:1 chat with its handle."""
    guid = str(_chat(data).get("guid") or "")
    if guid:
        return guid
    address = str((data.get("handle") or {}).get("address") or "")
    if not address:
        raise ValueError(f"message {data.get('guid')!r} names neither its chat nor its handle")
    return f"any{DIRECT}{address}"


def _kind(mime: str) -> str:
    mime = mime.lower()
    return next((kind for prefix, kind in _MIME_KINDS if mime.startswith(prefix)), "document")


def attachments_of(data: Mapping[str, Any]) -> tuple[Attachment, ...]:
    """Metadata only: downloading needs the server password, which never goes into a stored URL."""
    found = []
    for item in data.get("attachments") or []:
        mime = str(item.get("mimeType") or "")
        size = item.get("totalBytes")
        found.append(Attachment(_kind(mime), name=str(item.get("transferName") or ""), mime_type=mime,
                                size=int(size) if isinstance(size, (int, float)) else None,
                                extra={"guid": str(item.get("guid") or "")}))
    return tuple(found)


def _participants(chat: Mapping[str, Any], is_group: bool, identifier: str) -> tuple[Handle, ...]:
    if not is_group:
        handle = handle_of(identifier)
        return (handle,) if handle else ()
    found = [handle_of(str(p.get("address") or "")) for p in chat.get("participants") or []]
    return tuple(h for h in found if h is not None)


def _associated(guid: Any) -> str | None:
    """`p:0/GUID` and `bp:GUID` (a part of a message) → `GUID`."""
    if not guid:
        return None
    guid = str(guid)
    return guid.split("/", 1)[1] if "/" in guid else guid.removeprefix("bp:")


def _message_type(data: Mapping[str, Any], text: str, attachments: tuple[Attachment, ...]) -> str:
    if data.get("associatedMessageGuid") and data.get("associatedMessageType"):
        return "reaction"  # a tapback
    if int(data.get("itemType") or 0) != 0:
        return "system"  # a participant joined, the group was renamed, …
    return "text" if text or not attachments else attachments[0].kind


def _raw(data: Mapping[str, Any]) -> dict[str, Any]:
    """The real chat guid (empty when the payload named no chat) and what explains the message."""
    handle = data.get("handle") or {}
    raw = {"guid": data.get("guid"), "chat_guid": str(_chat(data).get("guid") or ""), "service": handle.get("service"),
           "is_from_me": bool(data.get("isFromMe")), "date_created": data.get("dateCreated")}
    for key in ("associatedMessageGuid", "associatedMessageType", "threadOriginatorGuid", "itemType", "error",
                "balloonBundleId", "tempGuid"):
        if data.get(key) not in (None, "", 0):
            raw[key] = data[key]
    return raw


def message_event(data: Mapping[str, Any]) -> InboundMessage:
    """One BlueBubbles message; `isFromMe` (the owner wrote it on a Mac or iPhone) → outbound."""
    guid, sent_at = str(data.get("guid") or ""), ms_to_datetime(data.get("dateCreated"))
    if not guid or sent_at is None:
        raise ValueError("a BlueBubbles message without guid or dateCreated")
    chat_guid = chat_guid_of(data)
    _, is_group, identifier = split_chat_guid(chat_guid)
    chat, from_me = _chat(data), bool(data.get("isFromMe"))
    sender = None if from_me else handle_of(str((data.get("handle") or {}).get("address") or identifier))
    text, attachments = str(data.get("text") or "").replace("\ufffc", "").strip(), attachments_of(data)
    return InboundMessage(
        channel=NAME, external_id=guid, thread_id=normalize_chat_guid(chat_guid), sender=sender, text=text,
        sent_at=sent_at, direction=OUTBOUND if from_me else INBOUND, thread_name=str(chat.get("displayName") or ""),
        is_group=is_group, participants=_participants(chat, is_group, identifier), attachments=attachments,
        message_type=_message_type(data, text, attachments),
        reply_to_external_id=_associated(data.get("associatedMessageGuid") or data.get("threadOriginatorGuid")),
        raw=_raw(data))


def update_events(data: Mapping[str, Any]) -> list[ChannelEvent]:
    """What an `updated-message` says: unsent, edited, or (for ours) delivered / read."""
    guid = str(data.get("guid") or "")
    if not guid:
        raise ValueError("a BlueBubbles update without guid")
    raw = {"guid": guid, "chat_guid": str(_chat(data).get("guid") or "")}
    retracted, edited = ms_to_datetime(data.get("dateRetracted")), ms_to_datetime(data.get("dateEdited"))
    if retracted is not None:
        return [MessageDeleted(NAME, guid, retracted, raw=raw)]
    events: list[ChannelEvent] = []
    if edited is not None:
        events.append(MessageEdited(NAME, guid, str(data.get("text") or ""), edited, raw=raw))
    if data.get("isFromMe"):
        read, delivered = ms_to_datetime(data.get("dateRead")), ms_to_datetime(data.get("dateDelivered"))
        if read is not None:
            events.append(DeliveryUpdate(NAME, guid, "read", read, raw=raw))
        elif delivered is not None or data.get("isDelivered"):
            events.append(DeliveryUpdate(NAME, guid, "delivered", delivered or edited or _created(data), raw=raw))
    return events


def _created(data: Mapping[str, Any]) -> datetime:
    return ms_to_datetime(data.get("dateCreated")) or datetime.fromtimestamp(0, tz=timezone.utc)


def queried_events(data: Mapping[str, Any]) -> list[ChannelEvent]:
    """A message read back by reconciliation: the message itself, then its edits and receipts."""
    return [message_event(data), *update_events(data)]


def parse_payload(payload: Mapping[str, Any]) -> list[ChannelEvent]:
    kind, data = payload.get("type"), payload.get("data")
    if not isinstance(data, Mapping):
        return []
    if kind == NEW_MESSAGE:
        return [message_event(data)]
    if kind == UPDATED_MESSAGE:
        return update_events(data)
    return []  # typing indicators, group renames, chat-read-status, … carry no message


def parse_webhook(body: bytes) -> ParsedWebhook:
    payload = json.loads(body)
    if not isinstance(payload, Mapping):
        raise ValueError("a BlueBubbles webhook that is not a JSON object")
    return ParsedWebhook(events=parse_payload(payload))
