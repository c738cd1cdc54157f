"""The Telegram channel through the real hub over real HTTP, against a fake Bot API server.

Webhooks are POSTed to the running app with Telegram's secret header; the worker is run by hand;
time moves with the FakeClock. What the hub does in the background after storing (answering taps,
asking for an edit) is awaited through the calls the fake records, never by sleeping.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from channels.base import OutboundMessage, SendResult
from channels.telegram import SECRET_HEADER, WEBHOOK_PATH, TelegramChannel
from hub.brain_services import BrainServices
from hub.settings import TelegramSettings
from storage.models import ApprovalCardRow, Job, Message, OutboxItem, Suggestion
from tests.channels.fakes.telegram_api import (OWNER_CHAT, TOKEN, FakeTelegram, callback_update, message_update,
                                               reply_update)
from tests.channels.fakes.telegram_webhooks import (CUSTOMER, SECRET, cards, deliver, prompt_for, tap, texts_to,
                                                    telegram_settings)
from tests.conftest import Hub, make_settings, start_hub

QUESTION = "Hi! Are you free on Saturday for a portrait session?"


def hub_settings(tmp_path, database_url, telegram_api: FakeTelegram, **telegram: Any):
    return make_settings(tmp_path, database_url, server={"public_url": "https://hub.example"},
                         channels={"telegram": telegram_settings(telegram_api, **telegram)})


@pytest.fixture
async def tg_hub(tmp_path, database_url, clock, telegram_api) -> AsyncIterator[Hub]:
    """The hub with Telegram enabled and no models (the worker is never run)."""
    running = await start_hub(hub_settings(tmp_path, database_url, telegram_api), clock)
    yield running
    await running.client.close()


@pytest.fixture
async def tg_brain_hub(tmp_path, database_url, clock, telegram_api, bundled_llm, shared_embedder) -> AsyncIterator[Hub]:
    settings = hub_settings(tmp_path, database_url, telegram_api)
    brain = BrainServices(settings, llm=bundled_llm, embedder=shared_embedder)
    running = await start_hub(settings, clock, brain=brain)
    yield running
    await running.client.close()


def external_id(update: dict[str, Any]) -> str:
    message = next(value for key, value in update.items() if key != "update_id")
    return f"{message['chat']['id']}:{message['message_id']}"


async def messages(hub: Hub) -> list[sa.Row]:
    return await hub.db.rows(sa.select(Message).where(Message.direction == "inbound").order_by(Message.id))


async def suggestions(hub: Hub) -> list[sa.Row]:
    return await hub.db.rows(sa.select(Suggestion).order_by(Suggestion.id))


async def drafted(hub: Hub, telegram_api: FakeTelegram, text: str = QUESTION) -> tuple[sa.Row, dict[str, Any]]:
    """A customer message in, drafted, carded: (the pending suggestion, its card)."""
    assert await deliver(hub, message_update(text)) == 200
    await hub.worker.run_until_idle()
    pending = [s for s in await suggestions(hub) if s.status == "pending"]
    assert len(pending) == 1, pending
    return pending[0], cards(telegram_api)[-1]


# -- start-up, verification, parsing through the app -----------------------------------------------

async def test_start_registers_the_webhook_with_its_secret(tg_hub, telegram_api):
    (call,) = telegram_api.calls_to("setWebhook")
    assert call.params["url"] == "https://hub.example/webhooks/telegram"
    assert call.params["secret_token"] == SECRET
    assert "callback_query" in call.params["allowed_updates"] and "message" in call.params["allowed_updates"]


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET[:-1]])
async def test_a_missing_or_forged_secret_is_refused_and_nothing_stored(tg_hub, secret):
    assert await deliver(tg_hub, message_update("forged"), secret) == 403
    assert await messages(tg_hub) == []


async def test_a_malformed_body_is_a_400(tg_hub):
    resp = await tg_hub.client.post(WEBHOOK_PATH, data=b"{not json", headers={SECRET_HEADER: SECRET})
    assert resp.status == 400
    assert await messages(tg_hub) == []


async def test_every_kind_of_message_is_stored(tg_hub):
    group = {"id": -1001234567890, "type": "supergroup", "title": "Photo club"}
    news = {"id": -1009876543210, "type": "channel", "title": "Studio news"}
    cases = {
        "text": message_update("Plain text"),
        "photo": message_update(None, caption="This one?", photo=[{"file_id": "ph", "file_unique_id": "u",
                                                                   "width": 9, "height": 9, "file_size": 99}]),
        "document": message_update(None, document={"file_id": "doc", "file_name": "a.pdf",
                                                   "mime_type": "application/pdf", "file_size": 5}),
        "voice": message_update(None, voice={"file_id": "vo", "duration": 3, "mime_type": "audio/ogg"}),
        "sticker": message_update(None, sticker={"file_id": "st", "emoji": "🎉", "is_animated": False,
                                                 "is_video": False}),
        "location": message_update(None, location={"latitude": 52.52, "longitude": 13.405}),
        "contact": message_update(None, contact={"phone_number": "+4930123", "first_name": "Max"}),
        "group": message_update("In the group", chat=group),
        "channel": message_update("Post", sender={}, chat=news, kind="channel_post", sender_chat=news),
        "forwarded": message_update("Fwd", forward_origin={"type": "hidden_user", "date": 1,
                                                           "sender_user_name": "Sam"}),
        "bot": message_update("Beep", sender={"id": 999, "is_bot": True, "first_name": "Shop"}),
    }
    for update in cases.values():
        assert await deliver(tg_hub, update) == 200
    stored = {m.external_id: m for m in await messages(tg_hub)}
    row = {name: stored[external_id(update)] for name, update in cases.items()}
    assert row["photo"].text == "This one?" and row["photo"].attachments[0]["file_id"] == "ph"
    assert [row[k].message_type for k in ("document", "voice", "sticker", "location", "contact")] == \
        ["document", "voice", "sticker", "location", "contact"]
    assert row["sticker"].attachments[0]["emoji"] == "🎉" and row["location"].attachments[0]["latitude"] == 52.52
    assert row["group"].sender_handle == f"telegram:{CUSTOMER}"
    assert row["channel"].sender_name == "Studio news"
    assert row["forwarded"].raw["forwarded"]["name"] == "Sam" and row["bot"].raw["is_bot"] is True
    threads = await tg_hub.db.rows(sa.text("SELECT external_id, is_group FROM conversations"))
    assert {t.external_id: bool(t.is_group) for t in threads}[str(group["id"])] is True


async def test_an_edit_changes_the_stored_text(tg_hub):
    original = message_update("Saturday at 9", message_id=71)
    assert await deliver(tg_hub, original) == 200
    edit = message_update("Saturday at 10", message_id=71, kind="edited_message",
                          edit_date=original["message"]["date"] + 30)
    assert await deliver(tg_hub, edit) == 200
    (row,) = await messages(tg_hub)
    assert row.text == "Saturday at 10" and row.edited_at is not None


async def test_the_owners_chat_and_other_updates_store_nothing(tg_hub):
    owner = {"id": OWNER_CHAT, "is_bot": False, "first_name": "Olive"}
    for update in (message_update("note to self", sender=owner),
                   {"update_id": 1, "my_chat_member": {"chat": {"id": 5, "type": "group"}, "date": 1}},
                   {"update_id": 2, "chat_member": {"chat": {"id": 5, "type": "group"}, "date": 1}}):
        assert await deliver(tg_hub, update) == 200
    assert await messages(tg_hub) == []


async def test_taps_are_answered_once_and_edit_asks_for_the_text(tg_hub, telegram_api):
    card = {"message_id": 5, "date": 1, "chat": {"id": OWNER_CHAT, "type": "private"}, "text": "📝 Draft #99"}
    edit, junk = callback_update("e:99", message=card), callback_update("x:junk", message=card)
    await tap(tg_hub, telegram_api, edit)
    await tap(tg_hub, telegram_api, junk)
    prompt = await prompt_for(telegram_api, "Edit", 99)
    assert await deliver(tg_hub, edit) == 200  # Telegram redelivers an update whose webhook failed
    await tg_hub.client.close()  # shutting down awaits the hub's background work
    answers = {(a.params["callback_query_id"], a.params["text"]) for a in telegram_api.calls_to("answerCallbackQuery")}
    assert answers == {(edit["callback_query"]["id"], "Reply to the message below with the new text"),
                       (junk["callback_query"]["id"], "This button is no longer active")}
    assert [m["message_id"] for m in (c.result for c in telegram_api.sent_to(OWNER_CHAT))] == [prompt["message_id"]]
    assert telegram_api.calls_to("sendMessage")[0].params["reply_markup"] == {"force_reply": True,
                                                                      "input_field_placeholder": "The reply to send"}


# -- the whole loop, with the bundled model ----------------------------------------------------------

async def test_one_update_delivered_five_times_is_one_message_one_draft_one_card_one_send(tg_brain_hub, telegram_api,
                                                                                          clock):
    hub, update = tg_brain_hub, message_update(QUESTION)
    assert await asyncio.gather(*(deliver(hub, update) for _ in range(5))) == [200] * 5
    assert len(await messages(hub)) == 1
    await hub.worker.run_until_idle()
    (suggestion,) = await suggestions(hub)
    (card,) = cards(telegram_api)
    assert card["text"].startswith(f"📝 Draft #{suggestion.id}") and QUESTION in card["text"]
    assert card["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == f"a:{suggestion.id}"
    first, second = callback_update(f"a:{suggestion.id}", message=card), callback_update(f"a:{suggestion.id}",
                                                                                         message=card)
    await asyncio.gather(tap(hub, telegram_api, first), tap(hub, telegram_api, second), tap(hub, telegram_api, first))
    await hub.worker.run_until_idle()
    assert texts_to(telegram_api, CUSTOMER) == [suggestion.body]
    assert len(telegram_api.calls_to("answerCallbackQuery")) == 2
    (final,) = cards(telegram_api)
    assert final["text"].startswith(f"✅ Draft #{suggestion.id}") and "reply_markup" not in final
    assert final["text"].endswith(f"Sent by Telegram at {clock.now():%H:%M}")
    (sent,) = await hub.db.rows(sa.select(OutboxItem))
    (delivered,) = telegram_api.sent_to(CUSTOMER)
    assert sent.status == "sent" and sent.provider_message_id == f"{CUSTOMER}:{delivered.result['message_id']}"
    assert (await hub.db.scalar(sa.select(ApprovalCardRow.status))) == "sent"


async def test_edit_asks_for_the_text_and_sends_it(tg_brain_hub, telegram_api):
    hub = tg_brain_hub
    suggestion, card = await drafted(hub, telegram_api)
    await tap(hub, telegram_api, callback_update(f"e:{suggestion.id}", message=card))
    prompt = await prompt_for(telegram_api, "Edit", suggestion.id)
    assert await deliver(hub, reply_update("Saturday at 10 works, see you then!", to=prompt)) == 200
    await hub.worker.run_until_idle()
    assert texts_to(telegram_api, CUSTOMER) == ["Saturday at 10 works, see you then!"]
    (row,) = await suggestions(hub)
    assert row.status == "sent" and row.edited_body == "Saturday at 10 works, see you then!"
    assert "Sent by Telegram" in cards(telegram_api)[0]["text"]


async def test_reject_asks_for_a_reason_and_sends_nothing(tg_brain_hub, telegram_api):
    hub = tg_brain_hub
    suggestion, card = await drafted(hub, telegram_api)
    await tap(hub, telegram_api, callback_update(f"r:{suggestion.id}", message=card))
    prompt = await prompt_for(telegram_api, "Reject", suggestion.id)
    assert await deliver(hub, reply_update("too formal", to=prompt)) == 200
    await hub.worker.run_until_idle()
    assert texts_to(telegram_api, CUSTOMER) == []
    (row,) = await suggestions(hub)
    assert (row.status, row.rejection_reason) == ("rejected", "too formal")
    (final,) = cards(telegram_api)
    assert final["text"].endswith("Rejected: too formal") and "reply_markup" not in final


async def test_regenerate_in_a_tone_supersedes_the_old_card_and_the_new_draft_is_sent(tg_brain_hub, telegram_api):
    hub = tg_brain_hub
    old, card = await drafted(hub, telegram_api)
    await tap(hub, telegram_api, callback_update(f"t:{old.id}:shorter", message=card))
    await hub.worker.run_until_idle()
    superseded, new = await suggestions(hub)
    assert (superseded.status, new.status, new.tone) == ("superseded", "pending", "shorter")
    old_card, new_card = cards(telegram_api)
    assert old_card["text"].endswith("Superseded by a newer draft") and "reply_markup" not in old_card
    assert new_card["text"].startswith(f"📝 Draft #{new.id}") and new_card["reply_markup"]
    await tap(hub, telegram_api, callback_update(f"a:{new.id}", message=new_card))
    await hub.worker.run_until_idle()
    assert texts_to(telegram_api, CUSTOMER) == [new.body]


async def test_a_429_is_retried_after_retry_after(tg_brain_hub, telegram_api, clock):
    hub = tg_brain_hub
    suggestion, card = await drafted(hub, telegram_api)
    telegram_api.rate_limit("sendMessage", calls=1, retry_after=30)
    assert await deliver(hub, reply_update("Yes! Saturday is free.", to=card)) == 200  # a custom reply
    await hub.worker.run_until_idle()
    assert texts_to(telegram_api, CUSTOMER) == []
    assert [c.status for c in telegram_api.calls_to("sendMessage")][-1] == 429
    job = await hub.db.first(sa.select(Job).where(Job.kind == "outbox.send"))
    assert job.status == "queued" and job.run_at == clock.now() + timedelta(seconds=30)
    clock.advance(seconds=29)
    await hub.worker.run_until_idle()
    assert texts_to(telegram_api, CUSTOMER) == []
    clock.advance(seconds=1)
    await hub.worker.run_until_idle()
    assert texts_to(telegram_api, CUSTOMER) == ["Yes! Saturday is free."]
    assert "Sent by Telegram" in cards(telegram_api)[0]["text"]


async def test_a_5000_character_reply_goes_out_as_two_messages(tg_brain_hub, telegram_api):
    hub = tg_brain_hub
    suggestion, _ = await drafted(hub, telegram_api)
    paragraph = "We would love to photograph you. " * 75  # about 2500 characters
    long_reply = f"{paragraph.strip()}\n\n{paragraph.strip()}"
    assert len(long_reply) > 4096
    resp = await hub.request("POST", f"/api/responses/{suggestion.id}/action",
                             json={"action": "edit", "editedResponse": long_reply})
    assert resp.status == 200, await resp.text()
    await hub.worker.run_until_idle()
    assert texts_to(telegram_api, CUSTOMER) == [paragraph.strip(), paragraph.strip()]
    (sent,) = await hub.db.rows(sa.select(OutboxItem))
    assert sent.provider_message_id == f"{CUSTOMER}:{telegram_api.sent_to(CUSTOMER)[-1].result['message_id']}"


async def test_the_token_never_reaches_logs_or_stored_errors(tmp_path, database_url, clock, telegram_api, bundled_llm,
                                                           shared_embedder, caplog):
    caplog.set_level(logging.DEBUG)
    telegram_api.fail("setWebhook", status=401, description="Unauthorized")
    telegram_api.fail("sendMessage", calls=1, status=500, description="Internal Server Error")  # the first card post
    settings = hub_settings(tmp_path, database_url, telegram_api)
    hub = await start_hub(settings, clock, brain=BrainServices(settings, llm=bundled_llm, embedder=shared_embedder))
    try:
        assert await deliver(hub, message_update(QUESTION)) == 200
        await hub.worker.run_until_idle()
        clock.advance(seconds=600)
        await hub.worker.run_until_idle()
        (suggestion,) = await suggestions(hub)
        card = cards(telegram_api)[-1]
        telegram_api.fail("answerCallbackQuery", status=400, description="Bad Request: query is too old")
        telegram_api.fail("sendMessage", calls=1, status=403, description="Forbidden: bot was blocked by the user")
        await tap(hub, telegram_api, callback_update(f"a:{suggestion.id}", message=card))
        await hub.worker.run_until_idle()
        stored = [r.last_error for r in await hub.db.rows(sa.select(Job))] + \
                 [r.error for r in await hub.db.rows(sa.select(OutboxItem))]
    finally:
        await hub.client.close()
    assert "setting the webhook failed: Unauthorized" in caplog.text
    assert "(approval.card) attempt 1 failed" in caplog.text and "Traceback" in caplog.text
    assert "Forbidden: bot was blocked by the user" in " ".join(filter(None, stored))
    secret_part = TOKEN.split(":", 1)[1]
    assert secret_part not in caplog.text and secret_part not in " ".join(filter(None, stored))


# -- polling and sending, at the adapter's edge --------------------------------------------------------

async def test_polling_stores_updates_and_confirms_them_after(tmp_path, database_url, clock, telegram_api):
    settings = hub_settings(tmp_path, database_url, telegram_api, mode="polling", webhook_secret="")
    hub = await start_hub(settings, clock)
    try:
        assert telegram_api.calls_to("deleteWebhook")
        update = message_update("Polled hello")
        first = update["update_id"]
        telegram_api.queue_update(update)
        await telegram_api.wait_for(lambda c: c.method == "getUpdates" and c.params.get("offset") == str(first + 1))
        telegram_api.queue_update(dict(update, update_id=first + 5))  # the same message again
        card = {"message_id": 5, "date": 1, "chat": {"id": OWNER_CHAT, "type": "private"}, "text": "📝 Draft #9"}
        telegram_api.queue_update(dict(callback_update("e:9", message=card), update_id=first + 6))
        await telegram_api.wait_for(lambda c: c.method == "getUpdates" and c.params.get("offset") == str(first + 7))
        (row,) = await messages(hub)
        assert row.text == "Polled hello" and row.external_id == external_id(update)
        await prompt_for(telegram_api, "Edit", 9)  # the hub acknowledged the polled tap, as for webhooks
        assert len(telegram_api.calls_to("answerCallbackQuery")) == 1
    finally:
        await hub.client.close()


@pytest.fixture
async def channel(telegram_api) -> AsyncIterator[TelegramChannel]:
    """The adapter alone, on its own session, against the fake."""
    async with aiohttp.ClientSession() as session:
        settings = TelegramSettings(enabled=True, bot_token=TOKEN, webhook_secret=SECRET, api_base_url=telegram_api.url,
                                    owner_chat_id=OWNER_CHAT)
        yield TelegramChannel(settings, session=session)


async def send(channel: TelegramChannel, text: str = "hello", key: str = "k") -> SendResult:
    return await channel.send(OutboundMessage("telegram", str(CUSTOMER), text, key))


@pytest.mark.parametrize("status, description, retryable, error", [
    (400, "Bad Request: chat not found", False, "Telegram refused the message: Chat not found"),
    (403, "Forbidden: bot was blocked by the user", False,
     "the bot may not write to this chat (blocked or removed): Forbidden: bot was blocked by the user"),
    (500, "Internal Server Error", True, "Telegram unavailable: the Bot API answered 500"),
    (502, "Bad Gateway", True, "Telegram unavailable: the Bot API answered 502"),
])
async def test_send_errors_say_whether_to_retry(channel, telegram_api, status, description, retryable, error):
    telegram_api.fail("sendMessage", status=status, description=description)
    result = await send(channel)
    assert (result.ok, result.retryable, result.error) == (False, retryable, error)


async def test_a_reply_interrupted_halfway_resumes_with_the_missing_part(channel, telegram_api):
    first, second = ("First part. " * 300).strip(), ("Second part. " * 100).strip()
    telegram_api.rate_limit("sendMessage", retry_after=3, after=1)  # the second part hits the limit
    interrupted = await send(channel, f"{first}\n\n{second}", "long")
    assert (interrupted.retryable, interrupted.retry_after) == (True, 3.0)
    resumed = await send(channel, f"{first}\n\n{second}", "long")
    assert resumed.ok and texts_to(telegram_api, CUSTOMER) == [first, second]
    assert resumed.provider_message_id == f"{CUSTOMER}:{telegram_api.sent_to(CUSTOMER)[-1].result['message_id']}"


async def test_nothing_to_send_and_bad_chat_ids_are_final(channel):
    assert (await send(channel, "  ")).error == "nothing to send: the reply is empty"
    result = await channel.send(OutboundMessage("telegram", "not-a-chat", "hi", "k"))
    assert not result.retryable and "not a Telegram chat id" in (result.error or "")


def test_misconfiguration_is_named_at_start():
    for bad, key in (({"bot_token": ""}, "bot_token is not set"), ({"bot_token": "nonsense"}, "bot_token does not"),
                     ({"webhook_secret": ""}, "webhook_secret is required")):
        settings = TelegramSettings(**({"enabled": True, "bot_token": TOKEN, "webhook_secret": SECRET} | bad))
        with pytest.raises(ValueError, match=key) as raised:
            TelegramChannel(settings, session=None)  # type: ignore[arg-type]
        assert "nonsense" not in str(raised.value)
