"""Seed 000 training over real HTTP: samples paged, LoRA jobs trained in a worker process with
`training:progress` on /ws, one active job per device (409), cancellation midway (the process is
gone), the ML API shapes, errors in the seed envelope; retraining and its cron schedule."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from channels.base import OUTBOUND, Handle, InboundMessage
from hub.brain_steps import EXAMPLES_SCOPE
from hub.drafting import OWNER_ID
from brain.draft import DraftRequest, Turn, draft_reply
from brain.lora_gguf import similarity
from hub.pipeline import ingest
from hub.api.ml_triage import classifiers
from hub.brain_services import BrainServices
from hub.retraining import CRON_JOB_ID, CRON_JOB_REF, cron_trigger, insert_retrain_job, next_fire, scheduled_retrain
from hub.state import BRAIN, SETTINGS
from hub.training_runs import INTERRUPTED, SlotBusy, insert_job, training_runner
from storage.models import LabelCorrection, StyleProfileRow, TrainingSample
from storage.training_models import TrainingJob
from scheduler.lock import leader_lock
from scheduler.runtime import SchedulerRuntime
from tests.conftest import make_settings, start_hub
from tests.hub.api.helpers import assert_seed000_error, pair_device

PAIRS = [("Are you open on Sunday?", "Sundays we're closed, but Monday from 9 works 🌿"),
         ("How much is a haircut?", "A cut is $35, beard trim included 😊"),
         ("Can I bring my dog?", "Of course, dogs are always welcome here 🐶")]
FAST = {"epochs": 6, "learningRate": 0.003, "loraRank": 4, "batchSize": 4, "maxLength": 64}
SLOW = {**FAST, "epochs": 50}
ACTIVE = ("queued", "training")


@pytest.fixture
async def lora_hub(hub):
    yield hub
    await training_runner(hub.app).close()  # no worker process outlives its test


async def add_samples(hub, clock, actions=("accept", "edit", "accept", "reject")) -> list[str]:
    rows = []
    for index, action in enumerate(actions):
        theirs, mine = PAIRS[index % len(PAIRS)]
        rows.append({"uid": f"sample-{index}", "action": action, "input_text": theirs, "original_output": "Draft.",
                     "final_output": None if action == "reject" else mine, "quality": 0.8 if action == "edit" else 1.0,
                     "rejection_reason": "Too formal" if action == "reject" else None,
                     "created_at": clock.now() + timedelta(seconds=index)})
    await hub.db.write(lambda conn: conn.execute(sa.insert(TrainingSample), rows))
    return [row["uid"] for row in rows]


async def call(hub, method: str, path: str, expected: int, token: str | None = None, **kwargs) -> dict:
    resp = await hub.request(method, path, token=token, **kwargs)
    body = await resp.json()
    assert resp.status == expected, body
    return body


async def until(ws, predicate, timeout: float = 600) -> list[dict]:
    """The training:progress events received up to and including the first that satisfies `predicate`."""
    seen = []
    while True:
        event = await ws.receive_json(timeout=timeout)
        if event.get("type") == "training:progress":
            seen.append(event)
            if predicate(event):
                return seen


async def job_row(hub, job_id: str):
    return await hub.db.first(sa.select(TrainingJob).where(TrainingJob.id == job_id))


async def test_samples_are_paged_newest_first_and_filtered_by_action(lora_hub, clock):
    await add_samples(lora_hub, clock)
    page = await call(lora_hub, "GET", "/api/training/samples?page=1&pageSize=3", 200)
    assert page["total"] == 4 and page["page"] == 1 and page["pageSize"] == 3
    assert [s["id"] for s in page["samples"]] == ["sample-3", "sample-2", "sample-1"]
    edited = page["samples"][2]
    assert edited["action"] == "edit" and edited["output"] == PAIRS[1][1] and edited["originalOutput"] == "Draft."
    assert edited["input"] == PAIRS[1][0] and edited["quality"] == 0.8 and edited["createdAt"].endswith("Z")
    last = await call(lora_hub, "GET", "/api/training/samples?page=2&pageSize=3", 200)
    assert [s["id"] for s in last["samples"]] == ["sample-0"]
    rejected = await call(lora_hub, "GET", "/api/training/samples?action=reject", 200)
    assert rejected["total"] == 1 and rejected["samples"][0]["rejectionReason"] == "Too formal"


async def test_lora_job_trains_in_a_process_reports_progress_on_ws_and_completes(lora_hub, clock):
    uids = await add_samples(lora_hub, clock)
    ws = await lora_hub.client.ws_connect("/ws", headers=lora_hub.auth())
    started = await call(lora_hub, "POST", "/api/training/start", 201, json=FAST)
    job = started["job"]
    assert job["status"] == "queued" and job["progress"] == 0 and job["error"] is None
    assert job["sampleIds"] == uids[:3] and job["epochs"] == 6 and job["learningRate"] == 0.003
    events = await until(ws, lambda e: e["job_id"] == job["id"] and e["status"] not in ACTIVE)
    await ws.close()
    assert events[-1]["status"] == "completed" and events[-1]["progress"] == 100.0, events[-1].get("error")
    steps = [e for e in events if e.get("step")]
    assert [e["step"] for e in steps] == [1, 2, 3, 4, 5, 6] and all(e["loss"] > 0 for e in steps)
    assert [e["progress"] for e in events] == sorted(e["progress"] for e in events)
    done = (await call(lora_hub, "GET", f"/api/training/jobs/{job['id']}", 200))["job"]
    assert done["status"] == "completed" and done["progress"] == 100.0 and done["error"] is None
    metrics = done["metrics"]
    assert metrics["loss"][-1] < metrics["loss"][0] and metrics["eval_loss_after"] < metrics["eval_loss_before"]
    assert metrics["gguf_eval_loss_after"] < metrics["gguf_eval_loss_before"]
    assert Path(done["adapterPath"]).is_file() and done["startedAt"] and done["finishedAt"]
    await drafts_move_toward_the_approved_replies(lora_hub, job["id"])


async def greedy_drafts(hub) -> list[str]:
    """What drafting (brain/draft.py, the prompt the adapter was trained with) writes for the prompts."""
    llm = await hub.app[BRAIN].llm()
    owner = hub.app[SETTINGS].owner.name
    drafts = [await draft_reply(llm, DraftRequest(owner, "", "messages", [Turn("contact", theirs)]), max_tokens=32,
                                temperature=0.0, seed=1) for theirs, _ in PAIRS]
    return [draft.text for draft in drafts]


def closeness(drafts: list[str]) -> float:
    return sum(similarity(draft, mine) for draft, (_, mine) in zip(drafts, PAIRS)) / len(PAIRS)


async def drafts_move_toward_the_approved_replies(hub, job_id: str) -> None:
    """/model/reload with the job's id loads its adapter in the llama.cpp backend; drafts change."""
    before = await greedy_drafts(hub)
    reloaded = await call(hub, "POST", "/model/reload", 200, params={"model_id": job_id})
    assert reloaded["model_version"] == f"SmolLM2-135M-Instruct.Q4_1+lora-{job_id}"
    after = await greedy_drafts(hub)
    assert closeness(after) > closeness(before) + 0.3, (before, after)
    plain = await call(hub, "POST", "/model/reload", 200)  # back to the base model alone
    assert plain["model_version"] == "SmolLM2-135M-Instruct.Q4_1" and await greedy_drafts(hub) == before
    assert_seed000_error(await call(hub, "POST", "/model/reload", 400, params={"model_id": "no-such-job"}), 400)


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_one_job_per_device_409_and_cancel_midway_stops_the_process(lora_hub, clock):
    await add_samples(lora_hub, clock)
    device = await pair_device(lora_hub)
    ws = await lora_hub.client.ws_connect("/ws", headers=lora_hub.auth())
    first = (await call(lora_hub, "POST", "/api/training/start", 201, token=device["token"], json=SLOW))["job"]
    assert first["deviceId"] == device["deviceId"]
    again = await call(lora_hub, "POST", "/api/training/start", 409, token=device["token"], json=FAST)
    assert_seed000_error(again, 409) and first["id"] in again["message"]
    other = (await call(lora_hub, "POST", "/api/training/start", 201, json=FAST))["job"]  # another slot: waits
    assert (await call(lora_hub, "POST", f"/api/training/jobs/{other['id']}/cancel", 200))["job"]["status"] \
        == "cancelled"
    await until(ws, lambda e: e["job_id"] == first["id"] and (e.get("step") or 0) >= 1)
    pid = (await job_row(lora_hub, first["id"])).worker_pid
    assert pid and not process_gone(pid)
    cancelled = (await call(lora_hub, "POST", f"/api/training/jobs/{first['id']}/cancel", 200,
                            token=device["token"]))["job"]
    assert cancelled["status"] == "cancelled" and 0 < cancelled["progress"] < 100 and cancelled["finishedAt"]
    assert process_gone(pid)
    await until(ws, lambda e: e["job_id"] == first["id"] and e["status"] == "cancelled")
    await ws.close()
    assert len(cancelled["metrics"]["loss"]) >= 1
    no_adapter = await call(lora_hub, "POST", "/model/reload", 409, params={"model_id": first["id"]})
    assert_seed000_error(no_adapter, 409)
    assert_seed000_error(await call(lora_hub, "POST", f"/api/training/jobs/{first['id']}/cancel", 409), 409)
    after = (await call(lora_hub, "POST", "/api/training/start", 201, token=device["token"], json=FAST))["job"]
    await call(lora_hub, "POST", f"/api/training/jobs/{after['id']}/cancel", 200)  # the slot was free again


