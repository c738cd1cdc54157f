"""Twilio Messaging (WhatsApp and SMS): signed webhooks in, the Messages API out, media on demand.

Verification is the SDK's RequestValidator against the URL Twilio called (the hub passes the
configured public URL). Parsing is pure (channels/twilio_parse.py). Sending uses the SDK's async
client on the hub's shared aiohttp session; it retries nothing itself: a 429 or a 5xx becomes a
retryable SendResult (with Twilio's Retry-After when it gives one) and the outbox job runs again
on the hub's clock. Twilio has no idempotency key for creating messages, so a send whose outcome
is unknown (a timeout after the request left) is never retried.

WhatsApp allows free-form messages only within 24 hours of the contact's last message. The hub
does not tell the adapter when that was yet (see `last_inbound_at` below); until it does, the
adapter remembers the WhatsApp messages it acknowledged in this process.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import aiohttp
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from channels.base import (ChannelEvent, InboundMessage, OutboundMessage, ParsedWebhook, SendResult,
                           WebhookRejected)
from channels.twilio_parse import (MESSAGE, NAME, STATUS, WHATSAPP, address_for, form_params, is_twilio_host,
                                   parse_webhook, split_thread)

log = logging.getLogger("replydesk.channels.twilio")
SIGNATURE_HEADER = "X-Twilio-Signature"
STATUS_PATH = "/webhooks/twilio/status"
DEFAULT_API = "https://api.twilio.com"
API_VERSION_PATH = "/2010-04-01/"
SEND_TIMEOUT_SECONDS = 20.0
MEDIA_TIMEOUT_SECONDS = 30.0
MEDIA_MAX_REDIRECTS = 3
WHATSAPP_WINDOW = timedelta(hours=24)
OUTSIDE_WINDOW = "outside WhatsApp's 24-hour window and no approved template configured (63016)"
RATE_LIMITED = 20429
Emit = Callable[[list[ChannelEvent]], Awaitable[None]]
_last_headers: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "twilio_last_headers", default=None)


class Clock(Protocol):
    def now(self) -> datetime: ...


class _UtcClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class MediaRejected(Exception):
    """A media URL that is not Twilio's, redirects elsewhere, is too large or fails."""


@dataclass(frozen=True)
class FetchedMedia:
    url: str  # where the bytes finally came from
    content_type: str
    size: int
    data: bytes


class SessionHttpClient(AsyncTwilioHttpClient):
    """twilio's async HTTP client on the hub's shared session, with a time limit on every call and
    the Authorization header built without aiohttp's deprecated BasicAuth. It keeps the last
    response's headers per task, since the SDK's exceptions drop Retry-After."""

    def __init__(self, session: aiohttp.ClientSession, timeout: float = SEND_TIMEOUT_SECONDS) -> None:
        super().__init__(pool_connections=False, timeout=timeout)
        self.session = session  # shared and owned by the hub: never closed here

    async def request(self, method: str, url: str, params: Any = None, data: Any = None, headers: Any = None,
                      auth: Any = None, timeout: float | None = None,
                      allow_redirects: bool = False) -> TwilioResponse:
        headers = dict(headers or {})
        if auth is not None:
            headers["Authorization"] = aiohttp.encode_basic_auth(auth[0], auth[1])
        kwargs = {"method": method.upper(), "url": url, "params": params, "data": data, "headers": headers,
                  "timeout": aiohttp.ClientTimeout(total=timeout or self.timeout),
                  "allow_redirects": allow_redirects}
        self.log_request(kwargs)  # the SDK's own log lines leave Authorization out
        async with self.session.request(**kwargs) as response:
            text = await response.text()
            self.log_response(response.status, response)
        _last_headers.set(dict(response.headers))
        return TwilioResponse(response.status, text, response.headers)


def _secret(value: Any) -> str:
    return str(value.get_secret_value() if hasattr(value, "get_secret_value") else value or "")


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    return str(value or "").strip()


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    try:
        return max(0.0, float(_header(headers or {}, "Retry-After")))
    except ValueError:
        return None


