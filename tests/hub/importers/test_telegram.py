"""Telegram Desktop JSON parsing: one chat or the full export, entities, media, replies, owner, errors."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from channels.base import INBOUND, OUTBOUND, Handle
from hub.importers import ImportFileError, OwnerNotFoundError, telegram

BERLIN = ZoneInfo("Europe/Berlin")


def personal_chat() -> dict[str, Any]:
    return {"name": "Ana", "type": "personal_chat", "id": 777, "messages": [
        {"id": 1, "type": "service", "date": "2024-01-01T09:59:00", "actor": "Ana", "action": "phone_call"},
        {"id": 2, "type": "message", "date": "2024-01-01T11:00:00", "date_unixtime": "1704103200",
         "from": "Ana", "from_id": "user777", "text": "hi Bob"},
        {"id": 3, "type": "message", "date": "2024-01-01T11:01:00", "from": "Bob", "from_id": "user42",
         "text": ["see ", {"type": "link", "text": "https://example.org"}, "!"], "reply_to_message_id": 2,
         "edited": "2024-01-01T11:02:00", "edited_unixtime": "1704103320"},
        {"id": 4, "type": "message", "date_unixtime": "1704103500", "from": "Ana", "from_id": "user777",
         "photo": "photos/photo_1@01-01-2024_11-05-00.jpg", "width": 640, "height": 480, "text": "look"},
        {"id": 5, "type": "message", "date_unixtime": "1704103600", "from": "Bob", "from_id": "user42",
         "file": "voice_messages/audio_1.ogg", "media_type": "voice_message", "mime_type": "audio/ogg",
         "duration_seconds": 3, "text": ""},
        {"id": 6, "type": "message", "date_unixtime": "1704103700", "from": "Ana", "from_id": "user777",
         "file": "files/quote.pdf", "mime_type": "application/pdf", "text": [{"type": "bold", "text": "quote"}]},
    ]}


def write(tmp_path: Path, data: Any, name: str = "result.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def parse(path: Path, owner: str = "Bob", zone: ZoneInfo = BERLIN):
    return telegram.parse_file(path, owners=[owner], zone=zone)


def test_single_chat_text_entities_directions_and_ids(tmp_path):
    [thread] = parse(write(tmp_path, personal_chat()))
    assert (thread.thread_id, thread.display_name, thread.is_group) == ("export:777", "Ana", False)
    assert [m.external_id for m in thread.messages] == ["export:777:2", "export:777:3", "export:777:4", "export:777:5", "export:777:6"]  # no service
    assert [m.text for m in thread.messages] == ["hi Bob", "see https://example.org!", "look", "", "quote"]
    assert [m.direction for m in thread.messages] == [INBOUND, OUTBOUND, INBOUND, OUTBOUND, INBOUND]
    assert thread.messages[0].sender == Handle("telegram", "777")
    assert all(m.participants == (Handle("telegram", "777"),) for m in thread.messages)
    assert thread.messages[1].reply_to_external_id == "export:777:2"
    assert thread.messages[1].raw["edited"] == "2024-01-01T11:02:00"


def test_unix_time_is_preferred_and_a_bare_date_is_read_in_the_owners_zone(tmp_path):
    [thread] = parse(write(tmp_path, personal_chat()))
    assert thread.messages[0].sent_at == datetime(2024, 1, 1, 10, 0, tzinfo=timezone.utc)
    assert thread.messages[1].sent_at == datetime(2024, 1, 1, 10, 1, tzinfo=timezone.utc)  # 11:01 Berlin


def test_media_become_attachments(tmp_path):
    [thread] = parse(write(tmp_path, personal_chat()))
    photo, voice, document = (m.attachments[0] for m in thread.messages[2:])
    assert (photo.kind, photo.name, dict(photo.extra)) == ("photo", "photo_1@01-01-2024_11-05-00.jpg",
                                                           {"width": 640, "height": 480})
    assert (voice.kind, voice.mime_type) == ("voice", "audio/ogg")
    assert (document.kind, document.name) == ("document", "quote.pdf")
    assert thread.messages[3].message_type == "voice"


def test_full_export_uses_personal_information_and_skips_saved_messages(tmp_path):
    group = {"name": "Family", "type": "private_supergroup", "id": 5550, "messages": [
        {"id": 1, "type": "message", "date_unixtime": "1704103200", "from": "Ana", "from_id": "user777",
         "text": "dinner?"},
        {"id": 2, "type": "message", "date_unixtime": "1704103300", "from": "Carl", "from_id": "user888",
         "text": "yes"},
        {"id": 3, "type": "message", "date_unixtime": "1704103400", "from": "Robert", "from_id": "user42",
         "text": "8pm"}]}
    saved = {"name": "", "type": "saved_messages", "id": 42, "messages": [
        {"id": 1, "type": "message", "date_unixtime": "1704103200", "from": "Robert", "from_id": "user42",
         "text": "note to self"}]}
    export = {"personal_information": {"user_id": 42, "first_name": "Robert"},
              "chats": {"about": "", "list": [personal_chat(), group, saved]}}
    threads = parse(write(tmp_path, export), owner="Owner")  # owner.name does not match; the export says
    assert [t.thread_id for t in threads] == ["export:777", "export:5550"]
    family = threads[1]
    assert family.is_group and [m.direction for m in family.messages] == [INBOUND, INBOUND, OUTBOUND]
    assert set(family.messages[0].participants) == {Handle("telegram", "777"), Handle("telegram", "888")}


def test_unknown_owner_lists_the_senders_found(tmp_path):
    with pytest.raises(OwnerNotFoundError, match=r"senders found: 'Ana', 'Bob'"):
        parse(write(tmp_path, personal_chat()), owner="Zed")


def test_owner_can_be_given_by_telegram_id(tmp_path):
    [thread] = parse(write(tmp_path, personal_chat()), owner="user42")
    assert thread.messages[1].direction == OUTBOUND


def _chat_with(message: dict[str, Any]) -> dict[str, Any]:
    chat = personal_chat()
    chat["messages"].insert(2, message)
    return chat


@pytest.mark.parametrize("data, where", [
    (_chat_with({"id": 9, "type": "message", "from": "Ana", "from_id": "user777", "text": "x"}),
     "messages[2]: a message needs \"date_unixtime\" or \"date\""),
    (_chat_with({"id": 9, "type": "message", "date_unixtime": "soon", "from_id": "user777", "text": "x"}),
     "messages[2]: invalid date 'soon'"),
    (_chat_with({"id": 9, "type": "message", "date_unixtime": "1704103200", "from_id": "user777", "text": 5}),
     "messages[2].text: text must be a string or a list"),
    (_chat_with({"type": "message", "date_unixtime": "1704103200", "from_id": "user777", "text": "x"}),
     "messages[2]: a message needs an integer \"id\""),
    ({"chats": {"list": [personal_chat(), {"name": "x"}]}}, "chats.list[1]: a chat needs a \"messages\" list"),
    ({"name": "x"}, "not a Telegram export"),
])
def test_malformed_exports_name_the_json_path(tmp_path, data, where):
    path = write(tmp_path, data)
    with pytest.raises(ImportFileError) as caught:
        parse(path)
    assert str(caught.value).startswith(f"{path}: {where}")


def test_invalid_json_names_line_and_column(tmp_path):
    path = tmp_path / "result.json"
    path.write_text('{\n  "name": "Ana",\n  "messages": [,]\n}\n')
    with pytest.raises(ImportFileError, match=r"result.json: line 3, column 16: invalid JSON"):
        parse(path)
