"""Row ids as clients spell them: a path or body key names a row by its numeric id or by its uid.

Ids are INTEGER columns: 2**31 - 1 at most on PostgreSQL (SQLite's are wider, the smaller bound
holds for both). A number beyond it names no row; it must not reach the database driver, which
raises on it (a 500 instead of a 404)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

ROW_ID_MAX = 2**31 - 1
RowId = Annotated[int, Field(ge=0, le=ROW_ID_MAX)]  # a body or query field naming a row by id


def numeric_id(key: str) -> int | None:
    """The row id `key` spells (ASCII digits within the column's range), else None."""
    if not (key.isascii() and key.isdecimal()) or len(key) > len(str(ROW_ID_MAX)):
        return None
    value = int(key)
    return value if value <= ROW_ID_MAX else None


def id_or_uid(id_column: Any, uid_column: Any, key: str) -> Any:
    """`id_column == n` when `key` spells a row id, else `uid_column == key`."""
    number = numeric_id(key)
    return id_column == number if number is not None else uid_column == key
