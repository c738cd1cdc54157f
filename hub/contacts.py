"""Resolve handles to contacts: one contact across every address a person writes from."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from channels.base import Handle
from storage.db import Database
from storage.models import Contact, ContactHandle, new_uid


async def find_contact(conn: AsyncConnection, handle: Handle) -> int | None:
    stmt = sa.select(ContactHandle.contact_id).where(ContactHandle.kind == handle.kind,
                                                     ContactHandle.value == handle.value)
    return (await conn.execute(stmt)).scalar()


async def _contact_name(conn: AsyncConnection, contact_id: int) -> str:
    return (await conn.execute(sa.select(Contact.display_name).where(Contact.id == contact_id))).scalar_one()


async def attach_handle(db: Database, conn: AsyncConnection, contact_id: int, handle: Handle,
                        now: datetime) -> bool:
    """Give a contact another address; False if the address already belongs to someone."""
    result = await conn.execute(db.insert_ignore(ContactHandle).values(
        contact_id=contact_id, kind=handle.kind, value=handle.value, created_at=now))
    return result.rowcount == 1


async def resolve_contact(db: Database, conn: AsyncConnection, handle: Handle, name: str,
                          now: datetime) -> int:
    """The contact owning `handle`, created if new. Serialised per handle."""
    await db.lock(conn, f"handle:{handle.kind}:{handle.value}")
    contact_id = await find_contact(conn, handle)
    if contact_id is not None:
        if name and not await _contact_name(conn, contact_id):
            await conn.execute(sa.update(Contact).where(Contact.id == contact_id)
                               .values(display_name=name, updated_at=now))
        return contact_id
    result = await conn.execute(sa.insert(Contact).values(
        display_name=name or handle.value, created_at=now, updated_at=now,
        uid=new_uid()).returning(Contact.id))
    contact_id = result.scalar_one()
    await attach_handle(db, conn, contact_id, handle, now)
    return contact_id


async def upsert_contact(db: Database, conn: AsyncConnection, handles: Iterable[Handle], name: str,
                         now: datetime, avatar_hash: str | None = None) -> tuple[int, bool]:
    """Merge an address-book entry: find by any handle, attach the others. Returns (id, created)."""
    handles = list(dict.fromkeys(handles))
    for handle in handles:
        await db.lock(conn, f"handle:{handle.kind}:{handle.value}")
    contact_id = None
    for handle in handles:
        contact_id = await find_contact(conn, handle)
        if contact_id is not None:
            break
    created = contact_id is None
    if created:
        result = await conn.execute(sa.insert(Contact).values(
            display_name=name, avatar_hash=avatar_hash, created_at=now, updated_at=now,
            uid=new_uid()).returning(Contact.id))
        contact_id = result.scalar_one()
    else:
        values = {"updated_at": now, "avatar_hash": avatar_hash}
        if name:
            values["display_name"] = name
        await conn.execute(sa.update(Contact).where(Contact.id == contact_id).values(**values))
    for handle in handles:
        await attach_handle(db, conn, contact_id, handle, now)
    return contact_id, created
