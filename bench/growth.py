"""How storing grows with the work: messages stored through POST /api/sync/messages (500 per request,
the hub's worker off so only storage is measured) into a table already holding 1k / 10k / 100k
messages, beside raw sqlite3 inserts of the same rows into a table with the same unique key."""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from bench.harness import machine
from bench.ingest import _pair, payload

SIZES = [int(s) for s in os.environ.get("BENCH_GROWTH_SIZES", "1000,10000,100000").split(",")]
BATCH, PROBE = 500, 2000  # rows per request; rows timed at each size


def raw_sqlite_rate(path: Path, start: int, count: int) -> float:
    """Baseline: rows per second of one executemany per BATCH rows, WAL, synchronous=FULL."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL"), conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS m (id INTEGER PRIMARY KEY, channel TEXT, external_id TEXT, "
                 "text TEXT, sent_at TEXT, UNIQUE(channel, external_id))")
    started = time.perf_counter()
    for first in range(start, start + count, BATCH):
        with conn:
            conn.executemany("INSERT OR IGNORE INTO m (channel, external_id, text, sent_at) VALUES (?,?,?,?)",
                             [("imessage", f"g{i}", "Hi! Are you free on Saturday?", "2024-01-01T12:00:00Z")
                              for i in range(first, first + BATCH)])
    rate = count / (time.perf_counter() - started)
    conn.close()
    return rate


async def post_batches(session: aiohttp.ClientSession, base: str, token: str, start: int, count: int) -> float:
    started = time.perf_counter()
    for n in range(start // BATCH, (start + count) // BATCH):
        async with session.post(f"{base}/api/sync/messages", json=payload(n, BATCH, "growth"),
                                headers={"Authorization": f"Bearer {token}"}) as resp:
            if resp.status != 200:
                raise RuntimeError(f"sync answered {resp.status}: {await resp.text()}")
    return count / (time.perf_counter() - started)


async def main() -> list[tuple[str, str, str]]:
    from hub.app import create_app
    from hub.settings import settings_from_dict

    print(f"\n## Storing messages as the table grows — {machine()}, SQLite FULL, {BATCH} per request")
    workdir = Path(tempfile.mkdtemp(prefix="replydesk-bench-growth-"))
    settings = settings_from_dict({"auth": {"jwt_secret": "b" * 48}, "data_dir": str(workdir),
                                   "database": {"url": f"sqlite:///{workdir}/hub.db"},
                                   "brain": {"warm_up": False}}, base_dir=workdir)
    runner = web.AppRunner(create_app(settings, start_worker=False), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    rows, stored = [], 0
    try:
        token = await _pair(base)
        async with aiohttp.ClientSession() as session:
            for size in SIZES:
                probe = min(PROBE, (size - stored) // 2 // BATCH * BATCH)
                await post_batches(session, base, token, stored, size - stored - probe)
                raw_sqlite_rate(workdir / "raw.db", stored, size - stored - probe)
                hub = await post_batches(session, base, token, size - probe, probe)
                raw = raw_sqlite_rate(workdir / "raw.db", size - probe, probe)
                stored = size
                rows.append((f"messages/s stored at {size:,} messages", f"{hub:,.0f}", f"{raw:,.0f} (raw sqlite3)"))
                print(f"{rows[-1][0]:<44} Replydesk {hub:>9,.0f}   raw sqlite3 {raw:>9,.0f}")
    finally:
        await runner.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)
    return rows
