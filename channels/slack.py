"""Slack: Events API and interactivity webhooks in, chat.postMessage out, approval cards on the side.

Verification is slack_sdk's SignatureVerifier over the raw bytes, timed by the injected clock.
Parsing is pure (channels/slack_parse.py), and so is the Block Kit (channels/slack_blocks.py).
All I/O goes through slack_sdk's AsyncWebClient on the hub's shared aiohttp session.

The client retries nothing by itself: its default connection-error handler would resend a
chat.postMessage after a reset connection (a second copy to the customer), and its rate-limit
handler sleeps in real time. Retries are the hub's: a 429 becomes a retryable SendResult with
Slack's Retry-After, and the outbox job runs again after that delay on the hub's clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any, Protocol

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import Clock as SignatureClock
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from channels.base import (ApprovalCard, ChannelEvent, OutboundMessage, OwnerAction, ParsedWebhook, SendResult,
                           WebhookRejected)
from channels.slack_blocks import card_blocks, card_text, edit_modal, escape, reject_modal, suggestion_id_of
from channels.slack_parse import (EVENTS, INTERACTIVITY, NAME, CardReply, FollowUp, ModalRequest, SlackContext,
                                  is_ssl_check, parse_webhook)

log = logging.getLogger("replydesk.channels.slack")
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"
MAX_SKEW_SECONDS = 300
ACK_BUDGET_SECONDS = 2.5  # Slack waits 3 s for the ack, and a trigger_id dies after 3 s
CARD_GONE = frozenset({"message_not_found", "channel_not_found", "cant_update_message", "is_archived"})
Emit = Callable[[list[ChannelEvent]], Awaitable[None]]


class Clock(Protocol):
    def now(self) -> datetime: ...


class _UtcClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class _EpochClock(SignatureClock):
    """slack_sdk's verifier wants epoch seconds; ours gives datetimes (and tests move it)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock.now().timestamp()


def _secret(value: Any) -> str:
    return str(value.get_secret_value() if hasattr(value, "get_secret_value") else value or "")


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return str(value or "").strip()


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    try:
        return max(0.0, float(_header(headers or {}, "Retry-After")))
    except ValueError:
        return None


def send_failure(exc: Exception) -> SendResult:
    """Map a failed chat.postMessage: 429 and 5xx retryable, a refused connection retryable (nothing
    was sent), anything that may have reached Slack not retryable (never a second copy)."""
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        code = str(exc.response.get("error") or f"http_{status}")
        if status == 429:
            return SendResult(ok=False, error=code, retryable=True, retry_after=_retry_after(exc.response.headers))
        return SendResult(ok=False, error=code, retryable=status >= 500)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return SendResult(ok=False, error=f"cannot reach Slack: {exc}", retryable=True)
    return SendResult(ok=False, error=f"outcome unknown ({type(exc).__name__}: {exc}); check the conversation "
                                      "before sending again")


def _split(reference: str) -> tuple[str, str]:
    """`C123:1700000000.000100` → (channel, ts); a bare channel has no ts."""
    channel, _, ts = reference.partition(":")
    return channel, ts


