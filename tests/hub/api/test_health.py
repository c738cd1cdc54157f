"""/health is public; /ws needs a token and streams events as they happen."""

from __future__ import annotations

import json

import aiohttp
import pytest

from tests.hub.api.helpers import pair_device
from tests.hub.api.test_sync import sync_payload


async def test_health_is_public_and_reports_queue(hub):
    resp = await hub.client.get("/health")
    assert resp.status == 200
    body = await resp.json()
    assert body["status"] == "healthy" and body["queue_length"] == 0


async def test_websocket_needs_a_token(hub):
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await hub.client.ws_connect("/ws")
    assert caught.value.status == 401
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await hub.client.ws_connect("/ws?token=rd_wrongwrongwrongwrongwrong")


async def test_websocket_receives_new_reply_events(hub):
    paired = await pair_device(hub)
    ws = await hub.client.ws_connect(f"/ws?token={hub.api_key}")
    assert json.loads((await ws.receive(timeout=5)).data)["type"] == "connected"
    resp = await hub.request("POST", "/api/sync/messages", paired["token"], json=sync_payload(["w1"]))
    conversation = (await resp.json())
    event = json.loads((await ws.receive(timeout=5)).data)
    assert event["type"] == "conversation:new_reply"
    assert event["sender"] == "+14155550100"
    assert event["timestamp"] == "2024-01-01T12:00:00Z"
    assert isinstance(event["conversation_id"], int) and isinstance(event["message_id"], int)
    await ws.send_str("ping")
    assert json.loads((await ws.receive(timeout=5)).data)["type"] == "pong"
    await ws.close()
    assert conversation["stored"] == 1
