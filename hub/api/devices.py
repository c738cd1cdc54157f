"""Seed 000 device pairing: register (6-digit code), verify (JWT), list, deactivate."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hub.api.common import client_address, iso, json_response
from hub.auth import issue_device_token, optional_principal
from hub.errors import ApiError
from hub.settings import Settings
from hub.state import CLOCK, DB, PRINCIPAL, SETTINGS
from hub.validation import parse_body
from storage.db import Database
from storage.models import Device, VerifyAttempt

routes = web.RouteTableDef()


class RegisterDevice(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=255)
    hardwareId: str = Field(min_length=1, max_length=255)
    platform: str = Field(min_length=1, max_length=32)
    osVersion: str = Field("", max_length=64)


class VerifyDevice(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    deviceId: str = Field(min_length=1, max_length=64)
    code: str = Field(pattern=r"^\d{6}$")


def code_digest(settings: Settings, device_id: str, code: str) -> str:
    key = settings.auth.jwt_secret.get_secret_value().encode()
    return hmac.new(key, f"{device_id}:{code}".encode(), hashlib.sha256).hexdigest()


def device_view(device: Device | sa.Row) -> dict:
    return {
        "id": device.id, "name": device.name, "hardwareId": device.hardware_id,
        "platform": device.platform, "osVersion": device.os_version, "isActive": device.is_active,
        "isVerified": device.verified_at is not None, "verifiedAt": iso(device.verified_at),
        "lastSeenAt": iso(device.last_seen_at), "lastSyncedAt": iso(device.last_synced_at),
        "createdAt": iso(device.created_at), "deactivatedAt": iso(device.deactivated_at),
    }


def _is_loopback(address: str) -> bool:
    return address in ("127.0.0.1", "::1", "localhost") or address.startswith("127.")


@routes.post("/api/devices/register")
async def register_device(request: web.Request) -> web.Response:
    settings, db, now = request.app[SETTINGS], request.app[DB], request.app[CLOCK].now()
    principal = await optional_principal(request)
    if principal is None and not settings.devices.open_registration \
            and not _is_loopback(client_address(request)):
        raise ApiError(403, "Device registration from another machine needs an API key "
                            "(or devices.open_registration = true)")
    body = await parse_body(request, RegisterDevice)
    code = f"{secrets.randbelow(1_000_000):06d}"
    expires = now + timedelta(minutes=settings.devices.code_ttl_minutes)
    async with db.write() as conn:
        await db.lock(conn, f"device-hw:{body.hardwareId}")
        existing = (await conn.execute(sa.select(Device.id).where(
            Device.hardware_id == body.hardwareId, Device.is_active.is_(True),
            Device.verified_at.is_(None)))).scalar()
        device_id = existing or Device().id
        values = dict(name=body.name, platform=body.platform, os_version=body.osVersion,
                      code_hash=code_digest(settings, device_id, code), code_expires_at=expires)
        if existing:
            await conn.execute(sa.update(Device).where(Device.id == device_id).values(**values))
        else:
            await conn.execute(sa.insert(Device).values(id=device_id, hardware_id=body.hardwareId,
                                                        is_active=True, created_at=now, **values))
    return json_response({"deviceId": device_id, "code": code, "expiresAt": iso(expires)}, status=201)


async def _failures(conn: sa.ext.asyncio.AsyncConnection, column: sa.Column, value: str,
                    since: datetime) -> int:
    stmt = sa.select(sa.func.count()).select_from(VerifyAttempt).where(
        column == value, VerifyAttempt.attempted_at > since)
    return (await conn.execute(stmt)).scalar_one()


async def _check_code(db: Database, settings: Settings, body: VerifyDevice, address: str,
                      now: datetime) -> str | None:
    """Returns an error message, or None when the code is right (and then consumes it)."""
    window = now - timedelta(minutes=settings.devices.verify_window_minutes)
    limit = settings.devices.verify_attempts
    async with db.write() as conn:
        await db.lock(conn, f"verify:{body.deviceId}")
        await db.lock(conn, f"verify-addr:{address}")
        if (await _failures(conn, VerifyAttempt.device_id, body.deviceId, window) >= limit
                or await _failures(conn, VerifyAttempt.client_addr, address, window) >= limit):
            raise ApiError(429, "Too many verification attempts; try again later",
                           headers={"Retry-After": str(settings.devices.verify_window_minutes * 60)})
        device = (await conn.execute(sa.select(Device).where(Device.id == body.deviceId))).first()
        expected = device and device.code_hash
        ok = bool(expected) and hmac.compare_digest(
            expected, code_digest(settings, body.deviceId, body.code))
        if not ok or not device.is_active or device.code_expires_at <= now:
            await conn.execute(sa.insert(VerifyAttempt).values(
                device_id=body.deviceId, client_addr=address, attempted_at=now))
            if device is None:
                return "Unknown device or invalid code"
            return "Code expired; register again" if ok else "Invalid or expired code"
        await conn.execute(sa.update(Device).where(Device.id == device.id).values(
            code_hash=None, code_expires_at=None, verified_at=now, last_seen_at=now))
    return None


@routes.post("/api/devices/verify")
async def verify_device(request: web.Request) -> web.Response:
    settings, db, now = request.app[SETTINGS], request.app[DB], request.app[CLOCK].now()
    body = await parse_body(request, VerifyDevice)
    problem = await _check_code(db, settings, body, client_address(request), now)
    if problem:
        raise ApiError(401, problem)
    token, expires = issue_device_token(settings.auth.jwt_secret.get_secret_value(), body.deviceId,
                                        now, settings.auth.device_token_days)
    return json_response({"token": token, "expiresAt": iso(expires)})


@routes.get("/api/devices")
async def list_devices(request: web.Request) -> web.Response:
    async with request.app[DB].read() as conn:
        rows = (await conn.execute(sa.select(Device).order_by(Device.created_at))).all()
    return json_response({"devices": [device_view(r) for r in rows]})


@routes.post("/api/devices/{id}/deactivate")
async def deactivate_device(request: web.Request) -> web.Response:
    db, now = request.app[DB], request.app[CLOCK].now()
    device_id = request.match_info["id"]
    async with db.write() as conn:
        result = await conn.execute(sa.update(Device).where(Device.id == device_id).values(
            is_active=False, deactivated_at=sa.func.coalesce(Device.deactivated_at,
                                                             sa.literal(now, Device.__table__.c.deactivated_at.type)),
            code_hash=None))
        if result.rowcount == 0:
            raise ApiError(404, f"Device {device_id} not found")
        device = (await conn.execute(sa.select(Device).where(Device.id == device_id))).one()
    return json_response({"device": device_view(device), "deactivatedBy": request[PRINCIPAL].kind})
