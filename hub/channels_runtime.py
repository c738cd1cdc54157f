"""Enabled channel adapters: built from settings with one shared HTTP session, started with an
`emit` callback for what they poll, and their webhooks routed through one handler:
verify (raw bytes) → parse → store durably → acknowledge."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web

from channels import REGISTRY, channel_class
from channels.base import ChannelEvent, WebhookRejected
from hub.channel_events import apply_events
from hub.channel_state import DatabaseStateStore
from hub.state import BACKGROUND, CHANNELS, CLOCK, DB, HTTP, SETTINGS

log = logging.getLogger("replydesk.channels")


def enabled_channels(settings: Any) -> list[str]:
    return [name for name in REGISTRY if getattr(settings.channels, name).enabled]


def public_url_of(request: web.Request) -> str:
    """The URL the platform called: behind a proxy, the configured public URL, not request.url."""
    base = request.app[SETTINGS].server.public_url
    return f"{base}{request.path_qs}" if base else str(request.url)


def _ack(parsed: Any) -> web.Response:
    body = parsed.ack_body
    if body is None:
        return web.Response(status=parsed.ack_status)
    if isinstance(body, (bytes, str)):
        default = "text/plain" if isinstance(body, str) else "application/octet-stream"
        return web.Response(status=parsed.ack_status, body=body if isinstance(body, bytes) else body.encode(),
                            content_type=parsed.ack_content_type or default)
    return web.json_response(dict(body), status=parsed.ack_status)


class BackgroundTasks:
    """Tasks started after an acknowledgement (answering a callback, opening a modal): kept in a set
    so none is lost, errors logged, all awaited at shutdown."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coroutine: Any, what: str) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._done(t, what))

    def _done(self, task: asyncio.Task[Any], what: str) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", what, exc_info=task.exception())

    async def close(self) -> None:
        await asyncio.gather(*self._tasks, return_exceptions=True)


def after_storing(app: web.Application, channel: Any, events: list[ChannelEvent]) -> None:
    """Once events are stored: the channel's own follow-up (answer callbacks, open modals)."""
    acknowledge = getattr(channel, "acknowledge", None)
    if acknowledge is not None and events:
        app[BACKGROUND].spawn(acknowledge(events), f"{channel.name} acknowledge")


def webhook_handler(name: str, endpoint: str):
    async def handle(request: web.Request) -> web.Response:
        channel = request.app[CHANNELS][name]
        body = await request.read()
        try:
            channel.verify(endpoint, request.headers, body, public_url_of(request))
        except WebhookRejected as exc:
            log.warning("%s webhook rejected: %s", name, exc.reason)
            return web.json_response({"error": exc.reason}, status=exc.status)
        try:
            parsed = channel.parse(endpoint, request.headers, body)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("%s webhook with a malformed body: %s", name, exc)
            return web.json_response({"error": "malformed body"}, status=400)
        await apply_events(request.app, parsed.events)
        after_storing(request.app, channel, parsed.events)
        return _ack(parsed)

    return handle


def add_webhook_routes(app: web.Application, names: list[str]) -> None:
    for name in names:
        for path, endpoint in channel_class(name).webhooks.items():
            app.router.add_post(path, webhook_handler(name, endpoint))


def channels_ctx(names: list[str]):
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        app[HTTP] = session
        built = {}
        for name in names:
            cls = channel_class(name)
            extra = {"state": DatabaseStateStore(app[DB], name, app[CLOCK])} \
                if "state" in inspect.signature(cls).parameters else {}
            built[name] = cls(getattr(settings.channels, name), session=session,
                              public_url=settings.server.public_url, clock=app[CLOCK], **extra)
        app[CHANNELS] = built
        background = app[BACKGROUND] = BackgroundTasks()

        def emitter(channel: Any):
            async def emit(events: list[ChannelEvent]) -> None:
                await apply_events(app, events)
                after_storing(app, channel, events)
            return emit

        for name, channel in built.items():
            await channel.start(emitter(channel))
            log.info("channel %s started", name)
        yield
        await background.close()
        for channel in built.values():
            try:
                await channel.stop()
            except Exception:
                log.exception("channel %s did not stop cleanly", channel.name)
        await session.close()

    return ctx
