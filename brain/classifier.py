"""Learned, explainable text classifiers over the bundled sentence embeddings, character n-grams and each
task's hand-written multilingual cues, trained on brain/data.

- Split: per label, rows ordered by a SHA-1 of their text; the first fifth is held out. Models are fitted
  on the rest (+ the owner's corrections, weighted higher), so the metrics stored beside them are held out.
- A task is three logistic regressions, one per view (embedding, n-grams, cues), their probabilities
  averaged (this beat one regression over all features in cross-validation) and sharpened by a temperature.
- Versions on disk: `<root>/<task>/v<N>.joblib` + `v<N>.json` (metrics, sizes, created_at, fingerprint of
  data + corrections). The latest with the current fingerprint is loaded, else one is trained (seconds);
  dataset embeddings are cached (npz keyed by a hash of the texts).
- Evidence: the cues that fired with their weight towards the label, and the nearest training examples.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import threading
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

DATA_DIR = Path(__file__).resolve().parent / "data"
FEATURES_VERSION = 1  # bump when featurisation or cue code changes, so stored models are retrained
CORRECTION_WEIGHT = 3.0
TEST_SHARE = 0.2
TEMPERATURES = (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0)
LANGS = ("en", "es", "pt", "de", "fr")


def fold(text: str) -> str:
    """Lower-case and strip accents, so one pattern matches "aujourd'hui" and "Aujourd’hui"."""
    text = unicodedata.normalize("NFKD", text.lower().replace("’", "'"))
    return "".join(c for c in text if not unicodedata.combining(c))


def cue_rx(*phrases: str) -> re.Pattern[str]:
    """A whole-word alternation over folded text."""
    return re.compile(r"(?<![\w])(?:" + "|".join(phrases) + r")(?![\w])")


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    lang: str = "en"
    hint: str = ""  # side information given with the text, e.g. the contact classification


@dataclass(frozen=True)
class Correction:  # one row of `label_corrections`
    task: str
    text: str
    label: str


CueFn = Callable[[str, str], Mapping[str, float]]


@dataclass(frozen=True)
class TaskSpec:
    name: str
    load: Callable[[], list[Example]]
    cues: CueFn
    # Inverse regularisation of the embedding, n-gram and cue views: 5-fold cross-validation, training split.
    cs: tuple[float, float, float] = (3.0, 3.0, 3.0)

    def fingerprint(self, corrections: Sequence[Correction] = ()) -> str:
        rows = [(e.text, e.label, e.hint) for e in self.load()]
        mine = sorted((c.text, c.label) for c in corrections if c.task == self.name)
        blob = json.dumps([FEATURES_VERSION, self.name, self.cs, rows, mine], ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=16)
def _read_rows(path: Path, mtime: float) -> tuple[dict[str, Any], ...]:
    return tuple(json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def read_jsonl(name: str) -> tuple[dict[str, Any], ...]:
    """The rows of a shipped dataset (read once per file version; treat them as read-only)."""
    path = DATA_DIR / name
    return _read_rows(path, path.stat().st_mtime)


def stable_split(examples: Sequence[Example], test_share: float = TEST_SHARE) -> tuple[list[Example], list[Example]]:
    """(train, test): per label, rows ordered by text hash; the first `test_share` of each is the test split."""
    by_label: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        by_label[example.label].append(example)
    train: list[Example] = []
    test: list[Example] = []
    for label in sorted(by_label):
        rows = sorted(by_label[label], key=lambda e: hashlib.sha1(e.text.encode("utf-8")).hexdigest())
        cut = round(len(rows) * test_share)
        test, train = test + rows[:cut], train + rows[cut:]
    return train, test


class EmbeddingCache:
    """Embeddings of fixed text lists, memoised in the process and in `<directory>/<hash>.npz`."""

    _memo: dict[str, np.ndarray] = {}

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory

    def embed(self, embedder: Any, texts: Sequence[str]) -> np.ndarray:
        model = str(getattr(embedder, "model_path", type(embedder).__name__))
        key = hashlib.sha256("\x00".join([model, *texts]).encode()).hexdigest()[:20]
        path = self.directory / f"{key}.npz" if self.directory else None
        if key not in self._memo and path is not None and path.is_file():
            self._memo[key] = np.load(path)["vectors"]
        if key not in self._memo:
            vectors = embedder.embed(list(texts)) if texts else np.zeros((0, embedder.dimension), np.float32)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                np.savez_compressed(path, vectors=vectors)
            self._memo[key] = vectors  # a race only embeds twice
        return self._memo[key]


class Featurizer:
    """Three views of a text: its sentence embedding, character n-grams (TF-IDF) and cue flags."""

    def __init__(self, cues: CueFn) -> None:
        self.cues = cues
        self.tfidf = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2,
                                     max_features=30_000, preprocessor=fold, dtype=np.float32)
        self.cue_names = DictVectorizer(dtype=np.float32)

    def cue_rows(self, texts: Sequence[str], hints: Sequence[str]) -> list[dict[str, float]]:
        return [dict(self.cues(text, hint)) for text, hint in zip(texts, hints)]

    def fit(self, texts: Sequence[str], rows: list[dict[str, float]]) -> None:
        self.tfidf.fit(texts)
        self.cue_names.fit(rows + [{"_bias": 0.0}])

    def analyze(self, texts: Sequence[str]) -> list[Counter[str]]:
        """Each text's character n-gram counts: the same for every featurizer, so heads can share them."""
        analyzer = self.tfidf.build_analyzer()
        return [Counter(analyzer(text)) for text in texts]

    def ngram_matrix(self, grams: Sequence[Counter[str]]) -> Any:
        """`tfidf.transform` of the texts these n-grams came from (sublinear tf × idf, L2-normalised)."""
        vocabulary = self.tfidf.vocabulary_
        indptr, indices, counts = [0], [], []
        for text_grams in grams:
            for gram, count in text_grams.items():
                column = vocabulary.get(gram)
                if column is not None:
                    indices.append(column)
                    counts.append(count)
            indptr.append(len(indices))
        # In numpy rather than through scipy/sklearn helpers: their checks cost more than a message's maths.
        columns = np.array(indices, dtype=np.int32)
        values = (np.log(np.array(counts, np.float32)) + 1) * self.tfidf.idf_[columns].astype(np.float32)
        starts = np.array(indptr, dtype=np.int64)
        lengths = np.diff(starts)
        rows = np.repeat(np.arange(len(lengths)), lengths)
        norms = np.sqrt(np.bincount(rows, weights=values * values, minlength=len(lengths))).astype(np.float32)
        values /= np.where(norms > 0, norms, 1.0)[rows]
        return sp.csr_matrix((values, columns, starts), shape=(len(grams), len(vocabulary)))

    def transform(self, vectors: np.ndarray, texts: Sequence[str], rows: list[dict[str, float]],
                  grams: Sequence[Counter[str]] | None = None) -> list[Any]:
        ngrams = self.ngram_matrix(grams if grams is not None else self.analyze(texts))
        return [vectors, ngrams, self.cue_names.transform(rows)]


