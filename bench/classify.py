"""Classify: triage latency of one message (p50/p99) and batch throughput, beside the bare MiniLM
embedding call on the same texts, in the same run and process (the models are trained first)."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Callable

from bench.harness import machine

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SINGLES = int(os.environ.get("BENCH_SINGLES", "200"))
THREADS = int(os.environ.get("BENCH_THREADS", str(max(1, (os.cpu_count() or 2) // 2))))  # as the hub runs it


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def _latencies(call: Callable[[str], object], texts: list[str]) -> tuple[float, float]:
    took = []
    for text in texts:
        started = time.perf_counter()
        call(text)
        took.append((time.perf_counter() - started) * 1000)
    return statistics.median(took), _percentile(took, 99)


def _throughput(call: Callable[[list[str]], object], texts: list[str]) -> float:
    best = 0.0
    for _ in range(ROUNDS):
        started = time.perf_counter()
        call(texts)
        best = max(best, len(texts) / (time.perf_counter() - started))
    return best


def _numbered(texts: list[str], count: int, tag: str) -> list[str]:
    """`count` distinct texts cycling through `texts`, each with a number of the same shape appended."""
    return [f"{texts[i % len(texts)]} ({tag} {i:04d})" for i in range(count)]


def _measure() -> list[tuple[str, str, float, float]]:
    from brain.classifier import ClassifierSet, read_jsonl
    from brain.embedder import MiniLMEmbedder
    from brain.triage import triage, triage_batch

    embedder, models = MiniLMEmbedder(threads=THREADS), ClassifierSet()
    texts = [row["text"] for row in read_jsonl("triage.jsonl")]
    triage(texts[0], embedder=embedder, models=models)  # trains the heads (not timed)
    # The embedder keeps recent single texts: every timed text is new (numbered), so each call embeds.
    # Torch builds kernels per input shape: warm them with same-shaped texts first, for both rows alike.
    for text in _numbered(texts, SINGLES, "w"):
        embedder.embed([text])
    embed_p50, embed_p99 = _latencies(lambda t: embedder.embed([t]), _numbered(texts, SINGLES, "e"))
    triage_p50, triage_p99 = _latencies(lambda t: triage(t, "work", embedder=embedder, models=models),
                                        _numbered(texts, SINGLES, "t"))
    embed_rate = _throughput(embedder.embed, texts)
    triage_rate = _throughput(lambda batch: triage_batch([(t, "work") for t in batch], embedder=embedder,
                                                         models=models), texts)
    return [("bare MiniLM embed, 1 message", "latency", embed_p50, embed_p99),
            ("triage(), 1 message", "latency", triage_p50, triage_p99),
            (f"bare MiniLM embed, batch of {len(texts)}", "throughput", embed_rate, 0.0),
            (f"triage_batch(), batch of {len(texts)}", "throughput", triage_rate, 0.0)]


async def main() -> None:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n## Classify (triage in process) — {machine()}, torch threads {THREADS}, best of {ROUNDS} batches,"
          f" load average {load}")
    rows = await asyncio.to_thread(_measure)
    print(f"{'what':<40} {'p50 ms':>8} {'p99 ms':>8} {'msgs/s':>9}")
    for label, kind, first, second in rows:
        if kind == "latency":
            print(f"{label:<40} {first:>8.1f} {second:>8.1f} {'':>9}")
        else:
            print(f"{label:<40} {'':>8} {'':>8} {first:>9,.0f}")
