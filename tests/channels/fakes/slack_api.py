"""A fake Slack Web API: a real aiohttp server on port 0 that records every call and answers like
Slack. The real slack_sdk AsyncWebClient talks to it through `base_url`.

It keeps the messages it was asked to post (so chat.update edits them and conversations.replies
finds a thread's parent), and can be told to answer the next N calls of a method with a 429 and
a Retry-After, or with a Slack error.
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from aiohttp import web

BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"


@dataclass(frozen=True)
class Call:
    method: str  # the Web API method, e.g. "chat.postMessage"
    http_method: str
    body: dict[str, Any]  # JSON body, form fields and query parameters, merged
    authorization: str


@dataclass(frozen=True)
class _Canned:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class FakeSlackApi:
    """Start with `await api.start()`; point slack_sdk at `api.base_url`; `await api.close()`."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self._canned: dict[str, list[_Canned]] = defaultdict(list)
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def rate_limit(self, method: str, *, times: int = 1, retry_after: int = 30) -> None:
        """The next `times` calls of `method` get a 429 with Retry-After."""
        self._canned[method] += [_Canned(429, {"ok": False, "error": "ratelimited"},
                                         {"Retry-After": str(retry_after)})] * times

    def fail(self, method: str, error: str, *, times: int = 1, status: int = 200) -> None:
        self._canned[method] += [_Canned(status, {"ok": False, "error": error}, {})] * times

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def posts_to(self, channel: str) -> list[Call]:
        return [call for call in self.calls_to("chat.postMessage") if call.body.get("channel") == channel]

    async def _body(self, request: web.Request) -> dict[str, Any]:
        body: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            body.update(await request.json())
        elif request.can_read_body:
            body.update({key: value for key, value in (await request.post()).items() if isinstance(value, str)})
        return body

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body = await self._body(request)
        self.calls.append(Call(method, request.method, body, request.headers.get("Authorization", "")))
        if self._canned[method]:
            canned = self._canned[method].pop(0)
            return web.json_response(canned.body, status=canned.status, headers=canned.headers)
        answer = getattr(self, "_" + method.replace(".", "_"), None)
        return web.json_response(answer(body) if answer else {"ok": False, "error": "unknown_method"})

    def _blocks(self, body: dict[str, Any]) -> list[Any]:
        blocks = body.get("blocks") or []
        return json.loads(blocks) if isinstance(blocks, str) else blocks

    def _auth_test(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": "https://example.slack.com/", "team": "Example", "user": "replydesk",
                "team_id": "T1", "user_id": BOT_USER_ID, "bot_id": BOT_ID}

    def _chat_postMessage(self, body: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(body["channel"]), f"1700000000.{next(self._ts):06d}"
        message = {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": ts, "text": body.get("text", ""),
                   "blocks": self._blocks(body)}
        if body.get("thread_ts"):
            message["thread_ts"] = str(body["thread_ts"])
        self.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _chat_update(self, body: dict[str, Any]) -> dict[str, Any]:
        key = (str(body["channel"]), str(body["ts"]))
        if key not in self.messages:
            return {"ok": False, "error": "message_not_found"}
        self.messages[key].update(text=body.get("text", ""), blocks=self._blocks(body))
        return {"ok": True, "channel": key[0], "ts": key[1], "text": body.get("text", "")}

    def _views_open(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        return {"ok": True, "view": {"id": "V1", **(body.get("view") or {})}}

    def _conversations_replies(self, body: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(body["channel"]), str(body["ts"])
        parent = self.messages.get((channel, ts))
        if parent is None:
            return {"ok": False, "error": "thread_not_found"}
        replies = [m for (c, _), m in self.messages.items() if c == channel and m.get("thread_ts") == ts]
        limit = int(body.get("limit") or 1000)
        return {"ok": True, "messages": ([parent] + replies)[:max(limit, 1)], "has_more": False}
