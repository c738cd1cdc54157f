"""Soak and crash test (`make soak`): SOAK_MESSAGES (default 10,000) inbound messages over Telegram,
Slack, Twilio WhatsApp and SMS and BlueBubbles iMessage, each signed for real, with SOAK_DUPLICATES
(default 10 %) redeliveries and locally shuffled order, into two `python -m hub serve` processes on
one fresh PostgreSQL schema, while hub B is killed with SIGKILL at random moments and restarted.
A sample of drafts (SOAK_APPROVALS, default 300) is approved through the API meanwhile.

Drafting talks to a fake OpenAI-compatible server (bench/soak_fakes.py) that answers at once: the
soak measures the hub's storage, jobs, leases and sends under crashes, not the model's speed.
Email is not included: it arrives by IMAP polling, not by a webhook either process can take.

Prints the counts and exits 1 when an invariant fails (bench/soak_checks.py).
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import sqlalchemy as sa

from bench import soak_checks as checks
from bench import soak_traffic as traffic
from bench.harness import free_port, machine, start_process, wait_ready
from bench.soak_fakes import Platforms
from storage.db import sync_url

MESSAGES = int(os.environ.get("SOAK_MESSAGES", "10000"))
DUPLICATES = float(os.environ.get("SOAK_DUPLICATES", "0.10"))
APPROVALS = int(os.environ.get("SOAK_APPROVALS", "300"))
CONCURRENCY = int(os.environ.get("SOAK_CONCURRENCY", "16"))
KILL_EVERY = (3.0, 15.0)  # seconds between SIGKILLs of hub B, uniformly drawn
DRAIN_SECONDS = float(os.environ.get("SOAK_DRAIN_SECONDS", "600"))
REPO = Path(__file__).resolve().parent.parent
LOG_LEVEL = os.environ.get("SOAK_LOG_LEVEL", "WARNING")
JWT_SECRET = "soak-jwt-secret-" + "s" * 40


@dataclass
class Hub:
    name: str
    config: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def up(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def start(self) -> None:
        self.process = start_process(["-m", "hub", "--config", str(self.config), "serve", "--port", str(self.port)],
                                     REPO, self.config.parent / "hub.log")
        self.starts += 1
        await wait_ready(f"{self.url}/health", self.process, timeout=120)

    def kill(self) -> None:
        if self.up:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.up:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Tally:
    acknowledged: set[tuple[str, str]] = field(default_factory=set)
    deliveries: int = 0
    retries: int = 0
    refused: list[str] = field(default_factory=list)  # 4xx answers: a signature or parse bug
    approved: set[int] = field(default_factory=set)
    approve_attempts: int = 0
    kills: int = 0


# -- the shared database ----------------------------------------------------------------------------

def with_search_path(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def schema_sql(base_url: str, statement: str) -> None:
    engine = sa.create_engine(sync_url(base_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def query(url: str, fn, *args):
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return fn(conn, *args)
    finally:
        engine.dispose()


# -- set-up -----------------------------------------------------------------------------------------

def write_config(directory: Path, database_url: str, platforms: Platforms) -> Path:
    directory.mkdir(parents=True)
    config = directory / "config.toml"
    config.write_text(f'''data_dir = "data"
log_level = "{LOG_LEVEL}"
[server]
public_url = "{traffic.PUBLIC_URL}"
[database]
url = "{database_url}"
[auth]
jwt_secret = "{JWT_SECRET}"
[worker]
concurrency = 4
poll_seconds = 0.2
lease_seconds = 15
''' + platforms.config())
    return config


def cli(config: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "hub", "--config", str(config), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"replydesk {' '.join(args)} failed: {done.stderr[-2000:]}")
    return done.stdout


# -- the load ---------------------------------------------------------------------------------------

async def deliver(session: aiohttp.ClientSession, hubs: list[Hub], item: traffic.Delivery, tally: Tally) -> None:
    """As a platform behind a load balancer: any hub; on no answer or a 5xx, the other one, until acked."""
    target = random.choice(hubs)
    for attempt in range(200):
        headers = {"Content-Type": item.content_type, **item.sign(item.body)}
        try:
            async with session.post(target.url + item.path, data=item.body, headers=headers) as resp:
                await resp.read()
                status = resp.status
        except (aiohttp.ClientError, asyncio.TimeoutError):
            status = 0
        if status == 200:
            tally.acknowledged.add(item.key)
            return
        if 400 <= status < 500:
            tally.refused.append(f"{item.kind} #{item.n}: HTTP {status}")
            return
        tally.retries += 1
        target = hubs[0] if target is hubs[1] else hubs[1]
        await asyncio.sleep(0.05 * min(attempt, 10))
    tally.refused.append(f"{item.kind} #{item.n}: no hub answered")


async def deliver_all(hubs: list[Hub], schedule: list[traffic.Delivery], tally: Tally) -> None:
    queue: asyncio.Queue[traffic.Delivery] = asyncio.Queue()
    for item in schedule:
        queue.put_nowait(item)

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            await deliver(session, hubs, queue.get_nowait(), tally)
            tally.deliveries += 1

    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:
        await asyncio.gather(*(worker(session) for _ in range(CONCURRENCY)))


async def chaos(victim: Hub, stop: asyncio.Event, tally: Tally) -> None:
    """SIGKILL the victim at random moments and bring it back, until told to stop."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), random.uniform(*KILL_EVERY))
            break
        except TimeoutError:
            pass
        victim.kill()
        tally.kills += 1
        await victim.start()


