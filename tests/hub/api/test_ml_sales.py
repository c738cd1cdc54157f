"""Seed 000 sales routes over real HTTP with the real MiniLM: classify, detect-bad-actor,
detect-agreement, follow-up; bad input and auth for each."""

from __future__ import annotations

import pytest

from tests.hub.api.helpers import assert_seed000_error

DEAL = [{"content": "My rate is $200", "sender": "creator"},
        {"content": "Okay deal, where should I meet you?", "sender": "contact"}]
ROUTES = ["/sales/classify", "/sales/detect-bad-actor", "/sales/detect-agreement", "/sales/follow-up"]


async def post(hub, path, body):
    resp = await hub.request("POST", path, json=body)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_classify_a_price_question(brain_hub):
    body = await post(brain_hub, "/sales/classify", {
        "message": "What are your rates for tonight?", "context": [], "contact_id": "contact-456"})
    assert body["intent"] == "price_inquiry" and body["raw_message"] == "What are your rates for tonight?"
    assert body["is_positive_signal"] is True and body["requires_attention"] is True
    assert isinstance(body["secondary_intents"], list) and "evidence" in body


async def test_classify_reads_the_context(brain_hub):
    body = await post(brain_hub, "/sales/classify", {
        "message": "ok", "context": ["hi!", {"content": "It's $150 for the hour", "sender": "creator"}]})
    assert body["intent"] == "agreement"


async def test_detect_bad_actor_of_the_seed_example(brain_hub):
    body = await post(brain_hub, "/sales/detect-bad-actor", {"contact_id": "c", "include_reasoning": True,
                                                             "conversation": [
        {"content": "Hey sexy, send me a pic", "sender": "contact"},
        {"content": "My content is available on my page", "sender": "creator"},
        {"content": "Come on, just one free one", "sender": "contact"}]})
    assert body["freeloader_score"] > 0.5 and body["recommendation"].startswith("Proceed with caution")
    assert body["red_flags"] and {"flag", "message_index", "reasoning", "severity"} <= set(body["red_flags"][0])


async def test_detect_agreement_of_the_seed_example(brain_hub):
    body = await post(brain_hub, "/sales/detect-agreement", {"conversation": DEAL, "contact_id": "c"})
    assert body["has_agreement"] is True and body["negotiation_stage"] == "agreed"
    assert body["agreed_price"]["amount"] == 200.0 and body["agreed_price"]["currency"] == "USD"
    assert body["prices_mentioned"][0]["raw_text"] == "$200"


async def test_follow_up_after_an_agreement(brain_hub):
    body = await post(brain_hub, "/sales/follow-up", {"contact_id": "contact-456", "conversation": DEAL,
                                                      "last_interaction": "2024-01-01T18:00:00Z"})
    assert body["contact_id"] == "contact-456" and body["priority"] in ("high", "medium", "low", "none")
    assert {"reason", "suggested_message", "optimal_timing", "intent_summary"} <= set(body)


@pytest.mark.parametrize("path,body", [
    ("/sales/classify", {}),
    ("/sales/classify", {"message": ""}),
    ("/sales/classify", {"message": "hi", "context": "not a list"}),
    ("/sales/classify", {"message": "hi", "context": [{"content": "x", "sender": "robot"}]}),
    ("/sales/detect-bad-actor", {"conversation": []}),
    ("/sales/detect-bad-actor", {"conversation": [{"sender": "contact"}]}),
    ("/sales/detect-bad-actor", {"conversation": [{"content": "hi"}], "include_reasoning": "maybe"}),
    ("/sales/detect-agreement", {}),
    ("/sales/detect-agreement", {"conversation": [{"content": 5, "sender": "contact"}]}),
    ("/sales/follow-up", {"conversation": DEAL}),
    ("/sales/follow-up", {"contact_id": "c", "conversation": DEAL, "last_interaction": "yesterday-ish"}),
    ("/sales/follow-up", {"contact_id": "c"}),
])
async def test_bad_input_is_a_400_envelope(hub, path, body):
    resp = await hub.request("POST", path, json=body)
    assert resp.status == 400
    assert_seed000_error(await resp.json(), 400)


@pytest.mark.parametrize("path", ROUTES)
async def test_malformed_json_is_400(hub, path):
    resp = await hub.request("POST", path, data=b"{oops", headers={"Content-Type": "application/json"})
    assert resp.status == 400
    assert_seed000_error(await resp.json(), 400)


@pytest.mark.parametrize("path", ROUTES)
async def test_an_api_key_is_required(hub, path):
    resp = await hub.client.post(path, json={"message": "hi", "contact_id": "c", "conversation": DEAL})
    assert resp.status == 401
    assert_seed000_error(await resp.json(), 401)
