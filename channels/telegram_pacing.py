"""Pacing sends under Telegram's flood limits: about 1 message/s per chat, 20/min per group,
30/s overall, with short bursts allowed (a reply split in two goes out at once).

Each limit is a GCRA bucket ("theoretical arrival time"): a send reserves the earliest slot that
every bucket it belongs to allows, so concurrent senders queue up without a lock. Real time
(monotonic), not the hub's clock: this paces traffic to a real server. Both the time source and
the sleep are injected, so tests move time by hand.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class Bucket:
    """`rate` sends per second on average, up to `burst` back to back."""

    rate: float
    burst: int
    tat: float = 0.0  # the theoretical arrival time of the next conforming send

    @property
    def interval(self) -> float:
        return 1.0 / self.rate

    def earliest(self, now: float) -> float:
        return max(now, self.tat - (self.burst - 1) * self.interval)

    def take(self, at: float) -> None:
        self.tat = max(self.tat, at) + self.interval


@dataclass
class Pacer:
    """Reserve a slot per chat and overall; `wait(chat_id)` sleeps until the slot."""

    per_chat: tuple[float, int] = (1.0, 3)
    per_group: tuple[float, int] = (20 / 60, 3)  # group and channel chats have negative ids
    overall: tuple[float, int] = (30.0, 30)
    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    _chats: dict[int, Bucket] = field(default_factory=dict)
    _all: Bucket | None = None

    def _bucket(self, chat_id: int) -> Bucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            rate, burst = self.per_group if chat_id < 0 else self.per_chat
            bucket = self._chats[chat_id] = Bucket(rate, burst)
        return bucket

    def _forget_idle(self, now: float) -> None:
        """Chats whose bucket has fully refilled hold no state worth keeping."""
        if len(self._chats) > 1000:
            self._chats = {chat: b for chat, b in self._chats.items() if b.tat > now}

    def reserve(self, chat_id: int) -> float:
        """Book the next slot for `chat_id`; returns how many seconds from now it is."""
        now = self.now()
        self._forget_idle(now)
        if self._all is None:
            self._all = Bucket(*self.overall)
        chat = self._bucket(chat_id)
        at = max(chat.earliest(now), self._all.earliest(now))
        chat.take(at)
        self._all.take(at)
        return at - now

    async def wait(self, chat_id: int) -> None:
        delay = self.reserve(chat_id)
        if delay > 0:
            await self.sleep(delay)
