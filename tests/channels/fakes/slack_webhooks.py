"""Slack's side of the webhooks: really signed Events API and interactivity requests POSTed into a
running hub, and the approval cards as the fake Slack Web API holds them (edits applied)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlencode

import aiohttp

from channels import slack_blocks as sb
from hub.state import BACKGROUND, CLOCK
from tests.channels.fakes.slack_api import FakeSlackApi
from tests.conftest import Hub

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-test-token"
APPROVALS = "CAPPROVE"
CUSTOMER = "D0CUSTOMER"
EVENTS = "/webhooks/slack/events"
INTERACTIVITY = "/webhooks/slack/interactivity"


def slack_settings(api: FakeSlackApi) -> dict[str, Any]:
    """The `[channels.slack]` table of a hub posting its cards to APPROVALS on the fake."""
    return {"enabled": True, "bot_token": BOT_TOKEN, "signing_secret": SECRET, "api_base_url": api.base_url,
            "approval_channel": APPROVALS}


def signed(body: bytes, timestamp: int, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": f"v0={digest}"}


async def post(hub: Hub, path: str, body: bytes, *, headers: dict[str, str] | None = None,
               secret: str = SECRET) -> aiohttp.ClientResponse:
    """POST as Slack does: signed with the signing secret at the hub's current time."""
    content_type = "application/json" if path == EVENTS else "application/x-www-form-urlencoded"
    timestamp = int(hub.app[CLOCK].now().timestamp())
    all_headers = {"Content-Type": content_type, **signed(body, timestamp, secret), **(headers or {})}
    return await hub.client.post(path, data=body, headers=all_headers)


async def settle(hub: Hub) -> None:
    """Wait for what the hub started after acknowledging: the adapter's `acknowledge` follow-ups."""
    await hub.app[BACKGROUND].close()


def slack_ts(hub: Hub, seconds: float = 0) -> str:
    return f"{hub.app[CLOCK].now().timestamp() + seconds:.6f}"


def envelope(event: dict[str, Any], event_id: str = "Ev0001") -> bytes:
    return json.dumps({"token": "legacy", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
                       "event_id": event_id, "event_time": int(float(event["ts"])), "event": event}).encode()


def dm(hub: Hub, text: str, *, ts: str | None = None, **extra: Any) -> dict[str, Any]:
    ts = ts or slack_ts(hub)
    return {"type": "message", "channel": CUSTOMER, "channel_type": "im", "user": "UCUSTOMER", "text": text,
            "ts": ts, "event_ts": ts, **extra}


async def deliver(hub: Hub, event: dict[str, Any], **kwargs: Any) -> aiohttp.ClientResponse:
    response = await post(hub, EVENTS, envelope(event, **kwargs))
    assert response.status == 200, await response.text()
    return response


def form(payload: dict[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def cards(api: FakeSlackApi) -> list[tuple[str, dict[str, Any]]]:
    """(ts, message) of each card in the approval channel, oldest first, as the fake holds it now."""
    return sorted(((ts, m) for (c, ts), m in api.messages.items() if c == APPROVALS), key=lambda item: item[0])


def has_buttons(blocks: list[dict[str, Any]]) -> bool:
    return any(block["type"] == "actions" for block in blocks)


def click_payload(api: FakeSlackApi, action_id: str, *, card: int = -1, tone: str | None = None,
                  trigger_id: str = "trigger-1") -> dict[str, Any]:
    """The block_actions payload Slack sends when a button of a card the fake holds is pressed."""
    ts, message = cards(api)[card]
    suggestion_id = sb.suggestion_id_of(message["blocks"])
    selected = {"selected_option": {"value": tone, "text": {"type": "plain_text", "text": tone}}} if tone else {}
    payload = {"type": "block_actions", "user": {"id": "UOWNER", "username": "owner"}, "api_app_id": "A1",
               "token": "legacy", "trigger_id": trigger_id, "team": {"id": "T1"},
               "container": {"type": "message", "message_ts": ts, "channel_id": APPROVALS},
               "channel": {"id": APPROVALS, "name": "replydesk"}, "message": {**message, "ts": ts},
               "state": {"values": {f"{sb.ACTIONS_BLOCK_PREFIX}{suggestion_id}": {
                   sb.TONE: {"type": "static_select", **selected}}}},
               "actions": [{"type": "button", "action_id": action_id, "value": str(suggestion_id),
                            "block_id": f"{sb.ACTIONS_BLOCK_PREFIX}{suggestion_id}", "action_ts": ts}]}
    return payload


async def click(hub: Hub, api: FakeSlackApi, action_id: str, **where: Any) -> aiohttp.ClientResponse:
    """Press a button on a card the fake Slack holds (`card`, `tone`, `trigger_id` as in click_payload)."""
    response = await post(hub, INTERACTIVITY, form(click_payload(api, action_id, **where)))
    assert response.status == 200 and await response.read() == b""
    return response


async def submit(hub: Hub, view: dict[str, Any], text: str) -> aiohttp.ClientResponse:
    """Submit the modal the hub opened (as views.open received it) with `text` typed in."""
    state = {"values": {sb.TEXT_BLOCK: {sb.TEXT_ACTION: {"type": "plain_text_input", "value": text}}}}
    payload = {"type": "view_submission", "user": {"id": "UOWNER"}, "team": {"id": "T1"},
               "view": {**view, "id": "V1", "state": state}}
    return await post(hub, INTERACTIVITY, form(payload))
