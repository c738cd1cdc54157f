"""The database: SQLite (WAL, one group-committing writer thread) by default, PostgreSQL by URL.

Every unit of work is a plain function over a sync SQLAlchemy connection, run whole in a database
thread: one hop off the event loop per transaction instead of one per statement.

    await db.write(fn, *args)   fn(conn, *args) in a transaction, durable when the await returns
    await db.read(fn, *args)    fn(conn, *args) on a read connection

On SQLite one writer thread takes every queued unit into one transaction, each unit inside its
own SAVEPOINT (a failing unit undoes only itself), and commits once for all of them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url

log = logging.getLogger("replydesk.db")
T = TypeVar("T")
Work = Callable[..., T]


def sync_url(url: str) -> str:
    """The driver Replydesk uses: the standard library sqlite3, or psycopg 3."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def redact_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def ensure_sqlite_dir(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def _install_sqlite_pragmas(engine: sa.Engine, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def _resolve(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class _SQLiteWriter:
    """One thread, one connection: drains the queue into one transaction per round."""

    def __init__(self, engine: sa.Engine, max_batch: int = 128) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="replydesk-sqlite-writer", daemon=True)
        self._thread.start()

    def submit(self, work: Callable[[sa.Connection], T]) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((work, loop, future))
        return future

    def _take_batch(self) -> list[Any] | None:
        first = self._queue.get()
        if first is None:
            return None
        batch = [first]
        while len(batch) < self._max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self._queue.put(None)  # stop after this round
                break
            batch.append(item)
        return batch

    def _run_batch(self, conn: sa.Connection, batch: list[Any]) -> list[tuple[Any, Any, bool, Any]]:
        outcomes = []
        with conn.begin():
            for work, loop, future in batch:
                savepoint = conn.begin_nested()
                try:
                    value = work(conn)
                except BaseException as exc:  # this unit only; the others go on
                    savepoint.rollback()
                    outcomes.append((loop, future, False, exc))
                else:
                    savepoint.commit()
                    outcomes.append((loop, future, True, value))
        return outcomes

    def _run(self) -> None:
        conn = self._engine.connect().execution_options(sqlite_begin="IMMEDIATE")
        while (batch := self._take_batch()) is not None:
            try:
                outcomes = self._run_batch(conn, batch)
            except BaseException as exc:  # the COMMIT itself failed: nobody's work is durable
                log.exception("SQLite commit failed for %d unit(s) of work", len(batch))
                outcomes = [(loop, future, False, exc) for _, loop, future in batch]
                conn.invalidate()
                conn = self._engine.connect().execution_options(sqlite_begin="IMMEDIATE")
            for loop, future, ok, value in outcomes:
                loop.call_soon_threadsafe(_resolve, future, ok, value)
        conn.close()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)


class Database:
    """One per process. Units of work are sync functions run in database threads."""

    def __init__(self, url: str, *, echo: bool = False, sqlite_synchronous: str = "FULL",
                 threads: int = 4) -> None:
        self.url = url
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        self._readers = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="replydesk-db")
        if self.is_sqlite:
            ensure_sqlite_dir(url)
            self.engine = sa.create_engine(sync_url(url), echo=echo, pool_size=threads + 1,
                                           connect_args={"check_same_thread": False})
            _install_sqlite_pragmas(self.engine, sqlite_synchronous)
            self._writer: _SQLiteWriter | None = _SQLiteWriter(self.engine)
        else:
            self.engine = sa.create_engine(sync_url(url), echo=echo, pool_size=threads * 2,
                                           max_overflow=threads, pool_pre_ping=True)
            self._writer = None

    @property
    def dialect(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql"

    def _transaction(self, work: Callable[[sa.Connection], T]) -> T:
        with self.engine.begin() as conn:
            return work(conn)

    def _reading(self, work: Callable[[sa.Connection], T]) -> T:
        with self.engine.connect() as conn:
            return work(conn)

    async def write(self, fn: Work[T], *args: Any, **kwargs: Any) -> T:
        """Run fn(conn, *args) in a transaction; when this returns, the work is committed."""
        work = lambda conn: fn(conn, *args, **kwargs)  # noqa: E731
        if self._writer is not None:
            return await self._writer.submit(work)
        return await asyncio.get_running_loop().run_in_executor(self._readers, self._transaction, work)

    async def read(self, fn: Work[T], *args: Any, **kwargs: Any) -> T:
        work = lambda conn: fn(conn, *args, **kwargs)  # noqa: E731
        return await asyncio.get_running_loop().run_in_executor(self._readers, self._reading, work)

    async def execute(self, statement: sa.Executable, params: Any = None) -> int:
        """One write statement; returns the row count."""
        return await self.write(lambda conn: conn.execute(statement, params).rowcount)

    async def scalar(self, statement: sa.Executable) -> Any:
        return await self.read(lambda conn: conn.execute(statement).scalar())

    async def rows(self, statement: sa.Executable) -> list[sa.Row]:
        return await self.read(lambda conn: conn.execute(statement).all())

    async def first(self, statement: sa.Executable) -> sa.Row | None:
        return await self.read(lambda conn: conn.execute(statement).first())

    def lock(self, conn: sa.Connection, key: str) -> None:
        """Serialise one logical key (a sender, a thread) until the transaction ends.

        SQLite already has one writer; PostgreSQL takes a transaction-scoped advisory lock.
        """
        if self.is_sqlite:
            return
        digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"),
                     {"id": int.from_bytes(digest, "big", signed=True)})

    def insert_ignore(self, table: Any) -> Any:
        """INSERT that skips a row whose unique key exists: `INSERT OR IGNORE` on SQLite (a plain
        insert with a prefix, so SQLAlchemy caches its compiled form: the dialect's ON CONFLICT
        construct is compiled anew on every call, about a millisecond per ingested message),
        `ON CONFLICT DO NOTHING` on PostgreSQL."""
        table = getattr(table, "__table__", table)
        if self.is_sqlite:
            return sa.insert(table).prefix_with("OR IGNORE")
        return postgresql.insert(table).on_conflict_do_nothing()

    async def dispose(self) -> None:
        if self._writer is not None:
            await asyncio.to_thread(self._writer.stop)
        self._readers.shutdown(wait=True)
        self.engine.dispose()
