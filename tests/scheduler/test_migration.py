"""Migration 0005 (follow-up tables and APScheduler's job store): upgrades from 0004, matches the
models, downgrades back to 0004 without touching other tables, and upgrades again to the head."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from storage import migrate
from storage.db import sync_url

TABLES = {"followups", "followup_settings", "followup_scans", "apscheduler_jobs"}


def _inspect(url: str) -> tuple[set[str], list[tuple]]:
    """(the tables present, the differences between the database and the models for TABLES)."""
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            names = set(sa.inspect(conn).get_table_names())
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    finally:
        engine.dispose()
    return names, [d for d in diff if _table_of(d) in TABLES]


def _table_of(diff: object) -> str | None:
    """The table an autogenerate difference is about: ("add_table", Table), ("add_index", Index),
    ("add_column", schema, table, Column), or a list of ("modify_type", schema, table, column, …)."""
    first = diff[0] if isinstance(diff, list) else diff
    for part in first[1:]:
        if isinstance(part, sa.Table):
            return part.name
        table = getattr(part, "table", None)
        if isinstance(table, sa.Table):
            return table.name
        if isinstance(part, str) and part in TABLES:
            return part
    return None


def _downgrade(url: str, revision: str) -> None:
    command.downgrade(migrate.alembic_config(url), revision)


def _run(url: str, sql: str) -> object:
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.begin() as conn:
            result = conn.execute(sa.text(sql))
            return result.scalar() if result.returns_rows else None
    finally:
        engine.dispose()


async def test_0005_upgrades_matches_the_models_and_downgrades(database_url):
    await asyncio.to_thread(migrate.upgrade, database_url, "0004")
    names, _ = await asyncio.to_thread(_inspect, database_url)
    assert not TABLES & names and "conversations" in names
    await asyncio.to_thread(migrate.upgrade, database_url, "0005")
    assert migrate.current_revision(database_url) == "0005"
    names, diff = await asyncio.to_thread(_inspect, database_url)
    assert TABLES <= names and diff == []
    await asyncio.to_thread(_run, database_url, "INSERT INTO followup_settings (scope, max_nudges, updated_at) "
                                                   "VALUES ('owner', 3, CURRENT_TIMESTAMP)")
    assert await asyncio.to_thread(_run, database_url, "SELECT max_nudges FROM followup_settings") == 3
    await asyncio.to_thread(_downgrade, database_url, "0004")
    names, _ = await asyncio.to_thread(_inspect, database_url)
    assert migrate.current_revision(database_url) == "0004"
    assert not TABLES & names and {"conversations", "suggestions", "jobs"} <= names
    await asyncio.to_thread(migrate.upgrade, database_url)
    assert migrate.current_revision(database_url) == migrate.head_revision()
    names, diff = await asyncio.to_thread(_inspect, database_url)
    assert TABLES <= names and diff == []
