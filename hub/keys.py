"""API keys: shown once at creation, stored as SHA-256 hashes, revocable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from hub.auth import generate_api_key, hash_api_key
from storage.db import Database
from storage.models import ApiKey


@dataclass(frozen=True)
class KeyInfo:
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


async def create_key(db: Database, name: str, now: datetime) -> tuple[int, str]:
    """Returns (id, the plaintext key). The plaintext is never stored."""
    key = generate_api_key()
    insert = sa.insert(ApiKey).values(name=name, prefix=key[:10], key_hash=hash_api_key(key),
                                      created_at=now).returning(ApiKey.id)
    return await db.write(lambda conn: conn.execute(insert).scalar_one()), key


async def list_keys(db: Database) -> list[KeyInfo]:
    rows = await db.rows(sa.select(ApiKey).order_by(ApiKey.id))
    return [KeyInfo(r.id, r.name, r.prefix, r.created_at, r.last_used_at, r.revoked_at) for r in rows]


async def revoke_key(db: Database, key_id: int, now: datetime) -> bool:
    revoke = sa.update(ApiKey).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None)).values(revoked_at=now)
    return await db.execute(revoke) == 1
