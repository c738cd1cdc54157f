"""brain/classifier.py: the split, the three-view heads and their evidence, versioned storage,
owner corrections, and the embedding cache — on a small synthetic task with the real MiniLM."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from brain.classifier import (ClassifierSet, Correction, EmbeddingCache, Example, TaskSpec, stable_split,
                              train_task)

FOODS = ["pizza", "pasta", "sushi", "tacos", "ramen", "curry", "salad", "burger", "paella", "falafel"]
THANKS = ["thanks a lot", "thank you so much", "many thanks", "cheers, thanks", "thanks again"]
PRICES = ["how much is the", "what does the", "what's the price of the", "how much would the", "price for the"]


def _rows() -> list[Example]:
    rows = []
    for i, food in enumerate(FOODS):
        rows.append(Example(f"{THANKS[i % 5]} for the {food}!", "thanks"))
        rows.append(Example(f"{PRICES[i % 5]} {food} cost?", "price"))
        rows.append(Example(f"{THANKS[(i + 2) % 5]}, the {food} was lovely", "thanks"))
        rows.append(Example(f"{PRICES[(i + 2) % 5]} large {food}?", "price"))
    return rows


def _cues(text: str, hint: str) -> dict[str, float]:
    return {"cue:question": 1.0} if "?" in text else {}


SPEC = TaskSpec("toy", _rows, _cues, cs=(3.0, 3.0, 3.0))


class CountingEmbedder:
    """The real embedder, counting how many texts it was asked to embed."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.dimension, self.model_path, self.texts = inner, inner.dimension, "counting", 0

    def embed(self, texts: list[str]) -> np.ndarray:
        self.texts += len(texts)
        return self.inner.embed(texts)


def test_split_is_deterministic_stratified_and_disjoint() -> None:
    train, test = stable_split(_rows())
    again_train, again_test = stable_split(list(reversed(_rows())))
    assert [e.text for e in test] == [e.text for e in again_test]
    assert {e.text for e in train} == {e.text for e in again_train}
    assert not {e.text for e in train} & {e.text for e in test}
    assert len(train) + len(test) == len(_rows())
    assert Counter(e.label for e in test) == {"thanks": 4, "price": 4}


def test_predictions_carry_cues_and_nearest_examples(shared_embedder: Any) -> None:
    model, meta = train_task(SPEC, shared_embedder)
    assert meta["held_out"]["accuracy"] == 1.0 and meta["train_size"] == 32 and meta["test_size"] == 8
    texts = ["how much does the lasagna cost?", "thanks so much for the lasagna"]
    first, second = model.predict(shared_embedder.embed(texts), texts)
    assert (first.label, second.label) == ("price", "thanks")
    assert first.cues == [{"cue": "cue:question", "weight": pytest.approx(first.cues[0]["weight"])}]
    assert first.cues[0]["weight"] > 0
    assert len(first.nearest) == 3 and all(n["label"] == "price" for n in first.nearest)
    assert set(first.probabilities) == {"price", "thanks"}
    assert first.evidence()["nearest_examples"][0]["similarity"] > 0.3


def test_models_are_versioned_on_disk_and_loaded(tmp_path: Path, shared_embedder: Any) -> None:
    root = tmp_path / "models"
    ClassifierSet(root).text_model(SPEC, shared_embedder)
    meta = json.loads((root / "toy" / "v1.json").read_text())
    assert (root / "toy" / "v1.joblib").is_file()
    assert {"held_out", "train_size", "test_size", "created_at", "fingerprint", "version"} <= set(meta)
    assert meta["version"] == 1

    reloaded = ClassifierSet(root)
    reloaded.text_model(SPEC, shared_embedder)
    assert sorted(p.name for p in (root / "toy").iterdir()) == ["v1.joblib", "v1.json"]
    assert reloaded.metadata("toy")["created_at"] == meta["created_at"]


def test_a_correction_retrains_a_new_version_that_learnt_it(tmp_path: Path, shared_embedder: Any) -> None:
    models = ClassifierSet(tmp_path / "models")
    text = "thanks, how much was the pizza again"
    before = models.text_model(SPEC, shared_embedder).predict(shared_embedder.embed([text]), [text])[0]
    other = "price" if before.label == "thanks" else "thanks"
    models.set_corrections([Correction("toy", text, other), Correction("unrelated", "x", "y")])
    after = models.text_model(SPEC, shared_embedder).predict(shared_embedder.embed([text]), [text])[0]
    assert after.label == other
    assert json.loads((tmp_path / "models" / "toy" / "v2.json").read_text())["corrections"] == 1


def test_dataset_embeddings_are_cached_on_disk(tmp_path: Path, shared_embedder: Any) -> None:
    counting = CountingEmbedder(shared_embedder)
    texts = [f"cache me {i}" for i in range(5)]
    known = set(EmbeddingCache._memo)
    first = EmbeddingCache(tmp_path).embed(counting, texts)
    for key in set(EmbeddingCache._memo) - known:  # as in a new process: only the npz file is left
        del EmbeddingCache._memo[key]
    second = EmbeddingCache(tmp_path).embed(counting, texts)
    assert counting.texts == 5 and len(list(tmp_path.glob("*.npz"))) == 1
    np.testing.assert_allclose(first, second)


def test_shared_ngram_counts_give_the_vectorizers_own_matrix(shared_embedder: Any) -> None:
    model, _ = train_task(SPEC, shared_embedder)
    featurizer = model.featurizer
    texts = ["thanks for the pizza", "", "¿cuánto cuesta la paella?", "🤔", "price of ramen?? price!", ""]
    expected = featurizer.tfidf.transform(texts).toarray()
    np.testing.assert_allclose(featurizer.ngram_matrix(featurizer.analyze(texts)).toarray(), expected, atol=1e-6)
