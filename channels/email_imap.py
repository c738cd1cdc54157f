"""One IMAP connection (aioimaplib): login, select, UID search and fetch, waiting for news with
IDLE or a pause; and the pure parsing of the server's answers. The loop around it, with the
cursor and the reconnect rules, is channels/email_watch.py.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

import aioimaplib

from channels.email_state import MailboxCursor

log = logging.getLogger("replydesk.channels.email")
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                       "Nov", "Dec"), start=1)}
_INTERNALDATE = re.compile(rb'INTERNALDATE "\s?(\d{1,2})-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-]\d{4})"')
_UID = re.compile(rb"\bUID (\d+)")
_LITERAL = re.compile(rb"\{(\d+)\}$")
_EXISTS = re.compile(rb"^\d+ EXISTS$")
CONNECTION_ERRORS = (OSError, asyncio.TimeoutError, aioimaplib.AioImapException)


class ImapError(Exception):
    """The server refused a command (NO/BAD) or answered something unreadable."""


class DeliveryFailed(Exception):
    """Storing fetched mail failed (the hub's side); the batch is read again later."""


@dataclass(frozen=True)
class ImapConfig:
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    tls: bool = True
    mailbox: str = "INBOX"
    poll_seconds: float = 60.0
    idle_seconds: float = 25 * 60.0
    use_idle: bool = True
    backfill: timedelta = timedelta(days=2)
    batch_size: int = 20
    timeout: float = 30.0
    reconnect_initial: float = 1.0
    reconnect_max: float = 300.0


@dataclass(frozen=True)
class FetchedMail:
    uid: int
    internal_date: datetime | None
    data: bytes


Deliver = Callable[[list[FetchedMail]], Awaitable[None]]


def imap_date(day: date) -> str:
    return f"{day.day:02d}-{list(_MONTHS)[day.month - 1]}-{day.year}"


def quote_mailbox(name: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9._/-]+", name):
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_internaldate(meta: bytes) -> datetime | None:
    found = _INTERNALDATE.search(meta)
    if found is None or found.group(2).decode() not in _MONTHS:
        return None
    day, month, year, hh, mm, ss, zone = found.groups()
    offset = int(zone[1:3]) * 60 + int(zone[3:5])
    tz = timezone(timedelta(minutes=offset if zone[:1] == b"+" else -offset))
    return datetime(int(year), _MONTHS[month.decode()], int(day), int(hh), int(mm), int(ss),
                    tzinfo=tz).astimezone(timezone.utc)


def parse_select(lines: Sequence[Any]) -> tuple[int, int]:
    """(UIDVALIDITY, UIDNEXT) from a SELECT response; UIDNEXT is 0 when the server omits it."""
    text = b"\n".join(bytes(line) for line in lines)
    validity = re.search(rb"\[UIDVALIDITY (\d+)\]", text)
    uidnext = re.search(rb"\[UIDNEXT (\d+)\]", text)
    if validity is None:
        raise ImapError("SELECT answered without UIDVALIDITY")
    return int(validity.group(1)), int(uidnext.group(1)) if uidnext else 0


def parse_search(lines: Sequence[Any]) -> list[int]:
    """UIDs of a (UID) SEARCH response, ignoring EXISTS/RECENT lines that arrive alongside."""
    found: set[int] = set()
    for line in lines[:-1]:
        tokens = bytes(line).split()
        if tokens[:1] == [b"SEARCH"]:
            tokens = tokens[1:]
        if tokens and all(t.isdigit() for t in tokens):
            found.update(int(t) for t in tokens)
    return sorted(found)


def parse_fetch(lines: Sequence[Any]) -> list[FetchedMail]:
    """Messages of a `UID FETCH (UID INTERNALDATE BODY.PEEK[])` response, in UID order. The UID may
    come before or after the literal, depending on the server."""
    mails: list[FetchedMail] = []
    items = list(lines)
    for index, line in enumerate(items):
        if isinstance(line, bytearray) or not _LITERAL.search(bytes(line)):
            continue
        literal = items[index + 1] if index + 1 < len(items) else b""
        closing = bytes(items[index + 2]) if index + 2 < len(items) and not isinstance(items[index + 2], bytearray) \
            else b""
        meta = bytes(line) + b" " + closing
        uid = _UID.search(meta)
        if uid is not None and isinstance(literal, (bytes, bytearray)):
            mails.append(FetchedMail(int(uid.group(1)), parse_internaldate(meta), bytes(literal)))
    return sorted(mails, key=lambda mail: mail.uid)


def search_criteria(cursor: MailboxCursor) -> list[str]:
    criteria = ["UID", f"{cursor.last_uid + 1}:*"]
    return criteria + (["SINCE", imap_date(cursor.since)] if cursor.since else [])


def _check(response: Any, what: str) -> Any:
    if response.result != "OK":
        detail = b" ".join(bytes(line) for line in response.lines[-1:]).decode("utf-8", "replace")
        raise ImapError(f"{what} failed: {response.result} {detail}".strip())
    return response


class ImapSession:
    """One connection: login, select, search, fetch, and waiting for news (IDLE or a pause)."""

    def __init__(self, config: ImapConfig) -> None:
        self.config = config
        self.lost = asyncio.Event()
        self.idles = 0
        self.news = False
        self._client: aioimaplib.IMAP4 | None = None

    def _on_lost(self, _exc: Exception | None) -> None:
        self.lost.set()
        if self._client is not None:  # wakes a pending IDLE wait
            self._client.protocol.idle_queue.put_nowait(aioimaplib.STOP_WAIT_SERVER_PUSH)

    async def open(self) -> tuple[int, int]:
        """Connect, log in, select the mailbox; returns (UIDVALIDITY, UIDNEXT)."""
        config = self.config
        context = ssl.create_default_context() if config.tls else None
        self._client = aioimaplib.IMAP4(config.host, config.port, timeout=config.timeout,
                                        conn_lost_cb=self._on_lost, ssl_context=context)
        await self._client.wait_hello_from_server()
        _check(await self._client.login(config.user, config.password), "LOGIN")
        selected = _check(await self._client.select(quote_mailbox(config.mailbox)), f"SELECT {config.mailbox}")
        return parse_select(selected.lines)

    @property
    def client(self) -> aioimaplib.IMAP4:
        if self._client is None or self.lost.is_set():
            raise ConnectionError("IMAP connection lost")
        return self._client

    async def search(self, criteria: list[str]) -> list[int]:
        response = self._watch(await self.client.uid_search(*criteria, charset=None))
        return parse_search(_check(response, "UID SEARCH").lines)

    async def fetch(self, uids: Sequence[int]) -> list[FetchedMail]:
        response = await self.client.uid("fetch", ",".join(map(str, uids)), "(UID INTERNALDATE BODY.PEEK[])")
        return parse_fetch(_check(self._watch(response), "UID FETCH").lines)

    def _watch(self, response: Any) -> Any:
        """Mail announced (EXISTS) alongside a response may have arrived after the search that
        preceded it, and IDLE will not announce it again: remember to search once more."""
        if any(_EXISTS.match(bytes(line)) for line in response.lines if not isinstance(line, bytearray)):
            self.news = True
        return response

    def take_news(self) -> bool:
        news, self.news = self.news, False
        return news

    async def wait_for_news(self, seconds: float) -> None:
        """Return when the mailbox may have new mail: an EXISTS push, or `seconds` passed."""
        if self.config.use_idle and self.client.has_capability("IDLE"):
            await self._idle(seconds)
            return
        try:
            await asyncio.wait_for(self.lost.wait(), seconds)
        except TimeoutError:
            return
        raise ConnectionError("IMAP connection lost")

    async def _idle(self, seconds: float) -> None:
        client = self.client
        idle = await client.idle_start(timeout=seconds)
        self.idles += 1
        while True:
            push = await client.wait_server_push(timeout=seconds + self.config.timeout)
            if self.lost.is_set():
                raise ConnectionError("IMAP connection lost during IDLE")
            if push == aioimaplib.STOP_WAIT_SERVER_PUSH or any(b"EXISTS" in bytes(p) for p in push):
                break
        client.idle_done()
        _check(await asyncio.wait_for(idle, self.config.timeout), "IDLE")

    def close(self) -> None:
        """Drop the connection now (no LOGOUT round trip: this also runs on cancellation)."""
        client, self._client = self._client, None
        if client is None:
            return
        for task in (*client.tasks, *client.protocol.tasks, client._client_task):
            if not task.done():
                task.cancel()
        if client.protocol.transport is not None:
            client.protocol.transport.close()
