"""Unix mbox files (Gmail Takeout, Thunderbird, mutt) as ImportedThreads, read with Python's mailbox module.

Each message is parsed by the email channel's own parser (`channels.email_parse.parse_email`), so an
imported mail is stored exactly as the live mailbox would store it: the same Message-ID external id,
the same thread (References root, else In-Reply-To, else the Message-ID), RFC 2047-decoded headers,
text/plain preferred else the HTML as text, `text` without the quoted history (the whole body in
`raw["text_full"]`), automated mail flagged. The channel's last resort is applied across the file
too: a "Re:" without threading headers joins the latest thread of that subject with the same
correspondent. Unlike the live parser, the import refuses a message with no sender or no usable
date (neither a Date header nor a date on its 'From ' line), naming its line.
"""

from __future__ import annotations

import mailbox
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timezone, tzinfo
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path

from channels.base import INBOUND, InboundMessage
from channels.email_headers import sender_of, sent_at
from channels.email_parse import CHANNEL, MailContext, parse_email
from channels.email_text import is_reply_subject, normalize_subject
from channels.handles import normalize_email
from hub.importers import ImportedThread, ImportFileError, fold, local_to_utc

__all__ = ["CHANNEL", "message_starts", "parse_file"]
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_HEADERS = BytesParser(policy=policy.default)


def message_starts(path: Path) -> list[tuple[int, str]]:
    """(line number, envelope) of each 'From ' line that starts a message (mailbox's own rule)."""
    starts: list[tuple[int, str]] = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.startswith(b"From "):
                starts.append((number, line[5:].decode("latin-1").strip()))
            elif not starts and line.strip():
                raise ImportFileError(path, f"line {number}", "not an mbox file: it must start with a "
                                                              "'From ' line")
    if not starts:
        raise ImportFileError(path, "", "no messages found (empty mbox?)")
    return starts


def _envelope_time(envelope: str, zone: tzinfo) -> datetime | None:
    """The date a 'From sender date' line carries, written by mail software in local time."""
    try:
        return local_to_utc(parsedate_to_datetime(" ".join(envelope.split()[1:])), zone)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _check(path: Path, line: int, headers: Message, envelope_time: datetime | None) -> None:
    """Refuse what the live parser would quietly patch up: no sender, or no date at all."""
    if not sender_of(headers).address:
        raise ImportFileError(path, f"line {line}", f"no sender address (From: {headers.get('From', '')!r})")
    if sent_at(headers, envelope_time, _EPOCH)[1] == "now":
        raise ImportFileError(path, f"line {line}", f"no valid Date header (got {headers.get('Date')!r}) "
                                                    "and no date on the 'From ' line")


def _own_addresses(owners: Sequence[str], senders: Sequence[tuple[str, str]]) -> frozenset[str]:
    """The owner's addresses: those given, and those whose From name is a given name."""
    given = [o.strip() for o in owners if o and o.strip()]
    addresses = {normalize_email(o) or o.lower() for o in given if "@" in o}
    names = {fold(o) for o in given if "@" not in o}
    addresses |= {address for name, address in senders if name and fold(name) in names}
    return frozenset(addresses)


_Mail = tuple[int, bytes, datetime | None, Message]  # line, raw bytes, envelope time, headers


def _read(path: Path, zone: tzinfo) -> list[_Mail]:
    """Every message of the file, each checked."""
    starts = message_starts(path)
    box = mailbox.mbox(path, create=False)
    try:
        found: list[_Mail] = []
        for (line, envelope), key in zip(starts, box.iterkeys()):
            data, envelope_time = box.get_bytes(key), _envelope_time(envelope, zone)
            headers = _HEADERS.parsebytes(data, headersonly=True)
            _check(path, line, headers, envelope_time)
            found.append((line, data, envelope_time, headers))
        return found
    finally:
        box.close()


def _parse(path: Path, line: int, data: bytes, context: MailContext) -> InboundMessage:
    try:
        message = parse_email(data, context)
    except Exception as exc:  # the live parser degrades; whatever still fails is a broken file
        raise ImportFileError(path, f"line {line}", f"unreadable message: {type(exc).__name__}: {exc}") from None
    return replace(message, raw={**message.raw, "export": "mbox", "line": line})


def _correspondent(message: InboundMessage) -> str:
    """The other party, as the email channel sees it: the sender of inbound mail, else the first recipient."""
    if message.direction == INBOUND:
        return message.sender.value if message.sender else ""
    return message.participants[0].value if message.participants else ""


def thread_by_subject(messages: Sequence[InboundMessage]) -> list[InboundMessage]:
    """The email channel's last resort across the file (messages in time order): a reply-prefixed
    subject without threading headers joins the latest thread of that subject with that correspondent."""
    latest: dict[tuple[str, str], str] = {}
    threaded = []
    for message in messages:
        key = (_correspondent(message), normalize_subject(message.subject))
        if (message.raw.get("thread_by") == "message-id" and is_reply_subject(message.subject)
                and latest.get(key, message.thread_id) != message.thread_id):
            message = replace(message, thread_id=latest[key], raw={**message.raw, "thread_by": "subject"})
        if all(key):
            latest[key] = message.thread_id
        threaded.append(message)
    return threaded


def parse_file(path: Path, *, owners: Sequence[str], zone: tzinfo) -> list[ImportedThread]:
    """Every thread of an mbox, oldest message first in each. `owners`: the owner's addresses (or
    names, matched against From names); their mail is outbound."""
    mails = _read(path, zone)
    own = _own_addresses(owners, [(s.name, s.address) for s in (sender_of(m[3]) for m in mails)])
    messages = [_parse(path, line, data, MailContext(own, now=_EPOCH, internal_date=envelope_time))
                for line, data, envelope_time, _ in mails]
    grouped: dict[str, list[InboundMessage]] = {}
    for message in thread_by_subject(sorted(messages, key=lambda m: m.sent_at)):
        grouped.setdefault(message.thread_id, []).append(message)
    return [ImportedThread(thread_id, group[0].thread_name or group[0].subject, False, group)
            for thread_id, group in grouped.items()]
