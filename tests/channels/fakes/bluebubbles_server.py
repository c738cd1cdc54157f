"""A fake BlueBubbles server: a real aiohttp server on port 0 standing in for the owner's Mac.

It holds the Mac's messages (what /api/v1/message/query reads), sends text like the real server
(the sent message gets a real guid, is added to the messages, and the answer carries the guid and
our tempGuid; `omit_guid` mimics servers that answer without the guid), records every call, and
posts webhooks to the hub the way the server does (no signature, password in the URL, once).
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web

PASSWORD = "bb-server-password-7f3a9c"


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def message(guid: str, text: str, chat_guid: str, *, at: datetime, from_me: bool = False,
            address: str | None = None, **extra: Any) -> dict[str, Any]:
    """A message as the server serialises it (webhook `data` and query results alike)."""
    address = address if address is not None else chat_guid.rsplit(";", 1)[-1]
    service = chat_guid.split(";", 1)[0]
    return {"guid": guid, "text": text, "isFromMe": from_me, "dateCreated": millis(at), "dateDelivered": 0,
            "dateRead": 0, "dateEdited": 0, "dateRetracted": 0, "itemType": 0, "attachments": [],
            "handle": None if from_me else {"address": address, "service": service},
            "chats": [{"guid": chat_guid, "chatIdentifier": chat_guid.rsplit(";", 1)[-1], "displayName": "",
                       "participants": [{"address": address}]}], **extra}


@dataclass(frozen=True)
class Call:
    path: str
    password: str
    body: dict[str, Any]


class FakeBlueBubblesServer:
    """Start with `await server.start()`; configure the channel with `server.url`; `await server.close()`.
    Set `webhook_url` to have sent messages echoed to the hub by webhook, as the real server does."""

    def __init__(self, password: str = PASSWORD, clock: Any = None) -> None:
        self.password = password
        self.clock = clock  # dates what it sends; the wall clock when None
        self.messages: list[dict[str, Any]] = []
        self.calls: list[Call] = []
        self.webhook_url = ""
        self.omit_guid = False
        self.send_status: list[int] = []  # answer the next sends with these HTTP statuses
        self._guids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/v1/message/query", self._query)
        app.router.add_post("/api/v1/message/text", self._send_text)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def calls_to(self, path: str) -> list[Call]:
        return [call for call in self.calls if call.path == path]

    async def post_webhook(self, url: str, event_type: str, data: dict[str, Any]) -> int:
        """POST one webhook as the server does; returns the hub's HTTP status."""
        async with aiohttp.ClientSession() as session:
            async with session.post(url, json={"type": event_type, "data": data}) as response:
                await response.read()
                return response.status

    async def _record(self, request: web.Request) -> tuple[Call, web.Response | None]:
        body = await request.json() if request.can_read_body else {}
        call = Call(request.path, request.query.get("password", ""), body)
        self.calls.append(call)
        if call.password != self.password:
            return call, web.json_response({"status": 401, "message": "You are not authorized to access this "
                                            "resource", "error": {"type": "Authentication Error",
                                                                  "message": "Invalid password"}}, status=401)
        return call, None

    async def _query(self, request: web.Request) -> web.Response:
        call, refused = await self._record(request)
        if refused is not None:
            return refused
        after, offset, limit = (int(call.body.get(key) or default)
                                for key, default in (("after", 0), ("offset", 0), ("limit", 100)))
        found = sorted((m for m in self.messages if m["dateCreated"] > after), key=lambda m: m["dateCreated"])
        if str(call.body.get("sort", "DESC")).upper() != "ASC":
            found.reverse()
        page = found[offset:offset + limit]
        return web.json_response({"status": 200, "message": "Successfully fetched messages!", "data": page,
                                  "metadata": {"offset": offset, "limit": limit, "total": len(found),
                                               "count": len(page)}})

    async def _send_text(self, request: web.Request) -> web.Response:
        call, refused = await self._record(request)
        if refused is not None:
            return refused
        if self.send_status:
            status = self.send_status.pop(0)
            return web.json_response({"status": status, "message": "Message Send Error",
                                      "error": {"type": "iMessage Error", "message": "Failed to send message!"}},
                                     status=status)
        chat_guid = str(call.body["chatGuid"])
        now = self.clock.now() if self.clock is not None else datetime.now().astimezone()
        sent = message(f"SENT-{next(self._guids)}-{uuid.uuid4().hex[:8]}", str(call.body["message"]), chat_guid,
                       at=now, from_me=True)
        self.messages.append(sent)
        if self.webhook_url:  # the real server emits new-message once the sent row appears
            await self.post_webhook(self.webhook_url, "new-message", sent)
        data = {**sent, "tempGuid": call.body.get("tempGuid")}
        if self.omit_guid:
            data = {"tempGuid": call.body.get("tempGuid")}
        return web.json_response({"status": 200, "message": "Message sent!", "data": data})
