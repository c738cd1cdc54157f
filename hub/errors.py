"""One error boundary for every request, rendering each API family's documented envelope.

Exception tree:
    ApiError            a client-facing error with an HTTP status (raised by handlers)
      ValidationFailed  the body or query did not validate (400), with per-field issues
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any, Awaitable, Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

log = logging.getLogger("replydesk.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_PHRASES = {413: "Payload Too Large"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.extra = extra or {}


class ValidationFailed(ApiError):
    def __init__(self, message: str, issues: list[dict[str, Any]], source: str = "body") -> None:
        super().__init__(400, message, extra={"issues": issues})
        self.issues = issues
        self.source = source  # "body", "query" or "path": FastAPI's first `loc` element


def family_for(path: str) -> str:
    """Which API family owns a path, so errors keep that family's documented shape."""
    if path.startswith("/api/v1/"):
        return "seed003"
    if path.startswith("/api/ai-hub/"):
        return "seed004"
    if path == "/prompt" or path.startswith("/conversation/"):
        return "seed002"
    if path.startswith("/webhooks/"):
        return "webhook"
    return "seed000"


def phrase(status: int) -> str:
    if status in _PHRASES:
        return _PHRASES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def error_body(family: str, status: int, message: str, extra: dict[str, Any]) -> dict[str, Any]:
    if family in ("seed003", "seed002"):
        if status >= 500 and family == "seed003":
            return {"error": "Internal server error", "message": message,
                    "timestamp": datetime.now(timezone.utc).isoformat(),
                    "request_id": extra.get("request_id", "")}
        return {"detail": message}
    if family == "seed004":
        body: dict[str, Any] = {"success": False, "error": message}
        if extra.get("issues"):
            body["issues"] = extra["issues"]
        for key in ("retry_after", "assistant_id"):
            if key in extra:
                body[key] = extra[key]
        return body
    if family == "webhook":
        return {"error": message}
    return {"statusCode": status, "message": message, "error": phrase(status)}


FASTAPI_FAMILIES = ("seed002", "seed003")


def fastapi_validation_detail(issues: list[dict[str, Any]], where: str = "body") -> list[dict[str, Any]]:
    """FastAPI's 422 shape: [{"loc": ["body", "field"], "msg": "...", "type": "..."}]."""
    detail = []
    for issue in issues:
        path = [] if issue["path"] == "(body)" else [int(p) if p.isascii() and p.isdigit() else p for p in issue["path"].split(".")]
        detail.append({"loc": [where, *path], "msg": issue["message"], "type": issue.get("type", "value_error")})
    return detail


def error_response(request: web.Request, status: int, message: str,
                   extra: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> web.Response:
    body = error_body(family_for(request.path), status, message, extra or {})
    return web.json_response(body, status=status, headers=headers,
                             dumps=lambda obj: json.dumps(obj, ensure_ascii=False))


def _http_exception_message(exc: web.HTTPException) -> str:
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return "Request body is too large"
    if isinstance(exc, web.HTTPNotFound):
        return "Not found"
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return f"Method {exc.method} not allowed"
    text = exc.text or ""
    return text if text and not text.startswith(f"{exc.status}:") else exc.reason


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        if any("\x00" in value for value in request.match_info.values()):
            raise web.HTTPNotFound()  # no stored id holds NUL (PostgreSQL cannot even compare one)
        return await handler(request)
    except ValidationFailed as exc:
        if family_for(request.path) in FASTAPI_FAMILIES:
            return web.json_response({"detail": fastapi_validation_detail(exc.issues, exc.source)}, status=422)
        return error_response(request, exc.status, exc.message, exc.extra, exc.headers)
    except ApiError as exc:
        return error_response(request, exc.status, exc.message, exc.extra, exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
        return error_response(request, exc.status, _http_exception_message(exc), headers=headers)
    except HttpProcessingError:  # found while a handler read the body (a malformed multipart part's headers)
        return error_response(request, 400, "Malformed request body")
    except asyncio.CancelledError:
        raise
    except Exception:
        request_id = uuid.uuid4().hex[:12]
        log.exception("unhandled error on %s %s (request %s)", request.method, request.path, request_id)
        return error_response(request, 500, "Internal server error", {"request_id": request_id})
