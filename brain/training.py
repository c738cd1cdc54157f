"""One LoRA training run, start to finish, reporting progress as it goes.

`run_training(spec, emit)` loads the base GGUF into PyTorch (brain/gguf_model.py), measures the
approved replies' mean negative log-likelihood, trains a LoRA adapter (brain/lora.py), measures
again, writes the adapter as a llama.cpp GGUF LoRA (brain/lora_gguf.py) and checks its effect in
llama.cpp itself: the likelihood of the approved replies and the greedy drafts for their prompts,
without and with the adapter. It runs inside `python -m brain.train_worker`, a separate process,
and `emit` receives plain dicts that the worker prints as JSON lines:

    {"event": "phase", "phase": "loading" | "evaluating" | "training" | "exporting" | "verifying", "progress"}
    {"event": "progress", "step", "total_steps", "epoch", "loss", "progress"}
    {"event": "completed", "progress": 100, "adapter_path", "metrics"}
    {"event": "failed", "error"}
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from brain import lora

Emit = Callable[[dict[str, Any]], None]
DEFAULT_SYSTEM = "You are the owner of this phone. Answer their last message as yourself, in a short, helpful message."
# Progress share of each phase, in percent: what the hub shows while a run goes.
LOADED, EVALUATED, TRAINED, EXPORTED = 5.0, 8.0, 90.0, 93.0
GREEDY_SAMPLES = 3  # prompts whose greedy draft is compared before/after (llama.cpp)


@dataclass(frozen=True)
class Sample:
    input: str
    output: str
    quality: float = 1.0


@dataclass(frozen=True)
class TrainingSpec:
    """Everything the worker process needs; written by the hub as JSON."""

    job_id: str
    base_model: str  # a llama-architecture GGUF file
    output_dir: str
    samples: list[Sample]
    epochs: int = 3
    learning_rate: float = 1e-4
    lora_rank: int = 8
    lora_alpha: float = 16.0
    batch_size: int = 4
    max_length: int = 256
    seed: int = 0
    threads: int = 0  # 0: half the cores (torch's spinning threads collapse on busy cores)
    system_prompt: str = DEFAULT_SYSTEM
    verify: bool = True  # score the GGUF adapter in llama.cpp before/after

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "TrainingSpec":
        raw = json.loads(text)
        known = {f.name for f in fields(cls)}
        raw = {key: value for key, value in raw.items() if key in known}
        raw["samples"] = [Sample(**sample) for sample in raw.get("samples", [])]
        return cls(**raw)


@dataclass
class _Run:
    spec: TrainingSpec
    emit: Emit
    metrics: dict[str, Any] = field(default_factory=dict)

    def phase(self, name: str, progress: float) -> None:
        self.emit({"event": "phase", "phase": name, "progress": progress})


def adapter_name(job_id: str) -> str:
    """The adapter's file name; llama.cpp backends report it in their model version ("<base>+lora-<job>")."""
    return f"lora-{job_id}.gguf"


