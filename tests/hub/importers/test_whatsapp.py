"""WhatsApp export parsing: Android and iOS layouts, date order, marks, media, zips, owner, errors."""

from __future__ import annotations

import zipfile
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from channels.base import INBOUND, OUTBOUND, Handle
from hub.importers import ImportFileError, OwnerNotFoundError, whatsapp

UTC = ZoneInfo("UTC")
NEW_YORK = ZoneInfo("America/New_York")
LRM, NNBSP = "\u200e", "\u202f"

ANDROID = f"""\
12/31/23, 9:41{NNBSP}PM - Messages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, can read or listen to them. Tap to learn more.
12/31/23, 9:41{NNBSP}PM - Ana: Happy new year!
see you tomorrow

bring snacks
12/31/23, 9:42{NNBSP}PM - Bob: <Media omitted>
12/31/23, 9:42{NNBSP}PM - Bob: thanks! <This message was edited>
1/2/24, 10:00{NNBSP}AM - Ana: IMG-20240102-WA0001.jpg (file attached)
look at this
1/2/24, 10:01{NNBSP}AM - Ana: This message was deleted
1/2/24, 12:05{NNBSP}AM - Bob: it's 2:30: late
"""

IOS = (
    f"{LRM}[31/12/2023, 21:41:05] Ana: {LRM}Messages and calls are end-to-end encrypted.\n"
    f"[31/12/2023, 21:41:05] Ana: hola\n"
    f"{LRM}[31/12/2023, 21:42:00] Bob: {LRM}image omitted\n"
    f"{LRM}[01/01/2024, 09:00:00] Bob: {LRM}<attached: 00000012-PHOTO-2024-01-01-09-00-00.jpg>\n"
    f"{LRM}[01/01/2024, 09:01:00] Bob: {LRM}report.pdf • 3 pages {LRM}document omitted\n"
    f"[01/01/2024, 09:02:00] Ana: {LRM}Missed voice call\n"
)


