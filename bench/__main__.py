"""Runs every benchmark and writes docs/PERFORMANCE.md: `python -m bench [name ...]` (a subset is
printed but the report is written only when every benchmark ran)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import sys
import traceback
from datetime import datetime, timezone
from pathlib import Path

from bench import brain, classify, followups, footprint, growth, ingest, webhooks
from bench.harness import machine
from bench.report import Section, render

BENCHMARKS = {"footprint": (footprint.main, "Idle hub: start-up and peak memory"),
              "ingest": (ingest.main, "Ingest (POST /api/sync/messages)"),
              "growth": (growth.main, "Storing messages as the table grows (1k / 10k / 100k)"),
              "webhooks": (webhooks.main, "Webhook acknowledgement under load"),
              "followups": (followups.main, "Scheduled follow-ups: ticks and listing at 1k / 10k / 100k"),
              "brain": (brain.main, "Brain: drafting, memory recall at 10k / 100k, embedding"),
              "classify": (classify.main, "Classification")}
REPORT = Path(__file__).resolve().parent.parent / "docs" / "PERFORMANCE.md"
GAPS = ["Soak and crash test: `make soak` (bench/soak.py); its counts are printed, not part of this report."]


class Tee(io.TextIOBase):
    """Prints as usual and keeps a copy for the report."""

    def __init__(self, out: io.TextIOBase) -> None:
        self.out, self.copy = out, io.StringIO()

    def write(self, text: str) -> int:
        self.copy.write(text)
        return self.out.write(text)

    def flush(self) -> None:
        self.out.flush()


def run_one(name: str) -> Section:
    function, title = BENCHMARKS[name]
    tee = Tee(sys.stdout)
    error = ""
    with contextlib.redirect_stdout(tee):
        try:
            rows = asyncio.run(function()) or []
        except Exception as exc:  # one failing benchmark must not lose the others' figures
            traceback.print_exc()
            rows, error = [], f"{type(exc).__name__}: {exc}"
    return Section(title, tee.copy.getvalue(), list(rows), error)


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    sections = [run_one(name) for name in names]
    if not argv:
        when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        REPORT.write_text(render(machine(), when, sections, GAPS))
        print(f"\nwrote {REPORT}")
    return 1 if any(section.error for section in sections) else 0


sys.exit(main(sys.argv[1:]))
