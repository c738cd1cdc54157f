"""An in-process index of one contact's memory vectors in front of chroma.

Chroma's metadata filter costs tens of milliseconds per query at 100k memories; one contact
rarely has more than a few thousand, so a cached matrix answers with one dot product. Writes go
to chroma first and then update the cache; deletes drop the cache. Used only with the local
store, where this process is the only writer.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

Scope = tuple[str, str]  # (user_id, contact_id)


@dataclass
class _Entries:
    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    metas: list[dict[str, Any]] = field(default_factory=list)
    matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))

    def upsert(self, ids: list[str], texts: list[str], metas: list[dict[str, Any]], vectors: np.ndarray) -> None:
        position = {mid: i for i, mid in enumerate(self.ids)}
        fresh = []
        for mid, text, meta, vector in zip(ids, texts, metas, vectors):
            if mid in position:
                i = position[mid]
                self.texts[i], self.metas[i], self.matrix[i] = text, meta, vector
            else:
                fresh.append((mid, text, meta, vector))
        if fresh:
            self.ids += [f[0] for f in fresh]
            self.texts += [f[1] for f in fresh]
            self.metas += [f[2] for f in fresh]
            added = np.asarray([f[3] for f in fresh], dtype=np.float32)
            self.matrix = added if self.matrix.size == 0 else np.vstack([self.matrix, added])

    def search(self, vector: np.ndarray, top_k: int) -> list[tuple[str, str, dict[str, Any], float]]:
        if not self.ids:
            return []
        scores = self.matrix @ vector.astype(np.float32)
        k = min(top_k, len(self.ids))
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best])]
        return [(self.ids[i], self.texts[i], self.metas[i], float(scores[i])) for i in best]


class ScopeIndex:
    """An LRU of per-scope entries; `load` fetches a scope from chroma on a miss."""

    def __init__(self, load: Callable[[Scope], _Entries], max_scopes: int = 512, max_vectors: int = 50_000) -> None:
        self._load = load
        self._max_scopes = max_scopes
        self.max_vectors = max_vectors
        self._scopes: OrderedDict[Scope, _Entries] = OrderedDict()
        self._lock = threading.Lock()

    def entries(self, scope: Scope) -> _Entries:
        with self._lock:
            if scope in self._scopes:
                self._scopes.move_to_end(scope)
                return self._scopes[scope]
        loaded = self._load(scope)
        with self._lock:
            self._scopes[scope] = loaded
            while len(self._scopes) > self._max_scopes:
                self._scopes.popitem(last=False)
        return loaded

    def upsert(self, scope: Scope, ids: list[str], texts: list[str], metas: list[dict[str, Any]],
               vectors: np.ndarray) -> None:
        with self._lock:
            entries = self._scopes.get(scope)
            if entries is not None:
                entries.upsert(ids, texts, metas, vectors)

    def clear(self) -> None:
        with self._lock:
            self._scopes.clear()


def entries_from(ids: list[str], texts: list[str], metas: list[dict[str, Any]], vectors: Any) -> _Entries:
    entries = _Entries()
    if ids:
        entries.upsert(ids, texts, metas, np.asarray(vectors, dtype=np.float32))
    return entries
