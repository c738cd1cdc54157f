"""`replydesk eval` (hub/evaluation.py): held-out floors for the whole pipeline, per-language accuracy,
and the printed table. Floors sit a little under what the shipped data measures (see the report)."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from brain.classifier import LANGS
from hub.evaluation import evaluate_all, render, run_eval_command

FLOORS = {  # macro-F1 on the held-out split; the issue aims at 0.85 for priority and sales intent
    "priority": 0.84,
    "sales_intent": 0.75,  # measured 0.78: non-English intents are the weak part (the embedder is English-only)
    "needs_action": 0.80,
    "bad_actor:freeloader": 0.80,
    "bad_actor:scam": 0.85,
    "bad_actor:time_waste": 0.80,
    "agreement:has_agreement (held-out)": 0.90,
}


@pytest.fixture(scope="module")
def rows(shared_embedder: Any) -> dict[str, dict[str, Any]]:
    return {row["task"]: row for row in evaluate_all(shared_embedder)}


@pytest.mark.parametrize("task,floor", FLOORS.items())
def test_held_out_macro_f1_floor(rows, task: str, floor: float) -> None:
    assert rows[task]["macro_f1"] >= floor, rows[task]


def test_agreement_detection_accuracy_floor(rows) -> None:
    assert rows["agreement:has_agreement (held-out)"]["accuracy"] >= 0.9
    assert rows["agreement:agreed_price (held-out)"]["accuracy"] >= 0.9


def test_every_learned_task_is_scored_in_every_language(rows) -> None:
    for task in ("priority", "intent", "emotional_tone", "needs_action", "sales_intent"):
        row = rows[task]
        assert set(row["accuracy_by_lang"]) == set(LANGS), task
        assert row["train"] > 3 * row["test"] > 0 and row["head_macro_f1"] is not None


def test_the_table_names_every_task(rows) -> None:
    table = render(list(rows.values()))
    assert table.splitlines()[0].split()[:6] == ["task", "train", "test", "accuracy", "macro-F1", "head"]
    for task in rows:
        assert task in table


def test_the_command_prints_the_table_and_exits_0(shared_embedder: Any, capsys) -> None:
    assert run_eval_command(argparse.Namespace(), embedder=shared_embedder) == 0
    out = capsys.readouterr().out
    assert "priority" in out and "agreement:agreed_price (held-out)" in out
