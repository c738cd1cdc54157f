"""Authentication in one place: every route needs an API key or a device JWT unless listed public."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Awaitable, Callable

import jwt
import sqlalchemy as sa
from aiohttp import web

from hub.errors import ApiError
from hub.state import CLOCK, DB, PRINCIPAL, SETTINGS
from storage.db import Database
from storage.models import ApiKey, Device

API_KEY_PREFIX = "rd_"
WS_PROTOCOL = "replydesk"  # the subprotocol /ws answers with; the token one is never echoed
WS_TOKEN_PREFIX = "bearer."
JWT_ALGORITHM = "HS256"
PUBLIC_PATHS = frozenset({"/health", "/api/devices/register", "/api/devices/verify",
                          "/openapi.json", "/docs", "/"})
PUBLIC_PREFIXES = ("/webhooks/", "/static/")
_LAST_USED_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    kind: str  # "api_key" or "device"
    id: str
    name: str

    @property
    def device_id(self) -> str | None:
        return self.id if self.kind == "device" else None


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def issue_device_token(secret: str, device_id: str, now: datetime, days: int) -> tuple[str, datetime]:
    expires = now + timedelta(days=days)
    claims = {"sub": device_id, "typ": "device", "iat": int(now.timestamp()),
              "exp": int(expires.timestamp()), "jti": secrets.token_hex(8)}
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM), expires


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if request.headers.get("X-API-Key"):
        return request.headers["X-API-Key"].strip()
    if request.path == "/ws":
        return websocket_token(request)
    return None


def websocket_token(request: web.Request) -> str | None:
    """A browser cannot set headers on a WebSocket: it offers `bearer.<key>` as a subprotocol
    (kept out of URLs and access logs), or, for other clients, `?token=<key>`."""
    offered = request.headers.get("Sec-WebSocket-Protocol", "")
    for protocol in (p.strip() for p in offered.split(",")):
        if protocol.startswith(WS_TOKEN_PREFIX) and len(protocol) > len(WS_TOKEN_PREFIX):
            return protocol.removeprefix(WS_TOKEN_PREFIX)
    return request.query.get("token") or None


async def _api_key_principal(db: Database, token: str, now: datetime) -> Principal:
    row = await db.first(sa.select(ApiKey).where(ApiKey.key_hash == hash_api_key(token)))
    if row is None or row.revoked_at is not None:
        raise ApiError(401, "Invalid or revoked API key")
    if row.last_used_at is None or now - row.last_used_at > _LAST_USED_EVERY:
        await db.execute(sa.update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now))
    return Principal("api_key", str(row.id), row.name)


async def _device_principal(db: Database, secret: str, token: str, now: datetime) -> Principal:
    try:
        # Time claims are checked below against the injected clock, not the library's.
        claims = jwt.decode(token, secret, algorithms=[JWT_ALGORITHM],
                            options={"require": ["exp", "sub", "iat"], "verify_exp": False,
                                     "verify_iat": False})
    except jwt.PyJWTError:
        raise ApiError(401, "Invalid token") from None
    if claims.get("typ") != "device" or not isinstance(claims["exp"], (int, float)):
        raise ApiError(401, "Invalid token")
    if claims["exp"] <= now.timestamp():
        raise ApiError(401, "Token expired")
    device = await db.first(sa.select(Device.id, Device.name, Device.is_active)
                            .where(Device.id == claims["sub"]))
    if device is None:
        raise ApiError(401, "Invalid token")
    if not device.is_active:
        raise ApiError(403, "Device is deactivated")
    return Principal("device", device.id, device.name)


async def authenticate(request: web.Request) -> Principal:
    token = bearer_token(request)
    if not token:
        raise ApiError(401, "Missing credentials: send Authorization: Bearer <token>")
    app = request.app
    now = app[CLOCK].now()
    if token.startswith(API_KEY_PREFIX):
        return await _api_key_principal(app[DB], token, now)
    secret = app[SETTINGS].auth.jwt_secret.get_secret_value()
    return await _device_principal(app[DB], secret, token, now)


async def optional_principal(request: web.Request) -> Principal | None:
    """For public routes that do more for an authenticated caller."""
    if bearer_token(request) is None:
        return None
    return await authenticate(request)


@web.middleware
async def auth_middleware(request: web.Request,
                          handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    if not is_public(request.path):
        request[PRINCIPAL] = await authenticate(request)
    return await handler(request)


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
