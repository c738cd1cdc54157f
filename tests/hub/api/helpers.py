"""Helpers for seed 000 API tests: pairing a device through the real endpoints."""

from __future__ import annotations

from typing import Any


async def pair_device(hub, name: str = "MacBook Pro", hardware_id: str = "HW-1") -> dict[str, Any]:
    resp = await hub.client.post("/api/devices/register", json={
        "name": name, "hardwareId": hardware_id, "platform": "macos", "osVersion": "14.0"})
    assert resp.status == 201, await resp.text()
    registered = await resp.json()
    resp = await hub.client.post("/api/devices/verify", json={
        "deviceId": registered["deviceId"], "code": registered["code"]})
    assert resp.status == 200, await resp.text()
    verified = await resp.json()
    return {"deviceId": registered["deviceId"], "token": verified["token"]}


def assert_seed000_error(body: dict, status: int) -> None:
    assert set(body) == {"statusCode", "message", "error"}, body
    assert body["statusCode"] == status
    assert isinstance(body["message"], str) and body["message"]
