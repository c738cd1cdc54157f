"""Pytest fixtures for the email tests: a running Dovecot and a recording SMTP server. Test modules
load them with `pytest_plugins = ["tests.channels.fakes.email_fixtures"]`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.channels.fakes.dovecot import Dovecot, make_dovecot
from tests.channels.fakes.smtp_server import PortZeroController, RecordingHandler, SmtpServer


async def _running(tmp_path: Path, without_idle: bool = False) -> AsyncIterator[Dovecot]:
    server = make_dovecot(tmp_path, without_idle)
    try:
        server.start()
        await server.wait_ready()
        yield server
    finally:
        server.cleanup()


@pytest.fixture
async def dovecot(tmp_path: Path) -> AsyncIterator[Dovecot]:
    async for server in _running(tmp_path):
        yield server


@pytest.fixture
async def dovecot_without_idle(tmp_path: Path) -> AsyncIterator[Dovecot]:
    """A Dovecot that does not offer IDLE: the channel must fall back to polling."""
    async for server in _running(tmp_path, without_idle=True):
        yield server


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    handler = RecordingHandler()
    controller = PortZeroController(handler, hostname="127.0.0.1", port=0)
    controller.start()
    try:
        yield SmtpServer(controller, handler)
    finally:
        controller.stop()
