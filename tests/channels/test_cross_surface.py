"""Approval cards on two surfaces at once: Telegram (the owner's chat) and Slack (an approval
channel) enabled in one hub, each against its fake server, drafts from the bundled model.

A decision taken on either surface sends the reply once, on the conversation's own channel, and
edits the card on every surface; a late tap anywhere sends nothing more. Inbound requests are
really signed (Slack's HMAC, Telegram's secret header); time moves with the FakeClock.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from channels import slack_blocks as sb
from hub.brain_services import BrainServices
from hub.clock import FakeClock
from hub.state import SETTINGS
from storage.models import ApprovalCardRow, Message, OutboxItem, Suggestion
from tests.channels.fakes import slack_webhooks as sl
from tests.channels.fakes import telegram_webhooks as tg
from tests.channels.fakes.slack_api import FakeSlackApi
from tests.channels.fakes.telegram_api import FakeTelegram, callback_update, message_update, reply_update
from tests.conftest import Hub, make_settings, start_hub

QUESTION = "Hi! Are you free on Saturday for a portrait session?"
JACKET = "Hi! Is the blue jacket in size M?"


@pytest.fixture
async def hub(tmp_path, database_url, clock, telegram_api, slack_api, bundled_llm,
              shared_embedder) -> AsyncIterator[Hub]:
    """Telegram and Slack both enabled, both approval surfaces, with the bundled model drafting."""
    settings = make_settings(tmp_path, database_url, server={"public_url": "https://hub.example"},
                             brain={"draft_max_tokens": 32},
                             channels={"telegram": tg.telegram_settings(telegram_api),
                                       "slack": sl.slack_settings(slack_api)})
    running = await start_hub(settings, clock, brain=BrainServices(settings, llm=bundled_llm,
                                                                   embedder=shared_embedder))
    yield running
    await running.client.close()


# -- what each surface shows ------------------------------------------------------------------------

def hh_mm(hub: Hub, clock: FakeClock) -> str:
    return f"{clock.now().astimezone(ZoneInfo(hub.app[SETTINGS].owner.timezone)):%H:%M}"


def slack_card(api: FakeSlackApi, index: int = -1) -> str:
    """A Slack card's blocks as the fake holds them now (edits applied), as JSON text."""
    return json.dumps(sl.cards(api)[index][1]["blocks"])


def slack_card_is_live(api: FakeSlackApi, index: int = -1) -> bool:
    return sl.has_buttons(sl.cards(api)[index][1]["blocks"])


def slack_sends_to_customers(api: FakeSlackApi) -> list[Any]:
    return [call for call in api.calls_to("chat.postMessage") if call.body.get("channel") != sl.APPROVALS]


def assert_both_cards_show(telegram_api: FakeTelegram, slack_api: FakeSlackApi, outcome: str, index: int = -1) -> None:
    """Both cards of one draft edited to show the outcome (or its start) last, their buttons gone."""
    telegram = tg.cards(telegram_api)[index]
    assert telegram["text"].split("\n")[-1].startswith(outcome) and "reply_markup" not in telegram
    assert outcome in slack_card(slack_api, index) and not slack_card_is_live(slack_api, index)


def assert_one_card_each(telegram_api: FakeTelegram, slack_api: FakeSlackApi, suggestion: sa.Row) -> None:
    (telegram,) = tg.cards(telegram_api)
    assert telegram["text"].startswith(f"📝 Draft #{suggestion.id}") and telegram["reply_markup"]
    assert len(slack_api.posts_to(sl.APPROVALS)) == 1
    assert sb.suggestion_id_of(sl.cards(slack_api)[0][1]["blocks"]) == suggestion.id
    assert slack_card_is_live(slack_api)


async def card_rows(hub: Hub) -> list[tuple[int, str, str]]:
    rows = await hub.db.rows(sa.select(ApprovalCardRow).order_by(ApprovalCardRow.id))
    return sorted((row.suggestion_id, row.surface, row.status) for row in rows)


async def suggestions(hub: Hub) -> list[sa.Row]:
    return await hub.db.rows(sa.select(Suggestion).order_by(Suggestion.id))


async def pending(hub: Hub) -> sa.Row:
    (suggestion,) = [s for s in await suggestions(hub) if s.status == "pending"]
    return suggestion


async def outbox_bodies(hub: Hub) -> list[str]:
    return [item.body for item in await hub.db.rows(sa.select(OutboxItem).order_by(OutboxItem.id))]


# -- what the owner and the customers do ---------------------------------------------------------------

