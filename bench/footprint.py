"""An idle hub with the bundled models loaded: start-up time (process start → /health answers, and →
models loaded) and peak resident memory (VmHWM), beside the bare aiohttp process's."""

from __future__ import annotations

import asyncio
import shutil
import signal
import tempfile
import time
from pathlib import Path

from bench.harness import free_port, machine, start_process, wait_ready
from bench.ingest import _write_config
from bench.webhooks import wait_model_loaded

REPO = Path(__file__).resolve().parent.parent


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def start_and_measure(args: list[str], workdir: Path, models: bool) -> tuple[float, float, float]:
    """(seconds to /health, seconds to models loaded, peak RSS MB after 5 s idle)."""
    port = free_port()
    started = time.perf_counter()
    process = start_process([*args, str(port)], REPO, workdir / f"{args[1]}.log")
    try:
        await wait_ready(f"http://127.0.0.1:{port}/health", process, timeout=180)
        ready = time.perf_counter() - started
        if models:
            await wait_model_loaded(f"http://127.0.0.1:{port}", timeout=300)
        loaded = time.perf_counter() - started
        await asyncio.sleep(5)
        return ready, loaded, peak_rss_mb(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


async def main() -> list[tuple[str, str, str]]:
    print(f"\n## Idle hub footprint — {machine()}")
    workdir = Path(tempfile.mkdtemp(prefix="replydesk-bench-footprint-"))
    try:
        _write_config(workdir, None)
        hub = ["-m", "hub", "--config", str(workdir / "config.toml"), "serve", "--port"]
        bare = await start_and_measure(["-m", "bench.bare_server"], workdir, models=False)
        ready, loaded, rss = await start_and_measure(hub, workdir, models=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rows = [("start-up to /health answering", f"{ready:.1f} s", f"{bare[0]:.1f} s (bare aiohttp)"),
            ("start-up to bundled models loaded", f"{loaded:.1f} s", "—"),
            ("peak RSS, idle, models loaded", f"{rss:.0f} MB", f"{bare[2]:.0f} MB (bare aiohttp)")]
    for what, value, baseline in rows:
        print(f"{what:<40} {value:>10}   baseline {baseline}")
    return rows
