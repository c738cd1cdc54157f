"""Pure header logic for inbound mail: safe header reading, Message-IDs and threading, addresses,
dates, and the signs of automated mail (RFC 3834 and the usual bounce and list markers).

Nothing here raises on malformed input: a header that does not parse is read raw instead.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any
from datetime import datetime, timezone
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.utils import parsedate_to_datetime

from channels.email_text import clean_text

_MSG_ID = re.compile(r"<([^<>\s]+)>")
_BARE_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
_NO_REPLY_LOCALS = {"mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply", "do-not-reply",
                    "do_not_reply", "bounce", "bounces"}
_LIST_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
_AUTOREPLY_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Reply")
_AUTOREPLY_SUBJECT = re.compile(
    r"^\s*(automatic reply|auto(?:matic)?[ -]?reply|out of (?:the )?office|abwesenheitsnotiz|"
    r"automatische antwort|réponse automatique|respuesta automática|risposta automatica|autosvar|"
    r"automatisch antwoord)\s*:", re.IGNORECASE)


@dataclass(frozen=True)
class Sender:
    address: str  # lower-cased; "" when none could be read
    name: str
    raw: str


@dataclass(frozen=True)
class Threading:
    thread_id: str
    reply_to: str | None
    references: tuple[str, ...]
    how: str  # references, in-reply-to, message-id


def _raw_value(message: Message, name: str) -> str:
    if isinstance(message, EmailMessage):
        return str(next((v for k, v in message.raw_items() if k.lower() == name.lower()), ""))
    return str(message.get(name, ""))


def header(message: Message, name: str) -> str:
    """One header as text, RFC 2047 decoded. Raw 8-bit headers (the parser would turn them into
    U+FFFD) and headers the structured parser fails on are decoded from the raw value."""
    raw = _raw_value(message, name)
    if not raw:
        return ""
    if any("\udc80" <= char <= "\udcff" for char in raw):
        return _decode_raw(clean_text(raw)).strip()
    try:
        return clean_text(str(message.get(name))).strip()
    except Exception:  # the stdlib header parser has raised on odd input before; read it raw
        return clean_text(_decode_raw(raw)).strip()


def raw_header(message: Message, name: str) -> str:
    """The undecoded value, for ids and addresses whose syntax matters more than their display."""
    return clean_text(_raw_value(message, name)).strip()


def _decode_raw(value: str) -> str:
    try:
        return str(make_header(decode_header(value)))
    except Exception:
        return value


def message_ids(value: str) -> list[str]:
    """The "<id>" tokens of a Message-ID, In-Reply-To or References value, in order, once each."""
    seen: dict[str, None] = {}
    for token in _MSG_ID.findall(value or ""):
        seen.setdefault(f"<{token}>", None)
    return list(seen)


def fallback_id(message: Message, body: str) -> str:
    """A stable id for mail without a Message-ID: the same message hashes the same on every fetch."""
    digest = hashlib.sha256()
    for name in ("From", "To", "Cc", "Date", "Subject", "In-Reply-To", "References"):
        digest.update(name.encode() + b":" + raw_header(message, name).encode("utf-8", "replace") + b"\n")
    digest.update(body.strip().encode("utf-8", "replace"))
    return f"hash:{digest.hexdigest()[:40]}"


def threading(message: Message, own_id: str) -> Threading:
    """The thread is the root of References, else the message replied to, else the message itself.
    (Subject matching, the last resort, needs history and is done by the adapter.)"""
    references = tuple(message_ids(raw_header(message, "References")))
    in_reply_to = message_ids(raw_header(message, "In-Reply-To"))
    reply_to = in_reply_to[-1] if in_reply_to else (references[-1] if references else None)
    if references:
        return Threading(references[0], reply_to, references, "references")
    if in_reply_to:
        return Threading(in_reply_to[0], reply_to, (), "in-reply-to")
    return Threading(own_id, None, (), "message-id")


def _address_header(message: Message, name: str) -> Sender | None:
    raw = raw_header(message, name)
    if not raw:
        return None
    try:
        addresses = message[name].addresses  # type: ignore[union-attr]
        first = next((a for a in addresses if "@" in a.addr_spec), None)
        if first is not None:
            return Sender(clean_text(first.addr_spec).strip().lower(), clean_text(first.display_name).strip(), raw)
    except Exception:
        pass  # malformed: salvage below
    found = _BARE_ADDRESS.search(raw)
    name_part = _decode_raw(raw[:found.start()] if found else raw).replace("<", "").replace(">", "").strip(' "\t')
    return Sender(found.group(0).lower() if found else "", name_part, raw)


def sender_of(message: Message) -> Sender:
    """From; a From without a readable address falls back to Sender, Reply-To, Return-Path."""
    from_ = _address_header(message, "From")
    if from_ is not None and from_.address:
        return from_
    for name in ("Sender", "Reply-To", "Return-Path"):
        other = _address_header(message, name)
        if other is not None and other.address:
            return Sender(other.address, (from_.name if from_ else "") or other.name, from_.raw if from_ else "")
    return from_ or Sender("", "", "")


def reply_address(message: Message, sender: Sender) -> str:
    """Where an answer goes: Reply-To when given, else the sender."""
    reply_to = _address_header(message, "Reply-To")
    return reply_to.address if reply_to is not None and reply_to.address else sender.address


def recipients(message: Message) -> list[str]:
    """To and Cc addresses (every such header, lower-cased, once each)."""
    found: list[str] = []
    for name in ("To", "Cc"):
        try:
            values: list[Any] = message.get_all(name) or []  # AddressHeader objects under policy.default
            found += [clean_text(a.addr_spec).lower() for v in values for a in v.addresses if "@" in a.addr_spec]
        except Exception:
            found += [m.lower() for m in _BARE_ADDRESS.findall(raw_header(message, name))]
    return list(dict.fromkeys(found))


def sent_at(message: Message, internal_date: datetime | None, now: datetime) -> tuple[datetime, str]:
    """Date header, else the server's INTERNALDATE, else now; always timezone-aware (UTC)."""
    raw = raw_header(message, "Date")
    if raw:
        try:
            parsed = parsedate_to_datetime(raw)
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=timezone.utc)
            return parsed.astimezone(timezone.utc), "date"
        except (TypeError, ValueError, IndexError, OverflowError):
            pass
    if internal_date is not None:
        return internal_date.astimezone(timezone.utc), "internaldate"
    return now, "now"


