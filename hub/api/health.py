"""GET /health (public) and the authenticated WebSocket event stream /ws."""

from __future__ import annotations

import asyncio
import json

import sqlalchemy as sa
from aiohttp import WSMsgType, web

from hub.api.common import json_response
from hub.auth import WS_PROTOCOL
from hub.state import BRAIN, BUS, DB
from storage.models import Job, JobStatus

routes = web.RouteTableDef()


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    database_ok = True
    queue_length = 0
    try:
        queue_length = await request.app[DB].scalar(sa.select(sa.func.count()).select_from(Job).where(
            Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING])))
    except Exception:  # health reports the failure instead of raising it
        database_ok = False
    llm = request.app[BRAIN].loaded("llm")
    model_loaded = bool(llm is not None and llm.loaded)
    status = "healthy" if database_ok else "unhealthy"
    body = {"status": status, "model_loaded": model_loaded,
            "model_version": llm.model_version if llm is not None else None,
            "database_connected": database_ok,
            "queue_length": queue_length + (llm.queue_length if llm is not None else 0)}
    return json_response(body, status=200 if database_ok else 503)


@routes.get("/ws")
async def websocket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=30, protocols=(WS_PROTOCOL,))
    await ws.prepare(request)
    bus = request.app[BUS]
    queue = bus.subscribe()

    async def pump() -> None:
        while True:
            event = await queue.get()
            if event is None:
                break
            await ws.send_str(json.dumps(event, ensure_ascii=False))
        await ws.close()

    sender = asyncio.create_task(pump())
    try:
        await ws.send_str(json.dumps({"type": "connected"}))
        async for message in ws:
            if message.type == WSMsgType.TEXT and message.data == "ping":
                await ws.send_str(json.dumps({"type": "pong"}))
            elif message.type == WSMsgType.ERROR:
                break
    finally:
        bus.unsubscribe(queue)
        sender.cancel()
    return ws
