"""Seed 000 device pairing over real HTTP: register, verify, JWT, rate limit, deactivate."""

from __future__ import annotations

import jwt
import sqlalchemy as sa

from storage.models import Device, VerifyAttempt
from tests.conftest import TEST_JWT_SECRET
from tests.hub.api.helpers import assert_seed000_error, pair_device


async def register(hub, hardware_id="HW-1"):
    resp = await hub.client.post("/api/devices/register", json={
        "name": "MacBook Pro", "hardwareId": hardware_id, "platform": "macos", "osVersion": "14.0"})
    assert resp.status == 201
    return await resp.json()


async def test_register_returns_six_digit_code_expiring_in_ten_minutes(hub, clock):
    body = await register(hub)
    assert len(body["code"]) == 6 and body["code"].isdigit()
    from datetime import datetime, timedelta
    expires = datetime.fromisoformat(body["expiresAt"].replace("Z", "+00:00"))
    assert expires - clock.now() == timedelta(minutes=10)


async def test_verify_issues_hs256_jwt_valid_seven_days_that_opens_protected_routes(hub, clock):
    paired = await pair_device(hub)
    header = jwt.get_unverified_header(paired["token"])
    assert header["alg"] == "HS256"
    claims = jwt.decode(paired["token"], TEST_JWT_SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert claims["sub"] == paired["deviceId"]
    assert claims["exp"] - int(clock.now().timestamp()) == 7 * 86400
    resp = await hub.client.get("/api/devices", headers={"Authorization": f"Bearer {paired['token']}"})
    assert resp.status == 200
    devices = (await resp.json())["devices"]
    assert [d["id"] for d in devices] == [paired["deviceId"]]
    assert devices[0]["isVerified"] is True


async def test_code_is_single_use(hub):
    registered = await register(hub)
    payload = {"deviceId": registered["deviceId"], "code": registered["code"]}
    assert (await hub.client.post("/api/devices/verify", json=payload)).status == 200
    resp = await hub.client.post("/api/devices/verify", json=payload)
    assert resp.status == 401
    assert_seed000_error(await resp.json(), 401)


async def test_expired_code_is_refused(hub, clock):
    registered = await register(hub)
    clock.advance(minutes=10, seconds=1)
    resp = await hub.client.post("/api/devices/verify", json={
        "deviceId": registered["deviceId"], "code": registered["code"]})
    assert resp.status == 401
    assert "expired" in (await resp.json())["message"].lower()


async def test_sixth_wrong_code_gets_429_even_with_the_right_code(hub):
    registered = await register(hub)
    wrong = "000000" if registered["code"] != "000000" else "111111"
    for _ in range(5):
        resp = await hub.client.post("/api/devices/verify", json={"deviceId": registered["deviceId"], "code": wrong})
        assert resp.status == 401
    resp = await hub.client.post("/api/devices/verify", json={
        "deviceId": registered["deviceId"], "code": registered["code"]})
    assert resp.status == 429
    assert_seed000_error(await resp.json(), 429)
    assert resp.headers["Retry-After"] == str(15 * 60)
    device = await hub.db.first(sa.select(Device).where(Device.id == registered["deviceId"]))
    assert device.verified_at is None


async def test_attempts_are_limited_per_client_address_across_devices(hub):
    devices = [await register(hub, f"HW-{i}") for i in range(6)]
    for registered in devices[:5]:
        wrong = "000000" if registered["code"] != "000000" else "111111"
        resp = await hub.client.post("/api/devices/verify", json={"deviceId": registered["deviceId"], "code": wrong})
        assert resp.status == 401
    resp = await hub.client.post("/api/devices/verify", json={
        "deviceId": devices[5]["deviceId"], "code": devices[5]["code"]})
    assert resp.status == 429


async def test_attempt_window_slides(hub, clock):
    registered = await register(hub)
    for _ in range(5):
        await hub.client.post("/api/devices/verify", json={"deviceId": registered["deviceId"], "code": "999999"
                                                           if registered["code"] != "999999" else "888888"})
    clock.advance(minutes=15, seconds=1)
    registered = await register(hub)  # same hardware: a fresh code for the same device
    resp = await hub.client.post("/api/devices/verify", json={
        "deviceId": registered["deviceId"], "code": registered["code"]})
    assert resp.status == 200


async def test_expired_token_is_401(hub, clock):
    paired = await pair_device(hub)
    clock.advance(days=7, seconds=1)
    resp = await hub.client.get("/api/devices", headers={"Authorization": f"Bearer {paired['token']}"})
    assert resp.status == 401
    body = await resp.json()
    assert_seed000_error(body, 401)
    assert "expired" in body["message"].lower()


async def test_forged_and_wrong_algorithm_tokens_are_401(hub, clock):
    paired = await pair_device(hub)
    claims = jwt.decode(paired["token"], TEST_JWT_SECRET, algorithms=["HS256"], options={"verify_exp": False})
    forged = jwt.encode(claims, "not-the-secret-but-long-enough-for-hs256-0000", algorithm="HS256")
    unsigned = jwt.encode(claims, None, algorithm="none")
    for token in (forged, unsigned, "garbage", paired["token"][:-2] + "xx"):
        resp = await hub.client.get("/api/devices", headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 401, token
        assert_seed000_error(await resp.json(), 401)


async def test_missing_credentials_is_401(hub):
    for path in ("/api/devices", "/api/conversations", "/api/sync/outbox"):
        resp = await hub.client.get(path)
        assert resp.status == 401
        assert_seed000_error(await resp.json(), 401)


async def test_deactivation_revokes_the_token(hub):
    paired = await pair_device(hub)
    resp = await hub.request("POST", f"/api/devices/{paired['deviceId']}/deactivate")
    assert resp.status == 200
    assert (await resp.json())["device"]["isActive"] is False
    resp = await hub.client.get("/api/devices", headers={"Authorization": f"Bearer {paired['token']}"})
    assert resp.status == 403
    assert_seed000_error(await resp.json(), 403)


async def test_deactivate_unknown_device_is_404(hub):
    resp = await hub.request("POST", "/api/devices/nope/deactivate")
    assert resp.status == 404
    assert_seed000_error(await resp.json(), 404)


async def test_register_validation_errors_store_nothing(hub):
    cases = [b"{not json", b"[]", b'{"name": 5, "hardwareId": "x", "platform": "macos"}',
             b'{"hardwareId": "x", "platform": "macos"}', b""]
    for raw in cases:
        resp = await hub.client.post("/api/devices/register", data=raw,
                                     headers={"Content-Type": "application/json"})
        assert resp.status == 400, raw
        assert_seed000_error(await resp.json(), 400)
    assert await hub.db.scalar(sa.select(sa.func.count()).select_from(Device)) == 0


async def test_verify_validation_errors_do_not_count_as_attempts(hub):
    resp = await hub.client.post("/api/devices/verify", json={"deviceId": "x", "code": "12"})
    assert resp.status == 400
    assert_seed000_error(await resp.json(), 400)
    assert await hub.db.scalar(sa.select(sa.func.count()).select_from(VerifyAttempt)) == 0


async def test_registration_forwarded_by_a_reverse_proxy_needs_an_api_key(hub):
    """Behind a proxy every request comes from loopback: a forwarded one is not local."""
    body = {"name": "Mac", "platform": "macos", "osVersion": "14.0", "hardwareId": "HW-PROXY"}
    for header in ({"X-Forwarded-For": "203.0.113.9"}, {"Forwarded": "for=203.0.113.9"},
                   {"X-Real-IP": "203.0.113.9"}):
        resp = await hub.client.post("/api/devices/register", json=body, headers=header)
        assert resp.status == 403, header
        assert_seed000_error(await resp.json(), 403)
    resp = await hub.request("POST", "/api/devices/register", json=body,
                             headers={"X-Forwarded-For": "203.0.113.9"})
    assert resp.status == 201
