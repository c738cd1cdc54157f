"""`replydesk eval`: train every classifier on its training split and score the whole pipeline (learned
heads + rules) on the held-out split, with accuracy per language.

Each task's split is brain.classifier.stable_split over its own labels (80/20, stratified, by text
hash). Agreement detection is rule-based (brain.agreement), so it is scored on the same kind of
held-out split of agreement.jsonl and on all of it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from brain.classifier import LANGS, ClassifierSet, Example, read_jsonl, score, stable_split

Row = dict[str, Any]


def triage_rows(models: ClassifierSet, embedder: Any) -> list[Row]:
    """Priority, intent, tone and needs-action: the `triage` output against each task's held-out rows."""
    from brain.triage import TASKS, triage_vectors

    rows = []
    for spec in TASKS:
        head = models.text_model(spec, embedder)
        _, test = stable_split(spec.load())
        results = triage_vectors(embedder.embed([e.text for e in test]), [(e.text, e.hint) for e in test],
                                 embedder=embedder, models=models)
        predicted = [str(getattr(r, spec.name)).lower() for r in results]
        rows.append(_row(spec.name, models, test, predicted, head_f1=_head_f1(models, spec.name)))
    return rows


def sales_rows(models: ClassifierSet, embedder: Any) -> list[Row]:
    """Sales intent (head + rules) on its held-out rows, and the three bad-actor flags."""
    from brain.sales import SALES_INTENT, bad_actor_model, intent_head, predict_intents, sales_result

    head = intent_head(embedder, models)
    _, test = stable_split(SALES_INTENT.load())
    texts = [e.text for e in test]
    predictions = predict_intents(head, embedder.embed(texts), texts, explain=False)
    predicted = [sales_result(t, p)["intent"] for t, p in zip(texts, predictions)]
    rows = [_row("sales_intent", models, test, predicted, head_f1=_head_f1(models, "sales_intent"))]
    bad_actor_model(embedder, models)
    meta = models.metadata("bad_actor") or {}
    for flag, metrics in meta.get("held_out", {}).items():
        rows.append({"task": f"bad_actor:{flag}", "train": meta["train_size"], "test": meta["test_size"],
                     **metrics})
    return rows


def agreement_rows() -> list[Row]:
    """has_agreement and the agreed price (amount and currency) from brain.agreement.detect_agreement."""
    from brain.agreement import detect_agreement

    data = read_jsonl("agreement.jsonl")
    examples = [Example(json.dumps(r["conversation"], ensure_ascii=False), str(r["has_agreement"]).lower(), r["lang"])
                for r in data]
    by_text = {e.text: r for e, r in zip(examples, data)}
    _, test = stable_split(examples)
    rows = []
    for split, part in (("held-out", test), ("all", examples)):
        results = [detect_agreement(by_text[e.text]["conversation"]) for e in part]
        rows.append({"task": f"agreement:has_agreement ({split})", "train": 0, "test": len(part),
                     **score([e.label for e in part], [str(r.has_agreement).lower() for r in results],
                             [e.lang for e in part])})
        truth = [_price_key(by_text[e.text].get("agreed_amount"), by_text[e.text].get("agreed_currency")) for e in part]
        found = [_price_key(r.agreed_price.amount if r.agreed_price else None,
                            r.agreed_price.currency if r.agreed_price else None) for r in results]
        rows.append({"task": f"agreement:agreed_price ({split})", "train": 0, "test": len(part),
                     **score(truth, found, [e.lang for e in part])})
    return rows


def _price_key(amount: float | None, currency: str | None) -> str:
    return "none" if amount is None else f"{float(amount):.2f} {currency or '?'}"


def _head_f1(models: ClassifierSet, task: str) -> float | None:
    meta = models.metadata(task) or {}
    return meta.get("held_out", {}).get("macro_f1")


def _row(task: str, models: ClassifierSet, test: Sequence[Example], predicted: Sequence[str],
         head_f1: float | None = None) -> Row:
    meta = models.metadata(task) or {}
    metrics = score([e.label for e in test], list(predicted), [e.lang for e in test])
    return {"task": task, "train": meta.get("train_size", 0), "test": len(test), "head_macro_f1": head_f1,
            **metrics}


def evaluate_all(embedder: Any, models: ClassifierSet | None = None) -> list[Row]:
    models = models or ClassifierSet()
    return [*triage_rows(models, embedder), *sales_rows(models, embedder), *agreement_rows()]


def render(rows: Sequence[Row]) -> str:
    head = (f"{'task':<36} {'train':>5} {'test':>5} {'accuracy':>8} {'macro-F1':>8} {'head F1':>7}  "
            + " ".join(f"{lang:>5}" for lang in LANGS))
    lines = [head, "-" * len(head)]
    for r in rows:
        by_lang = " ".join(f"{r['accuracy_by_lang'][lang]:>5.2f}" if lang in r["accuracy_by_lang"] else f"{'-':>5}"
                           for lang in LANGS)
        head_f1 = f"{r['head_macro_f1']:>7.3f}" if r.get("head_macro_f1") is not None else f"{'':>7}"
        lines.append(f"{r['task']:<36} {r['train']:>5} {r['test']:>5} {r['accuracy']:>8.3f} {r['macro_f1']:>8.3f} "
                     f"{head_f1}  {by_lang}")
    lines.append("accuracy and macro-F1: the whole pipeline (learned head + rules) on the held-out split; "
                 "head F1: the learned head alone; per-language columns: accuracy.")
    return "\n".join(lines)


def run_eval_command(args: argparse.Namespace, *, embedder: Any = None) -> int:
    """Train on the training splits, print the held-out table; exit code 0."""
    if embedder is None:
        from brain.embedder import MiniLMEmbedder

        embedder = MiniLMEmbedder()
    print(render(evaluate_all(embedder)))
    return 0
