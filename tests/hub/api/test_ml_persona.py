"""Seed 000 "flirty" persona preset over real HTTP: learn (merge or replace), mark, get, apply (rules or
the bundled LLM), delete with and without samples, and persona suggestions. Every sample is non-explicit."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from brain.style import extract_emojis
from storage.models import StyleProfileRow, SuggestionRequest
from tests.hub.api.helpers import assert_seed000_error

SEED_PROFILE_KEYS = {"formality", "emoji_usage", "avg_length", "punctuation_style", "teasing_level", "pet_names",
                     "signature_emojis", "opener_patterns", "closer_patterns", "samples_count"}
APPROVED = [("Hey, are you free later?", "Maybe... depends on what you have in mind 😏", "opener"),
            ("What are you up to?", "Thinking about you, obviously 😘", "banter"),
            ("You look great", "Well well, someone is sweet today babe 💕", "banter"),
            ("Can we talk tonight?", "hey you 😏 if you are lucky... talk soon", "banter"),
            ("Good night", "sweet dreams hun 💕 xoxo", "closer")]
PLAIN = [("Are you around?", "Yes, I am around this afternoon.", "banter"),
         ("Thanks!", "You are welcome. Have a good day.", "closer")]


def samples(pairs: list[tuple[str, str, str]]) -> list[dict]:
    return [{"input": i, "output": o, "context_type": c, "quality_score": 1.0} for i, o, c in pairs]


async def call(hub, method: str, path: str, payload: dict | None = None, expected: int = 200, **kwargs) -> dict:
    resp = await hub.request(method, path, json=payload, **kwargs)
    body = await resp.json()
    assert resp.status == expected, body
    return body


async def learn(hub, pairs, merge: bool = True, creator_id: str = "creator-123", expected: int = 200) -> dict:
    return await call(hub, "POST", "/flirty/style/learn", {"creator_id": creator_id, "samples": samples(pairs),
                                                           "merge_with_existing": merge}, expected)


async def stored_row(hub, creator_id: str = "creator-123"):
    return await hub.db.first(sa.select(StyleProfileRow).where(StyleProfileRow.kind == "persona",
                                                               StyleProfileRow.owner_id == creator_id))


async def test_learn_returns_exactly_the_documented_profile(brain_hub):
    profile = await learn(brain_hub, APPROVED)
    assert set(profile) == SEED_PROFILE_KEYS
    assert isinstance(profile["formality"], float) and profile["formality"] < 0.45
    assert profile["emoji_usage"] is True and isinstance(profile["avg_length"], int)
    assert profile["punctuation_style"] == "expressive" and 0.3 <= profile["teasing_level"] <= 1
    assert profile["pet_names"] == ["babe", "hun"] and "😏" in profile["signature_emojis"]
    assert "well well" in profile["opener_patterns"] and "xoxo" in profile["closer_patterns"]
    assert profile["samples_count"] == 5
    got = await call(brain_hub, "GET", "/flirty/style/creator-123")
    assert {k: got[k] for k in SEED_PROFILE_KEYS} == profile
    assert got["creator_id"] == "creator-123" and got["samples_kept"] == 5 and got["updated_at"].endswith("Z")


async def test_merge_adds_to_the_profile_and_replace_starts_over(brain_hub):
    teasing = await learn(brain_hub, APPROVED)
    merged = await learn(brain_hub, PLAIN)
    assert merged["samples_count"] == 7 and merged["teasing_level"] < teasing["teasing_level"]
    replaced = await learn(brain_hub, PLAIN, merge=False)
    assert replaced["samples_count"] == 2 and replaced["pet_names"] == []
    assert [s["output"] for s in (await stored_row(brain_hub)).samples] == [o for _, o, _ in PLAIN]


async def test_mark_adds_one_approved_example(brain_hub):
    await learn(brain_hub, APPROVED)
    marked = await call(brain_hub, "POST", "/flirty/style/mark", {
        "creator_id": "creator-123", "input_context": "What are you up to?",
        "approved_response": "Wouldn't you like to know 😘", "context_type": "banter"})
    assert set(marked) == SEED_PROFILE_KEYS and marked["samples_count"] == 6
    row = await stored_row(brain_hub)
    assert row.samples[-1] == {"input": "What are you up to?", "output": "Wouldn't you like to know 😘",
                               "context_type": "banter", "quality_score": 1.0}
    first = await call(brain_hub, "POST", "/flirty/style/mark", {
        "creator_id": "new-creator", "approved_response": "Maybe later 😏"})
    assert first["samples_count"] == 1


async def test_apply_plays_up_a_flat_draft_and_keeps_facts(brain_hub):
    await learn(brain_hub, APPROVED)
    styled = await call(brain_hub, "POST", "/flirty/style/apply", {
        "creator_id": "creator-123", "response": "I'm available this weekend.", "context": "Scheduling"})
    assert styled["original_response"] == "I'm available this weekend." and styled["used_llm"] is False
    assert styled["styled_response"] != styled["original_response"]
    assert {"added_teasing", "added_emoji"} <= set(styled["transformations_applied"])
    draft = "Thanks! The new set is $20 at https://example.com/shop"
    with_llm = await call(brain_hub, "POST", "/flirty/style/apply", {
        "creator_id": "creator-123", "response": draft, "use_llm": True})
    assert "$20" in with_llm["styled_response"] and "https://example.com/shop" in with_llm["styled_response"]
    assert isinstance(with_llm["used_llm"], bool) and isinstance(with_llm["transformations_applied"], list)


async def test_delete_keeping_samples_lets_learning_start_again_from_them(brain_hub):
    await learn(brain_hub, APPROVED)
    deleted = await call(brain_hub, "DELETE", "/flirty/style/creator-123", params={"delete_samples": "false"})
    assert deleted == {"deleted": True, "creator_id": "creator-123", "samples_deleted": False, "samples_kept": 5}
    assert_seed000_error(await call(brain_hub, "GET", "/flirty/style/creator-123", expected=404), 404)
    assert_seed000_error(await call(brain_hub, "POST", "/flirty/style/apply", {
        "creator_id": "creator-123", "response": "hi"}, expected=404), 404)
    row = await stored_row(brain_hub)
    assert row.profile is None and len(row.samples) == 5
    relearned = await learn(brain_hub, [])
    assert relearned["samples_count"] == 5 and relearned["pet_names"] == ["babe", "hun"]
    plus_one = await learn(brain_hub, PLAIN[:1])
    assert plus_one["samples_count"] == 6


async def test_delete_with_samples_forgets_everything(brain_hub):
    await learn(brain_hub, APPROVED)
    deleted = await call(brain_hub, "DELETE", "/flirty/style/creator-123", params={"delete_samples": "true"})
    assert deleted["samples_deleted"] is True and deleted["samples_kept"] == 0
    assert await stored_row(brain_hub) is None
    assert_seed000_error(await call(brain_hub, "DELETE", "/flirty/style/creator-123", expected=404), 404)
    assert_seed000_error(await learn(brain_hub, [], expected=400), 400)  # nothing kept to relearn from


async def test_flirty_suggestions_are_themed_and_take_the_creators_voice(brain_hub):
    await learn(brain_hub, APPROVED)
    themes = ["flirty", "deflection"]
    body = await call(brain_hub, "POST", "/flirty/suggestions", {
        "conversation_id": "conv-123", "creator_id": "creator-123", "count": 3, "themes": themes,
        "messages": [{"role": "user", "content": "Hey, what are you doing tonight?"}]})
    assert body["conversation_id"] == "conv-123" and isinstance(body["request_id"], str)
    assert 1 <= len(body["options"]) <= 3 and body["has_more"] is False
    for option in body["options"]:
        assert option["theme"] in themes and isinstance(option["descriptor"], str) and option["text"]
        assert extract_emojis(option["text"])  # the persona's signature emoji, added by its rules
    assert {o["descriptor"] for o in body["options"] if o["theme"] == "flirty"} <= {"Teasing"}
    row = await brain_hub.db.first(sa.select(SuggestionRequest).where(SuggestionRequest.id == body["request_id"]))
    assert row.kind == "flirty" and row.served == len(body["options"])


BAD_INPUT = [
    ("/flirty/style/learn", {"samples": samples(APPROVED)}),
    ("/flirty/style/learn", {"creator_id": "c"}),
    ("/flirty/style/learn", {"creator_id": "c", "samples": "lots"}),
    ("/flirty/style/learn", {"creator_id": "c", "samples": [{"input": "hi"}]}),
    ("/flirty/style/learn", {"creator_id": "c", "samples": [{"output": "hi", "quality_score": 3}]}),
    ("/flirty/style/learn", {"creator_id": "c", "samples": [{"output": "hi", "quality_score": 0}]}),
    ("/flirty/style/learn", {"creator_id": "c", "samples": samples(APPROVED), "merge_with_existing": "dunno"}),
    ("/flirty/style/mark", {"creator_id": "c"}),
    ("/flirty/style/mark", {"creator_id": "c", "approved_response": ""}),
    ("/flirty/style/mark", {"creator_id": 7, "approved_response": "hi"}),
    ("/flirty/style/apply", {"creator_id": "c"}),
    ("/flirty/style/apply", {"creator_id": "c", "response": None}),
    ("/flirty/suggestions", {"conversation_id": "conv-123"}),
    ("/flirty/suggestions", {"messages": [{"content": "hi"}]}),
    ("/flirty/suggestions", {"messages": [{"role": "user", "content": "hi"}], "count": 100}),
    ("/flirty/suggestions", {"messages": [{"role": "user", "content": "hi"}], "themes": []}),
]


@pytest.mark.parametrize("path, payload", BAD_INPUT)
async def test_bad_input_is_400_in_the_envelope(brain_hub, path, payload):
    assert_seed000_error(await call(brain_hub, "POST", path, payload, expected=400), 400)


async def test_bad_delete_flag_is_400(brain_hub):
    body = await call(brain_hub, "DELETE", "/flirty/style/c", params={"delete_samples": "perhaps"}, expected=400)
    assert_seed000_error(body, 400)


@pytest.mark.parametrize("path", ["/flirty/style/learn", "/flirty/style/mark", "/flirty/style/apply",
                                  "/flirty/suggestions"])
async def test_malformed_json_is_400(brain_hub, path):
    resp = await brain_hub.request("POST", path, data=b'{"creator_id": "c",}',
                                   headers={"Content-Type": "application/json"})
    assert resp.status == 400
    assert_seed000_error(await resp.json(), 400)


@pytest.mark.parametrize("method, path", [
    ("POST", "/flirty/style/learn"), ("POST", "/flirty/style/mark"), ("GET", "/flirty/style/c"),
    ("POST", "/flirty/style/apply"), ("DELETE", "/flirty/style/c"), ("POST", "/flirty/suggestions")])
async def test_every_route_needs_an_api_key(brain_hub, method, path):
    resp = await brain_hub.client.request(method, path, json={})
    assert resp.status == 401
    assert_seed000_error(await resp.json(), 401)
