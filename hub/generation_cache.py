"""An in-process LRU of /generate answers, keyed by the client's cache_key or a hash of the request."""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections import OrderedDict
from typing import Any

AUTO_PREFIX = "auto:"  # keys the hub derives itself, so `DELETE /cache?pattern=auto:*` clears only those


def request_key(parameters: dict[str, Any]) -> str:
    """A stable key for a request without a cache_key: the hash of its prompt and sampling parameters."""
    canonical = json.dumps(parameters, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return AUTO_PREFIX + hashlib.sha256(canonical.encode()).hexdigest()[:40]


class GenerationCache:
    """Least-recently-used answers, at most `max_entries` of them. Event-loop only (no locking)."""

    def __init__(self, max_entries: int = 1024) -> None:
        self.max_entries = max(1, max_entries)
        self._entries: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> dict[str, Any] | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return None if entry is None else dict(entry)

    def put(self, key: str, value: dict[str, Any]) -> None:
        self._entries[key] = dict(value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def invalidate(self, pattern: str = "*") -> int:
        """Drop every key matching the shell-style `pattern` (case-sensitive); returns how many."""
        doomed = [key for key in self._entries if fnmatch.fnmatchcase(key, pattern)]
        for key in doomed:
            del self._entries[key]
        return len(doomed)
