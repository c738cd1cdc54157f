"""Drafting through the pipeline with the real bundled model: inbound stored → pending suggestion."""

from __future__ import annotations

import json

import sqlalchemy as sa

from hub.drafting import DraftOptions, generate_suggestion
from storage.models import Message, Suggestion
from tests.hub.api.helpers import pair_device


def payload(guid, text, *, sender="+14155550100", thread="chat-john", name="John Doe", minute=0,
            direction="incoming"):
    return {"conversationImessageId": thread, "conversationDisplayName": name, "participantIds": [sender],
            "messages": [{"imessageGuid": guid, "senderId": sender, "direction": direction, "text": text,
                          "sentAt": f"2024-03-01T10:{minute:02d}:00Z"}]}


async def sync(hub, token, *args, **kwargs):
    resp = await hub.request("POST", "/api/sync/messages", token, json=payload(*args, **kwargs))
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def suggestions(hub):
    return await hub.db.rows(sa.select(Suggestion).order_by(Suggestion.id))


async def test_inbound_message_gets_a_pending_draft_and_an_ai_ready_event(brain_hub):
    paired = await pair_device(brain_hub)
    ws = await brain_hub.client.ws_connect(f"/ws?token={brain_hub.api_key}")
    await ws.receive(timeout=5)
    await sync(brain_hub, paired["token"], "g1", "Hi! Are you free on Saturday for a portrait session?")
    assert await brain_hub.worker.run_until_idle() == 1
    (suggestion,) = await suggestions(brain_hub)
    assert suggestion.status == "pending" and len(suggestion.body.strip()) > 5
    assert 0 < suggestion.confidence < 1
    assert suggestion.model_metadata["model"].startswith("SmolLM2")
    events = []
    while len(events) < 4:
        events.append(json.loads((await ws.receive(timeout=10)).data)["type"])
    assert "conversation:ai_ready" in events and "response:generating" in events
    await ws.close()


async def test_a_newer_inbound_supersedes_the_older_draft(brain_hub):
    paired = await pair_device(brain_hub)
    await sync(brain_hub, paired["token"], "s1", "Do you do weddings?")
    await brain_hub.worker.run_until_idle()
    await sync(brain_hub, paired["token"], "s2", "Also, what do you charge per hour?", minute=5)
    await brain_hub.worker.run_until_idle()
    rows = await suggestions(brain_hub)
    assert [r.status for r in rows] == ["superseded", "pending"]
    second = await brain_hub.db.scalar(sa.select(Message.id).where(Message.external_id == "s2"))
    assert rows[1].reply_to_message_id == second


async def test_draft_for_an_older_message_processed_late_is_born_superseded(brain_hub):
    paired = await pair_device(brain_hub)
    await sync(brain_hub, paired["token"], "o1", "Hello, quick question about prices", minute=1)
    await sync(brain_hub, paired["token"], "o2", "Sorry, actually about availability", minute=2)
    first = await brain_hub.db.scalar(sa.select(Message.id).where(Message.external_id == "o1"))
    late = await generate_suggestion(brain_hub.app, first, DraftOptions(max_tokens=24))
    assert late.status == "superseded"


async def test_no_draft_for_our_own_messages_groups_or_automated_senders(brain_hub):
    paired = await pair_device(brain_hub)
    await sync(brain_hub, paired["token"], "own", "I'll send the photos tonight", direction="outgoing")
    group = payload("grp", "Who is bringing snacks?", thread="chat-group")
    group["isGroup"] = True
    await brain_hub.request("POST", "/api/sync/messages", paired["token"], json=group)
    await brain_hub.worker.run_until_idle()
    assert await suggestions(brain_hub) == []


async def test_tones_change_the_draft(brain_hub):
    paired = await pair_device(brain_hub)
    await sync(brain_hub, paired["token"], "t1", "hey!! can u send me the price list for the family shoot?")
    message_id = await brain_hub.db.scalar(sa.select(Message.id))
    greedy = {"max_tokens": 48, "temperature": 0}  # deterministic: only the tone differs
    formal = await generate_suggestion(brain_hub.app, message_id, DraftOptions(tone="more_formal", **greedy))
    casual = await generate_suggestion(brain_hub.app, message_id, DraftOptions(tone="more_casual", **greedy))
    short = await generate_suggestion(brain_hub.app, message_id, DraftOptions(tone="shorter", **greedy))
    assert len({formal.body, casual.body, short.body}) == 3
    assert formal.model_metadata["formality"] > casual.model_metadata["formality"]
    assert len(short.body) <= 160
    assert formal.tone == "more_formal" and "more_formal" in formal.reasoning


async def test_a_fact_from_an_old_conversation_is_recalled_for_that_contact_only(brain_hub):
    paired = await pair_device(brain_hub)
    await sync(brain_hub, paired["token"], "lea-1", "My daughter Lea starts school on 3 March!",
               thread="chat-anna-old", sender="+14155550111", name="Anna")
    await brain_hub.worker.run_until_idle()
    await sync(brain_hub, paired["token"], "lea-2", "When does Lea start school again? I forgot what I told you",
               thread="chat-anna-new", sender="+14155550111", name="Anna", minute=30)
    await sync(brain_hub, paired["token"], "other-1", "When does Lea start school?",
               thread="chat-bob", sender="+14155550222", name="Bob", minute=31)
    await brain_hub.worker.run_until_idle()
    rows = {r.reply_to_message_id: r for r in await suggestions(brain_hub)}
    ids = {r.external_id: r.id for r in await brain_hub.db.rows(sa.select(Message.external_id, Message.id))}
    uids = {r.external_id: r.uid for r in await brain_hub.db.rows(sa.select(Message.external_id, Message.uid))}
    anna = [line for line in rows[ids["lea-2"]].context_used if line.startswith("memory:")]
    bob = [line for line in rows[ids["other-1"]].context_used if line.startswith("memory:")]
    assert any("3 March" in line and uids["lea-1"] in line for line in anna)
    assert not any("Lea" in line for line in bob)


async def test_a_spanish_message_gets_a_spanish_instruction(brain_hub):
    paired = await pair_device(brain_hub)
    await sync(brain_hub, paired["token"], "es1", "Hola, ¿tienes disponibilidad el sábado? ¿Cuánto cuesta la sesión?")
    await brain_hub.worker.run_until_idle()
    (suggestion,) = await suggestions(brain_hub)
    assert "in Spanish" in suggestion.reasoning


async def test_the_owners_past_reply_to_a_similar_message_is_used_as_an_example(brain_hub):
    paired = await pair_device(brain_hub)
    await sync(brain_hub, paired["token"], "x1", "What are your rates for a Saturday shoot?",
               thread="chat-ann", sender="+14155550301", name="Ann")
    await sync(brain_hub, paired["token"], "x2", "Saturdays are 150 euros per hour, two hours minimum",
               thread="chat-ann", sender="+14155550301", name="Ann", minute=2, direction="outgoing")
    await brain_hub.worker.run_until_idle()
    await sync(brain_hub, paired["token"], "y1", "How much do you charge for a Saturday photo session?",
               thread="chat-ben", sender="+14155550302", name="Ben", minute=10)
    await brain_hub.worker.run_until_idle()
    ben = await brain_hub.db.first(sa.select(Suggestion).join(Message, Message.id == Suggestion.reply_to_message_id)
                                   .where(Message.external_id == "y1"))
    assert "past_replies (1)" in ben.context_used