@dataclass
class Prediction:
    label: str
    confidence: float
    probabilities: dict[str, float]
    cues: list[dict[str, Any]] = field(default_factory=list)
    nearest: list[dict[str, Any]] = field(default_factory=list)

    def evidence(self) -> dict[str, Any]:
        return {"label": self.label, "confidence": round(self.confidence, 3), "cues": self.cues,
                "nearest_examples": self.nearest}


def _probabilities(model: LogisticRegression, features: Any) -> np.ndarray:
    """predict_proba without scikit-learn's per-call validation (a third of a single prediction's time)."""
    scores = np.asarray(features @ model.coef_.T) + model.intercept_
    if scores.shape[1] == 1:
        positive = 1.0 / (1.0 + np.exp(-scores[:, 0]))
        return np.column_stack([1.0 - positive, positive])
    scores -= scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    return exp / exp.sum(axis=1, keepdims=True)


@dataclass
class TextClassifier:
    """One logistic regression per view, and the training rows it explains itself by."""

    task: str
    featurizer: Featurizer
    views: list[LogisticRegression]  # embedding, n-grams, cues
    train_vectors: np.ndarray
    train_texts: list[str]
    train_labels: list[str]
    temperature: float = 1.0  # power on the averaged probabilities, fitted by cross-validation (log-loss)

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.views[0].classes_]

    def predict(self, vectors: np.ndarray, texts: Sequence[str], hints: Sequence[str] | None = None, *,
                explain: bool = True, nearest: int = 3, cue_rows: list[dict[str, float]] | None = None,
                grams: Sequence[Counter[str]] | None = None) -> list[Prediction]:
        """One prediction per text; `explain` adds the weighted cues and the `nearest` training rows.
        `cue_rows` and `grams` (Featurizer.analyze) may be given when several heads read the same texts."""
        hints = list(hints) if hints is not None else [""] * len(texts)
        rows = cue_rows if cue_rows is not None else self.featurizer.cue_rows(texts, hints)
        features = self.featurizer.transform(vectors, texts, rows, grams)
        probabilities = sharpen(sum(_probabilities(m, x) for m, x in zip(self.views, features)), self.temperature)
        similar = vectors @ self.train_vectors.T if explain and nearest and len(texts) else None
        classes, out = self.classes, []
        for i, probs in enumerate(probabilities):
            best = int(np.argmax(probs))
            prediction = Prediction(classes[best], float(probs[best]),
                                    {c: round(float(p), 4) for c, p in zip(classes, probs)})
            if explain:
                prediction.cues = self._cue_weights(rows[i], best)
            if similar is not None:
                prediction.nearest = self._nearest(similar[i], nearest)
            out.append(prediction)
        return out

    def _cue_weights(self, row: Mapping[str, float], best: int) -> list[dict[str, Any]]:
        """Each fired cue's contribution (coefficient × value) to the chosen label's score in the cue view."""
        coef, names = self.views[2].coef_, self.featurizer.cue_names.vocabulary_
        # A binary head has one row of coefficients, pointing towards classes[1].
        toward = coef[best] if coef.shape[0] > 1 else coef[0] * (1 if best == 1 else -1)
        found = [{"cue": n, "weight": round(float(toward[names[n]] * v), 3)} for n, v in row.items() if v and n in names]
        return sorted(found, key=lambda c: -abs(c["weight"]))[:6]

    def _nearest(self, similarities: np.ndarray, k: int = 3) -> list[dict[str, Any]]:
        top = np.argsort(-similarities)[:k]
        return [{"text": self.train_texts[j], "label": self.train_labels[j],
                 "similarity": round(float(similarities[j]), 3)} for j in top]


