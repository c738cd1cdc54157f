"""Resolve handles to contacts: one contact across every address a person writes from.

Plain functions over a connection, run inside the caller's unit of work (see storage.db).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa

from channels.base import Handle
from storage.db import Database
from storage.models import Contact, ContactHandle, new_uid


def find_contact(conn: sa.Connection, handle: Handle) -> int | None:
    stmt = sa.select(ContactHandle.contact_id).where(ContactHandle.kind == handle.kind,
                                                     ContactHandle.value == handle.value)
    return conn.execute(stmt).scalar()


def _find_named(conn: sa.Connection, handle: Handle) -> sa.Row | None:
    return conn.execute(sa.select(Contact.id, Contact.display_name)
                        .join(ContactHandle, ContactHandle.contact_id == Contact.id)
                        .where(ContactHandle.kind == handle.kind, ContactHandle.value == handle.value)).first()


def attach_handle(db: Database, conn: sa.Connection, contact_id: int, handle: Handle, now: datetime) -> bool:
    """Give a contact another address; False if the address already belongs to someone."""
    result = conn.execute(db.insert_ignore(ContactHandle).values(
        contact_id=contact_id, kind=handle.kind, value=handle.value, created_at=now))
    return result.rowcount == 1


def _create_contact(conn: sa.Connection, name: str, now: datetime, avatar_hash: str | None = None) -> int:
    return conn.execute(sa.insert(Contact).values(
        uid=new_uid(), display_name=name, avatar_hash=avatar_hash, created_at=now,
        updated_at=now).returning(Contact.id)).scalar_one()


def resolve_contact(db: Database, conn: sa.Connection, handle: Handle, name: str, now: datetime) -> int:
    """The contact owning `handle`, created if new. Serialised per handle."""
    db.lock(conn, f"handle:{handle.kind}:{handle.value}")
    found = _find_named(conn, handle)
    if found is None:
        contact_id = _create_contact(conn, name or handle.value, now)
        attach_handle(db, conn, contact_id, handle, now)
        return contact_id
    if name and found.display_name in ("", handle.value):
        conn.execute(sa.update(Contact).where(Contact.id == found.id).values(display_name=name, updated_at=now))
    return found.id


def upsert_contact(db: Database, conn: sa.Connection, handles: Iterable[Handle], name: str, now: datetime,
                   avatar_hash: str | None = None) -> tuple[int, bool]:
    """Merge an address-book entry: find by any handle, attach the others. Returns (id, created)."""
    handles = list(dict.fromkeys(handles))
    for handle in handles:
        db.lock(conn, f"handle:{handle.kind}:{handle.value}")
    contact_id = next((found for h in handles if (found := find_contact(conn, h)) is not None), None)
    created = contact_id is None
    if contact_id is None:
        contact_id = _create_contact(conn, name, now, avatar_hash)
    else:
        values: dict = {"updated_at": now, "avatar_hash": avatar_hash}
        if name:
            values["display_name"] = name
        conn.execute(sa.update(Contact).where(Contact.id == contact_id).values(**values))
    for handle in handles:
        attach_handle(db, conn, contact_id, handle, now)
    return contact_id, created
