"""Two hub processes on one PostgreSQL database: a real `python -m hub serve` subprocess (A, with its
worker and the bundled models) and an in-process hub (B, whose worker never runs), both with Telegram
enabled against one fake Bot API. The same signed update posted to both is stored and drafted once;
B's WebSocket hears A's draft; an approval posted to both sends one reply."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from channels.telegram import SECRET_HEADER, WEBHOOK_PATH
from hub.clock import SystemClock
from hub.dispatch import _claim
from hub.events import AI_READY, NEW_REPLY, SENT
from storage.db import sync_url
from storage.models import Job, Message, OutboxItem, Suggestion
from tests.channels.fakes.telegram_api import JANE, OWNER_CHAT, TOKEN, FakeTelegram, message_update
from tests.channels.conftest import telegram_api  # noqa: F401  (the fake Bot API fixture)
from tests.channels.fakes.telegram_webhooks import SECRET, cards_as_posted, telegram_settings
from tests.conftest import PG_URL, TEST_JWT_SECRET, Hub, make_settings, start_hub
from tests.hub.test_crash import free_port, start_hub_process
from tests.hub.test_dispatch import conversation, queue

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not PG_URL, reason="several hub processes share one database only on PostgreSQL; "
                                                     "on SQLite one process owns the file")]
V1 = "/api/v1/conversations"
QUESTION = "Hi! Are you free on Saturday for a portrait session?"
DRAFT_TIMEOUT = 300  # the subprocess loads the bundled models and drafts on a shared machine


def write_config(directory: Path, database_url: str, api: FakeTelegram) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.toml").write_text(f"""
data_dir = "data"
[server]
public_url = "https://hub.example"
[database]
url = {json.dumps(database_url)}
[auth]
jwt_secret = {json.dumps(TEST_JWT_SECRET)}
[worker]
poll_seconds = 0.05
[channels.telegram]
enabled = true
bot_token = {json.dumps(TOKEN)}
webhook_secret = {json.dumps(SECRET)}
api_base_url = {json.dumps(api.url)}
owner_chat_id = {OWNER_CHAT}
""")


@pytest.fixture
async def hub_b(tmp_path, database_url, telegram_api) -> AsyncIterator[Hub]:
    settings = make_settings(tmp_path / "b", database_url, server={"public_url": "https://hub.example"},
                             channels={"telegram": telegram_settings(telegram_api)})
    # Wall-clock time like A: send leases and job times are compared across the two processes.
    running = await start_hub(settings, SystemClock())  # migrates the schema before A starts
    yield running
    await running.client.close()


@pytest.fixture
async def hub_a(tmp_path, database_url, telegram_api, hub_b) -> AsyncIterator[str]:
    write_config(tmp_path / "a", database_url, telegram_api)
    port = free_port()
    process = await start_hub_process(tmp_path / "a", port)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    stopped = await asyncio.to_thread(exited_within, process, 60)
    assert stopped, "hub A did not stop within 60 s of SIGTERM (killed)"


def exited_within(process: subprocess.Popen, seconds: float) -> bool:
    try:
        process.wait(seconds)
        return True
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return False


async def post_update(session: aiohttp.ClientSession, base: str, update: dict[str, Any]) -> int:
    async with session.post(base + WEBHOOK_PATH, data=json.dumps(update).encode(),
                            headers={"Content-Type": "application/json", SECRET_HEADER: SECRET}) as resp:
        return resp.status


async def events_until(ws: Any, event_type: str, timeout: float) -> list[dict[str, Any]]:
    """Every event received up to and including the first of `event_type`."""
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while not seen or seen[-1]["type"] != event_type:
            seen.append(json.loads((await ws.receive()).data))
    return seen


async def count(hub: Hub, model: Any, *where: Any) -> int:
    return await hub.db.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


async def approve(session: aiohttp.ClientSession, url: str, key: str, suggestion_id: int) -> int:
    async with session.post(url, json={"suggestion_id": suggestion_id},
                            headers={"Authorization": f"Bearer {key}"}) as resp:
        return resp.status


async def test_two_processes_store_draft_and_send_once_and_share_events(hub_a, hub_b, telegram_api):
    ws = await hub_b.client.ws_connect("/ws", headers=hub_b.auth())
    assert json.loads((await ws.receive(timeout=10)).data)["type"] == "connected"
    update = message_update(QUESTION)
    async with aiohttp.ClientSession() as session:
        b_url = str(hub_b.client.make_url(""))
        assert await post_update(session, b_url, update) == 200  # B stores it and queues the job ...
        assert await post_update(session, hub_a, update) == 200  # ... A sees a duplicate
        events = await events_until(ws, AI_READY, DRAFT_TIMEOUT)  # drafted by A: B has no worker
        assert [e["type"] for e in events].count(NEW_REPLY) == 1  # B's own event once, not again via NOTIFY

        assert await count(hub_b, Message, Message.direction == "inbound") == 1
        assert await count(hub_b, Job, Job.kind == "inbound.process") == 1
        (suggestion,) = await hub_b.db.rows(sa.select(Suggestion))
        assert events[-1]["suggestion_id"] == suggestion.id and suggestion.status == "pending"
        await telegram_api.wait_for(lambda c: c.method == "sendMessage" and c.status == 200
                                    and str(c.params["chat_id"]) == str(OWNER_CHAT))
        assert len(cards_as_posted(telegram_api)) == 1

        path = f"{V1}/{suggestion.conversation_id}/approve"
        statuses = await asyncio.gather(approve(session, b_url.rstrip("/") + path, hub_b.api_key, suggestion.id),
                                        approve(session, hub_a + path, hub_b.api_key, suggestion.id))
        assert sorted(statuses) == [200, 400]
    await events_until(ws, SENT, 60)  # from whichever process sent it
    await ws.close()
    sends = [call.params["text"] for call in telegram_api.sent_to(JANE["id"])]
    assert len(sends) == 1, sends
    # Terminal: the outbox.send job, whenever a worker runs it, finds the row sent and sends nothing.
    assert [row.status for row in await hub_b.db.rows(sa.select(OutboxItem))] == ["sent"]


async def lock_waiters(engine: sa.Engine) -> int:
    def count_waiting() -> int:
        with engine.connect() as conn:
            return conn.execute(sa.text(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query ILIKE '%outbox%' AND datname = current_database()")).scalar_one()
    return await asyncio.to_thread(count_waiting)


async def test_two_processes_claiming_one_outbox_row_send_it_once(hub, clock):
    """Deterministic form of the race above: process 1 has claimed the row (uncommitted) when process
    2 reads it. Process 2 must wait for the commit and find the row being sent, not `pending`."""
    outbox_id = await queue(hub, clock, await conversation(hub, clock))
    other_process = sa.create_engine(sync_url(hub.db.url))
    try:
        with other_process.connect() as first:
            claiming = first.begin()
            assert _claim(first, outbox_id, clock.now())[0] == "send"
            second = asyncio.create_task(hub.db.write(_claim, outbox_id, clock.now()))
            async with asyncio.timeout(30):  # until the second claim is blocked on the row
                while await lock_waiters(other_process) == 0:
                    await asyncio.sleep(0.02)
            claiming.commit()
        state, _ = await second
        assert state == "busy"
    finally:
        other_process.dispose()
