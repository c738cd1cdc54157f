"""Telegram's side of the webhooks: updates POSTed into a running hub with the secret header, taps
awaited until the hub has answered them, and the owner's chat as the fake Bot API holds it."""

from __future__ import annotations

import json
from typing import Any

from channels.telegram import SECRET_HEADER, WEBHOOK_PATH
from tests.channels.fakes.telegram_api import JANE, OWNER_CHAT, TOKEN, FakeTelegram
from tests.conftest import Hub

SECRET = "whsec-telegram-0123456789"
CUSTOMER = JANE["id"]


def telegram_settings(api: FakeTelegram, **telegram: Any) -> dict[str, Any]:
    """The `[channels.telegram]` table of a hub whose owner chat is OWNER_CHAT on the fake."""
    return {"enabled": True, "bot_token": TOKEN, "webhook_secret": SECRET, "api_base_url": api.url,
            "owner_chat_id": OWNER_CHAT, **telegram}


async def deliver(hub: Hub, update: dict[str, Any], secret: str | None = SECRET) -> int:
    headers = {"Content-Type": "application/json", **({SECRET_HEADER: secret} if secret is not None else {})}
    resp = await hub.client.post(WEBHOOK_PATH, data=json.dumps(update).encode(), headers=headers)
    return resp.status


async def tap(hub: Hub, api: FakeTelegram, update: dict[str, Any]) -> None:
    """Deliver a button tap and wait until the hub's follow-up (`acknowledge`) has answered it."""
    assert await deliver(hub, update) == 200
    query_id = update["callback_query"]["id"]
    await api.wait_for(lambda c: c.method == "answerCallbackQuery" and c.status is not None
                       and c.params["callback_query_id"] == query_id)


async def prompt_for(api: FakeTelegram, kind: str, suggestion_id: int) -> dict[str, Any]:
    """The question the bot asked after an Edit or Reject tap, once sent."""
    marker = f"{kind} draft #{suggestion_id}:"
    call = await api.wait_for(lambda c: c.method == "sendMessage" and c.status == 200
                              and marker in c.params["text"].split("\n")[0])
    return call.result


def cards_as_posted(api: FakeTelegram) -> list[dict[str, Any]]:
    """The cards as first sent to the owner's chat, with their keyboards: what an old tap carries."""
    return [call.result for call in api.sent_to(OWNER_CHAT) if "Draft #" in call.result["text"].split("\n")[0]]


def cards(api: FakeTelegram) -> list[dict[str, Any]]:
    """The cards posted in the owner's chat, as the fake holds them now (edits applied)."""
    return [api.messages[(OWNER_CHAT, card["message_id"])] for card in cards_as_posted(api)]


def texts_to(api: FakeTelegram, chat_id: int) -> list[str]:
    return [call.params["text"] for call in api.sent_to(chat_id)]
