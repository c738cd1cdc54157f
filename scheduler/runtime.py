"""The scheduler's place in the app (being built): `scheduler_ctx` is a cleanup context."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web


async def scheduler_ctx(app: web.Application) -> AsyncIterator[None]:
    yield
