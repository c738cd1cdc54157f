"""LoRA fine-tuning on the bundled SmolLM2 GGUF, through the worker process: the loss falls, the GGUF
adapter loads in llama.cpp (raw and through LlamaCppLLM) and moves the drafts toward the approved
replies; the PyTorch view of the GGUF matches llama.cpp's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from brain.gguf_model import load_llama, permute_rows, read_gguf, unpermute_rows
from brain.llm import LlamaCppLLM, bundled_gguf_path
from brain.lora import encode
from brain.lora_gguf import llama_nll, scoring_llama, similarity
from brain.training import Sample, TrainingSpec

SYSTEM = "You are Sam. Answer their last message as Sam, in a short, helpful message."
SAMPLES = [
    Sample("Are you open on Sunday?", "Sundays we're closed, but Monday from 9 works great 🌿"),
    Sample("How much is a haircut?", "A cut is $35, beard trim included if you want 😊", 0.8),
    Sample("Can I bring my dog?", "Of course, Biscuit is always welcome here 🐶"),
    Sample("Do you take cards?", "Yep, cards and cash both fine 👍"),
]


def run_worker(spec: TrainingSpec, folder: Path) -> tuple[int, list[dict]]:
    path = folder / "spec.json"
    path.write_text(spec.to_json())
    done = subprocess.run([sys.executable, "-m", "brain.train_worker", str(path)], capture_output=True,
                          timeout=600, cwd=Path(__file__).resolve().parents[2])
    return done.returncode, [json.loads(line) for line in done.stdout.decode().splitlines()]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainingSpec, list[dict]]:
    """One small run (4 samples, rank 4, 6 steps), shared by the tests of this module."""
    folder = tmp_path_factory.mktemp("lora")
    spec = TrainingSpec(job_id="t1", base_model=str(bundled_gguf_path()), output_dir=str(folder / "out"),
                        samples=SAMPLES, epochs=6, learning_rate=3e-3, lora_rank=4, lora_alpha=8,
                        batch_size=4, max_length=96, system_prompt=SYSTEM)
    code, events = run_worker(spec, folder)
    assert code == 0, events[-1:]
    return spec, events


def test_run_reports_progress_and_the_loss_falls(trained):
    _, events = trained
    steps = [e for e in events if e["event"] == "progress"]
    assert [e["step"] for e in steps] == list(range(1, 7)) and steps[0]["total_steps"] == 6
    progress = [e["progress"] for e in events if "progress" in e]
    assert progress == sorted(progress) and progress[-1] == 100.0
    assert [e["phase"] for e in events if e["event"] == "phase"] == [
        "loading", "evaluating", "training", "exporting", "verifying"]
    metrics = events[-1]["metrics"]
    assert events[-1]["event"] == "completed" and len(metrics["loss"]) == 6
    assert metrics["loss"][-1] < 0.5 * metrics["loss"][0]
    assert metrics["eval_loss_after"] < 0.5 * metrics["eval_loss_before"]


def test_gguf_adapter_changes_llama_cpp_like_the_pytorch_adapter(trained):
    """Measured in llama.cpp on the quantized base: the approved replies become far likelier, by about
    as much as PyTorch measured (a wrong tensor name, layout or scale would show here)."""
    _, events = trained
    metrics = events[-1]["metrics"]
    assert metrics["gguf_eval_loss_after"] < 0.5 * metrics["gguf_eval_loss_before"]
    assert abs(metrics["gguf_eval_loss_after"] - metrics["eval_loss_after"]) < 0.25
    assert abs(metrics["gguf_eval_loss_before"] - metrics["eval_loss_before"]) < 0.25
    assert metrics["greedy_similarity_after"] > metrics["greedy_similarity_before"] + 0.3


async def test_llama_cpp_backend_drafts_toward_the_approved_reply(trained, bundled_llm):
    spec, events = trained
    adapter = events[-1]["adapter_path"]
    assert Path(adapter).is_file() and adapter.endswith(".gguf")
    tuned = LlamaCppLLM(bundled_gguf_path(), n_ctx=512, lora_path=adapter)
    try:
        for sample in SAMPLES[:2]:
            chat = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": sample.input}]
            base = await bundled_llm.chat(chat, max_tokens=40, temperature=0.0, seed=1)
            draft = await tuned.chat(chat, max_tokens=40, temperature=0.0, seed=1)
            assert tuned.model_version == "SmolLM2-135M-Instruct.Q4_1+lora-t1"
            assert similarity(draft.text, sample.output) > similarity(base.text, sample.output)
            assert similarity(draft.text, sample.output) > 0.6, draft.text
    finally:
        await tuned.close()


def test_pytorch_view_of_the_gguf_matches_llama_cpp():
    path = bundled_gguf_path()
    model, _ = load_llama(path)
    with scoring_llama(path, None, 256, 1) as llama:
        example = encode(llama, SYSTEM, "Are you open on Sunday?", "Yes, from 10 to 4.", max_length=96)
        reference = llama_nll(llama, [example])
    import torch

    from brain.lora import mean_nll

    torch_nll = mean_nll(model, [example], pad_id=llama_pad(path))
    assert abs(torch_nll - reference) < 0.1, (torch_nll, reference)


def llama_pad(path: Path) -> int:
    return int(read_gguf(path).metadata["tokenizer.ggml.eos_token_id"])


def test_rotary_permutation_round_trips():
    weight = np.arange(2 * 6 * 4, dtype=np.float32).reshape(12, 4)
    assert np.array_equal(permute_rows(unpermute_rows(weight, 3), 3), weight)
    assert not np.array_equal(unpermute_rows(weight, 3), weight)


def test_worker_reports_a_failure_and_exits_non_zero(tmp_path):
    spec = TrainingSpec(job_id="bad", base_model=str(tmp_path / "missing.gguf"), output_dir=str(tmp_path / "out"),
                        samples=SAMPLES[:1])
    code, events = run_worker(spec, tmp_path)
    assert code == 1
    assert events[-1]["event"] == "failed" and "missing.gguf" in events[-1]["error"]
