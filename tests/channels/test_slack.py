"""Slack end to end: really signed webhooks into the real app over HTTP, the real slack_sdk client
talking to a fake Slack Web API on port 0, drafts from the bundled model, time moved by the clock."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from channels import slack_blocks as sb
from channels.base import OutboundMessage, SendResult
from channels.slack import SlackChannel
from hub.brain_services import BrainServices
from storage.models import ApprovalCardRow, Conversation, Message, OutboxItem, Suggestion
from tests.channels.fakes.slack_api import FakeSlackApi
from tests.channels.fakes.slack_webhooks import (APPROVALS, CUSTOMER, EVENTS, INTERACTIVITY, SECRET, cards, click,
                                                 click_payload, deliver, dm, envelope, form, post, settle, signed,
                                                 slack_settings, slack_ts, submit)
from tests.conftest import Hub, make_settings, start_hub

SUPPORT = "C0SUPPORT"


@pytest.fixture
async def slack_hub(tmp_path, database_url, clock, slack_api, bundled_llm, shared_embedder) -> AsyncIterator[Hub]:
    settings = make_settings(tmp_path, database_url, brain={"draft_max_tokens": 32},
                             channels={"slack": slack_settings(slack_api)})
    hub = await start_hub(settings, clock, brain=BrainServices(settings, llm=bundled_llm, embedder=shared_embedder))
    yield hub
    await hub.client.close()


def sent_ts(api: FakeSlackApi, channel: str) -> str:
    (ts,) = [ts for (c, ts) in api.messages if c == channel]
    return ts


async def rows(hub: Hub, model: Any) -> list[Any]:
    return await hub.db.rows(sa.select(model).order_by(model.id))


async def one_pending_card(hub: Hub, api: FakeSlackApi, text: str = "Hi! Is the blue jacket in size M?") -> Any:
    await deliver(hub, dm(hub, text))
    await hub.worker.run_until_idle()
    (suggestion,) = [s for s in await rows(hub, Suggestion) if s.status == "pending"]
    return suggestion


async def test_url_verification_and_ssl_check(slack_hub):
    response = await post(slack_hub, EVENTS, json.dumps({"type": "url_verification", "token": "legacy",
                                                         "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY"}).encode())
    assert response.status == 200 and await response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY"}
    for path in (EVENTS, INTERACTIVITY):
        probe = await slack_hub.client.post(path, data=b"ssl_check=1&token=legacy",
                                            headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert probe.status == 200 and await probe.read() == b""
    assert await rows(slack_hub, Message) == []


async def test_a_message_is_stored_drafted_and_carded_in_the_approval_channel(slack_hub, slack_api):
    ts = slack_ts(slack_hub)
    await deliver(slack_hub, dm(slack_hub, "Hi! Is the blue jacket in size M?", ts=ts,
                                user_profile={"display_name": "Ann"}))
    (message,) = await rows(slack_hub, Message)  # stored before the 200
    assert (message.external_id, message.sender_handle, message.direction) == (
        f"{CUSTOMER}:{ts}", "slack:UCUSTOMER", "inbound")
    await slack_hub.worker.run_until_idle()
    (suggestion,) = await rows(slack_hub, Suggestion)
    assert suggestion.status == "pending" and suggestion.body.strip()
    (post_call,) = slack_api.posts_to(APPROVALS)
    assert post_call.authorization == "Bearer xoxb-test-token"
    blocks = post_call.body["blocks"]
    assert sb.suggestion_id_of(blocks) == suggestion.id and blocks[0]["text"]["text"] == "Ann on Slack"
    assert sb.draft_of(blocks) == suggestion.body
    buttons = [e for b in blocks if b["type"] == "actions" for e in b["elements"] if e["type"] == "button"]
    assert [e["action_id"] for e in buttons] == [sb.APPROVE, sb.EDIT, sb.REJECT, sb.REGENERATE]
    assert {e["value"] for e in buttons} == {str(suggestion.id)}
    (row,) = await rows(slack_hub, ApprovalCardRow)
    assert row.reference == f"{APPROVALS}:{cards(slack_api)[0][0]}"


async def test_forged_stale_and_unsigned_requests_are_rejected_and_store_nothing(slack_hub, clock):
    body = envelope(dm(slack_hub, "Hi, forged"))
    forged = await post(slack_hub, EVENTS, body, secret="not-the-secret")
    assert forged.status == 401
    timestamp = int(clock.now().timestamp())
    clock.advance(seconds=301)
    stale = await slack_hub.client.post(EVENTS, data=body, headers=signed(body, timestamp))
    assert stale.status == 401
    unsigned = await slack_hub.client.post(EVENTS, data=body)
    assert unsigned.status == 401
    tampered = await slack_hub.client.post(EVENTS, data=body.replace(b"forged", b"FORGED"),
                                           headers=signed(body, int(clock.now().timestamp())))
    assert tampered.status == 401
    assert await rows(slack_hub, Message) == [] and await rows(slack_hub, Conversation) == []


async def test_a_forged_or_replayed_click_is_rejected_and_decides_nothing(slack_hub, slack_api, clock):
    await one_pending_card(slack_hub, slack_api)
    body = form(click_payload(slack_api, sb.APPROVE))
    forged = await post(slack_hub, INTERACTIVITY, body, secret="not-the-secret")
    timestamp = int(clock.now().timestamp())
    clock.advance(seconds=301)
    replayed = await slack_hub.client.post(INTERACTIVITY, data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", **signed(body, timestamp)})
    assert (forged.status, replayed.status) == (401, 401)
    await slack_hub.worker.run_until_idle()
    assert slack_api.posts_to(CUSTOMER) == [] and slack_api.calls_to("chat.update") == []
    assert [s.status for s in await rows(slack_hub, Suggestion)] == ["pending"]
    await click(slack_hub, slack_api, sb.APPROVE)  # the same click, really signed now, is taken
    await slack_hub.worker.run_until_idle()
    assert len(slack_api.posts_to(CUSTOMER)) == 1


async def test_one_event_delivered_five_times_at_once_is_stored_once_carded_once_sent_once(slack_hub, slack_api):
    body = envelope(dm(slack_hub, "Hello, do you ship to Canada?"), event_id="EvRetried")
    retries = [{}] + [{"X-Slack-Retry-Num": str(n), "X-Slack-Retry-Reason": "http_timeout"} for n in (1, 2, 3, 1)]
    responses = await asyncio.gather(*(post(slack_hub, EVENTS, body, headers=h) for h in retries))
    assert [r.status for r in responses] == [200] * 5
    assert len(await rows(slack_hub, Message)) == 1
    await slack_hub.worker.run_until_idle()
    assert len(slack_api.posts_to(APPROVALS)) == 1 and len(await rows(slack_hub, Suggestion)) == 1
    await click(slack_hub, slack_api, sb.APPROVE)
    await slack_hub.worker.run_until_idle()
    assert len(slack_api.posts_to(CUSTOMER)) == 1


async def test_approve_tapped_twice_sends_once_and_the_card_shows_the_outcome(slack_hub, slack_api):
    suggestion = await one_pending_card(slack_hub, slack_api)
    await asyncio.gather(click(slack_hub, slack_api, sb.APPROVE), click(slack_hub, slack_api, sb.APPROVE))
    await slack_hub.worker.run_until_idle()
    await click(slack_hub, slack_api, sb.APPROVE)  # a late third tap
    await slack_hub.worker.run_until_idle()
    (sent,) = slack_api.posts_to(CUSTOMER)
    assert sent.body["text"] == sb.escape(suggestion.body) and "thread_ts" not in sent.body
    (item,) = await rows(slack_hub, OutboxItem)
    assert item.status == "sent" and item.provider_message_id == f"{CUSTOMER}:{sent_ts(slack_api, CUSTOMER)}"
    final = cards(slack_api)[0][1]["blocks"]
    assert not [b for b in final if b["type"] == "actions"]
    assert "Sent by Slack at" in json.dumps(final)
    echo = [m for m in await rows(slack_hub, Message) if m.direction == "outbound"]
    assert [m.external_id for m in echo] == [item.provider_message_id]


async def test_edit_opens_a_prefilled_modal_and_sends_the_edited_text(slack_hub, slack_api):
    suggestion = await one_pending_card(slack_hub, slack_api)
    await click(slack_hub, slack_api, sb.EDIT, trigger_id="trigger-edit")
    await settle(slack_hub)
    (opened,) = slack_api.calls_to("views.open")
    assert opened.body["trigger_id"] == "trigger-edit"
    view = opened.body["view"]
    assert view["blocks"][0]["element"]["initial_value"] == suggestion.body
    assert slack_api.posts_to(CUSTOMER) == [] and (await rows(slack_hub, Suggestion))[0].status == "pending"
    response = await submit(slack_hub, view, "Yes, size M is in stock & ships today.")
    assert response.status == 200 and await response.read() == b""
    await slack_hub.worker.run_until_idle()
    (sent,) = slack_api.posts_to(CUSTOMER)
    assert sent.body["text"] == "Yes, size M is in stock &amp; ships today."
    (item,) = await rows(slack_hub, OutboxItem)
    assert item.body == "Yes, size M is in stock & ships today."


async def test_reject_asks_for_a_reason_and_the_card_shows_it(slack_hub, slack_api):
    await one_pending_card(slack_hub, slack_api)
    await click(slack_hub, slack_api, sb.REJECT, trigger_id="trigger-reject")
    await settle(slack_hub)
    (opened,) = slack_api.calls_to("views.open")
    assert opened.body["view"]["callback_id"] == sb.REJECT_VIEW
    await submit(slack_hub, opened.body["view"], "too formal")
    await slack_hub.worker.run_until_idle()
    (suggestion,) = await rows(slack_hub, Suggestion)
    assert suggestion.status == "rejected" and suggestion.rejection_reason == "too formal"
    assert slack_api.posts_to(CUSTOMER) == []
    (update,) = slack_api.calls_to("chat.update")
    assert "Rejected: too formal" in json.dumps(update.body["blocks"])
    assert not [b for b in update.body["blocks"] if b["type"] == "actions"]


async def test_regenerate_with_a_tone_supersedes_the_card_and_posts_a_new_one(slack_hub, slack_api):
    old = await one_pending_card(slack_hub, slack_api)
    await click(slack_hub, slack_api, sb.REGENERATE, tone="shorter")
    await slack_hub.worker.run_until_idle()
    first, second = await rows(slack_hub, Suggestion)
    assert (first.id, first.status) == (old.id, "superseded")
    assert (second.status, second.tone) == ("pending", "shorter")
    (update,) = slack_api.calls_to("chat.update")
    assert update.body["ts"] == cards(slack_api)[0][0] and "Superseded" in json.dumps(update.body["blocks"])
    assert not [b for b in update.body["blocks"] if b["type"] == "actions"]
    assert len(slack_api.posts_to(APPROVALS)) == 2
    assert sb.suggestion_id_of(cards(slack_api)[1][1]["blocks"]) == second.id


async def test_bots_our_own_messages_and_system_subtypes_are_ignored(slack_hub, slack_api):
    base = dm(slack_hub, "Automated notice")
    ignored = [{**base, "bot_id": "B999"}, {**base, "subtype": "bot_message", "bot_id": "B999"},
               {**base, "user": "UBOT"}, {**base, "subtype": "channel_join", "text": "<@U1> has joined"},
               {**base, "subtype": "channel_topic", "topic": "prices"}, {**base, "subtype": "channel_leave"}]
    for n, event in enumerate(ignored):
        await deliver(slack_hub, event, event_id=f"EvIgnored{n}")
    assert await slack_hub.worker.run_until_idle() == 0
    assert await rows(slack_hub, Message) == [] and slack_api.posts_to(APPROVALS) == []


async def test_edits_and_deletions_update_the_stored_message(slack_hub):
    ts = slack_ts(slack_hub)
    await deliver(slack_hub, dm(slack_hub, "I need size M", ts=ts))
    later = slack_ts(slack_hub, 30)
    changed = {"type": "message", "subtype": "message_changed", "hidden": True, "channel": CUSTOMER,
               "channel_type": "im", "ts": later, "event_ts": later,
               "message": {"type": "message", "user": "UCUSTOMER", "text": "I need size L", "ts": ts,
                           "edited": {"user": "UCUSTOMER", "ts": later}},
               "previous_message": {"type": "message", "user": "UCUSTOMER", "text": "I need size M", "ts": ts}}
    await deliver(slack_hub, changed, event_id="EvEdit")
    (message,) = await rows(slack_hub, Message)
    assert message.text == "I need size L" and message.edited_at is not None and message.deleted_at is None
    deleted = {"type": "message", "subtype": "message_deleted", "hidden": True, "channel": CUSTOMER,
               "channel_type": "im", "ts": later, "event_ts": later, "deleted_ts": ts}
    await deliver(slack_hub, deleted, event_id="EvDelete")
    (message,) = await rows(slack_hub, Message)
    assert message.deleted_at is not None


async def test_threads_stay_threads_and_the_reply_goes_into_the_thread(slack_hub, slack_api):
    parent = slack_ts(slack_hub)
    top = {**dm(slack_hub, "Anyone there?", ts=parent), "channel": SUPPORT, "channel_type": "channel"}
    reply = {**top, "text": "My order 1234 has not arrived", "ts": slack_ts(slack_hub, 5), "thread_ts": parent}
    await deliver(slack_hub, top, event_id="EvTop")
    await deliver(slack_hub, reply, event_id="EvReply")
    threads = {c.external_id for c in await rows(slack_hub, Conversation)}
    assert threads == {SUPPORT, f"{SUPPORT}:{parent}"}
    stored = {m.external_id: m for m in await rows(slack_hub, Message)}
    assert stored[f"{SUPPORT}:{reply['ts']}"].reply_to_external_id == f"{SUPPORT}:{parent}"
    await slack_hub.worker.run_until_idle()
    thread_card = next(i for i, (_, m) in enumerate(cards(slack_api)) if "1234" in json.dumps(m["blocks"]))
    await click(slack_hub, slack_api, sb.APPROVE, card=thread_card)
    await slack_hub.worker.run_until_idle()
    (sent,) = slack_api.posts_to(SUPPORT)
    assert sent.body["thread_ts"] == parent


async def test_the_owners_thread_reply_on_a_card_is_sent_as_the_reply(slack_hub, slack_api):
    await one_pending_card(slack_hub, slack_api)
    card = cards(slack_api)[0][0]
    answer = {"type": "message", "channel": APPROVALS, "channel_type": "channel", "user": "UOWNER",
              "text": "Yes &amp; it ships today", "ts": slack_ts(slack_hub, 60), "thread_ts": card}
    await deliver(slack_hub, answer, event_id="EvOwner")
    await settle(slack_hub)
    (looked_up,) = slack_api.calls_to("conversations.replies")
    assert looked_up.body["ts"] == card and looked_up.http_method == "GET"
    await slack_hub.worker.run_until_idle()
    (sent,) = slack_api.posts_to(CUSTOMER)
    assert sent.body["text"] == "Yes &amp; it ships today"
    assert [m.direction for m in await rows(slack_hub, Message)] == ["inbound", "outbound"]


async def test_a_rate_limited_send_is_retried_after_retry_after(slack_hub, slack_api, clock):
    await one_pending_card(slack_hub, slack_api)
    slack_api.rate_limit("chat.postMessage", retry_after=30)
    await click(slack_hub, slack_api, sb.APPROVE)
    await slack_hub.worker.run_until_idle()
    assert len(slack_api.posts_to(CUSTOMER)) == 1  # the 429
    (item,) = await rows(slack_hub, OutboxItem)
    assert item.status == "pending" and item.error == "ratelimited"
    clock.advance(seconds=29)
    await slack_hub.worker.run_until_idle()
    assert len(slack_api.posts_to(CUSTOMER)) == 1  # Retry-After is honoured
    clock.advance(seconds=2)
    await slack_hub.worker.run_until_idle()
    assert len(slack_api.posts_to(CUSTOMER)) == 2
    (item,) = await rows(slack_hub, OutboxItem)
    assert item.status == "sent" and item.attempts == 2


async def test_send_failures_map_to_retryable_or_final(slack_api, clock):
    settings = SimpleNamespace(bot_token="xoxb-t", signing_secret=SECRET, api_base_url=slack_api.base_url,
                               approval_channel="")
    message = OutboundMessage(channel="slack", thread_id=CUSTOMER, text="hi", idempotency_key="k")
    async with aiohttp.ClientSession() as session:
        channel = SlackChannel(settings, session=session, clock=clock)
        slack_api.fail("chat.postMessage", "channel_not_found")
        assert await channel.send(message) == SendResult(ok=False, error="channel_not_found", retryable=False)
        slack_api.fail("chat.postMessage", "service_unavailable", status=503)
        assert (await channel.send(message)).retryable
        assert not channel.approvals_enabled
        nowhere = SimpleNamespace(**{**vars(settings), "api_base_url": "http://127.0.0.1:9/api/"})  # discard port
        refused = await SlackChannel(nowhere, session=session, clock=clock).send(message)
        assert refused.retryable and "cannot reach Slack" in (refused.error or "")

