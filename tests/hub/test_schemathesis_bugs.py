"""Bugs the schemathesis run (tests/hub/test_schemathesis.py) found, fixed, and kept fixed: one
minimal request each, which got a 500 (or a text/plain 400 outside every envelope) before the fix
and must now get a documented status with the family's JSON envelope, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.hub.api.helpers import pair_device

BEYOND_BIGINT, BEYOND_INT = "9223372036854775808", "3000000000"
BAD_PART = (b'--b\r\nContent-Disposition: form-data; name="A\x15"\r\n\r\nx\r\n'
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="f.txt"\r\n\r\nhi\r\n--b--\r\n')
SYNCED = {"conversationImessageId": "c", "messages": [
    {"imessageGuid": "g", "senderId": "x" * 320, "direction": "incoming", "sentAt": "2024-01-01T00:00:00Z"}]}


@dataclass(frozen=True)
class Repro:
    """One request showing a fixed bug, and the statuses the fixed hub answers."""

    bug: str
    method: str
    path: str
    expected: tuple[int, ...]
    json: Any = None
    data: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    as_device: bool = False
    envelope: tuple[str, ...] = ()  # keys the error body must have


REPROS = (
    # Ids beyond the INTEGER id columns reached the driver (OverflowError / NumericValueOutOfRange).
    Repro("integer-overflow", "GET", f"/api/v1/conversations/{BEYOND_BIGINT}", (404,), envelope=("detail",)),
    Repro("integer-overflow", "GET", f"/api/v1/conversations/{BEYOND_INT}", (404,), envelope=("detail",)),
    Repro("integer-overflow", "GET", f"/api/v1/conversations?lead_id={BEYOND_BIGINT}", (422,), envelope=("detail",)),
    Repro("integer-overflow", "POST", "/api/v1/conversations/1/approve", (422,), {"suggestion_id": 2**40},
          envelope=("detail",)),
    Repro("integer-overflow", "GET", f"/api/conversations/{BEYOND_INT}/messages", (404,),
          envelope=("statusCode", "message", "error")),
    Repro("integer-overflow", "POST", f"/api/responses/{BEYOND_BIGINT}/action", (404,), {"action": "accept"}),
    Repro("integer-overflow", "POST", "/api/responses/generate", (404,), {"messageId": BEYOND_INT}),
    Repro("integer-overflow", "GET", f"/api/followups/contacts/{BEYOND_INT}/settings", (404,)),
    Repro("integer-overflow", "POST", f"/api/followups/{BEYOND_INT}/cancel", (404,)),
    # "²" passed str.isdigit() but int() refuses it (ValueError).
    Repro("unicode-digit-id", "GET", "/api/conversations/\u00b2/messages", (404,)),
    Repro("unicode-digit-id", "POST", "/api/responses/\u00b2/action", (404,), {"action": "accept"}),
    Repro("unicode-digit-id", "GET", "/api/followups/contacts/\u00b2/settings", (404,)),
    # A query beyond aiohttp's default 8190-byte request line, which the models accept.
    Repro("request-line-limit", "POST", "/prompt?" + urlencode({"prompt": "\u00e9" * 1400, "conversation_id": "x" * 65}),
          (422,), envelope=("detail",)),
    # NUL in a string: PostgreSQL text cannot hold (or compare) it.
    Repro("nul-in-text", "POST", "/api/ai-hub/folders", (400,), {"name": "a\u0000b"},
          envelope=("success", "error", "issues")),
    Repro("nul-in-text", "GET", "/api/ai-hub/assistants/a%00b", (404,), envelope=("success", "error")),
    Repro("nul-in-text", "GET", "/api/v1/conversations?search=a%00b", (422,), envelope=("detail",)),
    # Model limits longer than the columns behind them (PostgreSQL enforces VARCHAR lengths).
    Repro("verify-device-id-length", "POST", "/api/devices/verify", (400,), {"deviceId": "x" * 40, "code": "123456"}),
    Repro("sender-handle-length", "POST", "/api/sync/messages", (400,), SYNCED, as_device=True),
    Repro("idempotency-key-length", "POST", "/api/v1/conversations/1/reply", (422,), {"body": "Thanks!"},
          headers={"Idempotency-Key": "k" * 300}, envelope=("detail",)),
    # aiohttp's multipart reader raises InvalidHeader (not an HTTPException) on a control character.
    Repro("malformed-multipart", "POST", "/api/ai-hub/folders/{folder}/documents", (400,), data=BAD_PART,
          headers={"Content-Type": "multipart/form-data; boundary=b"}, envelope=("success", "error")),
)


async def _conversation(hub: Any, token: str) -> None:
    resp = await hub.request("POST", "/api/sync/messages", token, json={
        "conversationImessageId": "chat-1", "messages": [{"imessageGuid": "g-1", "senderId": "+14155550100",
                                                          "direction": "incoming", "text": "Hi",
                                                          "sentAt": "2024-01-01T12:00:00Z"}]})
    assert resp.status == 200, await resp.text()


async def _folder(hub: Any) -> str:
    resp = await hub.request("POST", "/api/ai-hub/folders", json={"name": "FAQ"})
    assert resp.status == 201, await resp.text()
    return (await resp.json())["folder"]["id"]


@pytest.mark.parametrize("repro", REPROS, ids=lambda r: f"{r.bug}:{r.method} {r.path[:60]}")
async def test_fixed_bug_stays_fixed(hub: Any, repro: Repro) -> None:
    device = await pair_device(hub)
    await _conversation(hub, device["token"])
    token = device["token"] if repro.as_device else None
    path = repro.path.format(folder=await _folder(hub)) if "{folder}" in repro.path else repro.path
    resp = await hub.request(repro.method, path, token, json=repro.json, data=repro.data, headers=repro.headers)
    assert resp.status in repro.expected, f"{resp.status}: {await resp.text()}"
    assert resp.content_type == "application/json"
    body = await resp.json()
    assert set(repro.envelope or ("statusCode", "message", "error")) <= set(body), body
