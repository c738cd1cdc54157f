"""The job that runs after a message is stored: each registered processor sees the message once.

The brain (triage, sales signals, memory, drafting) registers its steps here.
"""

from __future__ import annotations

import logging
from typing import Awaitable, Callable, Protocol

import sqlalchemy as sa

from hub.jobs import ClaimedJob
from storage.db import Database
from storage.models import Message

log = logging.getLogger("replydesk.processing")


class InboundProcessor(Protocol):
    async def __call__(self, message: sa.Row) -> None: ...


def inbound_job_handler(db: Database, processors: list[InboundProcessor]) -> Callable[[ClaimedJob], Awaitable[None]]:
    async def handle(job: ClaimedJob) -> None:
        message_id = job.payload["message_id"]
        message = await db.first(sa.select(Message).where(Message.id == message_id))
        if message is None:
            log.warning("job %s: message %s no longer exists", job.id, message_id)
            return
        for processor in processors:
            await processor(message)

    return handle
