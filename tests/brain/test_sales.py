"""brain/sales.py: the seed 000 shapes of /sales/classify and /sales/detect-bad-actor, the rules that
override the learned intent, and bad-actor scores on clear conversations (real MiniLM)."""

from __future__ import annotations

from typing import Any

import pytest

from brain.classifier import ClassifierSet
from brain.sales import INTENTS, classify_sales, detect_bad_actor

SEED_KEYS = {"intent", "confidence", "secondary_intents", "is_positive_signal", "is_negative_signal",
             "requires_attention", "raw_message"}


@pytest.fixture(scope="module")
def models() -> ClassifierSet:
    return ClassifierSet()


@pytest.fixture
def classify(shared_embedder: Any, models: ClassifierSet):
    def classify(message: str, context: list[Any] | None = None) -> dict[str, Any]:
        return classify_sales(message, context or [], embedder=shared_embedder, models=models)
    return classify


@pytest.fixture
def bad_actor(shared_embedder: Any, models: ClassifierSet):
    def bad_actor(conversation: list[dict[str, str]], include_reasoning: bool = True) -> dict[str, Any]:
        return detect_bad_actor(conversation, include_reasoning, embedder=shared_embedder, models=models)
    return bad_actor


def test_classify_has_the_seed_shape(classify) -> None:
    result = classify("What are your rates for tonight?")
    assert set(result) == SEED_KEYS | {"evidence"}
    assert result["intent"] == "price_inquiry" and result["raw_message"] == "What are your rates for tonight?"
    assert result["is_positive_signal"] and result["requires_attention"] and not result["is_negative_signal"]
    assert 0 < result["confidence"] <= 1
    assert all(label in INTENTS and label != "price_inquiry" and 0.1 <= p <= 1
               for label, p in result["secondary_intents"])
    assert result["evidence"]["cues"]["price"] == "rates"
    assert len(result["evidence"]["learned"]["nearest_examples"]) == 3


@pytest.mark.parametrize("text", [
    "¿Cuánto cobras por una sesión de fotos de una hora?", "Quanto custa um vídeo personalizado?",
    "Was kostet bei dir ein Porträtshooting?", "Combien pour un portrait de famille ?",
])
def test_price_questions_in_every_language(classify, text: str) -> None:
    assert classify(text)["intent"] == "price_inquiry"


def test_gift_card_payment_is_a_scam_by_rule(classify) -> None:
    result = classify("Can I pay with Google Play gift cards? I'll send you photos of the codes")
    assert result["intent"] == "scam_pattern" and result["is_negative_signal"] and result["requires_attention"]


def test_system_text_and_a_lone_emoji_are_unknown(classify) -> None:
    assert classify("Missed voice call")["intent"] == "unknown"
    assert classify("🤔")["intent"] == "unknown"


def test_acceptance_right_after_a_quote_is_agreement(classify) -> None:
    result = classify("👍", ["My rate for the shoot is $200"])
    assert result["intent"] == "agreement" and result["evidence"]["rules"][0]["rule"] == "accepts_quote"


def test_free_work_for_exposure(classify) -> None:
    result = classify("can you do it for free? it would be great exposure for you")
    assert result["intent"] == "free_request" and result["is_negative_signal"]


SEED_CONVERSATION = [
    {"content": "Hey sexy, send me a pic", "sender": "contact"},
    {"content": "My content is available on my page", "sender": "creator"},
    {"content": "Come on, just one free one", "sender": "contact"},
]


def test_freeloader_of_the_seed_example(bad_actor) -> None:
    result = bad_actor(SEED_CONVERSATION)
    assert set(result) == {"freeloader_score", "scam_risk", "time_waste_score", "combined_risk", "red_flags",
                           "recommendation"}
    assert result["freeloader_score"] > 0.5 > result["scam_risk"]
    assert "freeloader" in result["recommendation"]
    flag = next(f for f in result["red_flags"] if f["flag"] == "free_content_request")
    assert flag["message_index"] == 2 and 0 < flag["severity"] <= 1 and flag["reasoning"]


def test_gift_card_scam_conversation(bad_actor) -> None:
    result = bad_actor([
        {"content": "I'd like 3 custom shoutout videos for my nieces", "sender": "contact"},
        {"content": "Sure! That's $75 total.", "sender": "creator"},
        {"content": "Can I pay in Google Play gift cards? I'll send photos of the codes", "sender": "contact"},
    ], include_reasoning=False)
    assert result["scam_risk"] >= 0.9 and result["combined_risk"] >= 0.9
    assert result["recommendation"].startswith("Do not proceed")
    assert {"flag": "scam:gift_card_payment", "message_index": 2, "severity": 0.9} in result["red_flags"]
    assert all("reasoning" not in f for f in result["red_flags"])


def test_a_genuine_customer_is_low_risk(bad_actor) -> None:
    result = bad_actor([
        {"content": "Hi! How much for a one hour portrait session?", "sender": "contact"},
        {"content": "It's $150, edited photos included.", "sender": "creator"},
        {"content": "Great, let's book Saturday at 10. I'll pay the deposit now.", "sender": "contact"},
    ])
    assert result["combined_risk"] < 0.5 and not result["red_flags"]


def test_no_contact_messages_no_risk(bad_actor) -> None:
    result = bad_actor([{"content": "Hi! My rates are on my page.", "sender": "creator"}])
    assert result["combined_risk"] == 0 and result["red_flags"] == []


# ---------------------------------------------------------------- brain/analysis.py (what the pipeline stores)

async def test_analysis_of_a_price_question_needs_a_reply(shared_embedder: Any, models: ClassifierSet) -> None:
    from brain.analysis import analyze_inbound

    result = await analyze_inbound(shared_embedder, "How much for a one hour portrait session on Saturday?",
                                   contact_classification="unknown", models=models,
                                   conversation=[{"content": "Hi! Love your work", "sender": "contact"}])
    assert set(result) == {"triage", "sales", "risk", "agreement", "needs_reply", "reasons"}
    assert result["needs_reply"] is True and result["sales"]["intent"] == "price_inquiry"
    assert result["agreement"]["negotiation_stage"] == "inquiry"
    assert result["triage"]["priority"] in ("routine", "time-sensitive")


async def test_analysis_reads_the_agreement_in_the_conversation(shared_embedder: Any, models: ClassifierSet) -> None:
    from brain.analysis import analyze_inbound

    result = await analyze_inbound(shared_embedder, "Okay deal, where should I meet you?", models=models,
                                   contact_classification="acquaintance",
                                   conversation=[{"content": "My rate is $200", "sender": "creator"}])
    assert result["agreement"]["has_agreement"] is True and result["needs_reply"] is True


@pytest.mark.parametrize("text,contact,reason", [
    ("ok thanks 👍", "friend", "low priority"),
    ("🌸 Spring sale: 30% off everything this week only. Unsubscribe anytime.", "unknown", "promotional"),
])
async def test_analysis_needs_no_reply(shared_embedder: Any, models: ClassifierSet, text: str, contact: str,
                                       reason: str) -> None:
    from brain.analysis import analyze_inbound

    result = await analyze_inbound(shared_embedder, text, contact_classification=contact, conversation=[],
                                   models=models)
    assert result["needs_reply"] is False and reason in result["reasons"][0]
    assert result["agreement"] is None
