"""The database layer: units of work, group commit on SQLite, migrations."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from storage import migrate
from storage.db import Database, sync_url
from storage.models import Contact, new_uid, utcnow


@pytest.fixture
async def db(database_url):
    await asyncio.to_thread(migrate.upgrade, database_url)
    database = Database(database_url)
    yield database
    await database.dispose()


def add_contact(conn, name, fail=False):
    conn.execute(sa.insert(Contact).values(uid=new_uid(), display_name=name, created_at=utcnow(),
                                           updated_at=utcnow()))
    if fail:
        raise RuntimeError(f"unit {name} failed")
    return name


async def test_a_failing_unit_undoes_only_itself(db):
    units = [db.write(add_contact, f"c{i}", fail=(i % 3 == 0)) for i in range(12)]
    results = await asyncio.gather(*units, return_exceptions=True)
    failed = [r for r in results if isinstance(r, RuntimeError)]
    assert len(failed) == 4
    names = sorted(r.display_name for r in await db.rows(sa.select(Contact.display_name)))
    assert names == sorted(f"c{i}" for i in range(12) if i % 3)


async def test_a_returned_write_is_visible_to_an_independent_connection(db, database_url):
    await db.write(add_contact, "durable")
    other = sa.create_engine(sync_url(database_url))
    try:
        with other.connect() as conn:
            assert conn.execute(sa.select(Contact.display_name)).scalars().all() == ["durable"]
    finally:
        other.dispose()


async def test_sqlite_runs_in_wal_with_full_sync(db):
    if not db.is_sqlite:
        pytest.skip("SQLite pragmas")
    assert (await db.read(lambda c: c.exec_driver_sql("PRAGMA journal_mode").scalar())) == "wal"
    assert (await db.read(lambda c: c.exec_driver_sql("PRAGMA synchronous").scalar())) == 2


async def test_migrations_are_idempotent_and_at_head(database_url):
    await asyncio.to_thread(migrate.upgrade, database_url)
    await asyncio.to_thread(migrate.upgrade, database_url)
    assert migrate.current_revision(database_url) == migrate.head_revision()