def fit(spec: TaskSpec, rows: Sequence[Example], vectors: np.ndarray,
        weights: np.ndarray | None = None) -> TextClassifier:
    texts, labels = [e.text for e in rows], [e.label for e in rows]
    featurizer = Featurizer(spec.cues)
    cue_rows = featurizer.cue_rows(texts, [e.hint for e in rows])
    featurizer.fit(texts, cue_rows)
    with threadpool_limits(1):  # these fits are small: extra BLAS/OpenMP threads only fight (20x slower)
        views = [LogisticRegression(C=c, class_weight="balanced", max_iter=3000).fit(x, labels, sample_weight=weights)
                 for c, x in zip(spec.cs, featurizer.transform(vectors, texts, cue_rows))]
    return TextClassifier(spec.name, featurizer, views, vectors.astype(np.float32), texts, labels)


def sharpen(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Normalised p ** temperature: averaging three views gives probabilities too flat to read as confidence."""
    powered = np.power(probabilities, temperature)
    return powered / powered.sum(axis=1, keepdims=True)


def calibrate(spec: TaskSpec, rows: Sequence[Example], vectors: np.ndarray) -> float:
    """The temperature that minimises log-loss over 3-fold cross-validation on the training rows."""
    labels = np.array([e.label for e in rows])
    averaged = np.zeros((len(rows), len(set(labels))))
    for a, b in StratifiedKFold(3, shuffle=True, random_state=0).split(vectors, labels):
        model, held = fit(spec, [rows[i] for i in a], vectors[a]), [rows[i] for i in b]
        averaged[b] = [[p.probabilities[c] for c in model.classes] for p in
                       model.predict(vectors[b], [e.text for e in held], [e.hint for e in held], explain=False)]
    return min(TEMPERATURES, key=lambda t: log_loss(labels, sharpen(averaged + 1e-9, t), labels=sorted(set(labels))))


def score(labels: Sequence[str], predicted: Sequence[str], langs: Sequence[str] = ()) -> dict[str, Any]:
    """Accuracy, macro-F1 and accuracy per language."""
    by_lang = {lang: [i for i, value in enumerate(langs) if value == lang] for lang in LANGS}
    return {"n": len(labels), "accuracy": round(float(accuracy_score(labels, predicted)), 4),
            "macro_f1": round(float(f1_score(labels, predicted, average="macro", zero_division=0)), 4),
            "accuracy_by_lang": {lang: round(float(accuracy_score([labels[i] for i in idx],
                                                                  [predicted[i] for i in idx])), 4)
                                 for lang, idx in by_lang.items() if idx}}


def train_task(spec: TaskSpec, embedder: Any, *, corrections: Sequence[Correction] = (),
               cache: EmbeddingCache | None = None) -> tuple[TextClassifier, dict[str, Any]]:
    """Fit on the training split (+ corrections), score on the held-out split."""
    rows = spec.load()  # the whole file is embedded (and cached) once, whatever each task's split
    lookup = dict(zip((e.text for e in rows), (cache or EmbeddingCache()).embed(embedder, [e.text for e in rows])))
    train, test = stable_split(rows)
    extra = [Example(c.text, c.label) for c in corrections if c.task == spec.name]
    vectors = np.array([lookup[e.text] for e in train], dtype=np.float32)
    if extra:
        vectors = np.vstack([vectors, embedder.embed([e.text for e in extra])])
    weights = np.array([1.0] * len(train) + [CORRECTION_WEIGHT] * len(extra))
    model = fit(spec, [*train, *extra], vectors, weights)
    model.temperature = calibrate(spec, train, vectors[:len(train)])
    test_vectors = np.array([lookup[e.text] for e in test], dtype=np.float32)
    predicted = [p.label for p in model.predict(test_vectors, [e.text for e in test], [e.hint for e in test],
                                                explain=False)]
    metrics = score([e.label for e in test], predicted, [e.lang for e in test])
    return model, {"task": spec.name, "train_size": len(train), "corrections": len(extra),
                   "test_size": len(test), "temperature": model.temperature, "held_out": metrics}


class ModelStore:
    """Versioned models on disk: `<root>/<task>/v<N>.joblib` + `v<N>.json`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _versions(self, task: str) -> list[int]:
        return sorted(int(p.stem[1:]) for p in (self.root / task).glob("v*.joblib") if p.stem[1:].isdigit())

    def latest(self, task: str, fingerprint: str) -> tuple[Any, dict[str, Any]] | None:
        """The newest version, if it was trained on the data and corrections `fingerprint` names."""
        versions = self._versions(task)
        meta_path = self.root / task / f"v{versions[-1]}.json" if versions else None
        meta = json.loads(meta_path.read_text()) if meta_path and meta_path.is_file() else {}
        if meta.get("fingerprint") != fingerprint:
            return None
        return joblib.load(self.root / task / f"v{versions[-1]}.joblib"), meta

    def save(self, task: str, model: Any, meta: dict[str, Any]) -> dict[str, Any]:
        """Store the next version (model first, then the JSON that makes it current); its metadata."""
        version = (self._versions(task) or [0])[-1] + 1
        folder = self.root / task
        folder.mkdir(parents=True, exist_ok=True)
        meta = {**meta, "version": version, "created_at": datetime.now(timezone.utc).isoformat()}
        joblib.dump(model, folder / f"v{version}.joblib", compress=3)
        (folder / f"v{version}.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False))
        return meta


class ClassifierSet:
    """The trained models of one data directory (in memory only when `root` is None). Thread-safe and
    blocking; fits are also memoised per fingerprint process-wide, so another directory reuses them."""

    _fitted: dict[tuple[str, str], tuple[Any, dict[str, Any]]] = {}

    def __init__(self, root: Path | None = None, corrections: Sequence[Correction] = ()) -> None:
        self.store = ModelStore(root) if root is not None else None
        self.cache = EmbeddingCache(root / "embeddings" if root is not None else None)
        self.corrections = list(corrections)
        self._models: dict[str, tuple[str, Any, dict[str, Any]]] = {}
        self._fingerprints: dict[str, str] = {}
        self._lock = threading.Lock()  # guards the dicts
        self._training: dict[str, threading.Lock] = defaultdict(threading.Lock)  # one fit per task at a time

    def set_corrections(self, corrections: Sequence[Correction]) -> None:
        """New corrections take effect on the next `get` (a task whose corrections changed is retrained)."""
        with self._lock:
            self.corrections = list(corrections)
            self._fingerprints.clear()

    def get(self, name: str, fingerprint: str, build: Callable[[], tuple[Any, dict[str, Any]]]) -> Any:
        """The model `name` for `fingerprint`: held, else loaded from disk, else built (and stored).
        While one thread retrains a task, the others keep using its previous model."""
        held = self._models.get(name)
        if held is not None and held[0] == fingerprint:
            return held[1]
        with self._lock:
            training = self._training[name]
        if not training.acquire(blocking=held is None):
            return held[1]  # type: ignore[index]
        try:
            held = self._models.get(name)
            if held is None or held[0] != fingerprint:
                held = self._models[name] = (fingerprint, *self._load_or_build(name, fingerprint, build))
            return held[1]
        finally:
            training.release()

    def metadata(self, name: str) -> dict[str, Any] | None:
        held = self._models.get(name)
        return held[2] if held else None

    def _load_or_build(self, name: str, fingerprint: str,
                       build: Callable[[], tuple[Any, dict[str, Any]]]) -> tuple[Any, dict[str, Any]]:
        stored = self.store.latest(name, fingerprint) if self.store else None
        if stored is not None:
            return stored
        fitted = self._fitted.get((name, fingerprint))
        if fitted is None:
            fitted = self._fitted[(name, fingerprint)] = build()
        model, meta = fitted[0], {**fitted[1], "fingerprint": fingerprint}
        return model, (self.store.save(name, model, meta) if self.store is not None else meta)

    def fingerprint(self, spec: TaskSpec) -> str:
        with self._lock:
            if spec.name not in self._fingerprints:
                self._fingerprints[spec.name] = spec.fingerprint(self.corrections)
            return self._fingerprints[spec.name]

    def text_model(self, spec: TaskSpec, embedder: Any) -> TextClassifier:
        fingerprint = self.fingerprint(spec)
        return self.get(spec.name, fingerprint,
                        lambda: train_task(spec, embedder, corrections=self.corrections, cache=self.cache))


@functools.lru_cache(maxsize=1)
def default_embedder() -> Any:
    """The bundled MiniLM, loaded once per process, for callers that pass no embedder."""
    from brain.embedder import MiniLMEmbedder

    return MiniLMEmbedder()


@functools.lru_cache(maxsize=1)
def default_models() -> ClassifierSet:
    """An in-memory model set for callers that pass none (trained on first use)."""
    return ClassifierSet()
