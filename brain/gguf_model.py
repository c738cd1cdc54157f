"""A llama-architecture GGUF as a float32 PyTorch model, for LoRA training on CPU.

transformers can load a GGUF itself (`from_pretrained(dir, gguf_file=...)`), but on the bundled
SmolLM2-135M that takes 25-40 s on two busy cores: it parses the 49k-token vocabulary twice and
rebuilds a tensor-name map per tensor. This reader skips the vocabulary (training tokenizes with
llama.cpp, exactly as drafting does), dequantizes with the `gguf` package and builds the model
on the meta device: about 1.5 s. The result matches llama.cpp's own forward pass (mean token
log-likelihood within 0.01 nats on a chat turn; the rest is llama.cpp's 8-bit activations).

GGUF stores the query and key projections of llama models with their rows permuted for
llama.cpp's rotary layout; `unpermute_rows` undoes that for PyTorch and `permute_rows` redoes it
when an adapter is written back (brain/lora.py).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SUPPORTED_ARCHITECTURES = ("llama",)
# GGUF tensor part (blk.N.<part>.weight) → module path inside a transformers LlamaDecoderLayer
LAYER_PARTS = {
    "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj", "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
}
MODULE_TO_PART = {module: part for part, module in LAYER_PARTS.items()}
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


class GGUFModelError(Exception):
    """The file is not a GGUF model this module can train on."""


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]  # numpy order (GGUF lists dimensions innermost first)
    ggml_type: int
    offset: int  # absolute, in the file


@dataclass(frozen=True)
class GGUFFile:
    path: Path
    metadata: dict[str, Any]  # scalars and numeric arrays; string arrays (the vocabulary) are skipped
    tensors: dict[str, TensorInfo]
    data: memoryview

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", ""))

    def hparam(self, key: str) -> Any:
        return self.metadata[f"{self.architecture}.{key}"]


class _Cursor:
    def __init__(self, data: memoryview) -> None:
        self.data, self.pos = data, 0

    def scalar(self, fmt: str) -> Any:
        value = struct.unpack_from(fmt, self.data, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> str:
        size = self.scalar("<Q")
        self.pos += size
        return bytes(self.data[self.pos - size:self.pos]).decode("utf-8", "replace")

    def value(self, kind: int) -> Any:
        if kind == _STRING:
            return self.string()
        if kind != _ARRAY:
            return self.scalar(_SCALARS[kind])
        item, count = self.scalar("<I"), self.scalar("<Q")
        if item == _STRING:  # vocabulary and merges: skipped, not decoded
            for _ in range(count):
                self.pos += 8 + struct.unpack_from("<Q", self.data, self.pos)[0]
            return None
        array = np.frombuffer(self.data, dtype=_SCALARS[item], count=count, offset=self.pos)
        self.pos += array.nbytes
        return array


def read_gguf(path: Path) -> GGUFFile:
    """Parse the header, metadata and tensor directory of a GGUF file (version 2 or 3)."""
    data = memoryview(Path(path).read_bytes())
    if bytes(data[:4]) != b"GGUF":
        raise GGUFModelError(f"{path} is not a GGUF file")
    cursor = _Cursor(data)
    cursor.pos = 4
    version, n_tensors, n_fields = cursor.scalar("<I"), cursor.scalar("<Q"), cursor.scalar("<Q")
    if version < 2:
        raise GGUFModelError(f"{path}: GGUF version {version} is too old")
    metadata = {}
    for _ in range(n_fields):
        key = cursor.string()
        metadata[key] = cursor.value(cursor.scalar("<I"))
    infos = []
    for _ in range(n_tensors):
        name = cursor.string()
        dims = [cursor.scalar("<Q") for _ in range(cursor.scalar("<I"))]
        infos.append((name, tuple(reversed(dims)), cursor.scalar("<I"), cursor.scalar("<Q")))
    alignment = int(metadata.get("general.alignment", 32))
    start = -(-cursor.pos // alignment) * alignment
    tensors = {name: TensorInfo(name, shape, kind, start + offset) for name, shape, kind, offset in infos}
    return GGUFFile(Path(path), metadata, tensors, data)


def tensor_array(gguf_file: GGUFFile, name: str) -> np.ndarray:
    """One tensor as float32, dequantized when stored quantized."""
    import gguf

    info = gguf_file.tensors[name]
    kind = gguf.GGMLQuantizationType(info.ggml_type)
    block, block_bytes = gguf.GGML_QUANT_SIZES[kind]
    count = int(np.prod(info.shape)) // block * block_bytes
    raw = np.frombuffer(gguf_file.data, dtype=np.uint8, count=count, offset=info.offset)
    if kind in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16):
        return raw.view(np.float32 if kind == gguf.GGMLQuantizationType.F32 else np.float16) \
            .reshape(info.shape).astype(np.float32)
    rows = raw.reshape(*info.shape[:-1], info.shape[-1] // block * block_bytes)
    return gguf.quants.dequantize(rows, kind).reshape(info.shape).astype(np.float32, copy=False)


def unpermute_rows(weight: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's rotary row order → transformers' (the inverse of convert_hf_to_gguf's permute)."""
    half = weight.shape[0] // n_head // 2
    return weight.reshape(n_head, half, 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def permute_rows(weight: np.ndarray, n_head: int) -> np.ndarray:
    """transformers' row order → llama.cpp's (convert_hf_to_gguf.LlamaModel.permute)."""
    half = weight.shape[0] // n_head // 2
    return weight.reshape(n_head, 2, half, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def llama_config(gguf_file: GGUFFile) -> Any:
    from transformers import LlamaConfig

    meta, hp = gguf_file.metadata, gguf_file.hparam
    return LlamaConfig(
        vocab_size=int(gguf_file.tensors["token_embd.weight"].shape[0]), hidden_size=int(hp("embedding_length")),
        intermediate_size=int(hp("feed_forward_length")), num_hidden_layers=int(hp("block_count")),
        num_attention_heads=int(hp("attention.head_count")), num_key_value_heads=int(hp("attention.head_count_kv")),
        rms_norm_eps=float(hp("attention.layer_norm_rms_epsilon")), rope_theta=float(hp("rope.freq_base")),
        max_position_embeddings=int(hp("context_length")), tie_word_embeddings="output.weight" not in gguf_file.tensors,
        bos_token_id=meta.get("tokenizer.ggml.bos_token_id"), eos_token_id=meta.get("tokenizer.ggml.eos_token_id"))


def _hf_name(name: str) -> str:
    fixed = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
             "output.weight": "lm_head.weight"}
    if name in fixed:
        return fixed[name]
    _, layer, part, _ = name.split(".")
    if part not in LAYER_PARTS:
        raise GGUFModelError(f"unexpected tensor {name} for a llama model")
    return f"model.layers.{layer}.{LAYER_PARTS[part]}.weight"


def state_dict(gguf_file: GGUFFile, config: Any) -> dict[str, Any]:
    import torch

    weights = {}
    for name in gguf_file.tensors:
        array = tensor_array(gguf_file, name)
        if ".attn_q." in name:
            array = unpermute_rows(array, config.num_attention_heads)
        elif ".attn_k." in name:
            array = unpermute_rows(array, config.num_key_value_heads)
        weights[_hf_name(name)] = torch.from_numpy(np.array(array, dtype=np.float32))
    return weights


def load_llama(path: Path) -> tuple[Any, GGUFFile]:
    """(transformers LlamaForCausalLM in float32, the parsed file) for a llama-architecture GGUF."""
    import torch
    from transformers import LlamaForCausalLM
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    gguf_file = read_gguf(path)
    if gguf_file.architecture not in SUPPORTED_ARCHITECTURES:
        raise GGUFModelError(f"{Path(path).name} is a {gguf_file.architecture or 'unknown'} model; "
                             f"LoRA training supports {', '.join(SUPPORTED_ARCHITECTURES)}")
    config = llama_config(gguf_file)
    with torch.device("meta"):  # no random initialisation of weights that are replaced anyway
        model = LlamaForCausalLM(config)
    model.load_state_dict(state_dict(gguf_file, config), strict=False, assign=True)
    model.tie_weights()
    model.model.rotary_emb = LlamaRotaryEmbedding(config=config)  # its buffers were built on meta
    leftover = [name for name, tensor in [*model.named_parameters(), *model.named_buffers()] if tensor.is_meta]
    if leftover:
        raise GGUFModelError(f"{Path(path).name} lacks weights for {', '.join(leftover[:3])}")
    return model.eval(), gguf_file
