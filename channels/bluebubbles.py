"""iMessage through a BlueBubbles server on the owner's Mac: webhooks in, REST out, and a
reconciliation loop that fills what the webhooks missed.

BlueBubbles webhooks carry no signature and are sent once, without retry. The webhook URL the
owner registers carries the server password (`/webhooks/bluebubbles?password=…`), compared in
constant time; that URL, and every REST URL (the server takes its password only as a query
parameter), is never logged, and error text is scrubbed of the password before it is logged or
returned. Every `reconcile_seconds` the adapter asks the server for messages created since the
newest one it has read (with an overlap), oldest first; the hub's unique (channel, guid) makes
the overlap and the webhook copies harmless.

Sending posts /api/v1/message/text with our outbox key as `tempGuid`. Current servers answer with
the message's real guid, which is also the guid of its echo (webhook or query), so the echo is
stored once. A server that answers without one gets `tempGuid` as the provider id, and the echo,
recognised by chat and text, is given that id (EchoBook).

Durable state (the reconciliation cursor, each thread's real chat guid) goes through the same
`StateStore` hook as the email adapter; without it, both live in memory for the process's life.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import aiohttp

from channels.base import (OUTBOUND, ChannelEvent, DeliveryUpdate, InboundMessage, MessageDeleted, MessageEdited,
                           OutboundMessage, ParsedWebhook, SendResult, WebhookRejected)
from channels.bluebubbles_parse import (EVENT, NAME, parse_webhook, queried_events, send_chat_guid,
                                        update_events)
from channels.email_state import MemoryStateStore, StateStore

log = logging.getLogger("replydesk.channels.bluebubbles")
QUERY_PATH = "/api/v1/message/query"
SEND_PATH = "/api/v1/message/text"
PAGE_SIZE = 200
MAX_PAGES = 10  # per pass; the cursor moves with every stored page, so the next pass goes on
OVERLAP = timedelta(minutes=10)  # re-read this much before the cursor: late rows, clock skew
INITIAL_LOOKBACK = timedelta(hours=1)  # where a process without a stored cursor starts
QUERY_TIMEOUT_SECONDS = 30.0
SEND_TIMEOUT_SECONDS = 60.0  # the server waits for Messages.app to confirm the send
ECHO_TTL = timedelta(minutes=10)
CURSOR_KEY = "reconcile"
Emit = Callable[[list[ChannelEvent]], Awaitable[None]]
_MISSING = object()


class Clock(Protocol):
    def now(self) -> datetime: ...


class _UtcClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class BlueBubblesError(Exception):
    """The server answered a query with an error."""


def _secret(value: Any) -> str:
    return str(value.get_secret_value() if hasattr(value, "get_secret_value") else value or "")


def _bounded_put(mapping: OrderedDict[Any, Any], key: Any, value: Any, limit: int = 20_000) -> None:
    mapping.pop(key, None)
    mapping[key] = value
    while len(mapping) > limit:
        mapping.popitem(last=False)


def _marks(data: Mapping[str, Any]) -> tuple[Any, ...]:
    """What can change on a message after it is stored; a re-read with the same marks is skipped."""
    return tuple(data.get(key) for key in ("dateDelivered", "dateRead", "dateEdited", "dateRetracted", "text"))


def _id_of(event: ChannelEvent) -> str | None:
    if isinstance(event, DeliveryUpdate):
        return event.provider_message_id
    return getattr(event, "external_id", None)


class EchoBook:
    """Our sends the server answered without a guid: the echo from the same chat with the same text,
    from us, within ECHO_TTL takes our tempGuid as its id; its later updates follow the alias."""

    def __init__(self) -> None:
        self._expected: OrderedDict[tuple[str, str], tuple[str, datetime]] = OrderedDict()
        self._aliases: OrderedDict[str, str] = OrderedDict()

    def expect(self, thread_id: str, text: str, temp_guid: str, now: datetime) -> None:
        _bounded_put(self._expected, (thread_id, text.strip()), (temp_guid, now + ECHO_TTL), limit=1024)

    def _alias_for(self, event: ChannelEvent, now: datetime) -> str | None:
        real = _id_of(event)
        if real in self._aliases:
            return self._aliases[real]
        if not (isinstance(event, InboundMessage) and event.direction == OUTBOUND):
            return None
        expected = self._expected.get((event.thread_id, event.text.strip()))
        if expected is None or expected[1] < now:
            return None
        del self._expected[(event.thread_id, event.text.strip())]
        _bounded_put(self._aliases, event.external_id, expected[0], limit=4096)
        return expected[0]

    def rewrite(self, events: Iterable[ChannelEvent], now: datetime) -> list[ChannelEvent]:
        out: list[ChannelEvent] = []
        for event in events:
            alias = self._alias_for(event, now) if self._expected or self._aliases else None
            if alias is None:
                out.append(event)
            elif isinstance(event, DeliveryUpdate):
                out.append(replace(event, provider_message_id=alias))
            elif isinstance(event, (InboundMessage, MessageEdited, MessageDeleted)):
                out.append(replace(event, external_id=alias, raw={**event.raw, "guid": _id_of(event)}))
        return out


class BlueBubblesChannel:
    """One BlueBubbles server: the owner's iMessage and SMS through their Mac."""

    name = NAME
    webhooks: Mapping[str, str] = {"/webhooks/bluebubbles": EVENT}

    def __init__(self, settings: Any, *, session: aiohttp.ClientSession, public_url: str = "",
                 clock: Clock | None = None, state: StateStore | None = None) -> None:
        self.settings = settings
        self._session, self._clock = session, clock or _UtcClock()
        self._base = str(settings.url or "").rstrip("/")
        self._password = _secret(settings.password)
        self._scrubber = re.compile(re.escape(self._password)) if self._password else None
        self.state: StateStore = state if state is not None else MemoryStateStore()
        self.echoes = EchoBook()
        self._chat_guids: OrderedDict[str, str] = OrderedDict()  # thread id → the chat guid last seen
        self._seen: OrderedDict[str, Any] = OrderedDict()  # guid stored → its marks when last emitted
        self._lock = asyncio.Lock()
        self._emit: Emit | None = None
        self._task: asyncio.Task[None] | None = None
        self.up: bool | None = None  # None until a reconciliation pass settles
        self.passes = 0

    def scrub(self, text: str) -> str:
        """Error text without the password (aiohttp puts request URLs in its exceptions)."""
        text = re.sub(r"(?i)(password=)[^&\s'\"]+", r"\1[redacted]", text)
        return self._scrubber.sub("[redacted]", text) if self._scrubber else text

    # -- webhooks (pure) ---------------------------------------------------------------------------

    def verify(self, endpoint: str, headers: Mapping[str, str], body: bytes, url: str) -> None:
        """The webhook URL's `?password=` must equal the server password (constant time)."""
        given = (parse_qs(urlsplit(url).query).get("password") or [""])[0]
        if not self._password or not hmac.compare_digest(given.encode(), self._password.encode()):
            raise WebhookRejected(403, "missing or wrong password in the BlueBubbles webhook URL")

    def parse(self, endpoint: str, headers: Mapping[str, str], body: bytes) -> ParsedWebhook:
        """Pure but for the echo aliases of sends the server answered without a guid."""
        parsed = parse_webhook(body)
        return replace(parsed, events=self.echoes.rewrite(parsed.events, self._clock.now()))

    async def acknowledge(self, events: Iterable[ChannelEvent]) -> None:
        """After storing: which guids are stored, and each thread's real chat guid (to send to)."""
        for event in events:
            if not isinstance(event, InboundMessage):
                continue
            real_guid = str(event.raw.get("guid") or event.external_id)
            if real_guid not in self._seen:
                _bounded_put(self._seen, real_guid, None)
            await self._note_chat(event.thread_id, str(event.raw.get("chat_guid") or ""))

    async def _note_chat(self, thread_id: str, chat_guid: str) -> None:
        if chat_guid and self._chat_guids.get(thread_id) != chat_guid:
            _bounded_put(self._chat_guids, thread_id, chat_guid)
            await self.state.set(f"chat:{thread_id}", {"chat_guid": chat_guid})

    async def _chat_guid_for(self, thread_id: str) -> str:
        known = self._chat_guids.get(thread_id)
        if known is None:
            stored = await self.state.get(f"chat:{thread_id}") or {}
            known = str(stored.get("chat_guid") or "") or None
        return known or send_chat_guid(thread_id)

    # -- REST --------------------------------------------------------------------------------------

    async def _post(self, path: str, body: Mapping[str, Any], timeout: float) -> tuple[int, dict[str, Any]]:
        async with self._session.post(self._base + path, params={"password": self._password}, json=dict(body),
                                      timeout=aiohttp.ClientTimeout(total=timeout)) as response:
            try:
                payload = await response.json(content_type=None)
            except ValueError:
                payload = None
            return response.status, payload if isinstance(payload, dict) else {}

    def _server_error(self, status: int, payload: Mapping[str, Any]) -> str:
        error = payload.get("error")
        detail = error.get("message") if isinstance(error, Mapping) else error
        return self.scrub(f"BlueBubbles answered HTTP {status}: {detail or payload.get('message') or 'no detail'}")

    # -- sending -----------------------------------------------------------------------------------

    async def send(self, message: OutboundMessage) -> SendResult:
        """POST /api/v1/message/text with our outbox key as tempGuid."""
        if not message.text.strip():
            return SendResult(False, error="nothing to send: the reply is empty")
        try:
            chat_guid = await self._chat_guid_for(message.thread_id or message.recipient)
        except ValueError as exc:
            return SendResult(False, error=str(exc))
        body = {"chatGuid": chat_guid, "message": message.text, "tempGuid": message.idempotency_key}
        try:
            status, payload = await self._post(SEND_PATH, body, SEND_TIMEOUT_SECONDS)
        except aiohttp.ClientConnectorError as exc:  # the Mac is unreachable: nothing was sent
            return SendResult(False, error=self.scrub(f"cannot reach the BlueBubbles server: {exc}"), retryable=True)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            return SendResult(False, error=self.scrub(f"outcome unknown ({type(exc).__name__}: {exc}); check the "
                                                      "conversation before sending again"))
        if status != 200:
            # 500 is the server's "Message Send Error", after Messages.app may have sent it: final.
            # 502/503/504 come from a proxy or tunnel in front of a Mac that is down: retryable.
            return SendResult(False, error=self._server_error(status, payload),
                              retryable=status in (429, 502, 503, 504))
        return self._sent(message, payload)

    def _sent(self, message: OutboundMessage, payload: Mapping[str, Any]) -> SendResult:
        data = payload.get("data") if isinstance(payload.get("data"), Mapping) else {}
        guid = str(data.get("guid") or "")
        if guid and guid != message.idempotency_key:
            return SendResult(True, provider_message_id=guid)
        self.echoes.expect(message.thread_id, message.text, message.idempotency_key, self._clock.now())
        return SendResult(True, provider_message_id=message.idempotency_key)

    # -- reconciliation ----------------------------------------------------------------------------

    async def _cursor(self) -> int:
        stored = await self.state.get(CURSOR_KEY) or {}
        if stored.get("after_ms") is not None:
            return int(stored["after_ms"])
        return int((self._clock.now() - INITIAL_LOOKBACK).timestamp() * 1000)

    def _fresh_events(self, messages: list[Mapping[str, Any]]) -> list[ChannelEvent]:
        """New messages in full; stored ones only when an edit, receipt or unsend is new."""
        events: list[ChannelEvent] = []
        for data in messages:
            guid = str(data.get("guid") or "")
            seen = self._seen.get(guid, _MISSING)
            if seen == _marks(data):
                continue
            try:
                events += queried_events(data) if seen is _MISSING else update_events(data)
            except ValueError as exc:
                log.warning("bluebubbles: message %s skipped, malformed: %s", guid or "?", exc)
        return self.echoes.rewrite(events, self._clock.now())

    async def _page(self, after_ms: int, offset: int) -> list[Mapping[str, Any]]:
        body = {"limit": PAGE_SIZE, "offset": offset, "sort": "ASC", "after": after_ms,
                "with": ["chat", "chat.participants", "attachment", "handle"]}
        status, payload = await self._post(QUERY_PATH, body, QUERY_TIMEOUT_SECONDS)
        if status != 200:
            raise BlueBubblesError(self._server_error(status, payload))
        return [m for m in payload.get("data") or [] if isinstance(m, Mapping)]

    async def reconcile(self) -> int:
        """One pass: messages created after the cursor (less OVERLAP), oldest first, page by page;
        each page is emitted (stored durably) before the cursor moves past it. Returns the number
        of events emitted."""
        if self._emit is None:
            raise RuntimeError("bluebubbles: reconcile() before start()")
        async with self._lock:
            cursor = await self._cursor()
            after = cursor - int(OVERLAP.total_seconds() * 1000)
            emitted = 0
            for page in range(MAX_PAGES):
                messages = await self._page(after, page * PAGE_SIZE)
                events = self._fresh_events(messages)
                if events:
                    await self._emit(events)
                    emitted += len(events)
                for data in messages:
                    _bounded_put(self._seen, str(data.get("guid") or ""), _marks(data))
                cursor = max([cursor, *(int(m.get("dateCreated") or 0) for m in messages)])
                await self.state.set(CURSOR_KEY, {"after_ms": cursor})
                if len(messages) < PAGE_SIZE:
                    break
            return emitted

    async def reconcile_pass(self) -> None:
        """One reconciliation inside its error boundary: log when the server goes down, and once
        when it is back, never on every failed pass."""
        try:
            await self.reconcile()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if self.up is not False:
                log.warning("bluebubbles: reconciliation failed (%s); retrying every %.0f s",
                            self.scrub(f"{type(exc).__name__}: {exc}"), self.settings.reconcile_seconds)
            self.up = False
        else:
            if self.up is False:
                log.info("bluebubbles: the server answers again; reconciliation resumed")
            self.up = True
        finally:
            self.passes += 1

    async def _run(self) -> None:
        while True:
            await self.reconcile_pass()
            await asyncio.sleep(float(self.settings.reconcile_seconds))

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self, emit: Emit) -> None:
        """Start reconciling (its first pass fills the gap since the stored cursor)."""
        self._emit = emit
        if not self._base or not self._password:
            log.warning("bluebubbles: channels.bluebubbles.url or .password is not set; not reconciling")
            return
        self._task = asyncio.create_task(self._run(), name="replydesk-bluebubbles-reconcile")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
