"""The email channel: IMAP in (channels/email_watch.py), SMTP out (aiosmtplib), pure parsing and
composing beside it (email_parse.py, email_compose.py).

Inbound mail is emitted as InboundMessage events: Message-ID as external id, the References root
as thread id (a subject-only reply joins its correspondent's thread with that subject), automated
mail flagged in `raw` so the hub never drafts for it. Replies go to the thread's last human
sender (Reply-To honoured), threaded with In-Reply-To and References, under a Message-ID derived
from the outbox key.

What must survive a restart (the mailbox cursor, where each thread's replies go) lives in a
`StateStore` given at construction; see channels/email_state.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import datetime, timezone
from email.message import EmailMessage
from typing import Any

import aiosmtplib

from channels.base import INBOUND, ChannelEvent, InboundMessage, OutboundMessage, ParsedWebhook, SendResult, \
    WebhookRejected
from channels.email_compose import Envelope, build_reply, classify_smtp_error, message_id_for
from channels.email_imap import FetchedMail, ImapConfig
from channels.email_parse import MailContext, parse_email_safely
from channels.email_state import MemoryStateStore, StateStore, subject_key, thread_key
from channels.email_text import is_reply_subject, normalize_subject
from channels.email_watch import MailboxWatcher
from channels.handles import normalize_email

log = logging.getLogger("replydesk.channels.email")
Emit = Callable[[list[ChannelEvent]], Awaitable[None]]


class _UTCClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


def _secret(value: Any) -> str:
    return value.get_secret_value() if hasattr(value, "get_secret_value") else str(value or "")


def _plain_address(value: str) -> str | None:
    """An address, not a Message-ID: the conversation id of an email thread is "<id@host>"."""
    value = (value or "").strip()
    return None if value.startswith("<") else normalize_email(value)


def imap_config(settings: Any, overrides: Mapping[str, Any] | None = None) -> ImapConfig:
    config = ImapConfig(host=settings.imap_host, port=settings.imap_port, user=settings.imap_user,
                        password=_secret(settings.imap_password), tls=settings.imap_tls, mailbox=settings.mailbox,
                        poll_seconds=settings.poll_seconds, idle_seconds=settings.idle_seconds)
    return replace(config, **dict(overrides or {}))


class EmailChannel:
    """`settings` is the hub's EmailSettings; `imap_options` overrides ImapConfig fields
    (tests: a short backoff, IDLE off)."""

    name = "email"
    webhooks: Mapping[str, str] = {}

    def __init__(self, settings: Any, *, session: Any = None, public_url: str = "", clock: Any = None,
                 state: StateStore | None = None, imap_options: Mapping[str, Any] | None = None) -> None:
        self.settings = settings
        self.address = (settings.address or "").strip().lower()
        user = (settings.imap_user or "").strip().lower()
        self.own_addresses = frozenset(a for a in (self.address, user) if "@" in a)
        self.state: StateStore = state if state is not None else MemoryStateStore()
        self._clock = clock or _UTCClock()
        self._emit: Emit | None = None
        self._task: asyncio.Task[None] | None = None
        self.watcher = MailboxWatcher(imap_config(settings, imap_options), self.state, self._deliver, self._clock)

    # -- the Channel protocol ------------------------------------------------------------------

    def verify(self, endpoint: str, headers: Mapping[str, str], body: bytes, url: str) -> None:
        raise WebhookRejected(404, "the email channel has no webhooks")

    def parse(self, endpoint: str, headers: Mapping[str, str], body: bytes) -> ParsedWebhook:
        raise ValueError("the email channel has no webhooks")

    async def start(self, emit: Emit) -> None:
        """Start reading the mailbox in the background; returns at once (a down server is retried)."""
        self._emit = emit
        if not self.settings.imap_host:
            log.warning("email: imap_host is not set; sending only")
            return
        self._task = asyncio.create_task(self.watcher.run(), name="replydesk-email-imap")
        self._task.add_done_callback(_report_exit)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def send(self, message: OutboundMessage) -> SendResult:
        note = await self.state.get(thread_key(message.thread_id)) or {}
        to = _plain_address(message.recipient) or note.get("to")
        if not to:
            return SendResult(ok=False, error="no email address is known for this thread (no inbound mail "
                                              "from it was read by this hub)")
        if message.automated and note.get("automated_sent", 0) >= self.settings.max_automated_per_thread:
            return SendResult(ok=False, error="automated replies to this thread are capped until the contact writes")
        envelope = Envelope(self.address, self.settings.display_name, to, message.subject or note.get("subject", ""))
        message_id = message_id_for(message.idempotency_key, self.address)
        result = await self._smtp(build_reply(message, envelope, message_id=message_id, now=self._clock.now()), to)
        if result.ok and message.automated:
            await self.state.set(thread_key(message.thread_id),
                                 {**note, "automated_sent": note.get("automated_sent", 0) + 1})
        return replace(result, provider_message_id=message_id) if result.ok else result

    # -- waiting on progress (tests, diagnostics) ----------------------------------------------

    async def wait_synced(self, uid: int) -> None:
        """Until every message up to `uid` has been stored and the cursor saved."""
        await self.watcher.wait_until(lambda w: w.cursor is not None and w.cursor.since is None
                                      and w.cursor.last_uid >= uid)

    # -- inbound -------------------------------------------------------------------------------

    async def _deliver(self, mails: list[FetchedMail]) -> None:
        if self._emit is None:
            raise RuntimeError("the email channel was not started")
        contexts = [(m.data, self._context(m)) for m in mails]
        parsed = await asyncio.to_thread(lambda: [parse_email_safely(data, ctx) for data, ctx in contexts])
        messages: list[ChannelEvent] = []
        for message in parsed:  # one at a time: a subject-only reply may follow its thread in the batch
            message = await self._thread_by_subject(message)
            await self._remember(message)  # ahead of storing is harmless: a re-read recomputes the same
            messages.append(message)
        await self._emit(messages)

    def _context(self, mail: FetchedMail) -> MailContext:
        return MailContext(own_addresses=self.own_addresses, now=self._clock.now(), internal_date=mail.internal_date,
                           mailbox=self.watcher.config.mailbox, uid=mail.uid)

    async def _thread_by_subject(self, message: InboundMessage) -> InboundMessage:
        """Last resort: a "Re:" without References joins this correspondent's thread of that subject."""
        correspondent = _correspondent(message)
        if message.raw.get("thread_by") != "message-id" or not is_reply_subject(message.subject) or not correspondent:
            return message
        found = await self.state.get(subject_key(correspondent, normalize_subject(message.subject)))
        if not found or found.get("thread_id") in (None, message.thread_id):
            return message
        return replace(message, thread_id=found["thread_id"], raw={**message.raw, "thread_by": "subject"})

    async def _remember(self, message: InboundMessage) -> None:
        """Where replies in the thread go (the last human sender) and the subject index."""
        correspondent = _correspondent(message)
        subject = normalize_subject(message.subject)
        if correspondent and subject:
            await self.state.set(subject_key(correspondent, subject), {"thread_id": message.thread_id})
        key = thread_key(message.thread_id)
        note = await self.state.get(key) or {}
        if message.direction == INBOUND and not message.raw.get("automated") and correspondent:
            updated = {**note, "to": message.raw.get("reply_to") or correspondent, "subject": message.subject,
                       "automated_sent": 0}
        elif correspondent and not note.get("to") and message.direction != INBOUND:
            updated = {**note, "to": correspondent, "subject": note.get("subject") or message.subject}
        else:
            return
        if updated != note:
            await self.state.set(key, updated)

    # -- outbound ------------------------------------------------------------------------------

    async def _smtp(self, mail: EmailMessage, to: str) -> SendResult:
        settings = self.settings
        if not settings.smtp_host or not self.address:
            return SendResult(ok=False, error="channels.email.smtp_host and address must be configured")
        try:
            await aiosmtplib.send(
                mail, sender=self.address, recipients=[to], hostname=settings.smtp_host, port=settings.smtp_port,
                username=settings.smtp_user or None, password=_secret(settings.smtp_password) or None,
                use_tls=settings.smtp_tls, start_tls=False if settings.smtp_tls else settings.smtp_starttls,
                timeout=60)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            result = classify_smtp_error(exc)
            log.warning("email: sending to %s failed (%s): %s", to, "will retry" if result.retryable else "final",
                        result.error)
            return result
        return SendResult(ok=True)


def _correspondent(message: InboundMessage) -> str:
    """The other party: the sender of inbound mail, the first recipient of our own."""
    if message.direction == INBOUND:
        return message.sender.value if message.sender else ""
    return message.participants[0].value if message.participants else ""


def _report_exit(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("email: the mailbox loop stopped", exc_info=task.exception())
