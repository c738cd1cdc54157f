"""Brain benchmarks, each beside a same-run baseline:
- draft latency, inbound stored → suggestion stored, vs raw llama.cpp on the identical prompt;
- memory recall with a contact filter at 10k and 100k memories vs raw chromadb queries;
- embedding throughput vs sentence-transformers' encode on the same texts."""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from aiohttp import web

from bench.harness import machine

DRAFTS = int(os.environ.get("BENCH_DRAFTS", "12"))
MESSAGES = ["Hi! Are you free on Saturday for a portrait session?", "What do you charge for a wedding?",
            "Can we move our call to Thursday afternoon?", "Do you also do product photos for shops?",
            "Thanks for the photos, they're lovely! Can I order prints?", "Is there parking near your studio?"]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def row(label: str, values_ms: list[float], extra: str = "") -> None:
    print(f"{label:<52} p50 {statistics.median(values_ms):8.1f} ms   p99 {pct(values_ms, 99):8.1f} ms  {extra}")


async def bench_drafts() -> None:
    from llama_cpp import Llama

    from brain.draft import build_messages
    from brain.llm import bundled_gguf_path
    from channels.base import Handle, InboundMessage
    from hub.app import create_app
    from hub.drafting import load_context, draft_request, DraftOptions
    from hub.pipeline import ingest
    from hub.settings import settings_from_dict
    from hub.state import BRAIN, CLOCK, DB, WORKER

    workdir = Path(tempfile.mkdtemp(prefix="replydesk-bench-brain-"))
    threads = max(1, (os.cpu_count() or 2) // 2)
    settings = settings_from_dict({"auth": {"jwt_secret": "b" * 48}, "data_dir": str(workdir),
                                   "database": {"url": f"sqlite:///{workdir}/hub.db"},
                                   "brain": {"warm_up": False, "draft_temperature": 0.0, "threads": threads}},
                                  base_dir=workdir)
    app = create_app(settings, start_worker=False)
    runner = web.AppRunner(app)
    await runner.setup()  # runs the app's start-up: database, bus, brain, worker
    brain, db, worker = app[BRAIN], app[DB], app[WORKER]
    await brain.llm(), await brain.memory()
    hub_ms, prompts, tokens = [], [], []
    for i in range(DRAFTS):
        sent = datetime.now(timezone.utc) - timedelta(minutes=1)
        message = InboundMessage(channel="imessage", external_id=f"bench-{i}", thread_id=f"t-{i}",
                                 sender=Handle("phone", f"+1415555{i:04d}"), sender_name="Sam",
                                 text=MESSAGES[i % len(MESSAGES)], sent_at=sent)
        started = time.perf_counter()
        stored = await ingest(db, app[CLOCK], [message])
        await worker.run_once()
        hub_ms.append((time.perf_counter() - started) * 1000)
        context = await db.read(load_context, stored.stored[0].id, 10)
        prompts.append(build_messages(draft_request(app, context, [], DraftOptions())))
    await runner.cleanup()
    raw = Llama(model_path=str(bundled_gguf_path()), n_ctx=2048, n_threads=threads, verbose=False)
    raw_ms = []
    for messages in prompts:
        started = time.perf_counter()
        out = raw.create_chat_completion(messages=messages, max_tokens=settings.brain.draft_max_tokens,
                                         temperature=0.0)
        raw_ms.append((time.perf_counter() - started) * 1000)
        tokens.append(out["usage"]["completion_tokens"])
    print(f"\n## Drafting — {machine()}, bundled SmolLM2-135M Q4_1, {threads} threads, greedy, {DRAFTS} drafts")
    row("raw llama.cpp, same prompt (baseline)", raw_ms, f"~{statistics.mean(tokens):.0f} tokens")
    row("Replydesk: inbound stored → suggestion stored", hub_ms,
        f"ratio p50 {statistics.median(hub_ms) / statistics.median(raw_ms):.2f}x")


def _synthetic(base: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    picks = base[rng.integers(0, len(base), size=count)]
    noisy = picks + rng.normal(scale=0.04, size=picks.shape).astype(np.float32)
    return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)


async def bench_recall(embedder, size: int, per_contact: int = 100) -> None:
    from brain.memory import MemoryStore, _metadata

    workdir = Path(tempfile.mkdtemp(prefix="replydesk-bench-memory-"))
    store = MemoryStore(embedder, path=workdir)
    rng = np.random.default_rng(7)
    base_texts = [f"{m} ({i})" for i, m in enumerate(MESSAGES * 40)]
    base = embedder.embed(base_texts)
    vectors = _synthetic(base, size, rng)
    collection = store._open()
    now = datetime.now(timezone.utc)
    contacts = size // per_contact
    for start in range(0, size, 5000):
        ids = [f"m{i}" for i in range(start, min(size, start + 5000))]
        collection.upsert(ids=ids, embeddings=vectors[start:start + len(ids)],
                          documents=[base_texts[i % len(base_texts)] for i in range(start, start + len(ids))],
                          metadatas=[_metadata(("owner", f"c{i % contacts}", None), "user", [f"msg{i}"], now)
                                     for i in range(start, start + len(ids))])
    queries = [MESSAGES[i % len(MESSAGES)] for i in range(60)]
    hub_ms, raw_ms, raw_filtered_ms, embed_ms = [], [], [], []
    for i, query in enumerate(queries):
        contact = f"c{i % 20}"
        await store.recall(user_id="owner", contact_id=contact, query=query)  # warm the contact
        started = time.perf_counter()
        await store.recall(user_id="owner", contact_id=contact, query=query)
        hub_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        vector = embedder.embed([query])
        embed_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        collection.query(query_embeddings=vector, n_results=3)
        raw_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        collection.query(query_embeddings=vector, n_results=3,
                         where={"$and": [{"user_id": "owner"}, {"contact_id": contact}]})
        raw_filtered_ms.append((time.perf_counter() - started) * 1000)
    print(f"\n## Memory recall at {size:,} memories ({contacts:,} contacts × {per_contact})")
    row("raw chromadb query, unfiltered (baseline)", raw_ms)
    row("raw chromadb query, contact filter", raw_filtered_ms)
    row("embedding the query alone", embed_ms)
    row("Replydesk recall, contact filter (embed + search)", hub_ms)
    await store.close()


def bench_embedding(embedder) -> None:
    from sentence_transformers import SentenceTransformer

    from brain.embedder import bundled_minilm_path

    texts = [f"{MESSAGES[i % len(MESSAGES)]} {'and more detail ' * (i % 7)}#{i}" for i in range(1000)]
    reference = SentenceTransformer(str(bundled_minilm_path()), device="cpu")
    reference.encode(texts[:32])
    embedder.embed(texts[:32])
    started = time.perf_counter()
    reference.encode(texts, batch_size=64)
    raw_rate = len(texts) / (time.perf_counter() - started)
    started = time.perf_counter()
    embedder.embed(texts)
    hub_rate = len(texts) / (time.perf_counter() - started)
    print(f"\n## Embedding 1,000 chat messages (all-MiniLM-L6-v2)")
    print(f"{'sentence-transformers encode, batch 64 (baseline)':<52} {raw_rate:8.0f} texts/s")
    print(f"{'Replydesk MiniLMEmbedder (dynamic padding)':<52} {hub_rate:8.0f} texts/s")


async def main() -> None:
    from brain.embedder import MiniLMEmbedder

    await bench_drafts()
    embedder = MiniLMEmbedder()
    bench_embedding(embedder)
    for size in (10_000, 100_000):
        await bench_recall(embedder, size)
