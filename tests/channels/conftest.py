"""Fixtures shared by the channel tests: the fake platform servers, each a real aiohttp server on
port 0 that records what it received."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.channels.fakes.slack_api import FakeSlackApi
from tests.channels.fakes.telegram_api import FakeTelegram


@pytest.fixture
async def telegram_api() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def slack_api() -> AsyncIterator[FakeSlackApi]:
    api = FakeSlackApi()
    await api.start()
    yield api
    await api.close()
