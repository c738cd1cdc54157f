"""The per-contact index answers exactly as chroma's filtered query does, through writes and deletes."""

from __future__ import annotations

import numpy as np
import pytest

from brain.memory import MemoryStore, _scope_filter
from brain.memory_index import entries_from

TEXTS = ["We moved the shoot to Saturday", "My dog is called Pixel", "Invoice paid, thanks!",
         "Can we do golden hour instead?", "The venue is in Sintra", "I prefer black and white prints",
         "Lea starts school on 3 March", "Allergic to cats, just so you know"]


def test_entries_search_ranks_by_cosine():
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(50, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    entries = entries_from([f"m{i}" for i in range(50)], [str(i) for i in range(50)], [{}] * 50, vectors)
    query = vectors[7] + 0.01
    query /= np.linalg.norm(query)
    found = entries.search(query, 5)
    scores = [score for *_, score in found]
    assert found[0][0] == "m7" and scores == sorted(scores, reverse=True)
    assert np.isclose(scores[0], float(vectors[7] @ query))


@pytest.fixture
async def store(tmp_path, shared_embedder):
    memory = MemoryStore(shared_embedder, path=tmp_path / "memory")
    yield memory
    await memory.close()


async def chroma_ids(store, query, contact):
    vector = store.embedder.embed([query])
    found = store._open().query(query_embeddings=vector, n_results=3, where=_scope_filter("u", contact))
    return found["ids"][0]


async def test_cached_recall_matches_chroma_through_writes_and_deletes(store):
    for i, text in enumerate(TEXTS):
        await store.store(user_id="u", contact_id="a" if i % 2 else "b", conversation_id="c",
                          messages=[{"role": "user", "content": text, "message_id": f"m{i}"}])
    for query in ("when does school start", "where is the venue", "pets"):
        for contact in ("a", "b"):
            cached = [m.id for m in await store.recall(user_id="u", contact_id=contact, query=query)]
            assert cached == await chroma_ids(store, query, contact)
    await store.store(user_id="u", contact_id="a", conversation_id="c",
                      messages=[{"role": "user", "content": "School for Lea begins in March", "message_id": "new"}])
    recalled = await store.recall(user_id="u", contact_id="a", query="when does Lea start school")
    assert [m.id for m in recalled] == await chroma_ids(store, "when does Lea start school", "a")
    await store.delete(recalled[0].id)
    again = await store.recall(user_id="u", contact_id="a", query="when does Lea start school")
    assert recalled[0].id not in [m.id for m in again]