async def test_ml_api_start_status_cancel_and_a_reused_job_id_is_409(lora_hub):
    samples = [{"input": theirs, "output": mine, "quality": 1.0} for theirs, mine in PAIRS]
    body = {"job_id": "custom-job-id", "base_model": "SmolLM2-135M-Instruct.Q4_1", "samples": samples,
            "epochs": 3, "learning_rate": 0.0001}
    started = await call(lora_hub, "POST", "/training/start", 200, json=body)
    assert started["job_id"] == "custom-job-id" and started["status"] == "queued" and started["samples"] == 3
    assert_seed000_error(await call(lora_hub, "POST", "/training/start", 409, json=body), 409)
    status = await call(lora_hub, "GET", "/training/status/custom-job-id", 200)
    assert {"job_id", "status", "progress", "error", "base_model", "epochs", "learning_rate", "created_at",
            "completed_at"} <= set(status)
    assert status["base_model"].endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
    cancelled = await call(lora_hub, "POST", "/training/cancel/custom-job-id", 200)
    assert cancelled["status"] == "cancelled" and cancelled["completed_at"]
    assert (await call(lora_hub, "GET", "/training/status/custom-job-id", 200))["status"] == "cancelled"


@pytest.mark.parametrize("path, payload", [
    ("/api/training/start", {"epochs": 0}),
    ("/api/training/start", {"learningRate": -1}),
    ("/api/training/start", {"sampleIds": "sample-0"}),
    ("/api/training/start", {"sampleIds": ["no-such-sample"]}),
    ("/api/training/start", {"sampleIds": ["sample-3"]}),  # rejected: nothing to learn
    ("/api/training/start", {"baseModel": "ministral-3b-instruct"}),
    ("/api/training/start", {"baseModel": "/nowhere/model.gguf"}),
    ("/training/start", {"samples": []}),
    ("/training/start", {"samples": [{"input": "hi", "output": "  "}]}),
    ("/training/start", {"job_id": "../etc", "samples": [{"input": "hi", "output": "hello"}]}),
    ("/training/start", {"samples": [{"input": "hi", "output": "hello"}], "epochs": "many"}),
])
async def test_bad_input_is_400_in_the_seed_envelope(lora_hub, clock, path, payload):
    await add_samples(lora_hub, clock)
    assert_seed000_error(await call(lora_hub, "POST", path, 400, json=payload), 400)
    assert await lora_hub.db.scalar(sa.select(sa.func.count()).select_from(TrainingJob)) == 0


