"""Seed 000 triage routes over real HTTP with the real MiniLM: POST /triage and /triage/batch, the models
versioned under the data directory, the retrain job on the owner's corrections, bad input and auth."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from hub import jobs
from hub.api.ml_triage import MAX_BATCH, RETRAIN_JOB
from hub.state import SETTINGS
from storage.models import LabelCorrection, Message
from tests.hub.api.helpers import assert_seed000_error, pair_device
from tests.hub.test_drafting import sync

SEED_FIELDS = {"urgency_score", "adjusted_urgency", "priority", "intent", "emotional_tone",
               "suggested_response_time", "is_urgent", "needs_action"}


async def test_triage_answers_in_the_seed_shape_and_stores_the_models(brain_hub):
    resp = await brain_hub.request("POST", "/triage", json={
        "message": "Hey, can you call me ASAP?", "contact_classification": "friend", "message_id": "msg-123"})
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert set(body) == SEED_FIELDS | {"evidence", "message_id"} and body["message_id"] == "msg-123"
    assert body["priority"] == "urgent" and body["is_urgent"] is True
    assert body["adjusted_urgency"] >= body["urgency_score"]
    models = brain_hub.app[SETTINGS].data_path / "models"
    meta = json.loads((models / "priority" / "v1.json").read_text())
    assert (models / "priority" / "v1.joblib").is_file() and meta["train_size"] > 0


async def test_batch_keeps_the_order_and_the_hard_cases(brain_hub):
    messages = [
        {"message": "URGENT!!! LAST CHANCE 50% OFF ALL TEMPLATES", "contact_classification": "unknown"},
        {"message": "no rush, whenever you have a minute can you send the March invoice?",
         "contact_classification": "work", "message_id": "b"},
        {"message": "no worries, I'll just keep waiting... it's been 3 days 🙃", "contact_classification": "work"},
        {"message": "Hey!"},
    ]
    resp = await brain_hub.request("POST", "/triage/batch", json={"messages": messages})
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["count"] == 4
    assert [r["priority"] for r in body["results"][:3]] == ["low", "routine", "urgent"]
    assert body["results"][1]["message_id"] == "b" and "message_id" not in body["results"][0]


async def test_a_correction_retrains_through_the_job(brain_hub, clock):
    await brain_hub.request("POST", "/triage", json={"message": "warm up"})
    text = "the printer on floor 2 is out of paper again"
    await brain_hub.db.execute(sa.insert(LabelCorrection).values(task="priority", text=text, label="urgent"))
    await brain_hub.db.write(lambda conn: jobs.enqueue(brain_hub.db, conn, RETRAIN_JOB, {}, now=clock.now()))
    await brain_hub.worker.run_until_idle()
    folder = brain_hub.app[SETTINGS].data_path / "models" / "priority"
    assert json.loads((folder / "v2.json").read_text())["corrections"] == 1
    assert not (brain_hub.app[SETTINGS].data_path / "models" / "intent" / "v2.json").exists()


async def test_a_correction_posted_by_the_owner_is_learnt_at_the_next_retraining(brain_hub, clock):
    await brain_hub.request("POST", "/sales/classify", json={"message": "warm up"})
    text = "could you knock a bit off if I bring two friends?"
    resp = await brain_hub.request("POST", "/classifiers/corrections", json={
        "task": "sales_intent", "label": "Price_Inquiry", "text": text})
    assert resp.status == 201, await resp.text()
    stored = await resp.json()
    assert {k: stored[k] for k in ("task", "label", "text")} == {"task": "sales_intent", "label": "price_inquiry",
                                                                  "text": text}
    await brain_hub.db.write(lambda conn: jobs.enqueue(brain_hub.db, conn, RETRAIN_JOB, {}, now=clock.now()))
    await brain_hub.worker.run_until_idle()
    meta = json.loads((brain_hub.app[SETTINGS].data_path / "models" / "sales_intent" / "v2.json").read_text())
    assert meta["corrections"] == 1


async def test_a_correction_of_a_stored_message_uses_its_text(hub):
    paired = await pair_device(hub)
    await sync(hub, paired["token"], "m1", "the printer is out of paper again")
    uid = await hub.db.scalar(sa.select(Message.uid).where(Message.external_id == "m1"))
    resp = await hub.request("POST", "/classifiers/corrections", json={
        "task": "priority", "label": "urgent", "message_id": uid})
    assert resp.status == 201, await resp.text()
    row = await hub.db.first(sa.select(LabelCorrection))
    assert (row.text, row.label, row.task) == ("the printer is out of paper again", "urgent", "priority")
    assert row.message_id is not None


@pytest.mark.parametrize("body,status", [
    ({"task": "priority", "label": "whenever", "text": "hi"}, 400),
    ({"task": "mood", "label": "urgent", "text": "hi"}, 400),
    ({"task": "priority", "label": "urgent"}, 400),
    ({"task": "priority", "label": "urgent", "message_id": "no-such-message"}, 404),
])
async def test_bad_corrections_are_refused(hub, body, status):
    resp = await hub.request("POST", "/classifiers/corrections", json=body)
    assert resp.status == status
    assert_seed000_error(await resp.json(), status)
    assert await hub.db.first(sa.select(LabelCorrection)) is None


@pytest.mark.parametrize("path,body", [
    ("/triage", {}),
    ("/triage", {"message": ""}),
    ("/triage", {"message": 42}),
    ("/triage", {"message": "hi", "contact_classification": "boss"}),
    ("/triage", {"message": "x" * 20_001}),
    ("/triage/batch", {}),
    ("/triage/batch", {"messages": []}),
    ("/triage/batch", {"messages": [{"contact_classification": "friend"}]}),
    ("/triage/batch", {"messages": "hi"}),
    ("/triage/batch", {"messages": [{"message": "hi"}] * (MAX_BATCH + 1)}),
])
async def test_bad_input_is_a_400_envelope(hub, path, body):
    resp = await hub.request("POST", path, json=body)
    assert resp.status == 400
    assert_seed000_error(await resp.json(), 400)


@pytest.mark.parametrize("path", ["/triage", "/triage/batch"])
async def test_malformed_json_and_non_objects_are_400(hub, path):
    for data in (b"{not json", b"[1, 2]", b""):
        resp = await hub.request("POST", path, data=data, headers={"Content-Type": "application/json"})
        assert resp.status == 400
        assert_seed000_error(await resp.json(), 400)


@pytest.mark.parametrize("path", ["/triage", "/triage/batch", "/classifiers/corrections"])
async def test_an_api_key_is_required(hub, path):
    resp = await hub.client.post(path, json={"message": "hi", "messages": [{"message": "hi"}]})
    assert resp.status == 401
    assert_seed000_error(await resp.json(), 401)
