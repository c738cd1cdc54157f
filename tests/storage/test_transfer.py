"""`replydesk db migrate-to URL`, run as a real process: an SQLite hub's data copied into an empty
database (a fresh PostgreSQL schema, or another SQLite file when no PostgreSQL is configured), then
served by a hub on the target."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from channels.base import Handle, InboundMessage
from hub.pipeline import ingest
from storage.db import sync_url
from storage.transfer import batches, memory_store_note, tables_to_copy
from tests.conftest import make_settings, start_hub
from tests.hub.api.test_v1_conversations import add_suggestion
from tests.hub.test_cli import run

V1 = "/api/v1/conversations"
SEEDED = ("contacts", "conversations", "messages", "suggestions", "jobs", "api_keys")


async def seed_source(tmp_path: Path, clock) -> tuple[str, dict]:
    """An SQLite hub at the path `replydesk init` configures, with three threads, a draft and jobs."""
    assert run(tmp_path, "init").returncode == 0
    hub = await start_hub(make_settings(tmp_path, f"sqlite:///{tmp_path / 'data' / 'replydesk.db'}"), clock)
    try:
        for i, name in enumerate(["Ana Lima", "Bo Chen", "Cy Diaz"]):
            message = InboundMessage(channel="email", external_id=f"<m{i}@x>", thread_id=f"t{i}",
                                     sender=Handle("email", f"c{i}@example.com"), sender_name=name,
                                     text=f"Question {i}", subject=f"Project {i}",
                                     sent_at=clock.now() - timedelta(minutes=10 - i))
            result = await ingest(hub.db, clock, [message])  # queues an inbound.process job each
        await add_suggestion(hub, clock, result.conversation_id, result.stored[0].id)
        listed = await (await hub.request("GET", f"{V1}?page_size=10")).json()
        thread = await (await hub.request("GET", f"{V1}/{result.conversation_id}")).json()
        return hub.api_key, {"list": listed, "thread": thread, "id": result.conversation_id}
    finally:
        await hub.client.close()


def counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return {name: conn.execute(sa.text(f'SELECT COUNT(*) FROM "{name}"')).scalar_one() for name in SEEDED}
    finally:
        engine.dispose()


async def test_migrate_to_copies_everything_and_a_hub_on_the_target_serves_it(tmp_path, database_url, clock):
    key, before = await seed_source(tmp_path, clock)
    source_url = f"sqlite:///{tmp_path / 'data' / 'replydesk.db'}"
    result = run(tmp_path, "db", "migrate-to", database_url)
    assert result.returncode == 0, result.stderr
    assert "row counts verified" in result.stdout and "memory store: not copied" in result.stdout
    assert "messages: 100%" in result.stderr  # the progress bars
    assert counts(database_url) == counts(source_url)
    assert counts(database_url)["jobs"] == 3 and counts(database_url)["suggestions"] == 1

    target = await start_hub(make_settings(tmp_path / "target", database_url), clock)
    try:
        listed = await (await target.request("GET", f"{V1}?page_size=10", token=key)).json()  # the copied key
        assert listed == before["list"] and listed["total"] == 3
        thread = await (await target.request("GET", f"{V1}/{before['id']}")).json()
        assert thread == before["thread"] and len(thread["pending_suggestions"]) == 1
        new = InboundMessage(channel="email", external_id="<new@x>", thread_id="t-new",
                             sender=Handle("email", "new@example.com"), text="Hello", sent_at=clock.now())
        stored = await ingest(target.db, clock, [new], process=False)  # ids continue after the copied ones
        assert stored.conversation_id > max(c["id"] for c in listed["conversations"])
    finally:
        await target.client.close()


async def test_a_non_empty_target_is_refused_and_left_as_it_was(tmp_path, database_url, clock):
    await seed_source(tmp_path, clock)
    assert run(tmp_path, "db", "migrate-to", database_url).returncode == 0
    copied = counts(database_url)
    again = run(tmp_path, "db", "migrate-to", database_url)
    assert again.returncode == 1
    assert "not empty" in again.stderr and "has " in again.stderr
    assert counts(database_url) == copied


def test_migrate_to_without_a_url_or_to_itself_is_a_usage_error(tmp_path):
    assert run(tmp_path, "init").returncode == 0
    missing = run(tmp_path, "db", "migrate-to")
    assert missing.returncode == 2 and "usage: replydesk db migrate-to URL" in missing.stderr
    itself = run(tmp_path, "db", "migrate-to", f"sqlite:///{tmp_path / 'data' / 'replydesk.db'}")
    assert itself.returncode == 2 and "configured database itself" in itself.stderr


def test_tables_are_planned_parents_first_without_the_scheduler_store():
    from sqlmodel import SQLModel

    names = [t.name for t in tables_to_copy(SQLModel.metadata, {"messages", "contacts", "conversations",
                                                                 "apscheduler_jobs", "alembic_version"})]
    assert names == ["contacts", "conversations", "messages"]


@pytest.mark.parametrize("rows,size,expected", [(0, 3, []), (5, 2, [2, 2, 1]), (4, 2, [2, 2])])
def test_batches_split_rows(rows, size, expected):
    assert [len(b) for b in batches(iter([_Row(i) for i in range(rows)]), size)] == expected


class _Row:
    def __init__(self, value: int) -> None:
        self._mapping = {"a": value}


def test_the_memory_note_names_where_the_store_stays():
    assert "/srv/data/memory" in memory_store_note("", "/srv/data/memory")
    assert "http://chroma:8000" in memory_store_note("http://chroma:8000", "/srv/data/memory")