def write(tmp_path: Path, text: str, name: str = "WhatsApp Chat with Ana.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def parse(path: Path, owner: str = "Bob", zone: ZoneInfo = UTC):
    [thread] = whatsapp.parse_file(path, owners=[owner], zone=zone)
    return thread


def test_android_export_with_continuations_media_edits_and_system_lines(tmp_path):
    thread = parse(write(tmp_path, ANDROID))
    assert (thread.thread_id, thread.display_name, thread.is_group) == ("export:Ana", "Ana", False)
    texts = [m.text for m in thread.messages]
    assert texts == ["Happy new year!\nsee you tomorrow\n\nbring snacks", "", "thanks!", "look at this", "",
                     "it's 2:30: late"]
    media, edited, photo, deleted = thread.messages[1:5]
    assert media.attachments[0].kind == "media" and media.message_type == "media"
    assert edited.raw["edited"] is True
    assert (photo.attachments[0].kind, photo.attachments[0].name) == ("photo", "IMG-20240102-WA0001.jpg")
    assert deleted.message_type == "deleted"
    assert thread.messages[-1].sent_at == datetime(2024, 1, 2, 0, 5, tzinfo=timezone.utc)  # 12:05 AM


def test_directions_senders_and_participants(tmp_path):
    thread = parse(write(tmp_path, ANDROID), owner="bob")  # owner names match loosely
    assert [m.direction for m in thread.messages] == [INBOUND, OUTBOUND, OUTBOUND, INBOUND, INBOUND, OUTBOUND]
    assert thread.messages[0].sender == Handle("whatsapp", "Ana")
    assert all(m.participants == (Handle("whatsapp", "Ana"),) for m in thread.messages)
    assert {m.channel for m in thread.messages} == {"whatsapp"}


def test_ios_export_with_marks_seconds_attachments_and_attributed_system_lines(tmp_path):
    thread = parse(write(tmp_path, IOS, "_chat.txt"))
    assert thread.display_name == "Ana"  # named by the encryption notice iOS attributes to the chat
    assert [m.text for m in thread.messages] == ["hola", "", "", ""]
    kinds = [m.attachments[0].kind for m in thread.messages[1:]]
    assert kinds == ["photo", "photo", "document"]
    assert thread.messages[2].attachments[0].name == "00000012-PHOTO-2024-01-01-09-00-00.jpg"
    assert thread.messages[3].attachments[0].name == "report.pdf"
    assert thread.messages[0].sent_at == datetime(2023, 12, 31, 21, 41, 5, tzinfo=timezone.utc)


def test_zip_export_holding_chat_txt(tmp_path):
    path = tmp_path / "WhatsApp Chat - Ana.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("_chat.txt", IOS)
        archive.writestr("00000012-PHOTO-2024-01-01-09-00-00.jpg", b"\xff\xd8")
    thread = parse(path)
    assert thread.thread_id == "export:Ana" and len(thread.messages) == 4


@pytest.mark.parametrize("lines, expected", [
    (["13/01/2024, 10:00 - Ana: a", "01/02/2024, 10:00 - Ana: b"], datetime(2024, 2, 1, 10, 0)),  # day > 12
    (["01/13/2024, 10:00 - Ana: a", "02/01/2024, 10:00 - Ana: b"], datetime(2024, 2, 1, 10, 0)),  # month first
    (["03/02/2024, 10:00 - Ana: a", "01/03/2024, 10:00 - Ana: b"], datetime(2024, 3, 1, 10, 0)),  # chronology
    (["01/02/2024, 10:00 - Ana: a", "02/01/2024, 10:00 - Ana: b"], datetime(2024, 2, 1, 10, 0)),
    (["01/02/24, 10:00 AM - Ana: a", "01/02/24, 11:00 AM - Ana: b"], datetime(2024, 1, 2, 11, 0)),  # 12h: US
    (["01/02/24, 10:00 - Ana: a", "01/02/24, 11:00 - Ana: b"], datetime(2024, 2, 1, 11, 0)),  # 24h: day first
    (["31.12.23, 23:59 - Ana: a", "1.1.24, 00:01 - Ana: b"], datetime(2024, 1, 1, 0, 1)),
    (["2024-01-31, 23:59 - Ana: a", "2024-02-01, 00:01 - Ana: b"], datetime(2024, 2, 1, 0, 1)),
    (["[1/2/24, 12:00:00 PM] Ana: a", "[1/2/24, 12:30:00 a.m.] Ana: b"], datetime(2024, 1, 2, 0, 30)),
])
def test_date_order_is_read_from_the_file(tmp_path, lines, expected):
    text = "\n".join([*lines, lines[-1].replace("Ana: b", "Bob: c")])
    thread = parse(write(tmp_path, text))
    assert thread.messages[1].sent_at == expected.replace(tzinfo=timezone.utc)


def test_times_are_read_in_the_owners_zone_and_stored_as_utc(tmp_path):
    text = "15/01/2024, 09:00 - Ana: winter\n15/07/2024, 09:00 - Bob: summer\n"
    winter, summer = parse(write(tmp_path, text), zone=NEW_YORK).messages
    assert winter.sent_at == datetime(2024, 1, 15, 14, 0, tzinfo=timezone.utc)  # EST, UTC-5
    assert summer.sent_at == datetime(2024, 7, 15, 13, 0, tzinfo=timezone.utc)  # EDT, UTC-4
    kolkata = parse(write(tmp_path, text), zone=ZoneInfo("Asia/Kolkata")).messages[0]
    assert kolkata.sent_at == datetime(2024, 1, 15, 3, 30, tzinfo=timezone.utc)


def test_external_ids_are_deterministic_and_distinct_within_a_minute(tmp_path):
    text = "15/01/2024, 09:00 - Ana: one\n15/01/2024, 09:00 - Ana: two\n15/01/2024, 09:00 - Bob: three\n"
    first = parse(write(tmp_path, text))
    again = parse(write(tmp_path, text), zone=NEW_YORK)  # the wall time is hashed, not the zone
    ids = [m.external_id for m in first.messages]
    assert len(set(ids)) == 3
    assert ids == [m.external_id for m in again.messages]


def test_group_chats_are_recognised_by_senders_or_group_events(tmp_path):
    many = "15/01/2024, 09:00 - Ana: hi\n15/01/2024, 09:01 - Carl: hey\n15/01/2024, 09:02 - Bob: hello\n"
    thread = parse(write(tmp_path, many, "WhatsApp Chat with Family.txt"))
    assert thread.is_group and thread.display_name == "Family"
    assert set(thread.messages[0].participants) == {Handle("whatsapp", "Ana"), Handle("whatsapp", "Carl")}
    added = "15/01/2024, 09:00 - Ana added Bob\n15/01/2024, 09:01 - Ana: welcome\n15/01/2024, 09:02 - Bob: hi\n"
    assert parse(write(tmp_path, added, "WhatsApp Chat with Club.txt")).is_group


def test_phone_number_senders_become_phone_handles(tmp_path):
    text = "15/01/2024, 09:00 - +1 415-555-0100: hi\n15/01/2024, 09:01 - Bob: hello\n"
    thread = parse(write(tmp_path, text))
    assert thread.messages[0].sender == Handle("phone", "+14155550100")


def test_unknown_owner_lists_the_senders_found(tmp_path):
    with pytest.raises(OwnerNotFoundError) as caught:
        parse(write(tmp_path, ANDROID), owner="Zed")
    message = str(caught.value)
    assert "'Zed'" in message and "'Ana'" in message and "'Bob'" in message and "--owner" in message


@pytest.mark.parametrize("content, where", [
    ("hello there\n12/31/23, 9:41 PM - Ana: hi\n", "line 1"),
    ("12/31/23, 9:41 PM - Ana: hi\n13/31/23, 9:42 PM - Bob: hi\n", "line 2"),  # month 13 either way
    ("12/31/23, 9:41 PM - Ana: hi\n12/30/23, 13:42 PM - Bob: hi\n", "line 2"),  # 13 PM
    ("31/12/23, 21:41 - Ana: hi\n12/31/23, 21:42 - Bob: hi\n", "line 2"),  # day-first and month-first
    ("", ""),
])
def test_malformed_exports_name_the_file_and_line(tmp_path, content, where):
    path = write(tmp_path, content)
    with pytest.raises(ImportFileError) as caught:
        parse(path)
    assert str(caught.value).startswith(f"{path}: {where}")


def test_binary_and_zip_without_chat_are_refused(tmp_path):
    path = tmp_path / "chat.txt"
    path.write_bytes(b"12/31/23, 9:41 PM - Ana: hi\n\xff\xfe\x00garbage\n")
    with pytest.raises(ImportFileError, match="line 2: not UTF-8"):
        parse(path)
    archive_path = tmp_path / "export.zip"
    with zipfile.ZipFile(archive_path, "w") as archive:
        archive.writestr("photo.jpg", b"\xff\xd8")
    with pytest.raises(ImportFileError, match=r"no _chat\.txt"):
        parse(archive_path)
