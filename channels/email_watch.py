"""The mailbox loop: connect, read new mail in UID order, hand each batch to `deliver` (which
stores it durably), and only then move the durable cursor; wait for news; reconnect on failure.

- Cursor `(mailbox, UIDVALIDITY, last UID)` in the StateStore. A crash between fetching and
  storing re-reads the batch; between storing and saving the cursor re-delivers it, and the
  hub's unique (channel, external_id = Message-ID) stores it once.
- First start, or a changed UIDVALIDITY: a windowed sync (`SINCE` a date) instead of the whole
  mailbox, so years of old mail are not drafted for; after a UIDVALIDITY change the window starts
  a day before the newest mail already read, and duplicates are dropped by Message-ID.
- Waiting: IDLE, re-issued every min(idle_seconds, poll_seconds) (servers drop IDLE after 30
  minutes, NATs sooner), so the poll is the fallback even when IDLE silently dies; plain polling
  when the server has no IDLE.
- Reconnects with exponential backoff; logs once when the mailbox goes down and once when it
  is back, never per failed attempt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from channels.email_imap import (CONNECTION_ERRORS, Deliver, DeliveryFailed, FetchedMail, ImapConfig, ImapError,
                                 ImapSession, search_criteria)
from channels.email_state import MailboxCursor, StateStore, cursor_key

log = logging.getLogger("replydesk.channels.email")


class Clock(Protocol):
    def now(self) -> datetime: ...


class MailboxWatcher:
    """Reads one mailbox forever. `wait_until` lets callers (tests, diagnostics) await progress."""

    def __init__(self, config: ImapConfig, state: StateStore, deliver: Deliver, clock: Clock) -> None:
        self.config = config
        self._state = state
        self._deliver = deliver
        self._clock = clock
        self._changed = asyncio.Condition()
        self._delay = config.reconnect_initial
        self.up: bool | None = None  # None until the first attempt settles
        self.failures = 0
        self.idles = 0
        self.cursor: MailboxCursor | None = None
        self.last_error = ""

    async def run(self) -> None:
        while True:
            try:
                await self._session()
            except CONNECTION_ERRORS + (ImapError,) as exc:
                self._went_down(exc)
            except DeliveryFailed as exc:
                log.error("email: storing mail from %s failed; it will be read again", self.config.mailbox,
                          exc_info=exc.__cause__)
            except Exception:  # the loop must outlive a bug; it is logged with its traceback every time
                log.exception("email: unexpected error reading %s", self.config.mailbox)
            self.failures += 1
            await self._notify()
            await asyncio.sleep(self._delay)
            self._delay = min(self._delay * 2, self.config.reconnect_max)

    async def wait_until(self, predicate: Callable[[MailboxWatcher], bool]) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: predicate(self))

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _went_down(self, exc: BaseException) -> None:
        self.last_error = f"{type(exc).__name__}: {exc}"
        if self.up is not False:
            log.warning("email: mailbox %s on %s:%s is unreachable (%s); retrying with backoff",
                        self.config.mailbox, self.config.host, self.config.port, self.last_error)
        self.up = False

    def _came_up(self) -> None:
        if self.up is False:
            log.info("email: mailbox %s on %s:%s is reachable again", self.config.mailbox, self.config.host,
                     self.config.port)
        self.up, self._delay, self.last_error = True, self.config.reconnect_initial, ""

    async def _session(self) -> None:
        session = ImapSession(self.config)
        try:
            uidvalidity, uidnext = await session.open()
            self._came_up()
            await self._notify()
            while True:
                await self._sync(session, uidvalidity, uidnext)
                if session.take_news():
                    continue
                await session.wait_for_news(min(self.config.idle_seconds, self.config.poll_seconds))
                self.idles = session.idles
                await self._notify()
        finally:
            self.idles = session.idles
            session.close()

    async def _sync(self, session: ImapSession, uidvalidity: int, uidnext: int) -> None:
        cursor = await self._start_cursor(uidvalidity)
        uids = [uid for uid in await session.search(search_criteria(cursor)) if uid > cursor.last_uid]
        for start in range(0, len(uids), self.config.batch_size):
            chunk = uids[start:start + self.config.batch_size]
            mails = await session.fetch(chunk)
            if mails:
                await self._hand_over(mails)
            cursor = replace(cursor, last_uid=max(chunk), last_seen=_newest(cursor.last_seen, mails))
            await self._save(cursor)
        if cursor.since is not None:  # the windowed sync is complete: from now on, UIDs only
            await self._save(replace(cursor, since=None, last_uid=max(cursor.last_uid, uidnext - 1)))

    async def _hand_over(self, mails: list[FetchedMail]) -> None:
        try:
            await self._deliver(mails)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise DeliveryFailed(str(exc)) from exc

    async def _start_cursor(self, uidvalidity: int) -> MailboxCursor:
        stored = await self._state.get(cursor_key(self.config.mailbox))
        cursor = MailboxCursor.from_json(stored) if stored else None
        if cursor is not None and cursor.uidvalidity == uidvalidity:
            self.cursor = cursor
            return cursor
        now = self._clock.now()
        if cursor is None:
            since = (now - self.config.backfill).date()
            log.info("email: first sync of %s: mail since %s", self.config.mailbox, since)
        else:
            since = ((cursor.last_seen or now) - timedelta(days=1)).date()
            log.warning("email: UIDVALIDITY of %s changed (%s → %s); resyncing mail since %s, duplicates are "
                        "dropped by Message-ID", self.config.mailbox, cursor.uidvalidity, uidvalidity, since)
        fresh = MailboxCursor(self.config.mailbox, uidvalidity, 0, since, cursor.last_seen if cursor else None)
        await self._save(fresh)
        return fresh

    async def _save(self, cursor: MailboxCursor) -> None:
        await self._state.set(cursor_key(self.config.mailbox), cursor.to_json())
        self.cursor = cursor
        await self._notify()


def _newest(current: datetime | None, mails: list[FetchedMail]) -> datetime | None:
    dates = [m.internal_date for m in mails if m.internal_date is not None]
    return max([*dates, *([current] if current else [])], default=None)
