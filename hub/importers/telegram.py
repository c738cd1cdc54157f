"""Telegram Desktop JSON exports (result.json) as ImportedThreads: one chat, or the full export.

    {"name", "type", "id", "messages": [...]}            one chat ("Export chat history")
    {"personal_information", "chats": {"list": [...]}}   the full export ("Export Telegram data")

Text is a string or a list of strings and entities (concatenated); service messages are skipped;
`date_unixtime` is preferred, else `date` is read in the owner's zone. The external id is
`{chat_id}:{message_id}`, the raw message is kept for debugging. Saved messages and broadcast
channels are not conversations with anyone and are left out.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone, tzinfo
from pathlib import Path, PurePosixPath
from typing import Any

from channels.base import INBOUND, OUTBOUND, Attachment, Handle, InboundMessage
from hub.importers import ImportedThread, ImportFileError, attachment_kind, find_owner, local_to_utc

CHANNEL = "telegram"
SKIPPED_CHAT_TYPES = frozenset({"saved_messages", "public_channel", "private_channel"})
_MEDIA_KINDS = {"voice_message": "voice", "video_message": "video_note", "video_file": "video",
                "audio_file": "audio", "sticker": "sticker", "animation": "animation"}

Chat = tuple[str, dict[str, Any]]  # (JSON path, chat object)


def _fail(path: Path, where: str, problem: str) -> ImportFileError:
    return ImportFileError(path, where, problem)


def load(path: Path) -> Any:
    """The parsed JSON; a syntax error names its line and column."""
    try:
        return json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise _fail(path, f"byte {exc.start}", "not UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise _fail(path, f"line {exc.lineno}, column {exc.colno}", f"invalid JSON: {exc.msg}") from None


def chats(path: Path, data: Any) -> list[Chat]:
    """The chats of a single-chat or full export, each with its JSON path for error messages."""
    if isinstance(data, dict) and isinstance(data.get("messages"), list):
        return [("", data)]
    listed = data.get("chats", {}).get("list") if isinstance(data, dict) and isinstance(data.get("chats"), dict) \
        else None
    if not isinstance(listed, list):
        raise _fail(path, "", 'not a Telegram export: expected "messages" (one chat) or "chats": {"list": [...]}')
    for index, chat in enumerate(listed):
        if not isinstance(chat, dict) or not isinstance(chat.get("messages"), list):
            raise _fail(path, f"chats.list[{index}]", 'a chat needs a "messages" list')
    return [(f"chats.list[{index}].", chat) for index, chat in enumerate(listed)]


def _text(path: Path, where: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise _fail(path, where + ".text", "text must be a string or a list")
    parts = []
    for index, part in enumerate(value):
        if isinstance(part, str):
            parts.append(part)
        elif isinstance(part, dict) and isinstance(part.get("text"), str):
            parts.append(part["text"])
        else:
            raise _fail(path, f"{where}.text[{index}]", "a text part must be a string or {\"text\": ...}")
    return "".join(parts)


def _sent_at(path: Path, where: str, message: dict[str, Any], zone: tzinfo) -> datetime:
    try:
        if "date_unixtime" in message:
            return datetime.fromtimestamp(int(message["date_unixtime"]), timezone.utc)
        return local_to_utc(datetime.fromisoformat(str(message["date"])), zone)
    except KeyError:
        raise _fail(path, where, 'a message needs "date_unixtime" or "date"') from None
    except (TypeError, ValueError, OverflowError):
        stamp = message.get("date_unixtime", message.get("date"))
        raise _fail(path, where, f"invalid date {stamp!r}") from None


def sender_key(path: Path, where: str, message: dict[str, Any]) -> str:
    """The sender's id: 'user123' in recent exports, a bare number in old ones, else the name."""
    from_id = message.get("from_id")
    if isinstance(from_id, int):
        return f"user{from_id}"
    if isinstance(from_id, str) and from_id:
        return from_id
    name = message.get("from")
    if isinstance(name, str) and name:
        return name
    raise _fail(path, where, 'a message needs "from_id" or "from"')


def _handle(key: str) -> Handle:
    return Handle(CHANNEL, key.removeprefix("user") if key.removeprefix("user").isdigit() else key)


