"""The soak's inbound traffic, pure: each message as its platform delivers it (path, body, headers,
signed for real at the moment of sending), with duplicates and out-of-order arrivals mixed in."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

PUBLIC_URL = "https://hub.example"
TELEGRAM_SECRET = "soak-telegram-webhook-secret-0123"
SLACK_SECRET = "soak-slack-signing-secret-0123456789"
TWILIO_SID = "AC" + "0" * 31 + "1"
TWILIO_TOKEN = "soak-twilio-auth-token-0123456789"
TWILIO_SMS_FROM, TWILIO_WHATSAPP_FROM = "+14155550100", "whatsapp:+14155550101"
BLUEBUBBLES_PASSWORD = "soak-bluebubbles-password-0123"
CHANNELS = ("telegram", "slack", "whatsapp", "sms", "imessage")
CUSTOMERS = 400  # distinct senders, spread over the channels
TEXTS = ("Hi! Are you free on Saturday for a portrait session?", "What do you charge for a wedding?",
         "Can we move our call to Thursday afternoon?", "Is there parking near your studio?",
         "Could you send me the invoice for last week?", "Do you have any openings next month?")
START = 1_767_268_800  # 2026-01-01 12:00:00 UTC: the messages' own send times count up from here


@dataclass(frozen=True)
class Delivery:
    """One inbound message; `key` is what the hub must store it under: (channel, external_id)."""
    n: int
    kind: str  # one of CHANNELS
    key: tuple[str, str]
    path: str
    content_type: str
    body: bytes
    sign: Callable[[bytes], dict[str, str]]


def _customer(n: int) -> int:
    return n // len(CHANNELS) % CUSTOMERS


def _phone(customer: int) -> str:
    return f"+1415666{customer:04d}"


def _no_headers(body: bytes) -> dict[str, str]:
    return {}


def _telegram_headers(body: bytes) -> dict[str, str]:
    return {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}


def slack_headers(body: bytes) -> dict[str, str]:
    """Slack's v0 signature, stamped now (the hub refuses stamps older than 5 minutes)."""
    stamp = str(int(time.time()))
    digest = hmac.new(SLACK_SECRET.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


def _twilio_signer(form: dict[str, str]) -> Callable[[bytes], dict[str, str]]:
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC_URL + "/webhooks/twilio", form)
    return lambda body: {"X-Twilio-Signature": signature}


def telegram(n: int, text: str) -> Delivery:
    chat = 3_000_000 + _customer(n)
    person = {"id": chat, "is_bot": False, "first_name": f"Customer{_customer(n)}"}
    update = {"update_id": 90_000_000 + n, "message": {
        "message_id": n + 1, "date": START + n, "from": person, "text": text,
        "chat": {"id": chat, "type": "private", "first_name": person["first_name"]}}}
    return Delivery(n, "telegram", ("telegram", f"{chat}:{n + 1}"), "/webhooks/telegram", "application/json",
                    json.dumps(update).encode(), _telegram_headers)


def slack(n: int, text: str) -> Delivery:
    channel, ts = f"DSOAK{_customer(n):05d}", f"{START + n}.{n % 1_000_000:06d}"
    event = {"type": "message", "channel": channel, "channel_type": "im", "user": f"USOAK{_customer(n):05d}",
             "text": text, "ts": ts, "event_ts": ts}
    body = json.dumps({"token": "legacy", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
                       "event_id": f"EvSoak{n:08d}", "event_time": START + n, "event": event}).encode()
    return Delivery(n, "slack", ("slack", f"{channel}:{ts}"), "/webhooks/slack/events", "application/json",
                    body, slack_headers)


def twilio(n: int, text: str, *, whatsapp: bool) -> Delivery:
    sid = "SM" + hashlib.md5(f"soak-{n}".encode()).hexdigest()
    sender = ("whatsapp:" if whatsapp else "") + _phone(_customer(n))
    form = {"MessageSid": sid, "SmsMessageSid": sid, "AccountSid": TWILIO_SID, "From": sender,
            "To": TWILIO_WHATSAPP_FROM if whatsapp else TWILIO_SMS_FROM, "Body": text, "NumMedia": "0",
            "NumSegments": "1", "SmsStatus": "received", "ApiVersion": "2010-04-01"}
    return Delivery(n, "whatsapp" if whatsapp else "sms", ("twilio", sid), "/webhooks/twilio",
                    "application/x-www-form-urlencoded", urlencode(form).encode(), _twilio_signer(form))


def imessage(n: int, text: str) -> Delivery:
    address = _phone(_customer(n))
    chat_guid, guid = f"iMessage;-;{address}", f"SOAK-{n:08d}-0000-0000-000000000000"
    data = {"guid": guid, "text": text, "isFromMe": False, "dateCreated": (START + n) * 1000, "dateDelivered": 0,
            "dateRead": 0, "dateEdited": 0, "dateRetracted": 0, "itemType": 0, "attachments": [],
            "handle": {"address": address, "service": "iMessage"},
            "chats": [{"guid": chat_guid, "chatIdentifier": address, "displayName": "",
                       "participants": [{"address": address}]}]}
    return Delivery(n, "imessage", ("bluebubbles", guid), f"/webhooks/bluebubbles?password={BLUEBUBBLES_PASSWORD}",
                    "application/json", json.dumps({"type": "new-message", "data": data}).encode(), _no_headers)


def message(n: int) -> Delivery:
    """Message n: the channels take turns, each customer asks one of TEXTS."""
    kind, text = CHANNELS[n % len(CHANNELS)], f"{TEXTS[n % len(TEXTS)]} (#{n})"
    if kind in ("whatsapp", "sms"):
        return twilio(n, text, whatsapp=kind == "whatsapp")
    return {"telegram": telegram, "slack": slack, "imessage": imessage}[kind](n, text)


def schedule(count: int, *, duplicates: float, window: int, rng: random.Random) -> list[Delivery]:
    """`count` messages in a locally shuffled order (each within `window` places of its turn, so a
    conversation's later message often arrives first), plus `duplicates` × count redeliveries of
    random messages, each placed after its first delivery."""
    order = [message(n) for n in range(count)]
    for start in range(0, count, window):
        chunk = order[start:start + window]
        rng.shuffle(chunk)
        order[start:start + window] = chunk
    for _ in range(int(count * duplicates)):
        first = rng.randrange(len(order))
        order.insert(rng.randrange(first + 1, len(order) + 1), order[first])
    return order
