"""APScheduler job targets: module-level functions stored by reference ("scheduler.jobs:tick") in
the persistent job store, with only a string argument, so they survive restarts.

A target does no work itself: it hands the tick to the leading runtime of this process (keyed by
its database), whose tick only plans and queues durable hub jobs. Run late, twice, or by a process
that no longer leads, it changes nothing the database has not already decided.
"""

from __future__ import annotations

import logging
from typing import Protocol

log = logging.getLogger("replydesk.scheduler.jobs")
TICK_REF = "scheduler.jobs:tick"


class Tickable(Protocol):
    def tick_from_thread(self) -> None: ...


_LEADERS: dict[str, Tickable] = {}


def register(key: str, runtime: Tickable) -> None:
    _LEADERS[key] = runtime


def unregister(key: str, runtime: Tickable) -> None:
    if _LEADERS.get(key) is runtime:
        del _LEADERS[key]


def tick(key: str) -> None:
    """The periodic and the exact-time job: tick the follow-ups of the database `key` names."""
    runtime = _LEADERS.get(key)
    if runtime is None:
        log.info("follow-up tick for %s skipped: this process does not lead its scheduler", key)
        return
    runtime.tick_from_thread()
