"""The Telegram channel and approval surface: verify and parse webhooks, poll, send, post cards.

Only I/O lives here; the mapping is pure and separate: telegram_parse (updates → events),
telegram_cards (cards, buttons, prompts), telegram_text (UTF-16 and splitting), telegram_pacing
(flood limits). Every Bot API call goes through python-telegram-bot's async `Bot` over the hub's
shared aiohttp session (telegram_http), which keeps the bot token out of URLs, logs and errors.

After the hub has stored the events `parse` returned (or that polling passed to `emit`), it calls
`acknowledge(events)` in the background (hub/channels_runtime.after_storing): that answers the
owner's button taps — Telegram wants every callback query answered — and asks the question an
Edit or Reject tap needs. It never raises.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import warnings
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

import aiohttp
from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import (BadRequest, ChatMigrated, Forbidden, InvalidToken, NetworkError, RetryAfter,
                            TelegramError, TimedOut)
from telegram.warnings import PTBDeprecationWarning

from channels.base import (ApprovalCard, ChannelEvent, OutboundMessage, OwnerAction, ParsedWebhook, SendResult,
                           WebhookRejected)
from channels.telegram_cards import keyboard, render_card, render_prompt
from channels.telegram_http import AiohttpRequest, ConnectFailed, ServerError, TokenSafeBot, bot_api_url, bot_id_of
from channels.telegram_pacing import Pacer
from channels.telegram_parse import CardTap, ParseContext, parse_update
from channels.telegram_text import split_text

log = logging.getLogger("replydesk.channels.telegram")
WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "edited_message", "channel_post", "edited_channel_post", "callback_query"]
POLL_TIMEOUT = 25  # seconds a getUpdates call waits for news
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
Emit = Callable[[list[ChannelEvent]], Awaitable[None]]


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by case-insensitive name, for aiohttp's headers and plain dicts alike."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def _retry_seconds(exc: RetryAfter) -> float:
    seconds = getattr(exc, "seconds", None)  # telegram_http.RateLimited
    if seconds is None:
        with warnings.catch_warnings():  # reading retry_after warns in python-telegram-bot 22
            warnings.simplefilter("ignore", PTBDeprecationWarning)
            value = exc.retry_after
        seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    return float(seconds)


def send_failure(exc: TelegramError) -> SendResult:
    """A failed sendMessage as a SendResult: retryable only when Telegram surely did not send it."""
    if isinstance(exc, RetryAfter):
        return SendResult(False, error=f"rate limited by Telegram: {exc.message}", retryable=True,
                          retry_after=_retry_seconds(exc))
    if isinstance(exc, (ConnectFailed, ServerError)):
        return SendResult(False, error=f"Telegram unavailable: {exc.message}", retryable=True)
    if isinstance(exc, BadRequest):
        return SendResult(False, error=f"Telegram refused the message: {exc.message}")
    if isinstance(exc, Forbidden):
        return SendResult(False, error=f"the bot may not write to this chat (blocked or removed): {exc.message}")
    if isinstance(exc, ChatMigrated):
        return SendResult(False, error=f"the group became a supergroup with chat id {exc.new_chat_id}")
    if isinstance(exc, InvalidToken):
        return SendResult(False, error="Telegram rejected the bot token (channels.telegram.bot_token)")
    if isinstance(exc, (TimedOut, NetworkError)):
        return SendResult(False, error=f"outcome unknown: Telegram did not confirm the message ({exc.message}); "
                                       "check the chat before sending again")
    return SendResult(False, error=f"Telegram error: {exc.message}")


def _answer_text(event: object) -> str:
    if isinstance(event, OwnerAction):
        if event.action == "regenerate":
            return f"Writing a new draft ({event.tone.replace('_', ' ')})…" if event.tone else "Writing a new draft…"
        return "Approving…" if event.action == "approve" else "Got it"
    if isinstance(event, CardTap) and event.ask:
        return "Reply to the message below with the new text" if event.ask == "edit" \
            else "Reply to the message below with a reason"
    return "This button is no longer active"


def _callback_id(event: object) -> str | None:
    if isinstance(event, CardTap):
        return event.callback_query_id
    if isinstance(event, OwnerAction):
        return event.raw.get("callback_query_id")
    return None


class TelegramChannel:
    """A Telegram bot: customer chats in, replies out, approval cards in the owner's chat."""

    name = "telegram"
    webhooks: Mapping[str, str] = {WEBHOOK_PATH: "update"}

    def __init__(self, settings: Any, *, session: aiohttp.ClientSession, public_url: str = "",
                 clock: Any = None) -> None:
        """`clock` is accepted for the common constructor and unused: Telegram dates every event."""
        token = settings.bot_token.get_secret_value()
        if not token:
            raise ValueError("channels.telegram.bot_token is not set")
        self._secret = settings.webhook_secret.get_secret_value().encode()
        if settings.mode == "webhook" and not self._secret:
            raise ValueError("channels.telegram.webhook_secret is required in webhook mode")
        self.settings, self._public_url = settings, public_url.rstrip("/")
        self._context = ParseContext(settings.owner_chat_id, bot_id_of(token))
        self.bot = TokenSafeBot(token, base_url=bot_api_url(settings.api_base_url),
                                base_file_url=bot_api_url(settings.api_base_url, files=True),
                                request=AiohttpRequest(session, token),
                                get_updates_request=AiohttpRequest(session, token, read_timeout=POLL_TIMEOUT + 10))
        self.approvals_enabled = settings.owner_chat_id is not None
        self.pacer = Pacer()
        self._answered: OrderedDict[str, None] = OrderedDict()  # callback ids answered lately
        self._partial: dict[str, list[str]] = {}  # idempotency key → parts already sent
        self._poller: asyncio.Task[None] | None = None

    # -- webhooks (pure) ---------------------------------------------------------------------------

    def verify(self, endpoint: str, headers: Mapping[str, str], body: bytes, url: str) -> None:
        """Telegram echoes setWebhook's secret_token in a header; compared in constant time."""
        given = header(headers, SECRET_HEADER)
        if not self._secret or given is None or not hmac.compare_digest(given.encode(), self._secret):
            raise WebhookRejected(403, "missing or wrong secret token")

    def parse(self, endpoint: str, headers: Mapping[str, str], body: bytes) -> ParsedWebhook:
        """One update per request. CardTap events ride along for `acknowledge`; the hub stores
        nothing for them."""
        events: list[Any] = parse_update(json.loads(body), self._context)
        return ParsedWebhook(events=events)

    # -- after storing -----------------------------------------------------------------------------

    def _first_time(self, callback_query_id: str) -> bool:
        """Telegram redelivers an update whose webhook failed: answer each tap once."""
        if callback_query_id in self._answered:
            return False
        self._answered[callback_query_id] = None
        while len(self._answered) > 1024:
            self._answered.popitem(last=False)
        return True

    async def acknowledge(self, events: Iterable[object]) -> None:
        """Answer each button tap and ask for the text an Edit or Reject needs. Never raises."""
        for event in events:
            query_id = _callback_id(event)
            if not query_id or not self._first_time(query_id):
                continue
            try:
                await self.bot.answer_callback_query(query_id, text=_answer_text(event))
                if isinstance(event, CardTap) and event.ask and event.suggestion_id is not None:
                    await self._ask(event.ask, event.suggestion_id)
            except asyncio.CancelledError:
                raise
            except TelegramError as exc:
                log.warning("telegram: could not answer a button tap: %s", exc)
            except Exception:  # a courtesy to the owner: never let it fail the caller
                log.warning("telegram: answering a button tap failed", exc_info=True)

    async def _ask(self, kind: str, suggestion_id: int) -> None:
        chat_id = self.settings.owner_chat_id
        text, force_reply = render_prompt(kind, suggestion_id)
        await self.pacer.wait(chat_id)
        await self.bot.send_message(chat_id, text, reply_markup=force_reply)

    # -- sending -----------------------------------------------------------------------------------

    async def send(self, message: OutboundMessage) -> SendResult:
        """Send to the chat `thread_id`, split at 4096 units. Parts already sent by an earlier,
        interrupted attempt (same idempotency key) are not sent again."""
        try:
            chat_id = int(message.thread_id or message.recipient)
        except ValueError:
            return SendResult(False, error=f"not a Telegram chat id: {message.thread_id!r}")
        parts = split_text(message.text)
        if not parts:
            return SendResult(False, error="nothing to send: the reply is empty")
        sent = self._partial.pop(message.idempotency_key, [])
        for part in parts[len(sent):]:
            try:
                await self.pacer.wait(chat_id)
                result = await self.bot.send_message(chat_id, part)
            except TelegramError as exc:
                return self._interrupted(message.idempotency_key, sent, len(parts), send_failure(exc))
            sent.append(f"{chat_id}:{result.message_id}")
        return SendResult(True, provider_message_id=sent[-1])

    def _interrupted(self, key: str, sent: list[str], total: int, failure: SendResult) -> SendResult:
        """A retry sends only the missing parts; a final failure says how many went out."""
        if sent and failure.retryable:
            self._partial[key] = sent
        elif sent:
            failure = replace(failure, error=f"{failure.error} (after {len(sent)} of {total} parts were sent)")
        return failure

    # -- approval surface --------------------------------------------------------------------------

    async def post_card(self, card: ApprovalCard) -> str:
        """Post the card in the owner's chat; the reference is `{chat_id}:{message_id}`."""
        chat_id = self.settings.owner_chat_id
        if chat_id is None:
            raise RuntimeError("channels.telegram.owner_chat_id is not set: no approval cards")
        await self.pacer.wait(chat_id)
        sent = await self.bot.send_message(chat_id, render_card(card), parse_mode=ParseMode.HTML,
                                           reply_markup=keyboard(card), link_preview_options=_NO_PREVIEW)
        return f"{chat_id}:{sent.message_id}"

    async def update_card(self, reference: str, card: ApprovalCard) -> None:
        """Show the card's current state; once decided the buttons go. A card the owner deleted,
        or one already showing this state, is left alone."""
        chat_id, _, message_id = reference.rpartition(":")
        await self.pacer.wait(int(chat_id))
        try:
            await self.bot.edit_message_text(render_card(card), chat_id=int(chat_id), message_id=int(message_id),
                                             parse_mode=ParseMode.HTML, reply_markup=keyboard(card),
                                             link_preview_options=_NO_PREVIEW)
        except BadRequest as exc:
            problem = exc.message.lower()
            if "not modified" in problem:
                return
            if "not found" in problem:
                log.info("telegram: card %s is gone; not updated", reference)
                return
            raise

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self, emit: Emit) -> None:
        """Webhook mode: register the webhook (with its secret) when the public URL is known.
        Polling mode: drop any webhook (getUpdates refuses to run beside one), then poll."""
        if self.settings.mode == "polling":
            await self._quietly("dropping the webhook", self.bot.delete_webhook())
            self._poller = asyncio.create_task(self._poll(emit), name="replydesk-telegram-poll")
        elif self._public_url:
            await self._quietly("setting the webhook", self.bot.set_webhook(
                url=self._public_url + WEBHOOK_PATH, secret_token=self._secret.decode(),
                allowed_updates=ALLOWED_UPDATES))
        else:
            log.warning("telegram: server.public_url is not set, so the webhook was not registered")

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None

    async def _quietly(self, what: str, call: Awaitable[Any]) -> None:
        """A start-up call whose failure is reported, not fatal: the hub serves other channels."""
        try:
            await call
        except TelegramError as exc:
            log.error("telegram: %s failed: %s", what, exc)

    # -- polling -----------------------------------------------------------------------------------

    async def _poll(self, emit: Emit) -> None:
        """getUpdates forever. The offset moves past a batch only once `emit` has stored it, so a
        crash redelivers it (stored once: dedup by external id). The offset lives in memory."""
        offset: int | None = None
        failures = 0
        while True:
            try:
                updates = await self.bot.get_updates(offset=offset, timeout=POLL_TIMEOUT,
                                                     allowed_updates=ALLOWED_UPDATES)
                offset = await self._deliver([u.to_dict() for u in updates], emit, offset)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the error boundary of one poll: log once, back off, retry
                failures += 1
                if failures == 1:
                    log.warning("telegram: polling failed (%s: %s); retrying with backoff",
                                type(exc).__name__, exc)
                await asyncio.sleep(min(60.0, 2.0 ** failures))
                continue
            if failures:
                log.info("telegram: polling works again after %d failed attempts", failures)
                failures = 0

    def _events_of(self, update: dict[str, Any]) -> list[Any]:
        try:
            return list(parse_update(update, self._context))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("telegram: update %s skipped, malformed: %s", update.get("update_id"), exc)
            return []

    async def _deliver(self, updates: list[dict[str, Any]], emit: Emit, offset: int | None) -> int | None:
        if not updates:
            return offset
        events = [event for update in updates for event in self._events_of(update)]
        if events:
            await emit(events)  # returns once stored; the hub then calls acknowledge, as for webhooks
        return max(int(update["update_id"]) for update in updates) + 1
