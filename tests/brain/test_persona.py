"""The playful persona preset (seed 000 "flirty" endpoints): learning weighted by quality, and non-explicit rewrites."""

from __future__ import annotations

import json

import pytest

from brain.persona import PersonaProfile, apply_persona, learn_persona, merge_personas, teasing_score

SEED_RESPONSE = {
    "formality": 0.25, "emoji_usage": True, "avg_length": 45, "punctuation_style": "expressive", "teasing_level": 0.7,
    "pet_names": ["babe", "hun"], "signature_emojis": ["😏", "💕", "🔥"], "opener_patterns": ["hey you", "well well"],
    "closer_patterns": ["xoxo", "talk soon"], "samples_count": 15,
}
SAMPLES = [
    {"input": "Hey, are you free later?", "output": "Maybe... depends on what you have in mind 😏",
     "context_type": "opener", "quality_score": 1.0},
    {"input": "What are you up to?", "output": "Thinking about you, obviously 😘", "context_type": "banter",
     "quality_score": 0.9},
    {"input": "hi", "output": "Hey you 😏 missed me?", "context_type": "opener", "quality_score": 1.0},
    {"input": "night!", "output": "Sweet dreams babe 💕 xoxo", "context_type": "closing", "quality_score": 0.8},
    {"input": "you up?", "output": "Wouldn't you like to know... 😏", "context_type": "banter", "quality_score": 1.0},
]
FORMAL_SAMPLE = {"input": "Invoice?", "output": "Dear Sir, I am writing to confirm the invoice. Kind regards",
                 "context_type": "banter"}


def test_learns_a_playful_profile_with_the_seed_response_keys() -> None:
    profile = learn_persona(SAMPLES)
    assert list(profile.to_dict()) == list(SEED_RESPONSE)
    assert profile.samples_count == 5 and profile.emoji_usage and profile.formality < 0.45
    assert profile.teasing_level >= 0.6 and profile.punctuation_style == "expressive"
    assert profile.signature_emojis[0] == "😏" and profile.pet_names == ["babe"]
    assert profile.opener_patterns == ["hey you"] and profile.closer_patterns == ["xoxo"]


def test_samples_are_weighted_by_quality_score() -> None:
    base = learn_persona(SAMPLES)
    assert learn_persona([*SAMPLES, {**FORMAL_SAMPLE, "quality_score": 0.0}]) == base
    low = learn_persona([*SAMPLES, {**FORMAL_SAMPLE, "quality_score": 0.1}])
    high = learn_persona([*SAMPLES, {**FORMAL_SAMPLE, "quality_score": 1.0}])
    assert base.formality < low.formality < high.formality
    assert base.teasing_level > low.teasing_level > high.teasing_level


def test_applies_the_seed_example_exactly() -> None:
    profile = PersonaProfile.from_dict(SEED_RESPONSE)
    styled, applied = apply_persona(profile, "I'm available this weekend.")
    assert styled == "I might be free this weekend... if you make it worth my while 😏💕"
    assert set(applied) == {"added_teasing", "added_emoji", "adjusted_punctuation"}


def test_pet_name_goes_after_a_greeting_or_thanks_only() -> None:
    profile = PersonaProfile.from_dict(SEED_RESPONSE)
    assert apply_persona(profile, "Hey, thanks for the tip!")[0].startswith("Hey babe, thanks")
    assert apply_persona(profile, "Thank you so much! New set soon")[0].startswith("Thank you so much babe! New")
    assert "babe" not in apply_persona(profile, "Thank you for the update. Talk later")[0]
    assert "babe" not in apply_persona(profile, "Dear Sam, the set is ready. Talk later")[0]
    styled, applied = apply_persona(profile, "What are you up to?")
    assert styled == "What are you up to? 😏💕" and applied == ["added_emoji"]


def test_protected_spans_survive_the_persona() -> None:
    profile = PersonaProfile.from_dict(SEED_RESPONSE)
    styled, _ = apply_persona(profile, "Hey Mia, the new set is $25 at https://x.io/set, out 12/05 at 8pm.")
    for kept in ("Mia", "$25", "https://x.io/set", "12/05", "8pm"):
        assert kept in styled


def test_a_low_teasing_persona_does_not_tease() -> None:
    profile = PersonaProfile.from_dict({**SEED_RESPONSE, "teasing_level": 0.1, "punctuation_style": "standard"})
    styled, applied = apply_persona(profile, "I'm available this weekend!!")
    assert styled == "I'm available this weekend! 😏💕" and "added_teasing" not in applied


def test_teasing_score() -> None:
    assert teasing_score("Maybe... depends on what you have in mind 😏") == 1.0
    assert teasing_score("The invoice is attached.") == 0.0


def test_round_trip_and_merge() -> None:
    seed = PersonaProfile.from_dict(SEED_RESPONSE)
    assert PersonaProfile.from_dict(json.loads(json.dumps(seed.to_dict()))) == seed
    learned = learn_persona(SAMPLES)
    merged = merge_personas(seed, learned)
    assert merged.samples_count == 20
    assert merged.teasing_level == pytest.approx((0.7 * 15 + learned.teasing_level * 5) / 20, abs=1e-3)
    assert merged.pet_names[:2] == ["babe", "hun"] and merged.signature_emojis[0] == "😏"
    assert merge_personas(PersonaProfile(), learned) == learned


def test_no_usable_samples_gives_a_neutral_persona() -> None:
    assert learn_persona([{"output": "  "}, {"output": "hi", "quality_score": 0}]) == PersonaProfile()
    assert apply_persona(PersonaProfile(), "See you at 5.") == ("See you at 5.", [])
