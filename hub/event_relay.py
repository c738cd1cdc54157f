"""Events shared between hub processes on one PostgreSQL database, through LISTEN/NOTIFY.

Each process delivers its own events to its own `/ws` subscribers at once (hub/events.py) and
NOTIFYs them, tagged with its origin id, on a channel named after the database and schema; one
listening connection per process delivers the other processes' events and skips its own, so each
subscriber sees every event exactly once. A NOTIFY payload is capped at 8000 bytes by PostgreSQL:
a larger event is trimmed (long texts cut, long lists shortened, `"truncated": true`) for the
other processes; local subscribers get it whole. Delivery is best effort, like the in-process bus:
while the database is unreachable, other processes miss events (clients re-read the REST APIs).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from hub.events import EventBus
from storage.db import Database

log = logging.getLogger("replydesk.events")

MAX_PAYLOAD_BYTES = 7900  # PostgreSQL refuses NOTIFY payloads of 8000 bytes or more
TRIMMED_TEXT_CHARS = 500
TRIMMED_LIST_ITEMS = 20
RECONNECT_MAX_SECONDS = 30.0


# -- the wire format (pure) ------------------------------------------------------------------------

def _dump(origin: str, event: dict[str, Any]) -> str:
    return json.dumps({"origin": origin, "event": event}, ensure_ascii=False, separators=(",", ":"),
                      default=str)


def _trim(value: Any) -> Any:
    if isinstance(value, str) and len(value) > TRIMMED_TEXT_CHARS:
        return value[:TRIMMED_TEXT_CHARS] + "…"
    if isinstance(value, (list, tuple)):
        return [_trim(item) for item in value[-TRIMMED_LIST_ITEMS:]]
    if isinstance(value, dict):
        return {key: _trim(item) for key, item in value.items()}
    return value


def _scalars_only(event: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in event.items()
            if value is None or isinstance(value, (bool, int, float))
            or (isinstance(value, str) and len(value) <= 200)}


def encode(event: dict[str, Any], origin: str, limit: int = MAX_PAYLOAD_BYTES) -> str:
    """The NOTIFY payload for one event: whole if it fits, else trimmed, else its short scalars."""
    payload = _dump(origin, event)
    if len(payload.encode()) <= limit:
        return payload
    for shrink in (_trim, _scalars_only):
        payload = _dump(origin, {**shrink(event), "truncated": True})
        if len(payload.encode()) <= limit:
            return payload
    return _dump(origin, {"type": event.get("type"), "truncated": True})


def decode(payload: str, own_origin: str) -> dict[str, Any] | None:
    """The event in a NOTIFY payload; None for this process's own events and for anything malformed."""
    try:
        envelope = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(envelope, dict) or envelope.get("origin") == own_origin:
        return None
    event = envelope.get("event")
    return event if isinstance(event, dict) and isinstance(event.get("type"), str) else None


def channel_name(database: str, schema: str) -> str:
    """One channel per database and schema: NOTIFY is database-wide, hubs on other schemas must not hear."""
    digest = hashlib.blake2b(f"{database}\0{schema}".encode(), digest_size=8).hexdigest()
    return f"replydesk_events_{digest}"


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as a libpq connection URI (the driver suffix removed)."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


# -- the connections -------------------------------------------------------------------------------

class PostgresEventRelay:
    """One listening and one notifying connection per process, each reconnecting with backoff."""

    def __init__(self, url: str, bus: EventBus, *, max_pending: int = 10_000) -> None:
        self.origin = uuid.uuid4().hex
        self.channel = ""
        self._conninfo = libpq_url(url)
        self._bus = bus
        self._outgoing: asyncio.Queue[str] = asyncio.Queue(max_pending)
        self._tasks: list[asyncio.Task[None]] = []
        self._connections: set[psycopg.AsyncConnection[Any]] = set()

    async def start(self) -> None:
        """Listening before this returns, so no event published after start-up is missed."""
        listener = await self._listener()
        self._tasks = [asyncio.create_task(self._listen_forever(listener), name="replydesk-event-listen"),
                       asyncio.create_task(self._notify_forever(), name="replydesk-event-notify")]
        self._bus.forward_to(self.send)

    def send(self, event: dict[str, Any]) -> None:
        try:
            self._outgoing.put_nowait(encode(event, self.origin))
        except asyncio.QueueFull:
            log.warning("event relay backlog full (database unreachable?); other hub processes miss an event")

    async def close(self) -> None:
        self._bus.forward_to(None)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for conn in list(self._connections):
            await conn.close()
        self._connections.clear()

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
        self._connections.add(conn)
        return conn

    async def _drop(self, conn: psycopg.AsyncConnection[Any] | None) -> None:
        if conn is not None:
            self._connections.discard(conn)
            await conn.close()

    async def _listener(self) -> psycopg.AsyncConnection[Any]:
        conn = await self._connect()
        cursor = await conn.execute("SELECT current_database(), current_schema()")
        database, schema = await cursor.fetchone() or ("", "")
        self.channel = channel_name(database, schema or "")
        await conn.execute(f'LISTEN "{self.channel}"')  # the name is ours: hex digits only
        return conn

    async def _listen_forever(self, conn: psycopg.AsyncConnection[Any]) -> None:
        while True:
            try:
                async for note in conn.notifies():
                    if (event := decode(note.payload, self.origin)) is not None:
                        self._bus.deliver(event)
            except psycopg.OperationalError as exc:
                log.warning("event listener lost the database (%s); reconnecting", exc)
            await self._drop(conn)
            conn = await self._retry(self._listener, "event listener")

    async def _notify_forever(self) -> None:
        conn: psycopg.AsyncConnection[Any] | None = None
        while True:
            payload = await self._outgoing.get()
            while True:
                try:
                    conn = conn or await self._connect()
                    await conn.execute("SELECT pg_notify(%s, %s)", (self.channel, payload))
                    break
                except psycopg.OperationalError as exc:
                    log.warning("event relay cannot notify (%s); reconnecting", exc)
                    await self._drop(conn)
                    conn = await self._retry(self._connect, "event relay")

    async def _retry(self, connect: Any, what: str) -> psycopg.AsyncConnection[Any]:
        delay = 0.5
        while True:
            try:
                conn = await connect()
            except psycopg.OperationalError:
                await asyncio.sleep(delay)  # real time on purpose: waiting for a database to return
                delay = min(delay * 2, RECONNECT_MAX_SECONDS)
            else:
                log.info("%s reconnected", what)
                return conn


@asynccontextmanager
async def shared_across_processes(bus: EventBus, db: Database) -> AsyncIterator[None]:
    """On PostgreSQL, relay `bus` to and from every hub process on the same database; on SQLite
    (one process owns the file) the bus stays in-process."""
    if db.is_sqlite:
        yield
        return
    relay = PostgresEventRelay(db.url, bus)
    await relay.start()
    try:
        yield
    finally:
        await relay.close()