async def test_malformed_json_and_no_samples_yet_are_400(lora_hub):
    resp = await lora_hub.request("POST", "/api/training/start", data=b"{nope")
    assert resp.status == 400
    assert_seed000_error(await resp.json(), 400)
    body = await call(lora_hub, "POST", "/api/training/start", 400, json={})
    assert "no accepted or edited drafts" in body["message"]


@pytest.mark.parametrize("method, path", [
    ("GET", "/api/training/jobs/nope"), ("POST", "/api/training/jobs/nope/cancel"),
    ("GET", "/training/status/nope"), ("POST", "/training/cancel/nope")])
async def test_unknown_job_is_404(lora_hub, method, path):
    assert_seed000_error(await call(lora_hub, method, path, 404), 404)


@pytest.mark.parametrize("method, path", [
    ("GET", "/api/training/samples"), ("POST", "/api/training/start"), ("GET", "/api/training/jobs/x"),
    ("POST", "/api/training/jobs/x/cancel"), ("POST", "/api/training/retrain"), ("POST", "/training/start"),
    ("GET", "/training/status/x"), ("POST", "/training/cancel/x")])
async def test_no_key_is_401(lora_hub, method, path):
    resp = await lora_hub.client.request(method, path, json={})
    assert resp.status == 401
    assert_seed000_error(await resp.json(), 401)


