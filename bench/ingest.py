"""Ingest: sustained POST /api/sync/messages, messages durably stored per second and p99 latency,
beside a bare aiohttp handler that only parses the same JSON, in the same run."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import aiohttp

from bench.harness import free_port, machine, start_process, stop_process, sustained_load, wait_ready

SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "8"))
BATCHES = (1, 50)


def payload(request_no: int, batch: int, run: str) -> dict:
    thread = f"bench-{request_no % 200}"
    return {"conversationImessageId": thread, "conversationDisplayName": "Bench", "isGroup": False,
            "participantIds": [f"+1415555{request_no % 200:04d}"],
            "messages": [{"imessageGuid": f"{run}-{request_no}-{i}", "senderId": f"+1415555{request_no % 200:04d}",
                          "direction": "incoming", "messageType": "text",
                          "text": "Hi! Are you free on Saturday for a shoot? What would it cost?",
                          "sentAt": "2024-01-01T12:00:00Z"} for i in range(batch)]}


async def _pair(base: str) -> str:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base}/api/devices/register", json={
                "name": "bench", "hardwareId": "bench", "platform": "macos"}) as resp:
            registered = await resp.json()
        async with session.post(f"{base}/api/devices/verify", json={
                "deviceId": registered["deviceId"], "code": registered["code"]}) as resp:
            return (await resp.json())["token"]


async def _drive(base: str, token: str | None, batch: int, run: str) -> tuple[float, float, float, int]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    stored = 0

    async def send(session: aiohttp.ClientSession, n: int) -> bool:
        nonlocal stored
        async with session.post(f"{base}/api/sync/messages", json=payload(n, batch, run), headers=headers) as resp:
            body = await resp.json()
            stored += body.get("stored", body.get("received", 0))
            return resp.status == 200

    result = await sustained_load(send, concurrency=CONCURRENCY, seconds=SECONDS)
    return stored / result.elapsed, result.p50, result.percentile(99), result.errors


def _write_config(workdir: Path, database_url: str | None) -> None:
    example = (Path(__file__).resolve().parent.parent / "config.example.toml").read_text()
    if database_url:
        example = example.replace('url = "sqlite:///data/replydesk.db"', f'url = "{database_url}"')
    example = example.replace('jwt_secret = "file:data/secrets/jwt_secret"', f'jwt_secret = "{"b" * 48}"')
    (workdir / "config.toml").write_text(example.replace('log_level = "INFO"', 'log_level = "WARNING"'))


async def main() -> None:
    print(f"\n## Ingest (POST /api/sync/messages) — {machine()}, {CONCURRENCY} clients, {SECONDS:.0f} s each")
    workdir = Path(tempfile.mkdtemp(prefix="replydesk-bench-"))
    hub_port, bare_port = free_port(), free_port()
    _write_config(workdir, os.environ.get("BENCH_DATABASE_URL"))
    repo = Path(__file__).resolve().parent.parent
    hub = start_process(["-m", "hub", "--config", str(workdir / "config.toml"), "serve", "--port", str(hub_port)],
                        repo, workdir / "hub.log")
    bare = start_process(["-m", "bench.bare_server", str(bare_port)], repo, workdir / "bare.log")
    try:
        await wait_ready(f"http://127.0.0.1:{hub_port}/health", hub)
        await wait_ready(f"http://127.0.0.1:{bare_port}/health", bare)
        token = await _pair(f"http://127.0.0.1:{hub_port}")
        print(f"{'what':<44} {'msgs/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
        for batch in BATCHES:
            rows = [("bare aiohttp, parse JSON only", f"http://127.0.0.1:{bare_port}", None),
                    ("Replydesk, stored durably (SQLite FULL)" if "BENCH_DATABASE_URL" not in os.environ
                     else "Replydesk, stored durably (PostgreSQL)", f"http://127.0.0.1:{hub_port}", token)]
            for label, base, auth in rows:
                rate, p50, p99, errors = await _drive(base, auth, batch, f"b{batch}")
                print(f"{label + f', {batch}/request':<44} {rate:>9,.0f} {p50:>8.1f} {p99:>8.1f} {errors:>7}")
    finally:
        for process in (hub, bare):
            stop_process(process)
        shutil.rmtree(workdir, ignore_errors=True)
