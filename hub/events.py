"""The event bus feeding the /ws endpoint (seed 003 and seed 000 event names). In-process; on
PostgreSQL hub/event_relay.py forwards it to and from the other hub processes."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from collections.abc import Callable
from typing import Any

log = logging.getLogger("replydesk.events")

NEW_REPLY = "conversation:new_reply"
AI_READY = "conversation:ai_ready"
SENT = "conversation:sent"
ERROR = "conversation:error"
RESPONSE_GENERATING = "response:generating"
RESPONSE_COMPLETED = "response:completed"
TRAINING_PROGRESS = "training:progress"


class EventBus:
    """Fan-out to subscribers; a subscriber that falls behind by `max_backlog` is dropped."""

    def __init__(self, max_backlog: int = 1000) -> None:
        self._subscribers: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self._max_backlog = max_backlog
        self._forward: Callable[[dict[str, Any]], None] | None = None

    def forward_to(self, sink: Callable[[dict[str, Any]], None] | None) -> None:
        """Hand every event published here to `sink` too (the cross-process relay); None stops."""
        self._forward = sink

    def subscribe(self) -> asyncio.Queue[dict[str, Any] | None]:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(self._max_backlog)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        self._subscribers.discard(queue)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def publish(self, event_type: str, **fields: Any) -> dict[str, Any]:
        event = {"type": event_type, **fields}
        event.setdefault("timestamp", datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"))
        self.deliver(event)
        if self._forward is not None:
            self._forward(event)
        return event

    def deliver(self, event: dict[str, Any]) -> None:
        """Fan one event out to this process's subscribers (published here or by another process)."""
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                log.warning("dropping a WebSocket subscriber that fell %d events behind", self._max_backlog)
                self._subscribers.discard(queue)

    def close(self) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(None)
            except asyncio.QueueFull:
                pass
        self._subscribers.clear()
