"""How the follow-up scheduler's cost grows with the scheduled follow-ups: 1k / 10k / 100k conversations,
each with one planned nudge (bulk-inserted with SQL into a freshly migrated SQLite database), timing one
`scheduler.followups.tick` when nothing is due and when 100 are due, and GET /api/followups (first page),
beside a raw sqlite3 query selecting the 100 due rows by the same (status, fire_at) index on the same file."""

from __future__ import annotations

import os
import shutil
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
from aiohttp import web

from bench.harness import machine

SIZES = [int(s) for s in os.environ.get("BENCH_FOLLOWUP_SIZES", "1000,10000,100000").split(",")]
DUE, REPS = 100, 5  # nudges due in the busy tick; timed repetitions (the median is reported)
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)  # a Monday 10:00 UTC, outside default quiet hours
IDLE_AT = NOW - timedelta(hours=3)  # before the earliest fire time: nothing due
DUE_QUERY = ("SELECT id, conversation_id, fire_at FROM followups WHERE status = 'planned' AND fire_at <= ? "
             "ORDER BY fire_at LIMIT 100")


def _sql_time(at: datetime) -> str:
    """How SQLAlchemy's SQLite DateTime stores a UTC datetime."""
    return at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def _fire_at(i: int) -> datetime:
    """The first DUE nudges fell due in the last 100 minutes; the rest fall due over the next days."""
    return NOW - timedelta(minutes=DUE - i) if i < DUE else NOW + timedelta(hours=1, seconds=i)


def seed(path: Path, size: int) -> None:
    """`size` contacts, each with a conversation waiting for their reply and one planned nudge; the
    conversations are marked as planned (followup_scans), as after the ticks that planned them."""
    wrote, asked, made = (_sql_time(NOW - timedelta(days=2)), _sql_time(NOW - timedelta(days=2, minutes=5)),
                          _sql_time(NOW - timedelta(days=3)))
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany("INSERT INTO contacts (id, uid, display_name, classification, notes, created_at, "
                         "updated_at) VALUES (?, ?, ?, 'unknown', '', ?, ?)",
                         ((i + 1, str(uuid.uuid4()), f"Contact {i}", made, made) for i in range(size)))
        conn.executemany("INSERT INTO conversations (id, uid, channel, external_id, contact_id, display_name, "
                         "subject, is_group, status, message_count, last_message_at, last_inbound_at, "
                         "last_outbound_at, created_at, updated_at) "
                         "VALUES (?, ?, 'imessage', ?, ?, ?, '', 0, 'active', 2, ?, ?, ?, ?, ?)",
                         ((i + 1, str(uuid.uuid4()), f"thread-{i}", i + 1, f"Contact {i}", wrote, asked, wrote,
                           made, wrote) for i in range(size)))
        conn.executemany("INSERT INTO followup_scans (conversation_id, message_at, scanned_at) VALUES (?, ?, ?)",
                         ((i + 1, wrote, wrote) for i in range(size)))
        conn.executemany("INSERT INTO followups (uid, conversation_id, contact_id, rule, due_at, fire_at, basis_at, "
                         "status, reason, instruction, note, created_at, updated_at) "
                         "VALUES (?, ?, ?, 'waiting', ?, ?, ?, 'planned', ?, 'Ask kindly whether they had a look.', "
                         "'', ?, ?)",
                         ((str(uuid.uuid4()), i + 1, i + 1, _sql_time(_fire_at(i)), _sql_time(_fire_at(i)), wrote,
                           f"No reply from Contact {i} for 48 hours", wrote, wrote) for i in range(size)))
    conn.close()


def reset_fired(path: Path) -> None:
    """Undo a busy tick (its nudges planned again, its jobs gone) so the next repetition finds them due."""
    conn = sqlite3.connect(path, timeout=30)
    with conn:
        conn.execute("UPDATE followups SET status = 'planned' WHERE status = 'queued'")
        conn.execute("DELETE FROM jobs WHERE kind = 'followup.fire'")
    conn.close()


def raw_due_ms(path: Path, size: int) -> float:
    """Baseline: median ms of the raw due-rows query on the same file (its own connection, warm)."""
    conn = sqlite3.connect(path)
    conn.execute(DUE_QUERY, (_sql_time(NOW),)).fetchall()
    times = []
    for _ in range(REPS):
        started = time.perf_counter()
        found = conn.execute(DUE_QUERY, (_sql_time(NOW),)).fetchall()
        times.append((time.perf_counter() - started) * 1000)
    conn.close()
    if len(found) != min(DUE, size):
        raise RuntimeError(f"the baseline query found {len(found)} due rows, not {min(DUE, size)}")
    return statistics.median(times)


async def median_ms(action: Callable[[], Awaitable[None]], between: Callable[[], None] = lambda: None) -> float:
    times = []
    for _ in range(REPS):
        between()
        started = time.perf_counter()
        await action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def measure(size: int) -> list[tuple[str, str, float]]:
    """(what, figure, ms) for one size, on its own database and hub."""
    from hub.app import create_app
    from hub.clock import FakeClock
    from hub.keys import create_key
    from hub.settings import settings_from_dict
    from hub.state import DB
    from scheduler.followups import tick
    from storage.migrate import upgrade

    workdir = Path(tempfile.mkdtemp(prefix="replydesk-bench-followups-"))
    url, path = f"sqlite:///{workdir}/hub.db", workdir / "hub.db"
    upgrade(url)
    seed(path, size)
    settings = settings_from_dict({"auth": {"jwt_secret": "b" * 48}, "data_dir": str(workdir),
                                   "database": {"url": url}, "brain": {"warm_up": False}}, base_dir=workdir)
    app = create_app(settings, clock=FakeClock(NOW), start_worker=False, run_migrations=False)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        _, key = await create_key(app[DB], "bench", NOW)

        async def idle_tick() -> None:
            result = await tick(app, IDLE_AT)
            if result.queued or result.timers or result.cancelled:
                raise RuntimeError(f"a tick with nothing due or changed did work: {result}")

        async def busy_tick() -> None:
            if len((await tick(app, NOW)).queued) != min(DUE, size):
                raise RuntimeError(f"a tick with {DUE} due did not queue {DUE}")

        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as session:
            async def first_page() -> None:
                async with session.get(f"{base}/api/followups") as resp:
                    body = await resp.json()
                    if resp.status != 200 or body["total"] != size or not body["followups"]:
                        raise RuntimeError(f"GET /api/followups answered {resp.status}: {body}")

            figures = [("tick, nothing due", await median_ms(idle_tick)),
                       (f"tick, {DUE} due (queued)", await median_ms(busy_tick, lambda: reset_fired(path))),
                       ("GET /api/followups, first page", await median_ms(first_page))]
        reset_fired(path)
        raw = raw_due_ms(path, size)
        return [(what, f"{ms:,.1f} ms", raw) for what, ms in figures]
    finally:
        await runner.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


async def main() -> list[tuple[str, str, str]]:
    print(f"\n## Scheduled follow-ups as they grow — {machine()}, SQLite, median of {REPS}")
    print(f"{'what':<52} {'Replydesk':>12} {'raw sqlite3 due query':>22}")
    rows = []
    for size in SIZES:
        for what, figure, raw in await measure(size):
            rows.append((f"{what} at {size:,} planned", figure, f"{raw:,.2f} ms (raw sqlite3 due query)"))
            print(f"{rows[-1][0]:<52} {figure:>12} {raw:>19,.2f} ms")
    return rows
