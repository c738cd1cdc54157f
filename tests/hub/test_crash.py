"""A hub process killed with SIGKILL right after acknowledging a sync loses none of it."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa

from storage.db import sync_url
from storage.models import Job

from tests.hub.test_cli import init

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def start_hub_process(cwd: Path, port: int) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "hub", "--config", "config.toml", "serve",
                                "--port", str(port)], cwd=cwd, stdout=subprocess.DEVNULL,
                               stderr=open(cwd / "hub.log", "ab"))
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            if process.poll() is not None:
                raise AssertionError((cwd / "hub.log").read_text())
            try:
                async with session.get(f"http://127.0.0.1:{port}/health") as resp:
                    if resp.status == 200:
                        return process
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    process.kill()
    raise AssertionError("hub did not start in 30 s")


async def test_sigkill_after_ack_loses_nothing(tmp_path, database_url):
    init(tmp_path, database_url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = await start_hub_process(tmp_path, port)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{base}/api/devices/register", json={
                    "name": "Mac", "hardwareId": "crash-hw", "platform": "macos"}) as resp:
                registered = await resp.json()
            async with session.post(f"{base}/api/devices/verify", json={
                    "deviceId": registered["deviceId"], "code": registered["code"]}) as resp:
                token = (await resp.json())["token"]
            headers = {"Authorization": f"Bearer {token}"}
            payload = {"conversationImessageId": "crash-thread", "participantIds": ["+14155550123"],
                       "messages": [{"imessageGuid": f"k{i}", "senderId": "+14155550123",
                                     "direction": "incoming", "text": f"message {i}",
                                     "sentAt": "2024-03-01T10:00:00Z"} for i in range(300)]}
            async with session.post(f"{base}/api/sync/messages", json=payload, headers=headers) as resp:
                assert resp.status == 200
                os.kill(process.pid, signal.SIGKILL)  # the instant the acknowledgement arrives
                acknowledged = await resp.json()
        process.wait(10)
        assert acknowledged["stored"] == 300
        process = await start_hub_process(tmp_path, port)
        async with aiohttp.ClientSession(headers=headers) as session:
            async with session.get(f"{base}/api/conversations/{acknowledged['conversationId']}/messages",
                                   params={"pageSize": "200"}) as resp:
                body = await resp.json()
            assert body["total"] == 300
        engine = sa.create_engine(sync_url(database_url))
        with engine.connect() as conn:
            jobs = conn.execute(sa.select(Job.payload)).scalars().all()
        engine.dispose()
        assert sorted(j["message_id"] for j in jobs) == sorted(set(j["message_id"] for j in jobs))
        assert len(jobs) == 300
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                raise AssertionError("hub did not stop within 60 s of SIGTERM") from None