async def test_a_job_left_active_by_a_dead_hub_does_not_block_its_slot(lora_hub, clock):
    dead = subprocess.Popen(["true"])
    dead.wait()
    db, now = lora_hub.db, clock.now()
    stale = {"id": "old", "slot": "device:d1", "status": "training", "runner": f"{socket.gethostname()}:{dead.pid}"}
    await db.write(lambda conn: conn.execute(sa.insert(TrainingJob).values(created_at=now, updated_at=now, **stale)))
    await db.write(insert_job, db, {"id": "new", "slot": "device:d1"}, now)
    old = await job_row(lora_hub, "old")
    assert old.status == "failed" and old.error == INTERRUPTED
    with pytest.raises(SlotBusy):  # the new one is alive (this process), so it does block
        await db.write(insert_job, db, {"id": "newer", "slot": "device:d1"}, now)


async def test_scheduled_retraining_runs_once_per_fire_time_and_catches_up(lora_hub, clock):
    db, cron = lora_hub.db, "30 3 * * *"
    assert next_fire("", clock.now()) is None
    assert await db.write(insert_retrain_job, db, "r1", clock.now(), cron)  # first run: catches up the last fire
    assert not await db.write(insert_retrain_job, db, "r2", clock.now(), cron)  # not due again before 03:30
    clock.advance(days=1)
    await db.execute(sa.update(TrainingJob).where(TrainingJob.id == "r1").values(updated_at=clock.now()))
    with pytest.raises(SlotBusy):  # due, but the first run is still active (its heartbeat is fresh)
        await db.write(insert_retrain_job, db, "r3", clock.now(), cron)
    await db.execute(sa.update(TrainingJob).where(TrainingJob.id == "r1").values(status="completed"))
    clock.advance(days=3)  # three fire times missed while down: one run catches up
    assert await db.write(insert_retrain_job, db, "r4", clock.now(), cron)
    await db.execute(sa.update(TrainingJob).where(TrainingJob.id == "r4").values(status="completed"))
    assert not await db.write(insert_retrain_job, db, "r5", clock.now(), cron)


def chat(start, external_id: str, text: str, minutes: int, outbound: bool = False) -> InboundMessage:
    return InboundMessage(channel="telegram", external_id=external_id, thread_id="chat-1",
                          sender=None if outbound else Handle("phone", "+14155550100"), text=text,
                          sent_at=start + timedelta(minutes=minutes), direction=OUTBOUND if outbound else "inbound",
                          sender_name="Ana")