class SlackChannel:
    """The Slack adapter: a Channel and, with `approval_channel` set, an ApprovalSurface."""

    name = NAME
    webhooks: Mapping[str, str] = {"/webhooks/slack/events": EVENTS, "/webhooks/slack/interactivity": INTERACTIVITY}

    def __init__(self, settings: Any, *, session: aiohttp.ClientSession, public_url: str = "",
                 clock: Clock | None = None) -> None:
        self._clock: Clock = clock or _UtcClock()
        self._approval_channel = str(settings.approval_channel or "")
        secret = _secret(settings.signing_secret)
        self._verifier = SignatureVerifier(secret, clock=_EpochClock(self._clock)) if secret.strip() else None
        base_url = str(settings.api_base_url)
        self._client = AsyncWebClient(token=_secret(settings.bot_token) or None, session=session,
                                      base_url=base_url if base_url.endswith("/") else base_url + "/",
                                      retry_handlers=[])
        self.public_url = public_url
        self.bot_user_id = ""
        self._emit: Emit | None = None

    @property
    def approvals_enabled(self) -> bool:
        return bool(self._approval_channel)

    def _context(self) -> SlackContext:
        return SlackContext(approval_channel=self._approval_channel, bot_user_id=self.bot_user_id)

    def verify(self, endpoint: str, headers: Mapping[str, str], body: bytes, url: str) -> None:
        """v0 HMAC-SHA256 of `v0:{timestamp}:{body}`, compared in constant time, within 5 minutes."""
        if is_ssl_check(body):
            return  # as Bolt does: Slack's certificate probe, answered 200, stores nothing
        timestamp, signature = _header(headers, TIMESTAMP_HEADER), _header(headers, SIGNATURE_HEADER)
        if not timestamp or not signature:
            raise WebhookRejected(401, "missing Slack signature headers")
        if self._verifier is None:
            raise WebhookRejected(401, "no Slack signing secret configured")
        if not timestamp.isdigit() or abs(self._clock.now().timestamp() - int(timestamp)) > MAX_SKEW_SECONDS:
            raise WebhookRejected(401, "Slack request timestamp more than 5 minutes off")
        try:
            valid = self._verifier.is_valid(body=body, timestamp=timestamp, signature=signature)
        except UnicodeDecodeError:
            valid = False
        if not valid:
            raise WebhookRejected(401, "bad Slack signature")

    def parse(self, endpoint: str, headers: Mapping[str, str], body: bytes) -> ParsedWebhook:
        """Pure. Edit / Reject clicks and the owner's thread replies on cards come back as
        ModalRequest / CardReply follow-ups: the hub stores nothing for them, `acknowledge` acts."""
        return parse_webhook(endpoint, body, self._context())

    async def acknowledge(self, events: Iterable[object]) -> None:
        """Called by the hub once a request's events are stored (in the background, after the ack):
        opens the edit / reject modal (a trigger_id lives 3 s) and turns the owner's thread reply on
        a card into a decision. Never raises: a failure is logged."""
        for item in events:
            if not isinstance(item, (ModalRequest, CardReply)):
                continue
            try:
                await self._follow_up(item)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Slack follow-up %s failed", type(item).__name__)

    async def _follow_up(self, item: FollowUp) -> None:
        if isinstance(item, ModalRequest):
            await self._open_modal(item)
        elif isinstance(item, CardReply):
            await self._answer_card(item)

    async def _open_modal(self, request: ModalRequest) -> None:
        view = (edit_modal(request.suggestion_id, request.draft) if request.kind == "edit"
                else reject_modal(request.suggestion_id))
        async with asyncio.timeout(ACK_BUDGET_SECONDS):
            await self._client.views_open(trigger_id=request.trigger_id, view=view)

    async def _answer_card(self, reply: CardReply) -> None:
        """The card is the thread's parent: its header names the suggestion the owner answered."""
        async with asyncio.timeout(ACK_BUDGET_SECONDS):
            found = await self._client.conversations_replies(channel=reply.channel, ts=reply.thread_ts,
                                                             limit=1, inclusive=True)
        parent = next((m for m in found.get("messages") or [] if m.get("ts") == reply.thread_ts), None)
        suggestion_id = suggestion_id_of(parent.get("blocks") or []) if parent else None
        if suggestion_id is None:
            log.info("owner's reply in the approval channel answers no card (thread %s)", reply.thread_ts)
            return
        if self._emit is None:
            log.warning("Slack channel not started: owner's reply to suggestion %s dropped", suggestion_id)
            return
        await self._emit([OwnerAction(surface=NAME, suggestion_id=suggestion_id, action="reply", actor=reply.actor,
                                      text=reply.text, raw={"thread_ts": reply.thread_ts})])

    async def send(self, message: OutboundMessage) -> SendResult:
        """chat.postMessage to the conversation; in its thread when the conversation is a thread."""
        channel, thread_ts = _split(message.thread_id or message.recipient)
        kwargs: dict[str, Any] = {"channel": channel, "text": escape(message.text)}
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        try:
            response = await self._client.chat_postMessage(**kwargs)
        except (SlackApiError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
            result = send_failure(exc)
            log.warning("Slack send to %s failed: %s (retryable: %s)", channel, result.error, result.retryable)
            return result
        return SendResult(ok=True, provider_message_id=f"{response['channel']}:{response['ts']}")

    async def post_card(self, card: ApprovalCard) -> str:
        """Post the card in the approval channel; its reference is `channel:ts`."""
        if not self._approval_channel:
            raise RuntimeError("Slack approval_channel is not set")
        response = await self._client.chat_postMessage(channel=self._approval_channel, text=card_text(card),
                                                       blocks=card_blocks(card), unfurl_links=False,
                                                       unfurl_media=False)
        return f"{response['channel']}:{response['ts']}"

    async def update_card(self, reference: str, card: ApprovalCard) -> None:
        """Show the outcome; a decided card loses its buttons. A card deleted meanwhile is left be."""
        channel, ts = _split(reference)
        try:
            await self._client.chat_update(channel=channel, ts=ts, text=card_text(card), blocks=card_blocks(card))
        except SlackApiError as exc:
            if exc.response.get("error") not in CARD_GONE:
                raise
            log.warning("Slack card %s can no longer be edited: %s", reference, exc.response.get("error"))

    async def start(self, emit: Emit) -> None:
        """Learn our bot's user id (auth.test): its messages are never customer messages. A bad token
        is logged loudly, not fatal: the other channels keep working."""
        self._emit = emit
        try:
            identity = await self._client.auth_test()
        except SlackApiError as exc:
            log.error("Slack rejected the bot token (%s): sends and cards will fail until it is fixed",
                      exc.response.get("error"))
            return
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            log.warning("Slack unreachable at start (%s); our messages are still recognised by bot_id", exc)
            return
        self.bot_user_id = str(identity.get("user_id") or "")
        log.info("Slack connected as %s (%s)", identity.get("user"), self.bot_user_id)

    async def stop(self) -> None:
        self._emit = None
