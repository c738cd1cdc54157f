"""python-telegram-bot's transport over the hub's one shared aiohttp session, keeping the token secret.

The Bot API puts the bot token in every URL, so a URL is a secret. The `Bot` is built with a base
URL holding a placeholder instead of the token (`bot_api_url`) and a repr without it
(`TokenSafeBot`); only `AiohttpRequest.do_request` puts the token in, at the last moment, so no
log line, exception or repr made by python-telegram-bot or by us contains it.

Failures are mapped to python-telegram-bot's exception tree with the cause told apart, because it
decides whether a send may be retried:

    TelegramError
     ├── RateLimited (RetryAfter)      429: retry after `seconds`
     └── NetworkError
          ├── ConnectFailed            nothing reached Telegram: safe to retry
          ├── ServerError              Telegram answered 5xx: safe to retry
          └── TimedOut / NetworkError  sent, no answer: the outcome is unknown

python-telegram-bot raises the rest from the answer: BadRequest (400), Forbidden (403),
InvalidToken (401/404), ChatMigrated, Conflict (409).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import aiohttp
from telegram import Bot
from telegram.error import NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.request import BaseRequest, RequestData

TOKEN_SLOT = "<token>"  # stands for the token in every URL python-telegram-bot builds
_TOKEN_SHAPE = re.compile(r"^(\d+):[A-Za-z0-9_-]+$")


class ConnectFailed(NetworkError):
    """The request never reached Telegram (connection refused, DNS, TLS): safe to send again."""


class ServerError(NetworkError):
    """Telegram answered with a 5xx status: the request was not carried out."""


class RateLimited(RetryAfter):
    """A 429 with `parameters.retry_after`. Keeps the seconds as a float in `seconds` (reading
    RetryAfter.retry_after raises a deprecation warning in python-telegram-bot 22)."""

    def __init__(self, seconds: float) -> None:
        TelegramError.__init__(self, f"Flood control exceeded. Retry in {seconds:g} seconds")
        self.seconds = seconds
        self._retry_after = timedelta(seconds=seconds)


class TokenSafeBot(Bot):
    """telegram.Bot with a repr that names the bot by id (the stock one shows the token)."""

    def __repr__(self) -> str:
        return f"Bot[id={self.token.partition(':')[0]}]"


def bot_id_of(token: str) -> int:
    """The bot's own user id, the digits before the colon; ValueError if it is not a bot token."""
    match = _TOKEN_SHAPE.match(token)
    if match is None:
        raise ValueError("channels.telegram.bot_token does not look like a bot token (<digits>:<secret>)")
    return int(match.group(1))


def bot_api_url(api_base_url: str, *, files: bool = False) -> Callable[[str], str]:
    """`base_url` (or `base_file_url`) for telegram.Bot: `{api_base_url}/bot<token>`, with the
    placeholder. A callable, because telegram.Bot appends the token to a plain string."""
    url = f"{api_base_url.rstrip('/')}/{'file/' if files else ''}bot{TOKEN_SLOT}"
    return lambda _token: url


def _seconds(value: Any, default: float | None) -> float | None:
    return float(value) if isinstance(value, (int, float)) else (None if value is None else default)


def _retry_after(payload: bytes) -> float | None:
    try:
        return float(json.loads(payload)["parameters"]["retry_after"])
    except (ValueError, KeyError, TypeError):
        return None


class AiohttpRequest(BaseRequest):
    """One BaseRequest per Bot role (updates, everything else), sharing the hub's session."""

    def __init__(self, session: aiohttp.ClientSession, token: str, *, read_timeout: float = 10.0,
                 connect_timeout: float = 10.0) -> None:
        self._session = session
        self._token = token
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        """Nothing to open: the hub owns the session."""

    async def shutdown(self) -> None:
        """Nothing to close: the hub closes the session."""

    def _timeout(self, read: Any, connect: Any) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(total=None, sock_read=_seconds(read, self._read_timeout),
                                     sock_connect=_seconds(connect, self._connect_timeout))

    def _body(self, request_data: RequestData | None) -> aiohttp.FormData | dict[str, str] | None:
        if request_data is None:
            return None
        if not request_data.contains_files:
            return request_data.json_parameters
        form = aiohttp.FormData(request_data.json_parameters)
        for name, (filename, content, mime) in request_data.multipart_data.items():
            form.add_field(name, content, filename=filename, content_type=mime)
        return form

    def _hide(self, text: str) -> str:
        return text.replace(self._token, TOKEN_SLOT) if self._token else text

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = BaseRequest.DEFAULT_NONE, write_timeout: Any = BaseRequest.DEFAULT_NONE,
                         connect_timeout: Any = BaseRequest.DEFAULT_NONE,
                         pool_timeout: Any = BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        """POST to the Bot API; errors carry no URL and are raised `from None` (no chained cause
        whose text could hold the URL)."""
        try:
            async with self._session.request(method, url.replace(TOKEN_SLOT, self._token),
                                             data=self._body(request_data),
                                             headers={"User-Agent": self.USER_AGENT},
                                             timeout=self._timeout(read_timeout, connect_timeout)) as response:
                status, payload = response.status, await response.read()
        except asyncio.CancelledError:
            raise
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise ConnectFailed(f"could not reach the Bot API: {type(exc).__name__}") from None
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise TimedOut("the Bot API did not answer in time") from None
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise NetworkError(self._hide(f"aiohttp.{type(exc).__name__}: {exc}")) from None
        return self._checked(status, payload)

    def _checked(self, status: int, payload: bytes) -> tuple[int, bytes]:
        """429 and 5xx are raised here, told apart; python-telegram-bot maps the rest."""
        if status == 429:
            raise RateLimited(_retry_after(payload) or 1.0)
        if status >= 500:
            raise ServerError(f"the Bot API answered {status}")
        return status, payload