async def drafted_from_telegram(hub: Hub, text: str = QUESTION) -> sa.Row:
    """A Telegram customer writes; the worker drafts and posts the cards. The pending draft."""
    assert await tg.deliver(hub, message_update(text)) == 200
    await hub.worker.run_until_idle()
    return await pending(hub)


async def drafted_from_slack(hub: Hub, text: str = JACKET) -> sa.Row:
    """A Slack customer writes in a DM; the worker drafts and posts the cards. The pending draft."""
    await sl.deliver(hub, sl.dm(hub, text))
    await hub.worker.run_until_idle()
    return await pending(hub)


async def telegram_tap(hub: Hub, api: FakeTelegram, data: str, card: int = -1) -> None:
    """Tap a button of a Telegram card as it was posted (an old card still shows its buttons)."""
    await tg.tap(hub, api, callback_update(data, message=tg.cards_as_posted(api)[card]))


async def slack_modal(hub: Hub, api: FakeSlackApi, action_id: str, text: str) -> None:
    """Press Edit or Reject on the Slack card, then submit the modal the hub opened with `text`."""
    await sl.click(hub, api, action_id, trigger_id=f"trigger-{action_id}")
    await sl.settle(hub)
    (opened,) = [call for call in api.calls_to("views.open") if call.body["trigger_id"] == f"trigger-{action_id}"]
    response = await sl.submit(hub, opened.body["view"], text)
    assert response.status == 200 and await response.read() == b""


# -- approve -------------------------------------------------------------------------------------------

async def test_approved_in_slack_sent_on_telegram_and_a_late_telegram_tap_sends_nothing(
        hub, telegram_api, slack_api, clock):
    suggestion = await drafted_from_telegram(hub)
    assert_one_card_each(telegram_api, slack_api, suggestion)
    assert await card_rows(hub) == [(suggestion.id, "slack", "pending"), (suggestion.id, "telegram", "pending")]

    await sl.click(hub, slack_api, sb.APPROVE)
    await hub.worker.run_until_idle()
    assert tg.texts_to(telegram_api, tg.CUSTOMER) == [suggestion.body]
    assert slack_sends_to_customers(slack_api) == []
    assert_both_cards_show(telegram_api, slack_api, f"Sent by Slack at {hh_mm(hub, clock)}")
    assert await card_rows(hub) == [(suggestion.id, "slack", "sent"), (suggestion.id, "telegram", "sent")]

    edits = len(telegram_api.calls_to("editMessageText")) + len(slack_api.calls_to("chat.update"))
    await telegram_tap(hub, telegram_api, f"a:{suggestion.id}")  # waits until the hub has answered the tap
    await hub.worker.run_until_idle()
    assert tg.texts_to(telegram_api, tg.CUSTOMER) == [suggestion.body]
    assert await outbox_bodies(hub) == [suggestion.body]
    assert len(telegram_api.calls_to("editMessageText")) + len(slack_api.calls_to("chat.update")) == edits
    assert_both_cards_show(telegram_api, slack_api, f"Sent by Slack at {hh_mm(hub, clock)}")


async def test_approved_in_telegram_a_slack_conversation_is_answered_on_slack(hub, telegram_api, slack_api, clock):
    suggestion = await drafted_from_slack(hub)
    assert_one_card_each(telegram_api, slack_api, suggestion)
    await telegram_tap(hub, telegram_api, f"a:{suggestion.id}")
    await hub.worker.run_until_idle()
    (sent,) = slack_sends_to_customers(slack_api)
    assert (sent.body["channel"], sent.body["text"]) == (sl.CUSTOMER, sb.escape(suggestion.body))
    assert tg.texts_to(telegram_api, tg.CUSTOMER) == []
    assert_both_cards_show(telegram_api, slack_api, f"Sent by Telegram at {hh_mm(hub, clock)}")
    await sl.click(hub, slack_api, sb.APPROVE)  # a late click on the (still displayed) Slack card
    await hub.worker.run_until_idle()
    assert len(slack_sends_to_customers(slack_api)) == 1


