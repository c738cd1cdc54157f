"""In-process event bus feeding the /ws endpoint (seed 003 and seed 000 event names)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
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
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                log.warning("dropping a WebSocket subscriber that fell %d events behind", self._max_backlog)
                self._subscribers.discard(queue)
        return event

    def close(self) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(None)
            except asyncio.QueueFull:
                pass
        self._subscribers.clear()