async def test_retraining_rebuilds_style_refreshes_examples_and_reports_progress(brain_hub, clock):
    start = clock.now() - timedelta(days=2)
    exchanges = [("Dinner tonight at 7?", "haha yes!! 😂 see u at 7"), ("Can you water my plants?", "lol sure thing 😂"),
                 ("I got the puppy!", "omg yes, love it 😍"),
                 ("Need a ride to the airport tomorrow?", "nah im good thx 😂"), ("Where are you now?", "yep!! on my way 🚗")]
    thread = []
    for index, (theirs, reply) in enumerate(exchanges):
        thread += [chat(start, f"in-{index}", theirs, 10 * index + 1),
                   chat(start, f"out-{index}", reply, 10 * index + 2, outbound=True)]
    await ingest(brain_hub.db, clock, thread, process=False)
    await brain_hub.db.write(lambda conn: conn.execute(sa.insert(LabelCorrection).values(
        task="priority", text="the water heater is leaking everywhere", label="urgent", created_at=clock.now())))
    ws = await brain_hub.client.ws_connect("/ws", headers=brain_hub.auth())
    job = (await call(brain_hub, "POST", "/api/training/retrain", 201))["job"]
    assert job["kind"] == "retrain"
    events = await until(ws, lambda e: e["job_id"] == job["id"] and e["status"] not in ACTIVE)
    await ws.close()
    assert events[-1]["status"] == "completed", events[-1]
    assert [e["phase"] for e in events if e["status"] == "training"][-3:] == ["style", "examples", "classifiers"]
    metrics = (await call(brain_hub, "GET", f"/api/training/jobs/{job['id']}", 200))["job"]["metrics"]
    assert {k: metrics["style"][k] for k in ("messages", "edits", "profiles")} == {"messages": 5, "edits": 0,
                                                                                 "profiles": 2}
    assert metrics["examples"]["exchanges"] == 5 and metrics["classifiers"] == {
        "status": "retrained", "corrections": 1, "seconds": metrics["classifiers"]["seconds"]}
    assert classifiers(brain_hub.app).metadata("priority")["corrections"] == 1  # the head was refitted with it
    rows = await brain_hub.db.rows(sa.select(StyleProfileRow).where(StyleProfileRow.owner_id == OWNER_ID))
    assert sorted(r.contact_id == "" for r in rows) == [False, True]
    assert all(r.profile["emoji_usage"] and r.samples_count == 5 for r in rows)
    bank = await brain_hub.app[BRAIN].examples()
    found = await bank.recall(user_id=OWNER_ID, contact_id=EXAMPLES_SCOPE, query="could you drive me to the airport",
                              top_k=1)
    assert found and "nah im good thx" in found[0].text


async def retrain_rows(hub) -> list:
    return await hub.db.rows(sa.select(TrainingJob).where(TrainingJob.kind == "retrain")
                             .order_by(TrainingJob.created_at))


async def finished(ws, job_id: str) -> str:
    """The status a job ended with, from /ws."""
    return (await until(ws, lambda e: e["job_id"] == job_id and e["status"] not in ACTIVE))[-1]["status"]


async def test_the_leading_scheduler_keeps_the_retraining_cron_and_starts_each_due_run_once(
        tmp_path, database_url, clock, bundled_llm, shared_embedder):
    cron = "30 3 * * *"
    settings = make_settings(tmp_path, database_url, training={"retrain_cron": cron})
    hub = await start_hub(settings, clock, brain=BrainServices(settings, llm=bundled_llm, embedder=shared_embedder))
    runtime = SchedulerRuntime(hub.app, leader_lock(hub.db.url, hub.db.is_sqlite), use_apscheduler=True)
    ws = await hub.client.ws_connect("/ws", headers=hub.auth())
    try:
        assert await runtime.try_lead()
        job = runtime.scheduler.get_job(CRON_JOB_ID)  # in APScheduler's store, in the hub's database
        assert job.func_ref == CRON_JOB_REF and job.args == (runtime.key,) and job.misfire_grace_time is None
        assert str(job.trigger) == str(cron_trigger(cron)) and job.next_run_time.strftime("%H:%M") == "03:30"
        (caught_up,) = await retrain_rows(hub)  # nothing ran before: taking the lead catches up once
        assert caught_up.options == {"scheduled": True} and await finished(ws, caught_up.id) == "completed"
        assert await asyncio.to_thread(scheduled_retrain, runtime.key) is None  # not due again yet
        clock.advance(days=1)
        second = await asyncio.to_thread(scheduled_retrain, runtime.key)  # what the stored job runs
        assert second and await finished(ws, second) == "completed"
        assert await asyncio.to_thread(scheduled_retrain, runtime.key) is None
        await runtime.stop()
        clock.advance(days=1)
        assert await asyncio.to_thread(scheduled_retrain, runtime.key) is None  # stepped down: starts nothing
        assert [r.id for r in await retrain_rows(hub)] == [caught_up.id, second]
    finally:
        await ws.close()
        if runtime.leading:
            await runtime.stop()
        await training_runner(hub.app).close()
        await hub.client.close()