def automated_reason(message: Message, sender: str, own: frozenset[str], subject: str) -> str | None:
    """Why this mail must never be drafted for or answered, or None when a person wrote it."""
    local = sender.partition("@")[0]
    content_type = message.get_content_type()
    checks = (
        (sender in own, "sent from our own address"),
        (header(message, "Auto-Submitted").lower() not in ("", "no"),
         f"Auto-Submitted: {header(message, 'Auto-Submitted')}"),
        (any(header(message, h) for h in _AUTOREPLY_HEADERS), "autoreply header"),
        (bool(_AUTOREPLY_SUBJECT.match(subject)), "autoreply subject"),
        (header(message, "Precedence").lower() in _LIST_PRECEDENCE, f"Precedence: {header(message, 'Precedence')}"),
        (bool(header(message, "List-Id")), "List-Id (mailing list)"),
        (bool(header(message, "X-Auto-Response-Suppress")), "X-Auto-Response-Suppress"),
        (raw_header(message, "Return-Path").replace(" ", "") == "<>", "empty Return-Path (a bounce)"),
        (content_type == "multipart/report",
         f"multipart/report ({message.get_param('report-type') or 'report'})"),
        (local in _NO_REPLY_LOCALS, f"{local} sender"),
    )
    return next((reason for matched, reason in checks if matched), None)


