"""Pure: one raw RFC 5322 message (bytes, as IMAP returns it) → one InboundMessage.

The brain reads `text`: the plain part (else the HTML part as text) without the quoted history.
The full text is kept in `raw["text_full"]` and the HTML in `html`. Attachments are described
(name, type, size), never stored. Malformed mail degrades (raw headers, INTERNALDATE for a
missing Date, no sender for an unreadable From) and never raises.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from typing import Any

from channels.base import INBOUND, OUTBOUND, Attachment, Handle, InboundMessage
from channels.email_headers import (automated_reason, fallback_id, header, message_ids, raw_header,
                                    recipients, reply_address, sender_of, sent_at, threading)
from channels.email_text import clean_text, decode_bytes, html_to_text, new_text, normalize_subject
from channels.handles import normalize_email

log = logging.getLogger("replydesk.channels.email")
CHANNEL = "email"
MAX_STORED_CHARS = 1_000_000  # full text and HTML kept per message; a bigger newsletter is cut
MAX_ID, MAX_ADDRESS, MAX_NAME, MAX_SUBJECT = 500, 254, 255, 998  # what the database columns hold


@dataclass(frozen=True)
class MailContext:
    """What parsing needs besides the bytes: who we are, and what the server and clock say."""

    own_addresses: frozenset[str]
    now: datetime
    internal_date: datetime | None = None
    mailbox: str = ""
    uid: int | None = None


@dataclass
class _Parts:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    forwarded: list[EmailMessage] = field(default_factory=list)


def _load(data: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message


def decode_part(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return clean_text(decode_bytes(payload, part.get_content_charset()))


def _filename(part: Message) -> str:
    try:
        return clean_text(part.get_filename() or "")
    except Exception:
        return ""


def _attachment(part: Message) -> Attachment:
    content_type = part.get_content_type()
    if content_type == "message/rfc822":
        inner = part.get_payload(0) if part.is_multipart() else None
        kind, size = "message", len(inner.as_bytes()) if isinstance(inner, Message) else None
        name = _filename(part) or (header(inner, "Subject") if isinstance(inner, Message) else "")
    else:
        payload = part.get_payload(decode=True)
        kind = "photo" if part.get_content_maintype() == "image" else "file"
        size, name = (len(payload) if isinstance(payload, bytes) else None), _filename(part)
    extra = {"inline": True} if part.get_content_disposition() == "inline" else {}
    return Attachment(kind=kind, name=name, mime_type=content_type, size=size, extra=extra)


def _walk(part: Message, parts: _Parts) -> None:
    """Depth-first over the MIME tree; an attached message is described, not descended into."""
    content_type = part.get_content_type()
    if content_type == "message/rfc822":
        parts.attachments.append(_attachment(part))
        inner = part.get_payload(0) if part.is_multipart() else None
        if isinstance(inner, EmailMessage):
            parts.forwarded.append(inner)
    elif part.is_multipart():
        for child in part.get_payload():
            if isinstance(child, Message):
                _walk(child, parts)
    elif (content_type in ("text/plain", "text/html") and part.get_content_disposition() != "attachment"
          and not _filename(part)):
        (parts.plain if content_type == "text/plain" else parts.html).append(decode_part(part))
    else:
        parts.attachments.append(_attachment(part))


def _body_text(parts: _Parts) -> str:
    """Plain text preferred (several inline plain parts are one body), else the HTML as text."""
    if any(p.strip() for p in parts.plain):
        return "\n".join(p.strip("\n") for p in parts.plain)
    return "\n\n".join(html_to_text(h) for h in parts.html)


def _forwarded_summary(inner: EmailMessage) -> tuple[str, dict[str, str]]:
    parts = _Parts()
    _walk(inner, parts)
    meta = {"from": header(inner, "From"), "subject": header(inner, "Subject"), "date": header(inner, "Date")}
    lines = [f"{k.capitalize()}: {v}" for k, v in meta.items() if v]
    return "Forwarded message:\n" + "\n".join(lines) + "\n\n" + new_text(_body_text(parts))[0], meta


def _brain_text(message: EmailMessage, parts: _Parts, full: str,
                subject: str) -> tuple[str, bool, list[dict[str, str]]]:
    """The new text, whether it is a forward, and the messages forwarded as attachments, whose
    text is appended (not for bounce reports, which quote the bounced mail)."""
    text, inline_forward = new_text(full, subject)
    attached: list[dict[str, str]] = []
    if message.get_content_type() == "multipart/report":
        return text, inline_forward, attached
    for inner in parts.forwarded:
        summary, meta = _forwarded_summary(inner)
        text = f"{text}\n\n{summary}".strip()
        attached.append(meta)
    return text, inline_forward or bool(attached), attached


def _handle(address: str) -> Handle | None:
    value = normalize_email(address) or (address if "@" in address else "")
    return Handle("email", value) if value and len(value) <= MAX_ADDRESS else None


def _fit_id(value: str | None) -> str | None:
    """Ids longer than the database keeps (512) are replaced by their hash, the same every time."""
    if value is None or len(value) <= MAX_ID:
        return value
    return "hash:" + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:40]


def _raw(message: EmailMessage, context: MailContext, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "mailbox": context.mailbox, "uid": context.uid,
        "internal_date": context.internal_date.isoformat() if context.internal_date else None,
        "message_id": next(iter(message_ids(raw_header(message, "Message-ID"))), None),
        "in_reply_to": message_ids(raw_header(message, "In-Reply-To")),
        "content_type": message.get_content_type(),
        "list_id": header(message, "List-Id") or None, **extra,
    }


def parse_email(data: bytes, context: MailContext) -> InboundMessage:
    message = _load(data)
    parts = _Parts()
    _walk(message, parts)
    subject = header(message, "Subject")
    full = _body_text(parts)
    text, forwarded, attached = _brain_text(message, parts, full, subject)
    external_id = (message_ids(raw_header(message, "Message-ID")) or [fallback_id(message, full)])[0]
    thread = threading(message, external_id)
    sender = sender_of(message)
    when, date_source = sent_at(message, context.internal_date, context.now)
    outbound = bool(sender.address) and sender.address in context.own_addresses
    reason = automated_reason(message, sender.address, context.own_addresses, subject)
    to = [a for a in recipients(message) if a not in context.own_addresses]
    raw = _raw(message, context, {
        "references": list(thread.references), "thread_by": thread.how, "date_source": date_source,
        "from": sender.raw, "to": to, "reply_to": reply_address(message, sender) or None,
        "text_full": full[:MAX_STORED_CHARS], "forwarded": forwarded, "forwarded_messages": attached,
        "automated": reason is not None,
        "automated_reason": reason})
    participants = tuple(h for h in map(_handle, to) if h) if outbound else ()
    return InboundMessage(
        channel=CHANNEL, external_id=_fit_id(external_id) or external_id, thread_id=_fit_id(thread.thread_id) or "",
        sender=_handle(sender.address), text=text, sent_at=when, direction=OUTBOUND if outbound else INBOUND,
        sender_name=sender.name[:MAX_NAME], thread_name=normalize_subject(subject)[:MAX_NAME],
        subject=subject[:MAX_SUBJECT], html="\n".join(parts.html)[:MAX_STORED_CHARS] or None,
        participants=participants, attachments=tuple(parts.attachments),
        reply_to_external_id=_fit_id(thread.reply_to), raw=raw)


def parse_email_safely(data: bytes, context: MailContext) -> InboundMessage:
    """parse_email, or, if it fails after all, a stub that keeps the message visible (no draft:
    it has no text) rather than losing it or stopping the mailbox loop."""
    try:
        return parse_email(data, context)
    except Exception as exc:  # one broken message must not stop the mailbox
        log.exception("email: could not parse message uid=%s in %s", context.uid, context.mailbox)
        digest = fallback_id(Message(), data.decode("latin-1"))
        return InboundMessage(channel=CHANNEL, external_id=digest, thread_id=digest, sender=None, text="",
                              sent_at=context.internal_date or context.now,
                              raw={"parse_error": f"{type(exc).__name__}: {exc}", "mailbox": context.mailbox,
                                   "uid": context.uid, "automated": False})
