"""`replydesk db migrate-to URL`: copy the configured database (SQLite) into an empty one (PostgreSQL).

Both are migrated to head first; every table is copied in dependency order (parents before the rows
that point at them), in batches with a progress bar, in ONE target transaction (a failure leaves the
target as empty as it was); PostgreSQL sequences are moved past the copied ids; row counts are
compared at the end. APScheduler's job store is not copied (its jobs name the old database; the new
scheduler leader rebuilds its timers from the follow-up tables). The memory store is not in the
database and stays where it is.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel
from tqdm import tqdm

import storage.models  # noqa: F401  (registers every table on SQLModel.metadata)
from storage import migrate
from storage.db import redact_url, sync_url
from storage.scheduling_models import APSCHEDULER_TABLE

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
BATCH_ROWS = 1000
NOT_COPIED = frozenset({APSCHEDULER_TABLE, "alembic_version"})


class TransferError(Exception):
    """The copy cannot start or did not verify; the message says why."""


@dataclass(frozen=True)
class Copied:
    table: str
    source_rows: int
    target_rows: int


# -- pure planning ---------------------------------------------------------------------------------

def tables_to_copy(metadata: sa.MetaData, present: set[str]) -> list[sa.Table]:
    """Every known table the source has, parents first."""
    return [table for table in metadata.sorted_tables if table.name in present and table.name not in NOT_COPIED]


def batches(rows: Iterator[sa.Row], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(dict(row._mapping))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def memory_store_note(memory_url: str, memory_path: str) -> str:
    where = f"the Chroma server at {memory_url}" if memory_url else f"the chromadb files under {memory_path}"
    return (f"memory store: not copied, it is not in the database; it stays in {where}. "
            "Hubs on the new database need the same memory store (brain.memory_url, or that directory).")


# -- the copy --------------------------------------------------------------------------------------

def _count(conn: sa.Connection, table: sa.Table) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def refuse_non_empty(engine: sa.Engine) -> None:
    """The target may have our tables (e.g. after `db upgrade`), but no rows in any of them."""
    inspector = sa.inspect(engine)
    with engine.connect() as conn:
        for name in sorted(set(inspector.get_table_names()) - NOT_COPIED):
            rows = conn.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one()
            if rows:
                raise TransferError(f"the target database is not empty: table {name} has {rows} row(s). "
                                    "migrate-to only copies into an empty database.")


def copy_table(source: sa.Connection, target: sa.Connection, table: sa.Table, progress: tqdm) -> None:
    order = list(table.primary_key.columns) or list(table.columns)
    rows = source.execution_options(yield_per=BATCH_ROWS).execute(sa.select(table).order_by(*order))
    for batch in batches(iter(rows), BATCH_ROWS):
        target.execute(table.insert(), batch)
        progress.update(len(batch))


def reset_sequences(target: sa.Connection, tables: list[sa.Table]) -> None:
    """PostgreSQL: each serial/identity id continues after the largest copied one."""
    for table in tables:
        columns = list(table.primary_key.columns)
        if len(columns) != 1 or not isinstance(columns[0].type, sa.Integer):
            continue
        column = columns[0].name
        target.execute(sa.text(
            f'SELECT setval(seq, COALESCE((SELECT MAX("{column}") FROM "{table.name}"), 1), '
            f'(SELECT MAX("{column}") FROM "{table.name}") IS NOT NULL) '
            f"FROM (SELECT pg_get_serial_sequence(:table, :column) AS seq) s WHERE seq IS NOT NULL"),
            {"table": f'"{table.name}"', "column": column})


def copy_all(source_url: str, target_url: str, *, out: Any = sys.stderr) -> list[Copied]:
    source_engine, target_engine = sa.create_engine(sync_url(source_url)), sa.create_engine(sync_url(target_url))
    try:
        refuse_non_empty(target_engine)
        migrate.upgrade(source_url)
        migrate.upgrade(target_url)
        tables = tables_to_copy(SQLModel.metadata, set(sa.inspect(source_engine).get_table_names()))
        with source_engine.connect() as source, target_engine.begin() as target:
            for table in tables:
                with tqdm(total=_count(source, table), desc=table.name, unit=" rows", file=out) as progress:
                    copy_table(source, target, table, progress)
            if target.dialect.name == "postgresql":
                reset_sequences(target, tables)
        with source_engine.connect() as source, target_engine.connect() as target:
            return [Copied(t.name, _count(source, t), _count(target, t)) for t in tables]
    finally:
        source_engine.dispose()
        target_engine.dispose()


def run_migrate_to_command(settings: Any, args: argparse.Namespace) -> int:
    target_url = getattr(args, "url", None)
    if not target_url:
        print("usage: replydesk db migrate-to URL (e.g. postgresql://replydesk@127.0.0.1:5432/replydesk)",
              file=sys.stderr)
        return EXIT_USAGE
    if sync_url(target_url) == sync_url(settings.database_url):
        print("the target is the configured database itself; give another URL", file=sys.stderr)
        return EXIT_USAGE
    started = time.monotonic()
    try:
        copied = copy_all(settings.database_url, target_url)
    except TransferError as exc:
        print(f"migrate-to refused: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except sa.exc.OperationalError as exc:
        print(f"migrate-to failed, nothing was committed to the target: {redact_url(target_url)} "
              f"answered: {str(exc.orig).strip()}", file=sys.stderr)
        return EXIT_FAILED
    wrong = [c for c in copied if c.source_rows != c.target_rows]
    for c in wrong:
        print(f"row count mismatch in {c.table}: {c.source_rows} in the source, {c.target_rows} copied",
              file=sys.stderr)
    total = sum(c.target_rows for c in copied)
    print(f"copied {total} rows in {len(copied)} tables from {redact_url(settings.database_url)} to "
          f"{redact_url(target_url)} in {time.monotonic() - started:.1f} s; row counts "
          f"{'DIFFER' if wrong else 'verified'}")
    print(memory_store_note(settings.brain.memory_url, str(settings.data_path / "memory")))  # brain.memory's dir
    if not wrong:
        print(f'next: set [database] url = "{redact_url(target_url)}" in the configuration '
              "(keep the password out of the file: see docs/DEPLOY.md) and restart the hub")
    return EXIT_FAILED if wrong else EXIT_OK
