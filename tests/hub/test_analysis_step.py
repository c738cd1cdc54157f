"""The analysis step of the pipeline (hub/analysis_step.py) with the real MiniLM and bundled LLM: every
inbound message gets its analysis stored; an acknowledgement gets no draft, a price question gets one
that carries the analysis to its approval card."""

from __future__ import annotations

import sqlalchemy as sa

from hub.approvals import _card_data, build_card
from storage.models import Message, Suggestion
from tests.hub.api.helpers import pair_device
from tests.hub.test_drafting import sync


async def stored(hub, guid):
    message = await hub.db.first(sa.select(Message).where(Message.external_id == guid))
    drafts = await hub.db.rows(sa.select(Suggestion).where(Suggestion.reply_to_message_id == message.id))
    return message, drafts


async def test_an_acknowledgement_is_analysed_and_not_drafted(brain_hub):
    paired = await pair_device(brain_hub)
    await sync(brain_hub, paired["token"], "ack", "ok thanks 👍")
    await brain_hub.worker.run_until_idle()
    message, drafts = await stored(brain_hub, "ack")
    assert message.analysis["needs_reply"] is False and "low priority" in message.analysis["reasons"][0]
    assert message.analysis["triage"]["priority"] == "low"
    assert drafts == []


async def test_a_price_question_is_drafted_with_its_sales_intent(brain_hub):
    paired = await pair_device(brain_hub)
    await sync(brain_hub, paired["token"], "hi", "Hi! I love your portraits", minute=0)
    await sync(brain_hub, paired["token"], "ask", "how much for a 2h session on Friday?", minute=1)
    await brain_hub.worker.run_until_idle()
    message, drafts = await stored(brain_hub, "ask")
    analysis = message.analysis
    assert analysis["needs_reply"] is True and analysis["sales"]["intent"] == "price_inquiry"
    assert analysis["agreement"]["negotiation_stage"] == "inquiry"
    assert analysis["sales"]["evidence"]["cues"]["price"] == "how much"
    (draft,) = drafts
    assert draft.status == "pending" and draft.analysis["sales"]["intent"] == "price_inquiry"
    card = build_card(brain_hub.app, await brain_hub.db.read(_card_data, draft.id))
    assert card.signals["sales"]["intent"] == "price_inquiry" and "priority" in card.signals["triage"]


async def test_the_owners_own_messages_are_not_analysed(brain_hub):
    paired = await pair_device(brain_hub)
    await sync(brain_hub, paired["token"], "mine", "It's $150 for the hour", direction="outgoing")
    await brain_hub.worker.run_until_idle()
    message, drafts = await stored(brain_hub, "mine")
    assert message.analysis is None and drafts == []