async def approve_one(session: aiohttp.ClientSession, hubs: list[Hub], key: str, suggestion: int,
                      conversation: int, tally: Tally) -> None:
    tally.approve_attempts += 1
    url = f"{random.choice(hubs).url}/api/v1/conversations/{conversation}/approve"
    try:
        async with session.post(url, json={"suggestion_id": suggestion},
                                headers={"Authorization": f"Bearer {key}"}) as resp:
            await resp.read()
            if resp.status == 200:
                tally.approved.add(suggestion)
    except (aiohttp.ClientError, asyncio.TimeoutError):
        pass  # the hub died under the request; the database check decides whether it was approved


async def approvals(hubs: list[Hub], key: str, database_url: str, ingest_done: asyncio.Event,
                    tally: Tally) -> None:
    """Approve random pending drafts through the API, a few per second, until APPROVALS were approved
    or, after the ingest, no draft is pending and no work is left that could draft one."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        while len(tally.approved) < APPROVALS:
            drafts = await asyncio.to_thread(query, database_url, checks.pending_drafts, 200)
            if not drafts and ingest_done.is_set() and not await asyncio.to_thread(query, database_url,
                                                                                    checks.unsettled):
                return
            for suggestion, conversation in random.sample(drafts, min(2, len(drafts))):
                await approve_one(session, [h for h in hubs if h.up] or hubs, key, suggestion, conversation, tally)
            await asyncio.sleep(0.5)


async def drain(database_url: str) -> float:
    """Wait until no job nor send is left (interrupted sends resolve after their 2-minute lease)."""
    started = time.monotonic()
    while time.monotonic() - started < DRAIN_SECONDS:
        if await asyncio.to_thread(query, database_url, checks.unsettled) == 0:
            break
        await asyncio.sleep(2)
    return time.monotonic() - started


# -- the run ----------------------------------------------------------------------------------------

async def run(database_url: str, workdir: Path) -> int:
    platforms = Platforms()
    await platforms.start()
    hubs = [Hub(name, write_config(workdir / name, database_url, platforms)) for name in ("a", "b")]
    try:
        cli(hubs[0].config, "db", "upgrade")
        key = cli(hubs[0].config, "keys", "create", "soak").strip().splitlines()[-1]
        for hub in hubs:
            await hub.start()
        schedule = traffic.schedule(MESSAGES, duplicates=DUPLICATES, window=50, rng=random.Random(7))
        tally = Tally()
        started = time.monotonic()
        stop_chaos, ingest_done = asyncio.Event(), asyncio.Event()
        chaos_task = asyncio.create_task(chaos(hubs[1], stop_chaos, tally))
        approving = asyncio.create_task(approvals(hubs, key, database_url, ingest_done, tally))
        await deliver_all(hubs, schedule, tally)
        ingest_done.set()
        ingest_seconds = time.monotonic() - started
        await approving
        stop_chaos.set()
        await chaos_task
        if not hubs[1].up:
            await hubs[1].start()
        drained = await drain(database_url)
        total = time.monotonic() - started
        for hub in hubs:
            hub.stop()
        verdict = await asyncio.to_thread(query, database_url, judge, schedule, tally, platforms)
        print_report(schedule, tally, verdict, ingest_seconds, drained, total)
        return 0 if verdict.ok else 1
    finally:
        for hub in hubs:
            hub.stop()
        await platforms.close()


def judge(conn: sa.Connection, schedule: list[traffic.Delivery], tally: Tally, platforms: Platforms) -> checks.Verdict:
    verdict = checks.Verdict()
    verdict.add("deliveries refused (4xx) or never answered", len(tally.refused), not tally.refused)
    for line in tally.refused[:5]:
        verdict.add("  refused", line, False)
    delivered = {item.key for item in schedule}
    verdict.add("distinct messages acknowledged", len(tally.acknowledged), tally.acknowledged == delivered)
    checks.check_messages(conn, verdict, tally.acknowledged, delivered)
    checks.check_sends(conn, verdict, platforms.sent(), tally.approved)
    checks.check_jobs(conn, verdict)
    return verdict


def print_report(schedule: list[traffic.Delivery], tally: Tally, verdict: checks.Verdict,
                 ingest: float, drained: float, total: float) -> None:
    distinct = len({item.key for item in schedule})
    kinds = {kind: sum(1 for item in schedule if item.kind == kind) for kind in traffic.CHANNELS}
    print(f"\n## Soak: {distinct} messages, {len(schedule)} deliveries ({len(schedule) - distinct} duplicates), "
          f"2 hub processes on PostgreSQL — {machine()}")
    print("  deliveries by channel: " + ", ".join(f"{k} {v}" for k, v in kinds.items()))
    print(f"  hub B killed with SIGKILL {tally.kills} times; {tally.retries} deliveries retried on the other hub")
    print(f"  approvals posted {tally.approve_attempts}; ingest {ingest:.0f} s "
          f"({len(schedule) / ingest:.0f} deliveries/s), drain {drained:.0f} s, total {total:.0f} s")
    print(verdict.render())
    print("RESULT: " + ("every invariant holds" if verdict.ok else "FAILED"))


def main() -> int:
    base_url = os.environ.get("REPLYDESK_SOAK_DATABASE_URL", "")
    if not base_url.startswith("postgresql"):
        print("set REPLYDESK_SOAK_DATABASE_URL to a PostgreSQL URL (make soak does)", file=sys.stderr)
        return 2
    schema = f"soak_{uuid.uuid4().hex[:12]}"
    workdir = Path(tempfile.mkdtemp(prefix="replydesk-soak-"))
    schema_sql(base_url, f'CREATE SCHEMA "{schema}"')
    try:
        return asyncio.run(run(with_search_path(base_url, schema), workdir))
    finally:
        schema_sql(base_url, f'DROP SCHEMA "{schema}" CASCADE')
        if os.environ.get("SOAK_KEEP_LOGS"):
            print(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
