"""Events across hub processes: the NOTIFY wire format (pure), and two apps on one PostgreSQL schema
whose /ws clients each hear every event exactly once."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from hub.event_relay import MAX_PAYLOAD_BYTES, channel_name, decode, encode
from hub.events import AI_READY, NEW_REPLY, TRAINING_PROGRESS
from hub.state import BUS
from tests.conftest import PG_URL, Hub, start_hub


def test_a_small_event_travels_whole_and_its_own_process_skips_it():
    event = {"type": AI_READY, "conversation_id": 7, "suggestion_id": 9, "confidence": 0.8, "timestamp": "t"}
    payload = encode(event, "a")
    assert decode(payload, "b") == event
    assert decode(payload, "a") is None


@pytest.mark.parametrize("payload", ["", "{not json", "[]", '{"origin": "x"}', '{"origin": "x", "event": {"a": 1}}'])
def test_a_malformed_payload_is_ignored(payload):
    assert decode(payload, "b") is None


def test_a_large_event_is_trimmed_under_the_notify_limit():
    event = {"type": TRAINING_PROGRESS, "job_id": 3, "error": "x" * 20_000, "losses": list(range(5000))}
    payload = encode(event, "a")
    assert len(payload.encode()) <= MAX_PAYLOAD_BYTES
    received = decode(payload, "b")
    assert received["truncated"] is True and received["job_id"] == 3
    assert received["losses"] == list(range(4980, 5000)) and received["error"].startswith("xxx")


def test_an_event_too_large_even_when_trimmed_keeps_its_short_scalars():
    event = {"type": TRAINING_PROGRESS, "job_id": 3, **{f"k{i}": "y" * 400 for i in range(100)}}
    received = decode(encode(event, "a"), "b")
    assert received == {"type": TRAINING_PROGRESS, "job_id": 3, "truncated": True}


def test_channels_differ_per_database_and_schema():
    names = {channel_name("test", "a"), channel_name("test", "b"), channel_name("prod", "a")}
    assert len(names) == 3 and all(len(name) < 64 for name in names)


async def next_event(ws: Any, timeout: float = 10) -> dict[str, Any]:
    return json.loads((await ws.receive(timeout=timeout)).data)


async def open_ws(hub: Hub) -> Any:
    ws = await hub.client.ws_connect("/ws", headers=hub.auth())
    assert (await next_event(ws))["type"] == "connected"
    return ws


@pytest.mark.skipif(not PG_URL, reason="LISTEN/NOTIFY needs PostgreSQL; on SQLite one process owns the "
                                        "database and the bus stays in-process")
async def test_two_hubs_on_one_schema_each_hear_every_event_exactly_once(tmp_path, settings, clock):
    first, second = await start_hub(settings, clock), await start_hub(settings, clock)
    try:
        ws_first, ws_second = await open_ws(first), await open_ws(second)
        first.app[BUS].publish(NEW_REPLY, conversation_id=1, message_id=10)
        second.app[BUS].publish(AI_READY, conversation_id=1, suggestion_id=5)
        first.app[BUS].publish(NEW_REPLY, conversation_id=1, message_id=11)
        for ws in (ws_first, ws_second):
            got = [await next_event(ws) for _ in range(3)]
            assert sorted((e["type"], e.get("message_id")) for e in got) == sorted(
                [(NEW_REPLY, 10), (NEW_REPLY, 11), (AI_READY, None)])
        # Each hub's own notifications were sent before the other hub heard them, so before its marker:
        # a duplicate would arrive ahead of the other hub's marker.
        first.app[BUS].publish("marker:first")
        second.app[BUS].publish("marker:second")
        for ws in (ws_first, ws_second):
            assert sorted([(await next_event(ws))["type"], (await next_event(ws))["type"]]) == [
                "marker:first", "marker:second"]
        await asyncio.gather(ws_first.close(), ws_second.close())
    finally:
        await asyncio.gather(first.client.close(), second.client.close())
