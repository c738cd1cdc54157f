"""A fake Telegram Bot API: a real aiohttp server on port 0 that records every call and answers
like Telegram ({"ok": true, "result": …} / {"ok": false, "error_code", "description"}).

The real python-telegram-bot talks to it through `Bot(base_url=…)`. It keeps the messages it was
asked to send (so a test can reply to one), can be told to fail the next N calls of a method
(429 with retry_after, 400, 500, …), and serves queued updates to getUpdates.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_USER = {"id": 5550001, "is_bot": True, "first_name": "Replydesk", "username": "replydesk_bot"}
TOKEN = f"{BOT_USER['id']}:AAH-fake-token-0123456789abcdefghijkl"
OWNER = {"id": 4242, "is_bot": False, "first_name": "Olive", "last_name": "Owner", "username": "olive"}
OWNER_CHAT = OWNER["id"]  # the owner's private chat with the bot: its id is the owner's user id
JANE = {"id": 1001, "is_bot": False, "first_name": "Jane", "last_name": "Doe", "username": "jane",
        "language_code": "en"}
DATE = 1_767_268_800  # 2026-01-01 12:00:00 UTC
_TAG = re.compile(r"<[^>]+>")
_update_ids = itertools.count(700_000)
_message_ids = itertools.count(1)


# -- updates shaped the way Telegram sends them ----------------------------------------------------

def private_chat(who: dict[str, Any]) -> dict[str, Any]:
    return {"id": who["id"], "type": "private",
            **{k: who[k] for k in ("first_name", "last_name", "username") if k in who}}


def message_update(text: str | None = "Hello!", *, sender: dict[str, Any] | None = None,
                   chat: dict[str, Any] | None = None, kind: str = "message", message_id: int | None = None,
                   **fields: Any) -> dict[str, Any]:
    """An update carrying one message (`kind`: message, edited_message, channel_post, …)."""
    sender = JANE if sender is None else sender
    message: dict[str, Any] = {"message_id": message_id or next(_message_ids), "date": DATE,
                               "chat": chat or private_chat(sender)}
    if sender:
        message["from"] = sender
    if text is not None:
        message["text"] = text
    return {"update_id": next(_update_ids), kind: message | fields}


def callback_update(data: str, *, message: dict[str, Any], sender: dict[str, Any] | None = None) -> dict[str, Any]:
    """A tap on an inline button of `message` (as the fake stored it)."""
    return {"update_id": next(_update_ids),
            "callback_query": {"id": str(next(_update_ids)), "from": sender or OWNER, "chat_instance": "-77",
                               "message": message, "data": data}}


def reply_update(text: str, *, to: dict[str, Any], sender: dict[str, Any] | None = None) -> dict[str, Any]:
    """The owner's text replying to one of the bot's messages in the owner's chat."""
    sender = sender or OWNER
    return message_update(text, sender=sender, chat=to["chat"], reply_to_message=to)


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token_ok: bool
    status: int | None = None  # what the fake answered
    result: Any = None


@dataclass
class Failure:
    status: int
    description: str
    parameters: dict[str, Any] | None = None


def _decode(value: str) -> Any:
    """Form fields carry JSON for objects and lists (reply_markup, allowed_updates)."""
    if value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def plain_text(text: str, parse_mode: str | None) -> str:
    """What Telegram stores of an HTML-formatted text: the text without its tags."""
    return html.unescape(_TAG.sub("", text)) if parse_mode == "HTML" else text


