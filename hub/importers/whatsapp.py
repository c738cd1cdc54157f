"""WhatsApp "Export chat" files as ImportedThreads: Android and iOS layouts, .txt or the .zip with _chat.txt.

    12/31/23, 9:41 PM - Ana: text           Android (12h or 24h, day or month first)
    [31/12/2023, 21:41:05] Ana: text        iOS
    a line without a date                   continues the message above

An export carries no time zone: times are read in the owner's zone and stored as UTC. Whether a
date is day or month first is read from the file (a first part above 12 decides; else the order
that keeps the messages in time order). External ids hash thread, local time, sender and the
position among same-minute messages of that sender, so importing the file again stores nothing twice.
"""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from itertools import pairwise
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path, PurePath
from typing import Sequence

from channels.base import INBOUND, OUTBOUND, Attachment, Handle, InboundMessage
from channels.handles import normalize_handle
from hub.importers import DIRECTION_MARKS, ImportedThread, ImportFileError, attachment_kind, clean_marks, \
    find_owner, local_to_utc, plain_spaces, stable_id

CHANNEL = "whatsapp"
_DATE = r"(?P<date>\d{1,4}[./-]\d{1,2}[./-]\d{1,4})"
_TIME = r"(?P<time>\d{1,2}[:.]\d{2}(?:[:.]\d{2})?)(?:\s*(?P<ampm>[ap]\.?\s?m\.?))?"
_ANDROID = re.compile(rf"^{_DATE},?\s+{_TIME}\s+[-–]\s+(?P<body>.*)$", re.I)
_IOS = re.compile(rf"^\[{_DATE},?\s+{_TIME}\]\s*(?P<body>.*)$", re.I)
_SENDER = re.compile(r"^(?P<name>[^:\"“”]{1,100}?):(?:\s(?P<text>.*))?$")
_EXPORT_NAME = re.compile(r"^(?:WhatsApp Chat with |WhatsApp Chat - |WhatsApp-Chat mit |Chat de WhatsApp con "
                          r"|Conversa do WhatsApp com |Discussion WhatsApp avec )(?P<name>.+?)(?: \(\d+\))?$", re.I)
_OMITTED = re.compile(r"^(?:(?P<name>.+?)\s+•.*?\s*)?<?(?P<kind>image|video|audio|sticker|gif|document"
                      r"|contact card|media) omitted>?$", re.I)
_ATTACHED = re.compile(r"^<attached: (?P<name>[^>]+)>$", re.I)
_FILE_ATTACHED = re.compile(r"^(?P<name>\S.*?\.\w{1,5}) \(file attached\)$", re.I)
_LOCATION = re.compile(r"^(?:live )?location: (?P<url>https?://\S+)$", re.I)
_DELETED = re.compile(r"^(?:this message was deleted|you deleted this message)\.?$", re.I)
_EDITED = re.compile(r"\s*<this message was edited>$", re.I)
_ENCRYPTED = re.compile(r"^messages (?:and calls )?(?:to this \w+ )?are (?:now )?(?:end-to-end encrypted|secured)",
                        re.I)
_GROUP_EVENT = re.compile(r"\b(?:created (?:the )?group|added|removed|left|joined using|changed the subject"
                          r"|changed the group|changed this group)\b", re.I)
_OMITTED_KINDS = {"image": "photo", "gif": "animation", "audio": "voice", "contact card": "contact"}


@dataclass
class _Raw:
    """A header line of the export and the continuation lines below it."""

    line: int
    date: str
    time: str
    ampm: str
    ios: bool
    lines: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Entry:
    """A message, or a system event when `sender` is empty (`about` is who iOS attributes it to)."""

    line: int
    local: datetime
    sender: str
    text: str
    attachments: tuple[Attachment, ...] = ()
    message_type: str = "text"
    edited: bool = False
    about: str = ""


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ImportFileError(path, f"line {line}", "not UTF-8 text (is this a WhatsApp export?)") from None


def read_export(path: Path) -> tuple[str, str]:
    """The chat text and the name of the export (the .zip's name for a zip)."""
    if not zipfile.is_zipfile(path):
        return _decode(path, path.read_bytes()), path.name
    try:
        with zipfile.ZipFile(path) as archive:
            texts = [n for n in archive.namelist() if n.lower().endswith(".txt")]
            chosen = next((n for n in texts if PurePath(n).name == "_chat.txt"), texts[0] if texts else None)
            if chosen is None:
                raise ImportFileError(path, "", "the zip holds no _chat.txt (or other .txt) chat export")
            return _decode(path, archive.read(chosen)), path.name
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportFileError(path, "", f"unreadable zip: {exc}") from None


