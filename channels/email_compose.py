"""Pure: an OutboundMessage → the reply's MIME message, and an SMTP failure → a SendResult.

The Message-ID is derived from the outbox idempotency key, so a retry of the same outbox item
carries the same id (recipients' clients fold a duplicate that a lost "250 OK" caused).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

import aiosmtplib

from channels.base import OutboundMessage, SendResult
from channels.email_text import reply_subject, text_to_html

_MSG_ID = re.compile(r"^<[^<>\s@]+@[^<>\s@]+>$")
MAX_REFERENCES = 20


@dataclass(frozen=True)
class Envelope:
    """Who a reply is from and to, and what it is called."""

    from_address: str
    display_name: str
    to_address: str
    subject: str


def message_id_for(idempotency_key: str, from_address: str) -> str:
    """The same key gives the same Message-ID, on every attempt and in every process."""
    domain = from_address.rpartition("@")[2].strip().lower() or "replydesk.invalid"
    return f"<replydesk.{hashlib.sha256(idempotency_key.encode('utf-8')).hexdigest()[:40]}@{domain}>"


def is_message_id(value: str | None) -> bool:
    return bool(value) and bool(_MSG_ID.match(value or ""))


def reference_chain(message: OutboundMessage) -> tuple[str | None, list[str]]:
    """(In-Reply-To, References). References start with the thread's root (the conversation id)
    so that every answer threads back to the same conversation, then the thread's earlier ids,
    then the message answered; long chains keep the root and the newest ids (RFC 5322 3.6.4)."""
    chain: dict[str, None] = {}
    for value in (message.thread_id, *message.references, message.reply_to_external_id):
        if is_message_id(value):
            chain.setdefault(value, None)  # type: ignore[arg-type]
    ids = list(chain)
    if len(ids) > MAX_REFERENCES:
        ids = ids[:1] + ids[-(MAX_REFERENCES - 1):]
    in_reply_to = message.reply_to_external_id if is_message_id(message.reply_to_external_id) else None
    return in_reply_to or (ids[-1] if ids else None), ids


def build_reply(message: OutboundMessage, envelope: Envelope, *, message_id: str, now: datetime) -> EmailMessage:
    """text/plain + text/html (multipart/alternative), threaded, marked when sent automatically."""
    mail = EmailMessage()
    mail["From"] = formataddr((envelope.display_name, envelope.from_address)) if envelope.display_name \
        else envelope.from_address
    mail["To"] = envelope.to_address
    mail["Subject"] = reply_subject(envelope.subject)
    mail["Date"] = format_datetime(now)
    mail["Message-ID"] = message_id
    in_reply_to, references = reference_chain(message)
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to
    if references:
        mail["References"] = " ".join(references)
    if message.automated:
        mail["Auto-Submitted"] = "auto-replied"  # RFC 3834: automatic responders must not answer it
    mail.set_content(message.text)
    mail.add_alternative(message.html or text_to_html(message.text), subtype="html")
    return mail


def _code_result(code: int, text: str) -> SendResult:
    error = f"SMTP {code}: {text}".strip()
    return SendResult(ok=False, error=error, retryable=400 <= code < 500)


def classify_smtp_error(exc: Exception) -> SendResult:
    """4xx and lost connections are worth retrying; 5xx (rejected recipient, auth, policy) are not."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        worst = max(exc.recipients, key=lambda refused: refused.code)
        return _code_result(worst.code, f"{worst.recipient}: {worst.message}")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return _code_result(exc.code, exc.message)
    if isinstance(exc, (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPConnectError,
                        aiosmtplib.SMTPTimeoutError, ConnectionError, TimeoutError, OSError)):
        return SendResult(ok=False, error=f"SMTP connection failed: {type(exc).__name__}: {exc}", retryable=True)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return SendResult(ok=False, error=f"SMTP server does not support what is configured: {exc}")
    return SendResult(ok=False, error=f"{type(exc).__name__}: {exc}")
