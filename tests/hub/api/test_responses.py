"""Seed 000 /api/responses: generate a draft for a message; accept, edit or reject it exactly once."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from storage.models import Message, OutboxItem, TrainingSample
from tests.hub.api.helpers import assert_seed000_error, pair_device
from tests.hub.test_drafting import sync


async def setup(hub):
    paired = await pair_device(hub)
    await sync(hub, paired["token"], "r1", "Hi, can I book a session next Friday?")
    message_uid = await hub.db.scalar(sa.select(Message.uid))
    return paired, message_uid


async def generate(hub, token, message_uid, **context):
    resp = await hub.request("POST", "/api/responses/generate", token,
                             json={"messageId": message_uid, "context": {"maxTokens": 32, **context}})
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_generate_returns_the_seed_shape(brain_hub):
    paired, message_uid = await setup(brain_hub)
    body = await generate(brain_hub, paired["token"], message_uid, temperature=0.2, maxHistory=5)
    assert set(body) == {"responseId", "status", "response", "confidence", "modelVersion", "tokensUsed"}
    assert body["status"] == "completed" and body["response"].strip()
    assert 0 < body["confidence"] < 1 and body["tokensUsed"] > 0
    assert body["modelVersion"].startswith("SmolLM2")


async def test_accept_queues_one_send_and_records_a_sample_even_when_tapped_twice(brain_hub):
    paired, message_uid = await setup(brain_hub)
    response_id = (await generate(brain_hub, paired["token"], message_uid))["responseId"]
    taps = await asyncio.gather(*(brain_hub.request("POST", f"/api/responses/{response_id}/action",
                                                    paired["token"], json={"action": "accept"}) for _ in range(5)))
    statuses = sorted(t.status for t in taps)
    assert statuses == [200, 409, 409, 409, 409]
    for tap in taps:
        if tap.status == 409:
            assert_seed000_error(await tap.json(), 409)
    assert await brain_hub.db.scalar(sa.select(sa.func.count()).select_from(OutboxItem)) == 1
    sample = await brain_hub.db.first(sa.select(TrainingSample))
    assert sample.action == "accept" and sample.input_text.startswith("Hi, can I book")


async def test_edit_sends_the_edited_text_and_reject_records_the_reason(brain_hub):
    paired, message_uid = await setup(brain_hub)
    first = (await generate(brain_hub, paired["token"], message_uid))["responseId"]
    resp = await brain_hub.request("POST", f"/api/responses/{first}/action", paired["token"],
                                   json={"action": "edit", "editedResponse": "Friday works! 10am?"})
    assert resp.status == 200 and (await resp.json())["response"] == "Friday works! 10am?"
    outbox = await brain_hub.db.first(sa.select(OutboxItem))
    assert outbox.body == "Friday works! 10am?" and outbox.channel == "imessage"
    second = (await generate(brain_hub, paired["token"], message_uid))["responseId"]
    resp = await brain_hub.request("POST", f"/api/responses/{second}/action", paired["token"],
                                   json={"action": "reject", "rejectionReason": "Too formal"})
    assert resp.status == 200 and (await resp.json())["status"] == "rejected"
    samples = await brain_hub.db.rows(sa.select(TrainingSample).order_by(TrainingSample.id))
    assert [(s.action, s.final_output, s.rejection_reason) for s in samples] == [
        ("edit", "Friday works! 10am?", None), ("reject", None, "Too formal")]


async def test_bad_input_and_unknown_ids(hub):
    paired = await pair_device(hub)
    cases = [("/api/responses/generate", {"context": {}}, 400),
             ("/api/responses/generate", {"messageId": "nope"}, 404),
             ("/api/responses/generate", {"messageId": "x", "context": {"maxTokens": "many"}}, 400),
             ("/api/responses/abc/action", {"action": "accept"}, 404),
             ("/api/responses/abc/action", {"action": "approve"}, 400),
             ("/api/responses/abc/action", {"action": "edit"}, 400)]
    for path, body, status in cases:
        resp = await hub.request("POST", path, paired["token"], json=body)
        assert resp.status == status, (path, body)
        assert_seed000_error(await resp.json(), status)
    resp = await hub.client.post("/api/responses/generate", json={"messageId": "x"})
    assert resp.status == 401