def _header(line: str) -> tuple[re.Match[str], bool] | None:
    match = _IOS.match(line)
    if match:
        return match, True
    match = _ANDROID.match(line)
    return (match, False) if match else None


def is_message_line(line: str) -> bool:
    """Whether `line` starts a message of a WhatsApp export (used to recognise the format)."""
    return _header(plain_spaces(line).strip().lstrip(DIRECTION_MARKS)) is not None


def split_lines(path: Path, text: str) -> list[_Raw]:
    """Group the export's lines into messages; the first non-blank line must be a message line."""
    raws: list[_Raw] = []
    for number, original in enumerate(text.split("\n"), start=1):
        line = plain_spaces(original.rstrip("\r")).strip().lstrip(DIRECTION_MARKS)
        found = _header(line)
        if found:
            match, ios = found
            raws.append(_Raw(number, match["date"], match["time"], match["ampm"] or "", ios, [match["body"]]))
        elif raws:
            raws[-1].lines.append(original.rstrip("\r"))
        elif line:
            raise ImportFileError(path, f"line {number}", "not a WhatsApp message line (expected a date and "
                                                          f"time first, like '12/31/23, 9:41 PM - Name: text'): "
                                                          f"{clean_marks(line)[:60]!r}")
    if not raws:
        raise ImportFileError(path, "", "no WhatsApp messages found (empty file?)")
    return raws


def _parts(raw: _Raw) -> list[int]:
    return [int(p) for p in re.split(r"[./-]", raw.date)]


def _year_first(raw: _Raw) -> bool:
    return len(re.split(r"[./-]", raw.date)[0]) == 4


def _inversions(raws: Sequence[_Raw], order: str) -> int:
    keys = [(p[2], p[1], p[0]) if order == "dmy" else (p[2], p[0], p[1]) for p in map(_parts, raws)]
    return sum(later < earlier for earlier, later in pairwise(keys))


def date_order(path: Path, raws: Sequence[_Raw]) -> str:
    """'dmy' or 'mdy' for the file ('ymd' dates are told apart per line by their 4-digit first part)."""
    short = [r for r in raws if not _year_first(r)]
    day_first = next((r for r in short if _parts(r)[0] > 12), None)
    month_first = next((r for r in short if _parts(r)[1] > 12), None)
    if day_first and month_first:
        later = max(day_first, month_first, key=lambda r: r.line)
        raise ImportFileError(path, f"line {later.line}", f"dates mix day-first (line {day_first.line}: "
                                                          f"{day_first.date}) and month-first (line "
                                                          f"{month_first.line}: {month_first.date})")
    if day_first or month_first:
        return "dmy" if day_first else "mdy"
    by_dmy, by_mdy = _inversions(short, "dmy"), _inversions(short, "mdy")
    if by_dmy != by_mdy:
        return "dmy" if by_dmy < by_mdy else "mdy"
    return "mdy" if any(r.ampm for r in short) else "dmy"  # a 12-hour clock is the US layout


def _local_time(path: Path, raw: _Raw, order: str) -> datetime:
    a, b, c = _parts(raw)
    year, month, day = (a, b, c) if _year_first(raw) else (c, b, a) if order == "dmy" else (c, a, b)
    hour, minute, *seconds = (int(p) for p in re.split(r"[:.]", raw.time))
    if raw.ampm:  # 12 AM is midnight, 12 PM noon; 13 PM is invalid (99 is rejected below)
        hour = hour % 12 + (12 if raw.ampm.lower().startswith("p") else 0) if 1 <= hour <= 12 else 99
    try:
        return datetime(year + 2000 if year < 100 else year, month, day, hour, minute, seconds[0] if seconds else 0)
    except ValueError:
        stamp = f"{raw.date} {raw.time} {raw.ampm}".strip()
        raise ImportFileError(path, f"line {raw.line}", f"invalid date or time {stamp!r}") from None


def _attachment(first_line: str) -> Attachment | None:
    line = clean_marks(first_line).strip()
    if match := _OMITTED.match(line):
        kind = match["kind"].lower()
        return Attachment(kind=_OMITTED_KINDS.get(kind, kind), name=(match["name"] or "").strip())
    if match := _ATTACHED.match(line) or _FILE_ATTACHED.match(line):
        return Attachment(kind=attachment_kind(match["name"]), name=match["name"])
    if match := _LOCATION.match(line):
        return Attachment(kind="location", url=match["url"])
    return None


