"""Who runs the scheduler: exactly one process per database.

On PostgreSQL the leader holds a session-level advisory lock on a dedicated connection (autocommit,
TCP keepalives, outside the pool). When the leader dies its session ends, PostgreSQL releases the
lock, and another process's next `acquire` takes over. The leader checks its connection on every
round and steps down the moment it is lost. On SQLite one process uses the database anyway.

Leadership only saves work: if two processes ever ticked at once (a network split before the old
leader notices), the database still queues each nudge once (scheduler/planning.py).
"""

from __future__ import annotations

import hashlib
import logging
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from storage.db import sync_url

log = logging.getLogger("replydesk.scheduler.lock")
LOCK_NAME = "replydesk.scheduler"
_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3,
               "connect_timeout": 10}


class LeaderLock(Protocol):
    """Blocking calls: run them off the event loop."""

    def acquire(self) -> bool: ...  # try once; True when this process leads (again or still)

    def held(self) -> bool: ...  # still leading? False once the lock's connection is gone

    def release(self) -> None: ...


class SingleProcessLock:
    """SQLite: the one process using the database leads."""

    def __init__(self) -> None:
        self._held = False

    def acquire(self) -> bool:
        self._held = True
        return True

    def held(self) -> bool:
        return self._held

    def release(self) -> None:
        self._held = False


def lock_id(name: str, scope: str) -> int:
    """A signed 64-bit advisory lock key for one name in one database and schema."""
    digest = hashlib.blake2b(f"{name}:{scope}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class AdvisoryLock:
    """PostgreSQL: `pg_try_advisory_lock` held by a dedicated session for as long as it lives."""

    def __init__(self, url: str, name: str = LOCK_NAME) -> None:
        self._engine = sa.create_engine(sync_url(url), poolclass=NullPool, isolation_level="AUTOCOMMIT",
                                        connect_args=_KEEPALIVES)
        self._name = name
        self._conn: sa.Connection | None = None
        self._key: int | None = None
        self.backend_pid: int | None = None  # the PostgreSQL session holding the lock, for diagnosis

    def acquire(self) -> bool:
        if self._conn is not None:
            return self.held()
        try:
            conn = self._engine.connect()
        except sa.exc.DBAPIError:
            log.warning("cannot reach the database to compete for the scheduler lock")
            return False
        try:
            # Advisory locks are per database: the schema keeps two hubs sharing one database apart.
            scope, pid = conn.execute(sa.text(
                "SELECT current_database() || '.' || current_schema(), pg_backend_pid()")).one()
            key = lock_id(self._name, scope)
            if conn.execute(sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar_one():
                self._conn, self._key, self.backend_pid = conn, key, pid
                return True
        except sa.exc.DBAPIError:
            log.warning("lost the connection while competing for the scheduler lock", exc_info=True)
        conn.close()
        return False

    def held(self) -> bool:
        if self._conn is None:
            return False
        try:
            self._conn.execute(sa.text("SELECT 1"))
        except sa.exc.DBAPIError:
            log.warning("the scheduler lock's connection is gone; stepping down")
            self._forget()
            return False
        return True

    def _forget(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except sa.exc.DBAPIError:
                pass

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
            except sa.exc.DBAPIError:
                pass
            self._forget()
        self._engine.dispose()


def leader_lock(url: str, is_sqlite: bool) -> LeaderLock:
    return SingleProcessLock() if is_sqlite else AdvisoryLock(url)
