"""brain/triage.py: the hard cases the rules exist for (in several languages), the seed 000 result
shape and its documented mappings, contact adjustment, batching and the clock."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime, timezone
from typing import Any

import pytest

from brain.classifier import ClassifierSet
from brain.triage import TriageResult, priority_rules, read_cues, response_time, triage, triage_batch

SEED_FIELDS = {"urgency_score", "adjusted_urgency", "priority", "intent", "emotional_tone",
               "suggested_response_time", "is_urgent", "needs_action"}


@pytest.fixture(scope="module")
def models() -> ClassifierSet:
    return ClassifierSet()


@pytest.fixture
def run(shared_embedder: Any, models: ClassifierSet):
    def run(text: str, contact: str = "unknown", **kwargs: Any) -> TriageResult:
        return triage(text, contact, embedder=shared_embedder, models=models, **kwargs)
    return run


def rules_of(result: TriageResult) -> list[str]:
    return [r["rule"] for r in result.evidence["rules"]]


@pytest.mark.parametrize("text", [
    "URGENT!!! LAST CHANCE 50% OFF everything in the store, today only!",
    "¡¡URGENTE!! ÚLTIMA OPORTUNIDAD: -50% en toda la tienda solo hoy",
])
def test_shouted_promotion_from_a_stranger_is_not_urgent(run, text: str) -> None:
    result = run(text, "unknown")
    assert (result.priority, result.is_urgent, result.needs_action) == ("low", False, False)
    assert result.intent == "promotional" and rules_of(result) == ["bulk_sender"]
    assert result.suggested_response_time == "when convenient"


@pytest.mark.parametrize("text", [
    "No rush at all, whenever you get a chance could you send me the invoice from March?",
    "Sin prisa, cuando puedas me pasas la factura de marzo",
])
def test_no_rush_is_not_urgent(run, text: str) -> None:
    result = run(text, "work")
    assert result.priority == "routine" and not result.is_urgent and result.needs_action


@pytest.mark.parametrize("text", [
    "Oh no worries, I'll just keep waiting... it's only been 3 days since I paid 🙃",
    "Kein Stress, ich warte ja gern, sind ja erst vier Tage seit der Zahlung.",
])
def test_sarcasm_about_waiting_is_urgent(run, text: str) -> None:
    result = run(text, "work")
    assert result.is_urgent and result.priority == "urgent" and result.emotional_tone == "sarcastic"
    assert "sarcastic_waiting" in rules_of(result)


@pytest.mark.parametrize("text", [
    "Can you send the signed contract before 5pm today?",
    "Necesito el archivo firmado hoy antes de las 18h, ¿me lo mandas?",
    "Preciso do arquivo assinado hoje até às 17h, consegue mandar?",
    "Ich brauche die unterschriebene Datei heute bis 16 Uhr, schaffst du das?",
    "J'ai besoin du fichier signé aujourd'hui avant 15h, tu peux me l'envoyer ?",
])
def test_a_deadline_within_hours_is_urgent_in_every_language(run, text: str) -> None:
    assert run(text, "work").priority == "urgent"


def test_an_emergency_is_urgent_and_family_raises_the_adjusted_urgency(run) -> None:
    text = "My mum had an accident, we're at the hospital, please call me"
    family, stranger = run(text, "family"), run(text, "unknown")
    assert family.priority == "urgent" and "emergency" in rules_of(family)
    assert family.adjusted_urgency > family.urgency_score > stranger.adjusted_urgency
    assert family.suggested_response_time == "immediate"


def test_an_acknowledgement_needs_nothing(run) -> None:
    result = run("ok thanks 👍", "friend")
    assert (result.priority, result.needs_action, result.is_urgent) == ("low", False, False)


def test_a_weekday_deadline_is_today_only_on_that_day(run) -> None:
    text = "Can you send the proofs by Friday 5pm?"
    friday = run(text, "work", now=datetime(2024, 1, 5, 9, tzinfo=timezone.utc))
    monday = run(text, "work", now=datetime(2024, 1, 1, 9, tzinfo=timezone.utc))
    assert friday.priority == "urgent" and "deadline_today" in rules_of(friday)
    assert monday.priority == "time-sensitive"


def test_result_has_the_seed_fields_and_explains_itself(run) -> None:
    result = run("Hey, can you call me ASAP?", "friend")
    assert {f.name for f in fields(result)} == SEED_FIELDS | {"evidence"}
    assert set(result.to_dict()) == SEED_FIELDS | {"evidence"}
    assert 0.0 <= result.urgency_score <= 1.0 and 0.0 <= result.adjusted_urgency <= 1.0
    learned = result.evidence["learned"]
    assert set(learned) == {"priority", "intent", "emotional_tone", "needs_action"}
    assert len(learned["priority"]["nearest_examples"]) == 3
    assert result.evidence["cues"]["now"] in ("asap", "call me")


def test_batch_matches_single_calls(shared_embedder: Any, models: ClassifierSet, run) -> None:
    items = [("lol", "friend"), ("the site is down and the demo is in an hour!!", "work"),
             ("Newsletter: our spring collection is here, unsubscribe anytime", "unknown")]
    batch = triage_batch(items, embedder=shared_embedder, models=models)
    assert [r.priority for r in batch] == [run(t, c).priority for t, c in items]
    assert [r.priority for r in batch] == ["low", "urgent", "low"]
    assert triage_batch([], embedder=shared_embedder, models=models) == []


@pytest.mark.parametrize("priority,adjusted,expected", [
    ("urgent", 0.9, "immediate"), ("urgent", 0.8, "within 1 hour"), ("time-sensitive", 0.7, "today"),
    ("time-sensitive", 0.5, "within 24 hours"), ("routine", 0.4, "within 24 hours"), ("low", 0.1, "when convenient"),
])
def test_response_time_mapping(priority: str, adjusted: float, expected: str) -> None:
    assert response_time(priority, adjusted) == expected


def test_rules_leave_the_learned_priority_alone_without_cues() -> None:
    assert priority_rules(read_cues("how was your weekend?"), "friend", "routine") == ("routine", [])
    # A customer asking about a discount is a person, not a mailing.
    cues = read_cues("Is the discount code still working? I'm at the checkout and it says invalid")
    assert priority_rules(cues, "unknown", "urgent")[0] == "urgent"