def _entry(raw: _Raw, local: datetime) -> _Entry:
    match = _SENDER.match(raw.lines[0])
    text = "\n".join([match["text"] or "", *raw.lines[1:]]) if match else "\n".join(raw.lines)
    marked = text.startswith("\u200e")  # iOS marks attachments and system events this way
    text = clean_marks(text).strip()
    if match is None or _ENCRYPTED.match(text):
        return _Entry(raw.line, local, "", text, about=clean_marks(match["name"]).strip() if match else "")
    sender = " ".join(clean_marks(match["name"]).lstrip("~").split())
    first, _, rest = text.partition("\n")
    if attachment := _attachment(first):
        return _Entry(raw.line, local, sender, rest.strip(), (attachment,), attachment.kind)
    if _DELETED.match(text):
        return _Entry(raw.line, local, sender, "", message_type="deleted")
    if marked and raw.ios:
        return _Entry(raw.line, local, "", text, about=sender)
    edited = bool(_EDITED.search(text))
    return _Entry(raw.line, local, sender, _EDITED.sub("", text), edited=edited)


def parse_entries(path: Path, text: str) -> list[_Entry]:
    """Every message and system event of an export's text, validated."""
    raws = split_lines(path, text)
    order = date_order(path, raws)
    return [_entry(raw, _local_time(path, raw, order)) for raw in raws]


def _chat_name(source: str, entries: Sequence[_Entry], owner: str, others: Sequence[str]) -> str:
    """From the export's file name, else the chat iOS attributes system lines to, else the other person."""
    stem = PurePath(source).stem
    if match := _EXPORT_NAME.match(stem):
        return match["name"].strip()
    announced = next((e.about for e in entries if not e.sender and e.about and e.about != owner), "")
    if announced:
        return announced
    if len(others) == 1:
        return others[0]
    return stem if stem not in ("_chat", "") else ", ".join(sorted(others))


def _handle(name: str) -> Handle:
    handle = normalize_handle(name, fallback_kind=CHANNEL)
    return handle if handle is not None else Handle(CHANNEL, name)


def _message(entry: _Entry, thread: ImportedThread, owner: str, participants: tuple[Handle, ...],
             occurrence: int, zone: tzinfo) -> InboundMessage:
    return InboundMessage(
        channel=CHANNEL, thread_id=thread.thread_id,
        external_id=stable_id(thread.thread_id, entry.local.isoformat(), entry.sender, occurrence),
        sender=_handle(entry.sender), text=entry.text, sent_at=local_to_utc(entry.local, zone),
        direction=OUTBOUND if entry.sender == owner else INBOUND, sender_name=entry.sender,
        thread_name=thread.display_name, is_group=thread.is_group, participants=participants,
        attachments=entry.attachments, message_type=entry.message_type,
        raw={"export": CHANNEL, "line": entry.line, **({"edited": True} if entry.edited else {})})


def _build(thread: ImportedThread, entries: Sequence[_Entry], owner: str, others: Sequence[str],
           zone: tzinfo) -> ImportedThread:
    participants = tuple(_handle(name) for name in others)
    seen: Counter[tuple[datetime, str]] = Counter()
    messages = []
    for entry in entries:
        if entry.sender:
            occurrence = seen[(entry.local, entry.sender)]
            seen[(entry.local, entry.sender)] += 1
            messages.append(_message(entry, thread, owner, participants, occurrence, zone))
    return ImportedThread(thread.thread_id, thread.display_name, thread.is_group, messages)


def parse_text(path: Path, text: str, source: str, *, owners: Sequence[str], zone: tzinfo) -> ImportedThread:
    """One chat from an export's text; `source` is the export's file name (it names the chat)."""
    entries = parse_entries(path, text)
    senders = list(dict.fromkeys(e.sender for e in entries if e.sender))
    owner = find_owner(path, owners, {name: name for name in senders})
    others = [name for name in senders if name != owner]
    name = _chat_name(source, entries, owner, others)
    group_events = any(not e.sender and _GROUP_EVENT.search(e.text) for e in entries)
    shell = ImportedThread(f"export:{name}", name, len(others) > 1 or group_events, [])
    return _build(shell, entries, owner, others, zone)


def parse_file(path: Path, *, owners: Sequence[str], zone: tzinfo) -> list[ImportedThread]:
    """The chat in a WhatsApp export (.txt, or .zip with _chat.txt) as one ImportedThread."""
    text, source = read_export(path)
    return [parse_text(path, text, source, owners=owners, zone=zone)]
