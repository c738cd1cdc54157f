"""What the email adapter must remember between runs, and the small store it keeps it in.

`StateStore` is the hook the adapter needs from the hub: async get/set of JSON values by key,
durable in the hub (table channel_state: channel, key, value). Without it the adapter keeps state
in memory: correct within one process, and after a restart it re-reads a bounded window of
recent mail, which the database's unique (channel, external_id) makes harmless.

Keys: `imap:<mailbox>` → the MailboxCursor; `thread:<hash>` → where replies in a thread go;
`subject:<hash>` → the thread a subject-only reply from one correspondent belongs to.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class StateStore(Protocol):
    async def get(self, key: str) -> dict[str, Any] | None: ...

    async def set(self, key: str, value: dict[str, Any]) -> None: ...


class MemoryStateStore:
    """The default: state for the life of the process."""

    def __init__(self) -> None:
        self._values: dict[str, dict[str, Any]] = {}

    async def get(self, key: str) -> dict[str, Any] | None:
        value = self._values.get(key)
        return dict(value) if value is not None else None

    async def set(self, key: str, value: dict[str, Any]) -> None:
        self._values[key] = dict(value)


@dataclass(frozen=True)
class MailboxCursor:
    """Where reading a mailbox stands. `since` is set while a windowed (re)sync is under way:
    the next search is `UID last_uid+1:* SINCE since`, so a crash mid-resync neither skips
    nor floods."""

    mailbox: str
    uidvalidity: int
    last_uid: int = 0
    since: date | None = None
    last_seen: datetime | None = None  # newest INTERNALDATE read, the anchor of a resync window

    def to_json(self) -> dict[str, Any]:
        value = asdict(self)
        value["since"] = self.since.isoformat() if self.since else None
        value["last_seen"] = self.last_seen.isoformat() if self.last_seen else None
        return value

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> MailboxCursor:
        return cls(mailbox=str(value["mailbox"]), uidvalidity=int(value["uidvalidity"]),
                   last_uid=int(value.get("last_uid") or 0),
                   since=date.fromisoformat(value["since"]) if value.get("since") else None,
                   last_seen=datetime.fromisoformat(value["last_seen"]) if value.get("last_seen") else None)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:40]


def cursor_key(mailbox: str) -> str:
    return f"imap:{mailbox}" if len(mailbox) < 200 else f"imap:{_digest(mailbox)}"


def thread_key(thread_id: str) -> str:
    return f"thread:{_digest(thread_id)}"


def subject_key(correspondent: str, normalized_subject: str) -> str:
    return f"subject:{_digest(correspondent.lower(), normalized_subject.lower())}"
