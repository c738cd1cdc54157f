"""A peft LoRA adapter written as a llama.cpp GGUF LoRA, and llama.cpp-side checks of its effect.

Neither the `gguf` package nor llama-cpp-python ships llama.cpp's `convert_lora_to_gguf.py`, so
this is the same conversion, for llama-architecture models: each adapted weight `blk.N.<part>.weight`
gets `<name>.lora_a` (peft's lora_A, shape rank x in) and `<name>.lora_b` (lora_B, out x rank),
float32; the rows of lora_B for the query and key projections are permuted into llama.cpp's
rotary order like the base weights were; `adapter.lora.alpha` carries the scale (llama.cpp
applies alpha / rank, as peft does).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from brain.gguf_model import MODULE_TO_PART, GGUFFile, permute_rows


def _lora_modules(peft_model: Any) -> Iterator[tuple[int, str, Any]]:
    """(layer index, GGUF part, module) for every module carrying the default adapter."""
    for name, module in peft_model.named_modules():
        if not hasattr(module, "lora_A") or "default" not in module.lora_A:
            continue
        parts = name.split(".")
        layer = int(parts[parts.index("layers") + 1])
        yield layer, MODULE_TO_PART[".".join(parts[-2:])], module


def adapter_tensors(peft_model: Any, config: Any) -> dict[str, np.ndarray]:
    """GGUF tensor name → float32 array, in llama.cpp's layout."""
    tensors = {}
    for layer, part, module in _lora_modules(peft_model):
        a = module.lora_A["default"].weight.detach().float().numpy()
        b = module.lora_B["default"].weight.detach().float().numpy()
        if part == "attn_q":
            b = permute_rows(b, config.num_attention_heads)
        elif part == "attn_k":
            b = permute_rows(b, config.num_key_value_heads)
        base = f"blk.{layer}.{part}.weight"
        tensors[f"{base}.lora_a"] = np.ascontiguousarray(a, dtype=np.float32)
        tensors[f"{base}.lora_b"] = np.ascontiguousarray(b, dtype=np.float32)
    return tensors


def write_gguf_lora(peft_model: Any, base: GGUFFile, config: Any, alpha: float, path: Path) -> Path:
    """Write the adapter for llama.cpp (`Llama(lora_path=...)`, `LlamaCppLLM(lora_path=...)`)."""
    import gguf

    tensors = adapter_tensors(peft_model, config)
    if not tensors:
        raise ValueError("the model carries no LoRA adapter to export")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    writer = gguf.GGUFWriter(str(partial), arch=base.architecture)
    writer.add_string(gguf.Keys.General.TYPE, gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    writer.add_string(gguf.Keys.General.NAME, f"{base.metadata.get('general.name', base.path.stem)} LoRA")
    for name, array in tensors.items():
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    partial.replace(path)  # complete or absent: a reader never sees half a file
    return path


@contextmanager
def scoring_llama(model_path: Path, lora_path: Path | None, n_ctx: int, threads: int) -> Iterator[Any]:
    """llama.cpp with every position's logits kept (for log-likelihoods), closed on exit."""
    import llama_cpp

    llama = llama_cpp.Llama(model_path=str(model_path), lora_path=str(lora_path) if lora_path else None,
                            n_ctx=n_ctx, n_batch=n_ctx, n_threads=threads, n_threads_batch=threads,
                            logits_all=True, verbose=False)
    try:
        yield llama
    finally:
        llama.close()


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def llama_nll(llama: Any, examples: Sequence[Any]) -> float:
    """Mean negative log-likelihood per reply token under llama.cpp (brain.lora.Example items)."""
    total, count = 0.0, 0
    for example in examples:
        llama.reset()
        llama.eval(list(example.tokens))
        logprobs = _log_softmax(np.asarray(llama.scores[:len(example.tokens)], dtype=np.float64))
        targets = example.tokens[example.prompt_length:]
        positions = range(example.prompt_length - 1, len(example.tokens) - 1)
        total -= sum(logprobs[pos, token] for pos, token in zip(positions, targets))
        count += len(targets)
    return total / max(count, 1)


def greedy_reply(llama: Any, example: Any, max_tokens: int = 32) -> str:
    """The model's greedy continuation of the example's prompt, up to the end of its turn."""
    import llama_cpp

    prompt = list(example.tokens[:example.prompt_length])
    out: list[int] = []
    vocab = llama_cpp.llama_model_get_vocab(llama.model)
    for token in llama.generate(prompt, temp=0.0, top_k=1, reset=True):
        if llama_cpp.llama_vocab_is_eog(vocab, token) or len(out) >= max_tokens:
            break
        out.append(token)
    return llama.detokenize(out, prev_tokens=prompt).decode("utf-8", "ignore").strip()


def similarity(a: str, b: str) -> float:
    """0..1, how close two replies read (difflib ratio over words)."""
    return difflib.SequenceMatcher(None, a.lower().split(), b.lower().split()).ratio()
