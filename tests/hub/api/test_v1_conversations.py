"""Seed 003 /api/v1/conversations over real HTTP: filters, thread, approve/reject/reply/regenerate,
archive, stats, and FastAPI-style errors."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import sqlalchemy as sa

from channels.base import Handle, InboundMessage
from hub.pipeline import ingest
from hub.state import CHANNELS
from storage.models import Message, OutboxItem, Suggestion, new_uid
from tests.hub.test_dispatch import RecordingChannel

BASE = "/api/v1/conversations"


async def seed_conversation(hub, clock, thread="t1", name="John Doe", email="john@example.com", text="Can you send examples?",
                            subject="Website project", minutes=0):
    message = InboundMessage(channel="email", external_id=f"<{thread}-{minutes}@x>", thread_id=thread,
                             sender=Handle("email", email), sender_name=name, text=text, subject=subject,
                             sent_at=clock.now() - timedelta(minutes=60 - minutes))
    result = await ingest(hub.db, clock, [message], process=False)
    return result.conversation_id, result.stored[0].id


async def add_suggestion(hub, clock, conversation_id, message_id, body="Hi John! Absolutely, here are examples."):
    return await hub.db.write(lambda conn: conn.execute(sa.insert(Suggestion).values(
        uid=new_uid(), conversation_id=conversation_id, reply_to_message_id=message_id, status="pending",
        subject="Re: Website project", body=body, confidence=0.8, context_used=["conversation_history"],
        reasoning="test", model_metadata={"provider": "replydesk", "model": "m", "tokens_used": 10},
        created_at=clock.now())).inserted_primary_key[0])


def use_fake_email(hub):
    fake = RecordingChannel([])
    fake.name = "email"
    hub.app[CHANNELS]["email"] = fake
    return fake


async def test_list_filters_sorts_and_pages(hub, clock):
    a, am = await seed_conversation(hub, clock, "t1", "John Doe", minutes=1)
    b, _ = await seed_conversation(hub, clock, "t2", "Ana Lima", "ana@example.com", subject="Logo design", minutes=2)
    await seed_conversation(hub, clock, "t3", "Zed", "zed@example.com", subject="Other", minutes=3)
    await add_suggestion(hub, clock, a, am)
    body = await (await hub.request("GET", f"{BASE}?page=1&page_size=2&sort_by=last_message_at&sort_order=desc")).json()
    assert body["total"] == 3 and body["has_more"] is True and len(body["conversations"]) == 2
    assert [c["subject"] for c in body["conversations"]] == ["Other", "Logo design"]
    pending = await (await hub.request("GET", f"{BASE}?has_pending_suggestion=true")).json()
    assert [c["id"] for c in pending["conversations"]] == [a]
    assert pending["conversations"][0]["lead"]["email"] == "john@example.com"
    found = await (await hub.request("GET", f"{BASE}?search=lima")).json()
    assert [c["id"] for c in found["conversations"]] == [b]
    lead = found["conversations"][0]["lead"]["id"]
    assert [c["id"] for c in (await (await hub.request("GET", f"{BASE}?lead_id={lead}")).json())["conversations"]] == [b]
    assert (await (await hub.request("GET", f"{BASE}?status=archived")).json())["total"] == 0


async def test_thread_and_current_suggestion(hub, clock):
    conversation_id, message_id = await seed_conversation(hub, clock)
    resp = await hub.request("GET", f"{BASE}/{conversation_id}/ai-suggestion")
    assert resp.status == 404 and "detail" in await resp.json()
    suggestion_id = await add_suggestion(hub, clock, conversation_id, message_id)
    thread = await (await hub.request("GET", f"{BASE}/{conversation_id}")).json()
    assert thread["messages"][0]["sender"] == {"email": "john@example.com", "name": "John Doe"}
    assert thread["messages"][0]["body_text"] == "Can you send examples?"
    assert [s["id"] for s in thread["pending_suggestions"]] == [suggestion_id]
    current = await (await hub.request("GET", f"{BASE}/{conversation_id}/ai-suggestion")).json()
    assert current["suggested_body"].startswith("Hi John")
    assert current["sentiment_analysis"]["questions_asked"] == ["Can you send examples?"]
    assert set(current["ai_metadata"]) == {"provider", "model", "tokens_used", "cost"}


async def test_approve_sends_once_then_answers_already_approved(hub, clock):
    fake = use_fake_email(hub)
    conversation_id, message_id = await seed_conversation(hub, clock)
    suggestion_id = await add_suggestion(hub, clock, conversation_id, message_id)
    ws = await hub.client.ws_connect(f"/ws?token={hub.api_key}")
    await ws.receive(timeout=5)
    taps = await asyncio.gather(*(hub.request("POST", f"{BASE}/{conversation_id}/approve",
                                              json={"suggestion_id": suggestion_id, "edited_body": None})
                                  for _ in range(3)))
    bodies = [await t.json() for t in taps]
    ok = [b for t, b in zip(taps, bodies) if t.status == 200]
    assert len(ok) == 1 and ok[0]["message"] == "Reply sent successfully"
    assert ok[0]["data"]["message_id"] and ok[0]["data"]["postmark_message_id"] == "p1"
    assert sorted(t.status for t in taps) == [200, 400, 400]
    assert all(b == {"detail": "Suggestion already approved. Cannot approve."} for t, b in zip(taps, bodies)
               if t.status == 400)
    assert len(fake.sent) == 1 and fake.sent[0].text.startswith("Hi John")
    thread = await (await hub.request("GET", f"{BASE}/{conversation_id}")).json()
    assert thread["status"] == "waiting" and thread["messages"][-1]["direction"] == "outbound"
    types = set()
    while "conversation:sent" not in types:
        types.add(json.loads((await ws.receive(timeout=5)).data)["type"])
    await ws.close()


async def test_approve_with_edits_reject_and_custom_reply(hub, clock):
    fake = use_fake_email(hub)
    conversation_id, message_id = await seed_conversation(hub, clock)
    first = await add_suggestion(hub, clock, conversation_id, message_id)
    resp = await hub.request("POST", f"{BASE}/{conversation_id}/approve",
                             json={"suggestion_id": first, "edited_body": "Edited: here you go."})
    assert resp.status == 200 and fake.sent[-1].text == "Edited: here you go."
    second = await add_suggestion(hub, clock, conversation_id, message_id)
    resp = await hub.request("POST", f"{BASE}/{conversation_id}/reject", json={"suggestion_id": second, "reason": "Too casual"})
    assert await resp.json() == {"success": True, "message": "AI suggestion rejected", "data": {"suggestion_id": second}}
    assert (await hub.db.first(sa.select(Suggestion).where(Suggestion.id == second))).rejection_reason == "Too casual"
    headers = {"Idempotency-Key": "abc"}
    resp = await hub.request("POST", f"{BASE}/{conversation_id}/reply", json={"body": "Custom text", "subject": "Re: x"},
                             headers=headers)
    assert resp.status == 200 and (await resp.json())["message"] == "Custom reply sent successfully"
    resp = await hub.request("POST", f"{BASE}/{conversation_id}/reply", json={"body": "Custom text"}, headers=headers)
    assert resp.status == 400
    assert [m.text for m in fake.sent] == ["Edited: here you go.", "Custom text"]


async def test_archive_and_stats(hub, clock):
    use_fake_email(hub)
    conversation_id, message_id = await seed_conversation(hub, clock)
    suggestion_id = await add_suggestion(hub, clock, conversation_id, message_id)
    await hub.request("POST", f"{BASE}/{conversation_id}/approve", json={"suggestion_id": suggestion_id})
    other, _ = await seed_conversation(hub, clock, "t9", "Bo", "bo@example.com", minutes=5)
    resp = await hub.request("PATCH", f"{BASE}/{other}/archive", json={"reason": "Lead not interested"})
    assert (await resp.json())["data"]["conversation_id"] == other
    stats = await (await hub.request("GET", f"{BASE}/stats")).json()
    assert stats["total_conversations"] == 2 and stats["archived_conversations"] == 1
    assert stats["waiting_for_response"] == 1
    assert stats["emails_received_week"] == 2 and stats["emails_sent_week"] == 1
    assert stats["ai_suggestions_generated_week"] == 1 and stats["ai_approval_rate_week"] == 100.0
    assert stats["avg_response_time_hours"] is not None and stats["avg_response_time_hours"] > 0.9


async def test_regenerate_with_a_tone(brain_hub, clock):
    conversation_id, message_id = await seed_conversation(brain_hub, clock, text="hey can u send the price list?")
    old = await add_suggestion(brain_hub, clock, conversation_id, message_id)
    resp = await brain_hub.request("POST", f"{BASE}/{conversation_id}/regenerate",
                                   json={"message_id": message_id, "tone": "more_formal", "custom_prompt": "Mention prices"})
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["status"] == "pending" and body["id"] != old and body["suggested_body"]
    assert "more_formal" in body["ai_reasoning"] and "tone_adjustment" in body["context_used"]
    assert (await brain_hub.db.first(sa.select(Suggestion).where(Suggestion.id == old))).status == "superseded"


async def test_errors_use_the_fastapi_shapes(hub, clock):
    conversation_id, _ = await seed_conversation(hub, clock)
    resp = await hub.request("GET", f"{BASE}/999")
    assert resp.status == 404 and await resp.json() == {"detail": "Conversation 999 not found"}
    resp = await hub.request("POST", f"{BASE}/{conversation_id}/approve", json={"suggestion_id": "five"})
    body = await resp.json()
    assert resp.status == 422 and body["detail"][0]["loc"] == ["body", "suggestion_id"]
    resp = await hub.request("POST", f"{BASE}/{conversation_id}/approve", data=b"{oops",
                             headers={"Content-Type": "application/json"})
    assert resp.status == 422 and body["detail"]
    resp = await hub.request("POST", f"{BASE}/{conversation_id}/regenerate", json={"tone": "sarcastic"})
    assert resp.status == 422
    resp = await hub.request("GET", f"{BASE}?page_size=500")
    assert resp.status == 422 and (await resp.json())["detail"][0]["loc"] == ["query", "page_size"]
    resp = await hub.request("POST", f"{BASE}/{conversation_id}/approve", json={"suggestion_id": 12345})
    assert resp.status == 404 and "Suggestion 12345" in (await resp.json())["detail"]
    resp = await hub.client.get(BASE)
    assert resp.status == 401 and "detail" in await resp.json()
