"""Seed 000 device pairing: register (6-digit code), verify (JWT), list, deactivate."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

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
from storage.models import Device, UTCDateTime, VerifyAttempt, new_uid

routes = web.RouteTableDef()
RATE_LIMITED = "rate-limited"


class RegisterDevice(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=255)
    hardwareId: str = Field(min_length=1, max_length=255)
    platform: str = Field(min_length=1, max_length=32)
    osVersion: str = Field("", max_length=64)


class VerifyDevice(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    deviceId: str = Field(min_length=1, max_length=36)  # devices.id and verify_attempts.device_id
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


PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def _is_loopback(address: str) -> bool:
    return address in ("127.0.0.1", "::1", "localhost") or address.startswith("127.")


def _is_local_request(request: web.Request) -> bool:
    """A request from this machine itself. Behind a reverse proxy every request arrives from
    loopback, so one that was forwarded (the proxy adds a forwarding header) is never local."""
    if any(header in request.headers for header in PROXY_HEADERS):
        return False
    return _is_loopback(client_address(request))


def _store_code(conn: sa.Connection, db: Database, settings: Settings, body: RegisterDevice,
                code: str, expires: datetime, now: datetime) -> str:
    """Re-issue a code to an unpaired device with this hardware id, or create a device."""
    db.lock(conn, f"device-hw:{body.hardwareId}")
    existing = conn.execute(sa.select(Device.id).where(
        Device.hardware_id == body.hardwareId, Device.is_active.is_(True),
        Device.verified_at.is_(None))).scalar()
    device_id = existing or new_uid()
    values = dict(name=body.name, platform=body.platform, os_version=body.osVersion,
                  code_hash=code_digest(settings, device_id, code), code_expires_at=expires)
    if existing:
        conn.execute(sa.update(Device).where(Device.id == device_id).values(**values))
    else:
        conn.execute(sa.insert(Device).values(id=device_id, hardware_id=body.hardwareId, is_active=True,
                                              created_at=now, **values))
    return device_id


@routes.post("/api/devices/register")
async def register_device(request: web.Request) -> web.Response:
    settings, db, now = request.app[SETTINGS], request.app[DB], request.app[CLOCK].now()
    principal = await optional_principal(request)
    if principal is None and not settings.devices.open_registration \
            and not _is_local_request(request):
        raise ApiError(403, "Device registration from another machine needs an API key "
                            "(or devices.open_registration = true)")
    body = await parse_body(request, RegisterDevice)
    code = f"{secrets.randbelow(1_000_000):06d}"
    expires = now + timedelta(minutes=settings.devices.code_ttl_minutes)
    device_id = await db.write(_store_code, db, settings, body, code, expires, now)
    return json_response({"deviceId": device_id, "code": code, "expiresAt": iso(expires)}, status=201)


def _failures(conn: sa.Connection, column: Any, value: str, since: datetime) -> int:
    stmt = sa.select(sa.func.count()).select_from(VerifyAttempt).where(
        column == value, VerifyAttempt.attempted_at > since)
    return conn.execute(stmt).scalar_one()


def _check_code(conn: sa.Connection, db: Database, settings: Settings, body: VerifyDevice, address: str,
                now: datetime) -> str | None:
    """One unit of work: count failures, check the code, consume it or record the failure.
    Returns an error message (RATE_LIMITED when locked out), or None when the code was right."""
    window = now - timedelta(minutes=settings.devices.verify_window_minutes)
    limit = settings.devices.verify_attempts
    db.lock(conn, f"verify:{body.deviceId}")
    db.lock(conn, f"verify-addr:{address}")
    if (_failures(conn, VerifyAttempt.device_id, body.deviceId, window) >= limit
            or _failures(conn, VerifyAttempt.client_addr, address, window) >= limit):
        return RATE_LIMITED
    device = conn.execute(sa.select(Device).where(Device.id == body.deviceId)).first()
    expected = device.code_hash if device else None
    ok = bool(expected) and hmac.compare_digest(expected, code_digest(settings, body.deviceId, body.code))
    if not ok or not device.is_active or device.code_expires_at <= now:
        conn.execute(sa.insert(VerifyAttempt).values(device_id=body.deviceId, client_addr=address,
                                                     attempted_at=now))
        if device is None:
            return "Unknown device or invalid code"
        return "Code expired; register again" if ok else "Invalid or expired code"
    conn.execute(sa.update(Device).where(Device.id == device.id).values(
        code_hash=None, code_expires_at=None, verified_at=now, last_seen_at=now))
    return None


@routes.post("/api/devices/verify")
async def verify_device(request: web.Request) -> web.Response:
    settings, db, now = request.app[SETTINGS], request.app[DB], request.app[CLOCK].now()
    body = await parse_body(request, VerifyDevice)
    problem = await db.write(_check_code, db, settings, body, client_address(request), now)
    if problem == RATE_LIMITED:
        raise ApiError(429, "Too many verification attempts; try again later",
                       headers={"Retry-After": str(settings.devices.verify_window_minutes * 60)})
    if problem:
        raise ApiError(401, problem)
    token, expires = issue_device_token(settings.auth.jwt_secret.get_secret_value(), body.deviceId,
                                        now, settings.auth.device_token_days)
    return json_response({"token": token, "expiresAt": iso(expires)})


@routes.get("/api/devices")
async def list_devices(request: web.Request) -> web.Response:
    rows = await request.app[DB].rows(sa.select(Device).order_by(Device.created_at))
    return json_response({"devices": [device_view(r) for r in rows]})


@routes.post("/api/devices/{id}/deactivate")
async def deactivate_device(request: web.Request) -> web.Response:
    db, now = request.app[DB], request.app[CLOCK].now()
    device_id = request.match_info["id"]
    deactivate = sa.update(Device).where(Device.id == device_id).values(
        is_active=False, code_hash=None,
        deactivated_at=sa.func.coalesce(Device.deactivated_at, sa.literal(now, UTCDateTime())))
    if await db.execute(deactivate) == 0:
        raise ApiError(404, f"Device {device_id} not found")
    device = await db.first(sa.select(Device).where(Device.id == device_id))
    return json_response({"device": device_view(device), "deactivatedBy": request[PRINCIPAL].kind})