async def test_one_update_five_times_at_once_then_approved_on_both_surfaces_at_once(hub, telegram_api, slack_api):
    update = message_update(QUESTION)
    assert await asyncio.gather(*(tg.deliver(hub, update) for _ in range(5))) == [200] * 5
    assert len(await hub.db.rows(sa.select(Message))) == 1
    await hub.worker.run_until_idle()
    (suggestion,) = await suggestions(hub)
    assert_one_card_each(telegram_api, slack_api, suggestion)
    await asyncio.gather(telegram_tap(hub, telegram_api, f"a:{suggestion.id}"),
                         sl.click(hub, slack_api, sb.APPROVE), sl.click(hub, slack_api, sb.APPROVE))
    await hub.worker.run_until_idle()
    assert tg.texts_to(telegram_api, tg.CUSTOMER) == [suggestion.body]
    assert slack_sends_to_customers(slack_api) == [] and await outbox_bodies(hub) == [suggestion.body]
    decided = await hub.db.scalar(sa.select(Suggestion.decided_via).where(Suggestion.id == suggestion.id))
    winner = {"slack": "Slack", "telegram": "Telegram"}[decided.split(":", 1)[0]]
    assert_both_cards_show(telegram_api, slack_api, f"Sent by {winner} at")
    assert await card_rows(hub) == [(suggestion.id, "slack", "sent"), (suggestion.id, "telegram", "sent")]


# -- reject --------------------------------------------------------------------------------------------

async def test_rejected_in_telegram_with_a_reason_shows_on_the_slack_card(hub, telegram_api, slack_api):
    suggestion = await drafted_from_telegram(hub)
    await telegram_tap(hub, telegram_api, f"r:{suggestion.id}")
    prompt = await tg.prompt_for(telegram_api, "Reject", suggestion.id)
    assert await tg.deliver(hub, reply_update("too formal", to=prompt)) == 200
    await hub.worker.run_until_idle()
    (update,) = slack_api.calls_to("chat.update")
    assert "Rejected: too formal" in json.dumps(update.body["blocks"])
    assert_both_cards_show(telegram_api, slack_api, "Rejected: too formal")
    assert tg.texts_to(telegram_api, tg.CUSTOMER) == [] and slack_sends_to_customers(slack_api) == []
    await sl.click(hub, slack_api, sb.APPROVE)  # the Slack card was open in another window
    await hub.worker.run_until_idle()
    assert tg.texts_to(telegram_api, tg.CUSTOMER) == [] and await outbox_bodies(hub) == []


async def test_rejected_in_slack_with_a_reason_shows_on_the_telegram_card(hub, telegram_api, slack_api):
    suggestion = await drafted_from_slack(hub)
    await slack_modal(hub, slack_api, sb.REJECT, "wrong size quoted")
    await hub.worker.run_until_idle()
    row = (await suggestions(hub))[0]
    assert (row.status, row.rejection_reason) == ("rejected", "wrong size quoted")
    assert_both_cards_show(telegram_api, slack_api, "Rejected: wrong size quoted")
    await telegram_tap(hub, telegram_api, f"a:{suggestion.id}")  # a late tap on the old Telegram card
    await hub.worker.run_until_idle()
    assert slack_sends_to_customers(slack_api) == [] and await outbox_bodies(hub) == []


# -- edit ----------------------------------------------------------------------------------------------

async def test_edited_in_the_slack_modal_the_edited_text_goes_out_on_telegram(hub, telegram_api, slack_api, clock):
    suggestion = await drafted_from_telegram(hub)
    await slack_modal(hub, slack_api, sb.EDIT, "Saturday at 10 works & I'll bring the lights.")
    await hub.worker.run_until_idle()
    assert tg.texts_to(telegram_api, tg.CUSTOMER) == ["Saturday at 10 works & I'll bring the lights."]
    assert slack_sends_to_customers(slack_api) == []
    assert_both_cards_show(telegram_api, slack_api, f"Sent by Slack at {hh_mm(hub, clock)}")
    assert "Saturday at 10 works & I'll bring the lights." in tg.cards(telegram_api)[0]["text"]
    assert sb.draft_of(sl.cards(slack_api)[0][1]["blocks"]) == "Saturday at 10 works & I'll bring the lights."
    await telegram_tap(hub, telegram_api, f"a:{suggestion.id}")  # the unedited draft is not sent after all
    await hub.worker.run_until_idle()
    assert len(tg.texts_to(telegram_api, tg.CUSTOMER)) == 1


