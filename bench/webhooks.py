"""Webhook acknowledgement latency: really signed Slack message events at a sustained rate (open
loop, default 200 requests/s for 15 s, loopback only) into the real hub in a subprocess while its
worker drafts replies to them with the bundled model; beside a bare aiohttp process whose
handler verifies the same HMAC and parses the same JSON, measured in the same run while the
hub's model is still drafting (so both see the same CPU contention).

The hub's Slack channel talks to a fake Slack Web API started here (cards are posted to it).
Run alone: `python -m bench.webhooks`; as the bare server: `python -m bench.webhooks bare PORT`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa
from aiohttp import web

from bench.harness import LoadResult, free_port, machine, start_process, stop_process, wait_ready
from storage.db import sync_url

RATE = float(os.environ.get("BENCH_RATE", "200"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "15"))
CUSTOMERS = 500  # distinct Slack DMs the events come from
SECRET = "bench-signing-secret-0123456789abcdef"
APPROVALS = "CBENCHAPPROVE"
EVENTS = "/webhooks/slack/events"
TEXTS = ("Hi! Are you free on Saturday for a portrait session?", "What do you charge for a wedding?",
         "Can we move our call to Thursday afternoon?", "Is there parking near your studio?")


# -- the bare baseline (runs in its own process) -------------------------------------------------------

def _bare_valid(headers: Any, body: bytes) -> bool:
    """Slack's v0 signature over the raw body, within 5 minutes, compared in constant time."""
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
        return False
    digest = hmac.new(SECRET.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"v0={digest}", headers.get("X-Slack-Signature", ""))


async def _bare_events(request: web.Request) -> web.Response:
    body = await request.read()
    if not _bare_valid(request.headers, body):
        return web.json_response({"error": "bad signature"}, status=401)
    json.loads(body)
    return web.Response(status=200)


async def _bare_health(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def serve_bare(port: int) -> None:
    app = web.Application()
    app.router.add_post(EVENTS, _bare_events)
    app.router.add_get("/health", _bare_health)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# -- requests -----------------------------------------------------------------------------------------

def event_body(n: int, run: str) -> bytes:
    """A customer's DM as Slack's Events API delivers it; every request a new message."""
    ts = f"{time.time():.6f}"
    channel, user = f"D{n % CUSTOMERS:08d}", f"U{n % CUSTOMERS:08d}"
    event = {"type": "message", "channel": channel, "channel_type": "im", "user": user,
             "text": TEXTS[n % len(TEXTS)], "ts": ts, "event_ts": ts}
    return json.dumps({"token": "legacy", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
                       "event_id": f"Ev{run}{n:07d}", "event_time": int(float(ts)), "event": event}).encode()


def signed_headers(body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": f"v0={digest}"}


async def open_loop(url: str, run: str, rate: float = RATE, seconds: float = SECONDS) -> LoadResult:
    """Start one request every 1/rate s whatever the answers do (a slow server cannot slow the
    arrivals down, so its stalls show in the latencies); bounded by rate × seconds requests."""
    latencies: list[float] = []
    errors = 0

    async def one(session: aiohttp.ClientSession, n: int) -> None:
        nonlocal errors
        body = event_body(n, run)
        started = time.perf_counter()
        try:
            async with session.post(url, data=body, headers=signed_headers(body)) as response:
                await response.read()
                errors += response.status != 200
        except (aiohttp.ClientError, asyncio.TimeoutError):
            errors += 1
        latencies.append((time.perf_counter() - started) * 1000)

    connector = aiohttp.TCPConnector(limit=512)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10)) as session:
        tasks, started = [], time.perf_counter()
        for n in range(int(rate * seconds)):
            delay = started + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(session, n)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    return LoadResult(len(latencies), errors, elapsed, latencies)


# -- the hub under test ---------------------------------------------------------------------------------

def write_config(workdir: Path, slack_url: str, database_url: str) -> Path:
    config = workdir / "config.toml"
    config.write_text(f'''data_dir = "{workdir / 'data'}"
log_level = "WARNING"
[database]
url = "{database_url}"
[auth]
jwt_secret = "{'b' * 48}"
[brain]
warm_up = true
[channels.slack]
enabled = true
bot_token = "xoxb-bench"
signing_secret = "{SECRET}"
api_base_url = "{slack_url}"
approval_channel = "{APPROVALS}"
''')
    return config