def _attachments(message: dict[str, Any]) -> tuple[Attachment, ...]:
    found = []
    if "photo" in message:
        found.append(Attachment("photo", name=PurePosixPath(str(message["photo"])).name,
                                size=message.get("photo_file_size"),
                                extra={k: message[k] for k in ("width", "height") if k in message}))
    if "file" in message:
        name = str(message.get("file_name") or PurePosixPath(str(message["file"])).name)
        mime = str(message.get("mime_type") or "")
        kind = _MEDIA_KINDS.get(str(message.get("media_type")), "") or attachment_kind(name, mime)
        found.append(Attachment(kind, name=name, mime_type=mime, size=message.get("file_size")))
    if isinstance(message.get("location_information"), dict):
        found.append(Attachment("location", extra=dict(message["location_information"])))
    if isinstance(message.get("contact_information"), dict):
        found.append(Attachment("contact", extra=dict(message["contact_information"])))
    return tuple(found)


def _messages(path: Path, prefix: str, chat: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(JSON path, message) for each ordinary message of a chat; service messages are skipped."""
    for index, message in enumerate(chat["messages"]):
        where = f"{prefix}messages[{index}]"
        if not isinstance(message, dict):
            raise _fail(path, where, "a message must be an object")
        if not isinstance(message.get("id"), int):
            raise _fail(path, where, 'a message needs an integer "id"')
        if message.get("type", "message") == "message":
            yield where, message


EXPORT_PREFIX = "export:"  # the owner's personal chats: their ids must never collide with the bot's


def _chat_id(path: Path, prefix: str, chat: dict[str, Any]) -> str:
    if not isinstance(chat.get("id"), (int, str)) or chat.get("id") == "":
        raise _fail(path, prefix.rstrip(".") or "top level", 'a chat needs an "id"')
    return EXPORT_PREFIX + str(chat["id"])


def _thread(path: Path, prefix: str, chat: dict[str, Any], owner: str, zone: tzinfo) -> ImportedThread | None:
    chat_id, name = _chat_id(path, prefix, chat), str(chat.get("name") or "Deleted Account")
    rows = [(where, m, sender_key(path, where, m)) for where, m in _messages(path, prefix, chat)]
    if not rows:
        return None
    others = list(dict.fromkeys(key for _, _, key in rows if key != owner)) or [f"user{chat['id']}"]
    is_group = "group" in str(chat.get("type", ""))
    thread = ImportedThread(chat_id, name, is_group, [])
    participants = tuple(_handle(key) for key in others)
    messages = [_message(path, where, m, key, owner, thread, participants, zone) for where, m, key in rows]
    return ImportedThread(chat_id, name, is_group, messages)


def _message(path: Path, where: str, message: dict[str, Any], key: str, owner: str, thread: ImportedThread,
             participants: tuple[Handle, ...], zone: tzinfo) -> InboundMessage:
    attachments = _attachments(message)
    reply_to = message.get("reply_to_message_id")
    return InboundMessage(
        channel=CHANNEL, external_id=f"{thread.thread_id}:{message['id']}", thread_id=thread.thread_id,
        sender=_handle(key), text=_text(path, where, message.get("text", "")),
        sent_at=_sent_at(path, where, message, zone), direction=OUTBOUND if key == owner else INBOUND,
        sender_name=str(message.get("from") or ""), thread_name=thread.display_name, is_group=thread.is_group,
        participants=participants, attachments=attachments,
        message_type=attachments[0].kind if attachments else "text",
        reply_to_external_id=f"{thread.thread_id}:{reply_to}" if reply_to is not None else None, raw=message)


def _owner_ids(data: Any) -> list[str]:
    """The exporting account's own id, which a full export names in personal_information."""
    info = data.get("personal_information") if isinstance(data, dict) else None
    user_id = info.get("user_id") if isinstance(info, dict) else None
    return [f"user{user_id}"] if user_id is not None else []


def _senders(path: Path, kept: Sequence[Chat]) -> dict[str, str]:
    senders: dict[str, str] = {}
    for prefix, chat in kept:
        for where, message in _messages(path, prefix, chat):
            senders.setdefault(sender_key(path, where, message), str(message.get("from") or ""))
    return senders


def parse_file(path: Path, *, owners: Sequence[str], zone: tzinfo) -> list[ImportedThread]:
    """Every conversation of a Telegram Desktop export, oldest message first in each."""
    data = load(path)
    kept = [(prefix, chat) for prefix, chat in chats(path, data) if chat.get("type") not in SKIPPED_CHAT_TYPES]
    owner = find_owner(path, [*owners, *_owner_ids(data)], _senders(path, kept))
    threads = (_thread(path, prefix, chat, owner, zone) for prefix, chat in kept)
    return [thread for thread in threads if thread is not None]