@pytest.mark.parametrize("how", ["edit button, then a reply to the prompt", "a reply to the card itself"])
async def test_edited_in_telegram_the_edited_text_goes_out_on_slack(hub, telegram_api, slack_api, clock, how):
    suggestion = await drafted_from_slack(hub)
    replied_to = tg.cards_as_posted(telegram_api)[-1]
    if how.startswith("edit button"):
        await telegram_tap(hub, telegram_api, f"e:{suggestion.id}")
        replied_to = await tg.prompt_for(telegram_api, "Edit", suggestion.id)
    assert await tg.deliver(hub, reply_update("Yes, size M is in stock & ships today.", to=replied_to)) == 200
    await hub.worker.run_until_idle()
    (sent,) = slack_sends_to_customers(slack_api)
    assert (sent.body["channel"], sent.body["text"]) == (sl.CUSTOMER, "Yes, size M is in stock &amp; ships today.")
    assert await outbox_bodies(hub) == ["Yes, size M is in stock & ships today."]
    assert_both_cards_show(telegram_api, slack_api, f"Sent by Telegram at {hh_mm(hub, clock)}")
    await sl.click(hub, slack_api, sb.APPROVE)  # a late click on the Slack card sends nothing more
    await hub.worker.run_until_idle()
    assert len(slack_sends_to_customers(slack_api)) == 1 and tg.texts_to(telegram_api, tg.CUSTOMER) == []


# -- regenerate and supersede ------------------------------------------------------------------------

async def test_regenerated_in_slack_with_a_tone_new_cards_follow_and_the_new_draft_is_sent(
        hub, telegram_api, slack_api):
    old = await drafted_from_telegram(hub)
    await sl.click(hub, slack_api, sb.REGENERATE, tone="shorter")
    await hub.worker.run_until_idle()
    first, new = await suggestions(hub)
    assert (first.id, first.status, new.status, new.tone) == (old.id, "superseded", "pending", "shorter")
    assert_both_cards_show(telegram_api, slack_api, "Superseded by a newer draft", index=0)
    assert tg.cards(telegram_api)[1]["text"].startswith(f"📝 Draft #{new.id}")
    assert sb.suggestion_id_of(sl.cards(slack_api)[1][1]["blocks"]) == new.id and slack_card_is_live(slack_api, 1)
    await telegram_tap(hub, telegram_api, f"a:{old.id}", card=0)  # the superseded card's button
    await hub.worker.run_until_idle()
    assert tg.texts_to(telegram_api, tg.CUSTOMER) == []
    await telegram_tap(hub, telegram_api, f"a:{new.id}")
    await hub.worker.run_until_idle()
    assert tg.texts_to(telegram_api, tg.CUSTOMER) == [new.body] and await outbox_bodies(hub) == [new.body]
    assert_both_cards_show(telegram_api, slack_api, "Sent by Telegram at")


async def test_regenerated_in_telegram_with_a_tone_the_slack_card_follows(hub, telegram_api, slack_api):
    old = await drafted_from_slack(hub)
    await telegram_tap(hub, telegram_api, f"t:{old.id}:more_formal")
    await hub.worker.run_until_idle()
    first, new = await suggestions(hub)
    assert (first.status, new.status, new.tone) == ("superseded", "pending", "more_formal")
    assert_both_cards_show(telegram_api, slack_api, "Superseded by a newer draft", index=0)
    await sl.click(hub, slack_api, sb.APPROVE, card=1)
    await hub.worker.run_until_idle()
    (sent,) = slack_sends_to_customers(slack_api)
    assert sent.body["text"] == sb.escape(new.body)
    assert_both_cards_show(telegram_api, slack_api, "Sent by Slack at")


async def test_a_newer_message_supersedes_both_cards_and_new_cards_follow(hub, telegram_api, slack_api):
    old = await drafted_from_telegram(hub)
    newer = await drafted_from_telegram(hub, "Or Sunday morning, if Saturday is taken?")
    assert (await hub.db.scalar(sa.select(Suggestion.status).where(Suggestion.id == old.id))) == "superseded"
    assert_both_cards_show(telegram_api, slack_api, "Superseded by a newer draft", index=0)
    new_telegram = tg.cards(telegram_api)[1]
    assert new_telegram["text"].startswith(f"📝 Draft #{newer.id}") and new_telegram["reply_markup"]
    assert len(slack_api.posts_to(sl.APPROVALS)) == 2
    assert sb.suggestion_id_of(sl.cards(slack_api)[1][1]["blocks"]) == newer.id and slack_card_is_live(slack_api, 1)
    assert await card_rows(hub) == [(old.id, "slack", "superseded"), (old.id, "telegram", "superseded"),
                                    (newer.id, "slack", "pending"), (newer.id, "telegram", "pending")]
    await sl.click(hub, slack_api, sb.APPROVE, card=0)  # the superseded Slack card, still on screen
    await hub.worker.run_until_idle()
    assert tg.texts_to(telegram_api, tg.CUSTOMER) == [] and await outbox_bodies(hub) == []
