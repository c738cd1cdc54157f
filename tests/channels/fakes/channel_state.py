"""The durable StateStore over `channel_state`, as the hub builds it (hub/channel_state.py)."""

from __future__ import annotations

from datetime import datetime, timezone

from hub.channel_state import DatabaseStateStore as _Store
from storage.db import Database


class _UtcClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


def DatabaseStateStore(db: Database, channel: str) -> _Store:  # noqa: N802 (kept for the tests' call sites)
    return _Store(db, channel, _UtcClock())
