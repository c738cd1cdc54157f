"""Durable per-channel state for adapters (IMAP cursors, BlueBubbles reconciliation, chat guids):
async get/set of JSON values by key over the `channel_state` table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from hub.clock import Clock
from storage.db import Database
from storage.models import ChannelState


def _get(conn: sa.Connection, channel: str, key: str) -> dict[str, Any] | None:
    return conn.execute(sa.select(ChannelState.value).where(ChannelState.channel == channel,
                                                            ChannelState.key == key)).scalar()


def _set(conn: sa.Connection, db: Database, channel: str, key: str, value: dict[str, Any], now: datetime) -> None:
    """INSERT … ON CONFLICT (channel, key) DO UPDATE: one statement, on both databases."""
    insert = (sqlite.insert if db.is_sqlite else postgresql.insert)(ChannelState.__table__)
    conn.execute(insert.values(channel=channel, key=key, value=value, updated_at=now).on_conflict_do_update(
        index_elements=["channel", "key"], set_={"value": value, "updated_at": now}))


class DatabaseStateStore:
    def __init__(self, db: Database, channel: str, clock: Clock) -> None:
        self.db = db
        self.channel = channel
        self.clock = clock

    async def get(self, key: str) -> dict[str, Any] | None:
        return await self.db.read(_get, self.channel, key)

    async def set(self, key: str, value: dict[str, Any]) -> None:
        await self.db.write(_set, self.db, self.channel, key, value, self.clock.now())
