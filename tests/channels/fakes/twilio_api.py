"""A fake Twilio REST API: a real aiohttp server on port 0 that the real twilio SDK talks to
(through `client.api.base_url`). It records every Messages.json create, answers like Twilio
(201 with a message resource, or Twilio's error JSON), can be told to answer the next creates with
429 / 5xx / 4xx, and serves media behind basic auth, with redirects when asked.
"""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "twilio-auth-token-for-tests"


@dataclass(frozen=True)
class Create:
    """One Messages.json create as the fake received it."""

    form: dict[str, list[str]]
    authorization: str

    def get(self, key: str) -> str | None:
        values = self.form.get(key)
        return values[0] if values else None


@dataclass(frozen=True)
class _Canned:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Media:
    data: bytes = b""
    content_type: str = "application/octet-stream"
    redirect_to: str = ""
    needs_auth: bool = True  # the API does; the CDN it redirects to serves signed URLs without


class FakeTwilioApi:
    """Start with `await api.start()`; configure the channel with `api.base_url`; `await api.close()`."""

    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        self.account_sid, self.auth_token = account_sid, auth_token
        self.creates: list[Create] = []  # every create received, answered or refused
        self.messages: list[dict[str, Any]] = []  # the messages it created (answered 201)
        self.media_requests: list[tuple[str, str]] = []  # (path, Authorization)
        self._canned: list[_Canned] = []
        self._media: dict[str, _Media] = {}
        self._sids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._create)
        app.router.add_get("/2010-04-01/Accounts/{sid}/Messages/{message}/Media/{name}", self._serve_media)
        app.router.add_get("/cdn/{name}", self._serve_media)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- configuring answers -----------------------------------------------------------------------

    def rate_limit(self, *, times: int = 1, retry_after: int | None = 5) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self._canned += [_Canned(429, self._error(429, 20429, "Too Many Requests"), headers)] * times

    def fail(self, status: int, code: int, message: str, *, times: int = 1) -> None:
        self._canned += [_Canned(status, self._error(status, code, message))] * times

    def media_url(self, name: str, message_sid: str = "MM" + "a" * 32) -> str:
        return f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Messages/{message_sid}/Media/{name}"

    def add_media(self, name: str, data: bytes, content_type: str) -> str:
        """Media behind basic auth, as Twilio's API serves it; returns its MediaUrl."""
        self._media[name] = _Media(data, content_type)
        return self.media_url(name)

    def add_cdn_media(self, name: str, data: bytes, content_type: str) -> str:
        """Media on the fake's "CDN": no auth (signed URLs); returns its URL."""
        self._media[name] = _Media(data, content_type, needs_auth=False)
        return f"{self.base_url}/cdn/{name}"

    def redirect_media(self, name: str, location: str) -> str:
        """A MediaUrl that answers 307 to `location`, as Twilio's API redirects to its CDN."""
        self._media[name] = _Media(redirect_to=location)
        return self.media_url(name)

    @staticmethod
    def _error(status: int, code: int, message: str) -> dict[str, Any]:
        return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status}

    # -- handlers ----------------------------------------------------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return request.headers.get("Authorization", "") == f"Basic {expected}"

    async def _create(self, request: web.Request) -> web.Response:
        form = await request.post()
        fields: dict[str, list[str]] = {}
        for key, value in form.items():
            fields.setdefault(key, []).append(str(value))
        self.creates.append(Create(fields, request.headers.get("Authorization", "")))
        if not self._authorized(request) or request.match_info["sid"] != self.account_sid:
            return web.json_response(self._error(401, 20003, "Authenticate"), status=401)
        if self._canned:
            canned = self._canned.pop(0)
            return web.json_response(canned.body, status=canned.status, headers=canned.headers)
        resource = self._resource(fields)
        self.messages.append(resource)
        return web.json_response(resource, status=201)

    def _resource(self, fields: dict[str, list[str]]) -> dict[str, Any]:
        sid = f"SM{next(self._sids):032x}"
        first = {key: values[0] for key, values in fields.items()}
        return {"sid": sid, "account_sid": self.account_sid, "status": "queued", "to": first.get("To"),
                "from": first.get("From"), "body": first.get("Body", ""), "num_segments": "1", "num_media": "0",
                "direction": "outbound-api", "api_version": "2010-04-01", "price": None, "error_code": None,
                "error_message": None, "date_created": "Thu, 01 Jan 2026 12:00:00 +0000",
                "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json"}

    async def _serve_media(self, request: web.Request) -> web.StreamResponse:
        self.media_requests.append((request.path, request.headers.get("Authorization", "")))
        media = self._media.get(request.match_info["name"])
        if media is None:
            return web.json_response(self._error(404, 20404, "Not found"), status=404)
        if media.redirect_to:
            raise web.HTTPTemporaryRedirect(media.redirect_to)
        if media.needs_auth and not self._authorized(request):
            return web.json_response(self._error(401, 20003, "Authenticate"), status=401)
        return web.Response(body=media.data, content_type=media.content_type)