def send_failure(exc: TwilioRestException | TwilioServiceException,
                 headers: Mapping[str, str] | None) -> SendResult:
    """429 (20429) and 5xx are retryable, after Retry-After when given; other 4xx are final and
    carry Twilio's error code and message."""
    status, code = int(exc.status or 0), exc.code
    message = str(getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", "") or exc)
    message = message.removeprefix("Unable to create record: ")
    error = f"{code}: {message}" if code else message
    if status == 429 or code == RATE_LIMITED or status >= 500:
        return SendResult(False, error=error, retryable=True, retry_after=_retry_after(headers))
    return SendResult(False, error=error)


def window_open(last_inbound_at: datetime | None, now: datetime) -> bool:
    """Unknown counts as open: Twilio then fails the message with 63016, which the owner is told."""
    return last_inbound_at is None or now - last_inbound_at < WHATSAPP_WINDOW


class TwilioChannel:
    """WhatsApp and SMS through one Twilio account."""

    name = NAME
    webhooks: Mapping[str, str] = {"/webhooks/twilio": MESSAGE, STATUS_PATH: STATUS}

    def __init__(self, settings: Any, *, session: aiohttp.ClientSession, public_url: str = "",
                 clock: Clock | None = None) -> None:
        self.settings = settings
        self._clock: Clock = clock or _UtcClock()
        self._session = session
        self._public_url = (public_url or "").rstrip("/")
        token = _secret(settings.auth_token)
        self._authorization = aiohttp.encode_basic_auth(settings.account_sid, token) if settings.account_sid else ""
        self._validator = RequestValidator(token) if token else None
        self._client = Client(settings.account_sid or None, token or None,
                              http_client=SessionHttpClient(session))
        self._api_base = str(settings.api_base_url or DEFAULT_API).rstrip("/")
        self._client.api.base_url = self._api_base  # the Domain's documented attribute; a fake in tests
        self._last_inbound: OrderedDict[str, datetime] = OrderedDict()

    # -- webhooks (pure) ---------------------------------------------------------------------------

    def verify(self, endpoint: str, headers: Mapping[str, str], body: bytes, url: str) -> None:
        """X-Twilio-Signature over the URL Twilio called and the posted form, by the SDK."""
        signature = _header(headers, SIGNATURE_HEADER)
        if not signature:
            raise WebhookRejected(403, "missing X-Twilio-Signature")
        if self._validator is None:
            raise WebhookRejected(403, "no Twilio auth token configured")
        params: Any = form_params(body)
        if "bodySHA256=" in urlsplit(url).query:  # JSON-bodied callbacks sign a hash of the body
            params = body.decode("utf-8", errors="replace")
        if not self._validator.validate(url, params, signature):
            raise WebhookRejected(403, "bad Twilio signature")

    def parse(self, endpoint: str, headers: Mapping[str, str], body: bytes) -> ParsedWebhook:
        return parse_webhook(endpoint, body, self._clock.now())

    async def acknowledge(self, events: Iterable[ChannelEvent]) -> None:
        """After storing: remember when each WhatsApp contact last wrote (the 24-hour window)."""
        for event in events:
            if isinstance(event, InboundMessage) and event.raw.get("network") == WHATSAPP:
                self.note_inbound(event.thread_id, event.sent_at)

    def note_inbound(self, thread_id: str, at: datetime) -> None:
        previous = self._last_inbound.pop(thread_id, None)
        self._last_inbound[thread_id] = max(at, previous) if previous else at
        while len(self._last_inbound) > 10_000:
            self._last_inbound.popitem(last=False)

    # -- sending -----------------------------------------------------------------------------------

    def _sender(self, network: str) -> str:
        configured = (self.settings.whatsapp_from if network == WHATSAPP else self.settings.sms_from) or ""
        configured = configured.strip()
        if network == WHATSAPP and configured and not configured.lower().startswith("whatsapp:"):
            configured = f"whatsapp:{configured}"
        return configured

    def _content(self, network: str, message: OutboundMessage) -> dict[str, Any] | SendResult:
        """The body, or the approved template outside WhatsApp's 24-hour window.
        `last_inbound_at` is the field the hub is asked to add to OutboundMessage."""
        known = [getattr(message, "last_inbound_at", None), self._last_inbound.get(message.thread_id)]
        last = max((at for at in known if at is not None), default=None)
        if network != WHATSAPP or window_open(last, self._clock.now()):
            return {"body": message.text}
        template = (self.settings.whatsapp_template_sid or "").strip()
        if not template:
            return SendResult(False, error=OUTSIDE_WINDOW)
        return {"content_sid": template, "content_variables": json.dumps({"1": message.text})}

    async def send(self, message: OutboundMessage) -> SendResult:
        """One Messages API create, on the network the conversation came in on."""
        try:
            network, number = split_thread(message.thread_id or message.recipient)
        except ValueError as exc:
            return SendResult(False, error=str(exc))
        sender = self._sender(network)
        if not sender:
            return SendResult(False, error=f"channels.twilio.{network}_from is not set")
        if not message.text.strip():
            return SendResult(False, error="nothing to send: the reply is empty")
        content = self._content(network, message)
        if isinstance(content, SendResult):
            return content
        callback = self._public_url + STATUS_PATH if self._public_url else None
        return await self._create(to=address_for(network, number), from_=sender, status_callback=callback,
                                  **content)

    async def _create(self, **params: Any) -> SendResult:
        _last_headers.set(None)
        try:
            created = await self._client.messages.create_async(
                **{key: value for key, value in params.items() if value is not None})
        except (TwilioRestException, TwilioServiceException) as exc:
            return send_failure(exc, _last_headers.get())
        except aiohttp.ClientConnectorError as exc:  # nothing reached Twilio
            return SendResult(False, error=f"cannot reach Twilio: {exc}", retryable=True)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            return SendResult(False, error=f"outcome unknown ({type(exc).__name__}: {exc}); check the "
                                           "conversation before sending again")
        return SendResult(True, provider_message_id=created.sid)

    # -- media -------------------------------------------------------------------------------------

    def _allowed(self, url: str) -> bool:
        """Twilio's hosts over HTTPS, or the configured API host (a fake server in tests)."""
        parts, api = urlsplit(url), urlsplit(self._api_base)
        same_as_api = (parts.scheme, parts.hostname, parts.port) == (api.scheme, api.hostname, api.port)
        return is_twilio_host(url) or same_as_api

    def _auth_for(self, url: str) -> dict[str, str]:
        """Credentials go to the REST API's resources only, never to the CDN a media URL redirects to."""
        parts, api_host = urlsplit(url), urlsplit(self._api_base).hostname
        to_api = parts.hostname in (api_host, "api.twilio.com") and parts.path.startswith(API_VERSION_PATH)
        return {"Authorization": self._authorization} if self._authorization and to_api else {}

    async def fetch_media(self, url: str) -> FetchedMedia:
        """Fetch one MediaUrlN: only Twilio hosts, basic auth to the API, each redirect checked
        (no hop to another host), at most `media_max_bytes`, within MEDIA_TIMEOUT_SECONDS.
        Raises MediaRejected for anything else, network failures included."""
        try:
            return await self._fetch(url)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise MediaRejected(f"fetching Twilio media failed: {type(exc).__name__}: {exc}") from exc

    async def _fetch(self, url: str) -> FetchedMedia:
        current = url
        for _ in range(MEDIA_MAX_REDIRECTS + 1):
            if not self._allowed(current):
                raise MediaRejected(f"not a Twilio media host: {urlsplit(current).hostname}")
            async with self._session.get(current, headers=self._auth_for(current), allow_redirects=False,
                                         timeout=aiohttp.ClientTimeout(total=MEDIA_TIMEOUT_SECONDS)) as response:
                if response.status in (301, 302, 303, 307, 308) and response.headers.get("Location"):
                    current = urljoin(current, response.headers["Location"])
                    continue
                if response.status != 200:
                    raise MediaRejected(f"Twilio media answered HTTP {response.status}")
                data = await self._read_capped(response)
                content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
                return FetchedMedia(current, content_type, len(data), data)
        raise MediaRejected(f"more than {MEDIA_MAX_REDIRECTS} redirects")

    async def _read_capped(self, response: aiohttp.ClientResponse) -> bytes:
        limit = int(self.settings.media_max_bytes)
        if response.content_length is not None and response.content_length > limit:
            raise MediaRejected(f"media of {response.content_length} bytes is over the {limit}-byte cap")
        data = bytearray()
        async for chunk in response.content.iter_chunked(64 * 1024):
            data += chunk
            if len(data) > limit:
                raise MediaRejected(f"media over the {limit}-byte cap")
        return bytes(data)

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self, emit: Emit) -> None:
        """Twilio pushes everything by webhook; start only says what is missing."""
        missing = [key for key in ("account_sid", "auth_token") if not _secret(getattr(self.settings, key))]
        if not (self.settings.sms_from or self.settings.whatsapp_from):
            missing.append("sms_from or whatsapp_from")
        if missing:
            log.warning("twilio: channels.twilio.%s not set; webhooks or sending will fail",
                        ", ".join(missing))
        if not self._public_url:
            log.warning("twilio: server.public_url is not set: signatures are checked against the request "
                        "URL and no status callbacks are requested")

    async def stop(self) -> None:
        """Nothing to close: the HTTP session is the hub's."""
