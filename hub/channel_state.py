"""Durable per-channel state for adapters (IMAP cursors, BlueBubbles reconciliation, chat guids):
async get/set of JSON values by key over the `channel_state` table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from hub.clock import Clock
from storage.db import Database
from storage.models import ChannelState


def _get(conn: sa.Connection, channel: str, key: str) -> dict[str, Any] | None:
    return conn.execute(sa.select(ChannelState.value).where(ChannelState.channel == channel,
                                                            ChannelState.key == key)).scalar()


def _set(conn: sa.Connection, db: Database, channel: str, key: str, value: dict[str, Any], now: datetime) -> None:
    inserted = conn.execute(db.insert_ignore(ChannelState).values(channel=channel, key=key, value=value,
                                                                  updated_at=now)).rowcount
    if not inserted:
        conn.execute(sa.update(ChannelState).where(ChannelState.channel == channel, ChannelState.key == key)
                     .values(value=value, updated_at=now))


class DatabaseStateStore:
    def __init__(self, db: Database, channel: str, clock: Clock) -> None:
        self.db = db
        self.channel = channel
        self.clock = clock

    async def get(self, key: str) -> dict[str, Any] | None:
        return await self.db.read(_get, self.channel, key)

    async def set(self, key: str, value: dict[str, Any]) -> None:
        await self.db.write(_set, self.db, self.channel, key, value, self.clock.now())
