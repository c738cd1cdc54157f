"""The training process: `python -m brain.train_worker SPEC.json [--watch-stdin]`.

Runs brain.training.run_training on the spec (a JSON file written by the hub) and prints one JSON
object per line on stdout: progress for the hub to record and publish, then `completed` or
`failed`. Logs and library warnings go to stderr. Exit status 0 on success, 1 on failure, 2 on a
bad command line. With --watch-stdin the process exits as soon as its stdin reaches end of file,
so a training run never outlives the hub that started it (the hub holds the pipe open).
Cancelling is terminating the process (SIGTERM); nothing half-written is ever read back, since the
adapter is renamed into place only once complete.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import traceback
from pathlib import Path
from typing import Any, TextIO

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_ORPHANED = 0, 1, 2, 3


def line_emitter(out: TextIO) -> Any:
    lock = threading.Lock()

    def emit(event: dict[str, Any]) -> None:
        with lock:
            out.write(json.dumps(event, ensure_ascii=False) + "\n")
            out.flush()

    return emit


def protocol_stream() -> TextIO:
    """A private handle on stdout for the JSON lines; fd 1 then points at stderr, so a stray print
    from a library (or llama.cpp's C code) cannot corrupt the protocol."""
    sys.stdout.flush()
    stream = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return stream


def _exit_when_orphaned() -> None:
    """Stdin closes when the parent dies: leave at once, whatever the training is doing."""
    def watch() -> None:
        while sys.stdin.buffer.read(4096):
            pass
        os._exit(EXIT_ORPHANED)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    watch = "--watch-stdin" in args
    paths = [a for a in args if not a.startswith("--")]
    if len(paths) != 1:
        print("usage: python -m brain.train_worker SPEC.json [--watch-stdin]", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    if watch:
        _exit_when_orphaned()
    emit = line_emitter(protocol_stream())
    try:
        from brain.training import TrainingSpec, run_training

        run_training(TrainingSpec.from_json(Path(paths[0]).read_text()), emit)
    except Exception as exc:  # the process's one error boundary: report, then exit non-zero
        traceback.print_exc(file=sys.stderr)
        emit({"event": "failed", "error": f"{type(exc).__name__}: {exc}"[:2000]})
        return EXIT_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