@dataclass
class FakeTelegram:
    token: str = TOKEN
    getupdates_hold: float = 0.2  # longest a getUpdates call waits for news (Telegram: `timeout`)
    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    updates: list[dict[str, Any]] = field(default_factory=list)
    _failures: dict[str, list[Failure | None]] = field(default_factory=dict)  # None: answer normally
    _ids: itertools.count = field(default_factory=lambda: itertools.count(100))
    _stalls: dict[str, asyncio.Event] = field(default_factory=dict)
    _changed: asyncio.Condition | None = None
    _runner: web.AppRunner | None = None
    url: str = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._changed = asyncio.Condition()
        self._runner = web.AppRunner(app, access_log=None)  # an access log would print the token
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- what tests use ----------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def sent_to(self, chat_id: int) -> list[Call]:
        """sendMessage calls to one chat that succeeded."""
        return [call for call in self.calls_to("sendMessage")
                if str(call.params.get("chat_id")) == str(chat_id) and call.status == 200]

    def fail(self, method: str, calls: int = 1, status: int = 400, description: str = "Bad Request: nope",
             parameters: dict[str, Any] | None = None, after: int = 0) -> None:
        """Answer the next `calls` calls of `method` (after `after` normal ones) with this error."""
        queued = self._failures.setdefault(method, [])
        queued.extend([None] * after + [Failure(status, description, parameters)] * calls)

    def rate_limit(self, method: str, calls: int = 1, retry_after: int = 5, after: int = 0) -> None:
        self.fail(method, calls, 429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after},
                  after)

    def stall(self, method: str) -> asyncio.Event:
        """The next call of `method` gets no answer until the returned event is set."""
        release = self._stalls[method] = asyncio.Event()
        return release

    def queue_update(self, update: dict[str, Any]) -> None:
        self.updates.append(update)
        asyncio.get_running_loop().create_task(self._notify())

    async def wait_for(self, predicate: Callable[[Call], bool], timeout: float = 10.0) -> Call:
        """The first recorded call that satisfies `predicate`, waiting for it if need be."""
        assert self._changed is not None

        def found() -> Call | None:
            return next((call for call in self.calls if predicate(call)), None)

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: found() is not None), timeout)
        call = found()
        assert call is not None
        return call

    # -- the API -----------------------------------------------------------------------------------

    async def _notify(self) -> None:
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return dict(await request.json())
        form = await request.post()
        return {**{k: _decode(v) for k, v in request.query.items()},
                **{k: _decode(v) for k, v in form.items() if isinstance(v, str)}}

    async def _handle(self, request: web.Request) -> web.Response:
        method, params = request.match_info["method"], await self._params(request)
        call = Call(method, params, request.match_info["token"] == self.token)
        self.calls.append(call)
        try:
            response = await self._answer(call)
            call.status = response.status
        finally:
            await self._notify()
        return response

    async def _answer(self, call: Call) -> web.Response:
        release = self._stalls.pop(call.method, None)
        if release is not None:
            await release.wait()
        if not call.token_ok:
            return _error(Failure(401, "Unauthorized"))
        queued = self._failures.get(call.method)
        failure = queued.pop(0) if queued else None
        if failure is not None:
            return _error(failure)
        handler = getattr(self, f"_api_{call.method}", None)
        if handler is None:
            return _error(Failure(404, "Not Found"))
        try:
            result = await handler(call.params)
        except ApiRefusal as refusal:
            return _error(Failure(400, refusal.description))
        call.result = result
        return web.json_response({"ok": True, "result": result})

    async def _api_getMe(self, params: dict[str, Any]) -> Any:
        return BOT_USER

    async def _api_setWebhook(self, params: dict[str, Any]) -> Any:
        return True

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> Any:
        return True

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        return True

    async def _api_sendMessage(self, params: dict[str, Any]) -> Any:
        chat_id, text = int(params["chat_id"]), plain_text(str(params.get("text") or ""), params.get("parse_mode"))
        if not text.strip():
            raise ApiRefusal("Bad Request: message text is empty")
        if len(text.encode("utf-16-le")) // 2 > 4096:
            raise ApiRefusal("Bad Request: message is too long")
        message = {"message_id": next(self._ids), "date": int(time.time()), "from": BOT_USER, "text": text,
                   "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"}}
        if isinstance(params.get("reply_markup"), dict) and "inline_keyboard" in params["reply_markup"]:
            message["reply_markup"] = params["reply_markup"]  # Telegram echoes inline keyboards only
        self.messages[(chat_id, message["message_id"])] = message
        return message

    async def _api_editMessageText(self, params: dict[str, Any]) -> Any:
        key = (int(params["chat_id"]), int(params["message_id"]))
        if key not in self.messages:
            raise ApiRefusal("Bad Request: message to edit not found")
        old = self.messages[key]
        text, markup = plain_text(str(params.get("text") or ""), params.get("parse_mode")), params.get("reply_markup")
        if text == old["text"] and markup == old.get("reply_markup"):
            raise ApiRefusal("Bad Request: message is not modified: specified new message content and reply "
                             "markup are exactly the same as a current content and reply markup of the message")
        edited = {k: v for k, v in old.items() if k != "reply_markup"} | {"text": text, "edit_date": int(time.time())}
        if isinstance(markup, dict):  # Telegram: no reply_markup in an edit removes the keyboard
            edited["reply_markup"] = markup
        self.messages[key] = edited
        return edited

    async def _api_getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        self.updates = [u for u in self.updates if u["update_id"] >= offset]  # an offset confirms the rest
        if not self.updates:
            hold = min(float(params.get("timeout") or 0), self.getupdates_hold)
            assert self._changed is not None
            async with self._changed:
                try:
                    await asyncio.wait_for(self._changed.wait_for(lambda: bool(self.updates)), hold)
                except TimeoutError:
                    pass
        return [u for u in self.updates if u["update_id"] >= offset]


class ApiRefusal(Exception):
    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


def _error(failure: Failure) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": failure.status, "description": failure.description}
    if failure.parameters:
        body["parameters"] = failure.parameters
    return web.json_response(body, status=failure.status)
