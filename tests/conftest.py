"""Shared fixtures: a real database (SQLite file, or a throw-away PostgreSQL schema) and the real
app served over real HTTP on a free port."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hub.app import create_app
from hub.brain_services import BrainServices
from hub.clock import FakeClock
from hub.keys import create_key
from hub.settings import Settings, settings_from_dict
from hub.state import DB, WORKER
from storage.db import sync_url

PG_URL = os.environ.get("REPLYDESK_TEST_DATABASE_URL", "")
TEST_JWT_SECRET = "test-secret-" + "x" * 40


def _with_search_path(url: str, schema: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


@contextmanager
def scratch_database(tmp_path: Path) -> Iterator[str]:
    """A SQLite file under tmp_path, or a throw-away PostgreSQL schema dropped afterwards."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'replydesk.db'}"
        return
    schema = f"rdt_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(sync_url(PG_URL), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _with_search_path(PG_URL, schema)
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    with scratch_database(tmp_path) as url:
        yield url


def make_settings(tmp_path: Path, database_url: str, **overrides: Any) -> Settings:
    raw: dict[str, Any] = {
        "data_dir": str(tmp_path / "data"),
        "database": {"url": database_url},
        "auth": {"jwt_secret": TEST_JWT_SECRET},
        "worker": {"poll_seconds": 0.05},
        "brain": {"warm_up": False},
    }
    for section, values in overrides.items():
        if isinstance(values, dict):
            raw.setdefault(section, {}).update(values)
        else:
            raw[section] = values
    return settings_from_dict(raw, base_dir=tmp_path)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(timezone.utc).replace(microsecond=0))


@dataclass
class Hub:
    """The running app and an HTTP client pointed at it."""

    app: web.Application
    client: TestClient
    api_key: str

    @property
    def db(self):
        return self.app[DB]

    @property
    def worker(self):
        return self.app[WORKER]

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.api_key}"}

    async def request(self, method: str, path: str, token: str | None = None, **kwargs: Any):
        headers = {**self.auth(token), **kwargs.pop("headers", {})}
        return await self.client.request(method, path, headers=headers, **kwargs)


async def start_hub(settings: Settings, clock: FakeClock, **app_kwargs: Any) -> Hub:
    app = create_app(settings, clock=clock, start_worker=False, **app_kwargs)
    client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await client.start_server()
    _, key = await create_key(app[DB], "tests", clock.now())
    return Hub(app, client, key)


@pytest.fixture
async def hub(settings: Settings, clock: FakeClock) -> AsyncIterator[Hub]:
    running = await start_hub(settings, clock)
    yield running
    await running.client.close()


@pytest.fixture(scope="session")
def bundled_llm() -> Iterator[Any]:
    """The bundled SmolLM2 GGUF, loaded once for the session. Synchronous on purpose: loading
    blocks anyway, and the object holds no event-loop-bound state, so every test's loop can use it."""
    from brain.llm import LlamaCppLLM, bundled_gguf_path

    llm = LlamaCppLLM(bundled_gguf_path(), n_ctx=2048)
    llm.load_blocking()
    yield llm
    asyncio.run(llm.close())


@pytest.fixture(scope="session")
def shared_embedder() -> Any:
    """The bundled all-MiniLM-L6-v2, loaded once for the session."""
    from brain.embedder import MiniLMEmbedder

    return MiniLMEmbedder()


@pytest.fixture(scope="session")
def trained_classifiers(shared_embedder: Any) -> None:
    """The triage and sales models trained once for the session, as the shared models are loaded once:
    each hub still stores its own versioned copy under its data directory (brain/classifier.py)."""
    from brain.analysis import train_models
    from brain.classifier import ClassifierSet

    train_models(shared_embedder, ClassifierSet())


@pytest.fixture
async def brain_hub(settings: Settings, clock: FakeClock, bundled_llm: Any, shared_embedder: Any,
                    trained_classifiers: None) -> AsyncIterator[Hub]:
    """The hub with the real bundled models (shared across tests) and its own memory store."""
    brain = BrainServices(settings, llm=bundled_llm, embedder=shared_embedder)
    running = await start_hub(settings, clock, brain=brain)
    yield running
    await running.client.close()