async def health(base: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/health") as response:
            return await response.json()


async def wait_model_loaded(base: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not (await health(base)).get("model_loaded"):
        if time.monotonic() > deadline:
            raise RuntimeError("the hub's model did not load")
        await asyncio.sleep(0.2)


# -- the run ------------------------------------------------------------------------------------------------

SLACK_DEADLINE_MS = 3000  # Slack retries an event not acknowledged within 3 s


def print_row(label: str, result: LoadResult, extra: str = "") -> None:
    rate = result.requests / result.elapsed
    late = sum(latency > SLACK_DEADLINE_MS for latency in result.latencies_ms)
    print(f"{label:<58} {rate:>7.0f} {result.p50:>8.1f} {result.percentile(99):>8.1f} "
          f"{max(result.latencies_ms):>8.1f} {late:>6} {result.errors:>7}  {extra}")


async def warm_up(hub_base: str, bare_base: str, slack: Any, timeout: float = 180) -> None:
    """Open connections and wait for a first card: every model and store the drafts use is loaded."""
    await open_loop(bare_base + EVENTS, "warm", rate=20, seconds=1)
    await open_loop(hub_base + EVENTS, "warm", rate=20, seconds=1)
    deadline = time.monotonic() + timeout
    while not slack.posts_to(APPROVALS):
        if time.monotonic() > deadline:
            raise RuntimeError("no draft was carded: see the hub's log")
        await asyncio.sleep(0.2)


def drafts_stored(database_url: str) -> int:
    """Suggestions the hub's worker has stored so far: proof the model was drafting."""
    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM suggestions")).scalar_one()
    finally:
        engine.dispose()


async def measure(hub_base: str, bare_base: str, slack: Any, database_url: str) -> None:
    await warm_up(hub_base, bare_base, slack)
    print(f"{'what':<58} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'>3 s':>6} {'errors':>7}")
    before = await asyncio.to_thread(drafts_stored, database_url)
    hub = await open_loop(hub_base + EVENTS, "hub")
    during_hub = await asyncio.to_thread(drafts_stored, database_url) - before
    bare = await open_loop(bare_base + EVENTS, "bare")
    during_bare = await asyncio.to_thread(drafts_stored, database_url) - before - during_hub
    queue = (await health(hub_base))["queue_length"]
    print_row("bare aiohttp: verify HMAC + parse JSON", bare, f"(hub drafted {during_bare} meanwhile)")
    print_row("Replydesk /webhooks/slack/events: verify, store durably", hub,
              f"({during_hub} drafts stored meanwhile; {queue} jobs queued after)")
    print(f"load average after: {os.getloadavg()[0]:.1f} (other processes on this machine count too)")


async def main() -> None:
    from tests.channels.fakes.slack_api import FakeSlackApi

    backend = "PostgreSQL" if os.environ.get("BENCH_DATABASE_URL") else "SQLite FULL"
    print(f"\n## Webhook ack under load ({RATE:.0f} signed Slack events/s for {SECONDS:.0f} s, open loop, "
          f"{backend}, the bundled model drafting) — {machine()}, load average before "
          f"{os.getloadavg()[0]:.1f}")
    slack = FakeSlackApi()
    await slack.start()
    workdir = Path(tempfile.mkdtemp(prefix="replydesk-bench-webhooks-"))
    repo = Path(__file__).resolve().parent.parent
    hub_port, bare_port = free_port(), free_port()
    database_url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{workdir / 'replydesk.db'}"
    config = write_config(workdir, slack.base_url, database_url)
    hub = start_process(["-m", "hub", "--config", str(config), "serve", "--port", str(hub_port)], repo,
                        workdir / "hub.log")
    bare = start_process(["-m", "bench.webhooks", "bare", str(bare_port)], repo, workdir / "bare.log")
    try:
        hub_base, bare_base = f"http://127.0.0.1:{hub_port}", f"http://127.0.0.1:{bare_port}"
        await wait_ready(f"{hub_base}/health", hub)
        await wait_ready(f"{bare_base}/health", bare)
        await wait_model_loaded(hub_base)
        await measure(hub_base, bare_base, slack, database_url)
    finally:
        stop_process(hub), stop_process(bare)
        await slack.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["bare"]:
        serve_bare(int(sys.argv[2]))
    else:
        asyncio.run(main())
