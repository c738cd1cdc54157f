"""Seed 000 style learning over real HTTP: learn (merging), get, apply (rules, or the bundled LLM
guarded by the rules), delete; profiles persisted in style_profiles."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from brain.style import StyleProfile, formality_score
from storage.models import StyleProfileRow
from tests.hub.api.helpers import assert_seed000_error

CASUAL = ["hey!! yeah sounds good lol 😂", "omg thats awesome haha", "gonna be there at 7 😂", "nah im good thx",
          "lol ya def"]
FORMAL = ["Good afternoon. Thank you for your message; I would be happy to assist.",
          "Kind regards. I will send the document tomorrow.",
          "Thank you. Please let me know if you require anything further.",
          "Certainly. I will confirm the appointment shortly."]
FORMAL_DRAFT = "I am doing well, thank you for asking. The price is $45, see https://example.com/menu."
CASUAL_DRAFT = "hey yeah gonna be there lol, its $45 https://example.com/menu"
SCOPE = {"user_id": "user-123", "contact_id": "contact-456"}


async def call(hub, method: str, path: str, payload: dict | None = None, expected: int = 200) -> dict:
    resp = await hub.request(method, path, json=payload)
    body = await resp.json()
    assert resp.status == expected, body
    return body


async def learn(hub, outputs: list[str], **scope) -> dict:
    samples = [{"input": "How are you?", "output": text} for text in outputs]
    return await call(hub, "POST", "/style/learn", {**SCOPE, **scope, "samples": samples})


async def apply(hub, response: str, **extra) -> dict:
    return await call(hub, "POST", "/style/apply", {**SCOPE, "response": response, **extra})


def assert_profile_shape(body: dict) -> None:
    assert set(StyleProfile().to_dict()) | {"user_id", "contact_id", "updated_at"} == set(body)
    assert isinstance(body["formality"], float) and isinstance(body["emoji_usage"], bool)
    assert isinstance(body["avg_length"], int) and isinstance(body["signature_emojis"], list)
    assert body["updated_at"].endswith("Z")


async def test_casual_profile_makes_a_formal_draft_more_casual_and_keeps_facts(brain_hub):
    learned = await learn(brain_hub, CASUAL)
    assert_profile_shape(learned)
    assert learned["formality"] < 0.45 and learned["emoji_usage"] is True and learned["samples_count"] == 5
    got = await call(brain_hub, "GET", "/style/user-123/contact-456")
    assert got == learned
    styled = await apply(brain_hub, FORMAL_DRAFT)
    assert styled["original_response"] == FORMAL_DRAFT and styled["used_llm"] is False
    assert formality_score(styled["styled_response"]) < formality_score(FORMAL_DRAFT)
    assert "casualized_vocabulary" in styled["transformations_applied"]
    assert "$45" in styled["styled_response"] and "https://example.com/menu" in styled["styled_response"]


async def test_formal_profile_makes_a_casual_draft_more_formal(brain_hub):
    learned = await learn(brain_hub, FORMAL)
    assert learned["formality"] >= 0.6 and learned["emoji_usage"] is False
    styled = await apply(brain_hub, CASUAL_DRAFT)
    assert formality_score(styled["styled_response"]) > formality_score(CASUAL_DRAFT)
    assert "formalized_vocabulary" in styled["transformations_applied"]
    assert "lol" not in styled["styled_response"] and "$45" in styled["styled_response"]


async def test_learning_again_merges_and_persists_the_samples(brain_hub):
    casual = await learn(brain_hub, CASUAL)
    merged = await learn(brain_hub, FORMAL)
    assert merged["samples_count"] == 9
    assert casual["formality"] < merged["formality"] < 0.8
    row = await brain_hub.db.first(sa.select(StyleProfileRow).where(StyleProfileRow.owner_id == "user-123"))
    assert row.kind == "style" and row.contact_id == "contact-456" and row.samples_count == 9
    assert [s["output"] for s in row.samples] == CASUAL + FORMAL
    other = await learn(brain_hub, FORMAL, contact_id="contact-789")
    assert other["samples_count"] == 4  # each contact has its own profile


async def test_llm_apply_answers_and_never_loses_a_price_or_link(brain_hub):
    await learn(brain_hub, CASUAL)
    styled = await apply(brain_hub, FORMAL_DRAFT, use_llm=True)
    assert isinstance(styled["used_llm"], bool) and styled["styled_response"].strip()
    assert "$45" in styled["styled_response"] and "https://example.com/menu" in styled["styled_response"]
    assert styled["transformations_applied"] == ["llm_rewrite"] or not styled["used_llm"]


async def test_delete_removes_the_profile(brain_hub):
    await learn(brain_hub, CASUAL)
    deleted = await call(brain_hub, "DELETE", "/style/user-123/contact-456")
    assert deleted == {"deleted": True, **SCOPE}
    for method, path, payload in (("GET", "/style/user-123/contact-456", None),
                                  ("DELETE", "/style/user-123/contact-456", None),
                                  ("POST", "/style/apply", {**SCOPE, "response": "hello"})):
        assert_seed000_error(await call(brain_hub, method, path, payload, expected=404), 404)


BAD_INPUT = [
    ("/style/learn", {**SCOPE}),
    ("/style/learn", {**SCOPE, "samples": []}),
    ("/style/learn", {**SCOPE, "samples": [{"input": "hi"}]}),
    ("/style/learn", {**SCOPE, "samples": [{"output": ["hi"]}]}),
    ("/style/learn", {**SCOPE, "samples": [{"output": "   "}]}),
    ("/style/learn", {"user_id": "u", "samples": [{"output": "hi"}]}),
    ("/style/apply", {**SCOPE}),
    ("/style/apply", {**SCOPE, "response": ""}),
    ("/style/apply", {**SCOPE, "response": "hi", "use_llm": "sometimes"}),
    ("/style/apply", {"user_id": "u", "response": "hi"}),
]


@pytest.mark.parametrize("path, payload", BAD_INPUT)
async def test_bad_input_is_400_in_the_envelope(brain_hub, path, payload):
    assert_seed000_error(await call(brain_hub, "POST", path, payload, expected=400), 400)


@pytest.mark.parametrize("path", ["/style/learn", "/style/apply"])
async def test_malformed_json_is_400(brain_hub, path):
    resp = await brain_hub.request("POST", path, data=b"{'single': 'quotes'}",
                                   headers={"Content-Type": "application/json"})
    assert resp.status == 400
    assert_seed000_error(await resp.json(), 400)


@pytest.mark.parametrize("method, path", [("POST", "/style/learn"), ("GET", "/style/u/c"),
                                          ("POST", "/style/apply"), ("DELETE", "/style/u/c")])
async def test_every_route_needs_an_api_key(brain_hub, method, path):
    resp = await brain_hub.client.request(method, path, json={})
    assert resp.status == 401
    assert_seed000_error(await resp.json(), 401)