def threads_for(spec: TrainingSpec) -> int:
    return spec.threads or max(1, (os.cpu_count() or 2) // 2)


def _examples(vocab: Any, spec: TrainingSpec) -> list[lora.Example]:
    usable = [s for s in spec.samples if s.output.strip()]
    if not usable:
        raise ValueError("no sample has an approved reply to learn from")
    return [lora.encode(vocab, spec.system_prompt, s.input, s.output, max_length=spec.max_length,
                        weight=max(0.05, s.quality)) for s in usable]


def _train(run: _Run, model: Any, examples: list[lora.Example], pad_id: int) -> Any:
    spec = run.spec
    peft_model = lora.attach_lora(model, spec.lora_rank, spec.lora_alpha)
    losses: list[float] = []
    started = time.perf_counter()
    for step in lora.train(peft_model, examples, epochs=spec.epochs, learning_rate=spec.learning_rate,
                           batch_size=spec.batch_size, pad_id=pad_id, seed=spec.seed):
        losses.append(round(step.loss, 5))
        share = EVALUATED + (TRAINED - EVALUATED) * step.step / step.total_steps
        run.emit({"event": "progress", "step": step.step, "total_steps": step.total_steps, "epoch": step.epoch,
                  "loss": step.loss, "progress": round(share, 1)})
    elapsed = time.perf_counter() - started
    run.metrics.update(loss=losses, steps=len(losses), train_seconds=round(elapsed, 2),
                       seconds_per_step=round(elapsed / max(len(losses), 1), 3),
                       trainable_parameters=sum(p.numel() for p in peft_model.parameters() if p.requires_grad))
    return peft_model


def _verify(run: _Run, base: Path, adapter: Path, examples: list[lora.Example]) -> None:
    """The adapter's effect measured where it will be used: llama.cpp on the quantized base."""
    from brain import lora_gguf

    spec, shown, started = run.spec, examples[:GREEDY_SAMPLES], time.perf_counter()
    replies = [s.output for s in spec.samples if s.output.strip()][:GREEDY_SAMPLES]
    n_ctx = max(len(e.tokens) for e in examples) + 64
    for label, lora_path in (("before", None), ("after", adapter)):
        with lora_gguf.scoring_llama(base, lora_path, n_ctx, threads_for(spec)) as llama:
            run.metrics[f"gguf_eval_loss_{label}"] = round(lora_gguf.llama_nll(llama, examples), 5)
            drafts = [lora_gguf.greedy_reply(llama, example) for example in shown]
        run.metrics[f"greedy_{label}"] = drafts
        run.metrics[f"greedy_similarity_{label}"] = round(
            sum(lora_gguf.similarity(d, r) for d, r in zip(drafts, replies)) / len(shown), 4)
    run.metrics["verify_seconds"] = round(time.perf_counter() - started, 2)


def _load(run: _Run, base: Path) -> tuple[Any, Any, list[lora.Example], int]:
    """(PyTorch model, parsed GGUF, tokenized samples, pad token id)."""
    import llama_cpp

    from brain.gguf_model import load_llama

    run.phase("loading", 0.0)
    started = time.perf_counter()
    model, gguf_file = load_llama(base)
    vocab = llama_cpp.Llama(model_path=str(base), vocab_only=True, verbose=False)
    try:
        examples, pad_id = _examples(vocab, run.spec), vocab.token_eos()
    finally:
        vocab.close()
    run.metrics.update(load_seconds=round(time.perf_counter() - started, 2), samples=len(examples),
                       reply_tokens=sum(e.reply_tokens for e in examples))
    return model, gguf_file, examples, pad_id


def run_training(spec: TrainingSpec, emit: Emit) -> dict[str, Any]:
    """Train, export and verify; returns the completion event (also emitted)."""
    run, base = _Run(spec, emit), Path(spec.base_model)
    if not base.is_file():  # before the heavy imports: a bad spec fails in a second
        raise FileNotFoundError(f"base model not found: {base}")
    import torch

    from brain import lora_gguf

    torch.set_num_threads(threads_for(spec))
    torch.set_num_interop_threads(1)
    model, gguf_file, examples, pad_id = _load(run, base)
    run.phase("evaluating", LOADED)
    run.metrics["eval_loss_before"] = round(lora.mean_nll(model, examples, pad_id), 5)
    run.phase("training", EVALUATED)
    peft_model = _train(run, model, examples, pad_id)
    run.metrics["eval_loss_after"] = round(lora.mean_nll(peft_model, examples, pad_id), 5)
    run.phase("exporting", TRAINED)
    adapter = lora_gguf.write_gguf_lora(peft_model, gguf_file, model.config, spec.lora_alpha,
                                        Path(spec.output_dir) / adapter_name(spec.job_id))
    peft_model.save_pretrained(str(Path(spec.output_dir) / "peft"))
    if spec.verify:
        run.phase("verifying", EXPORTED)
        _verify(run, base, adapter, examples)
    done = {"event": "completed", "progress": 100.0, "adapter_path": str(adapter), "metrics": run.metrics}
    emit(done)
    return done
