"""Verify, then parse: request bodies and queries validated by pydantic models."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from hub.errors import ValidationFailed

M = TypeVar("M", bound=BaseModel)


def issues_from(exc: ValidationError) -> list[dict[str, Any]]:
    issues = []
    for error in exc.errors():
        path = ".".join(str(part) for part in error["loc"]) or "(body)"
        message = "is required" if error["type"] == "missing" else error["msg"]
        issues.append({"path": path, "message": message, "type": error["type"]})
    return issues


def nul_issues(data: Any, path: str = "") -> list[dict[str, Any]]:
    """Strings (keys included) holding NUL, which no text column can store (PostgreSQL refuses it)."""
    if isinstance(data, str):
        return [{"path": path or "(body)", "message": "must not contain a NUL character", "type": "string_nul"}] \
            if "\x00" in data else []
    if isinstance(data, dict):
        items = [(f"{path}.{key}" if path else str(key), key, value) for key, value in data.items()]
        return [issue for where, key, value in items for issue in nul_issues(key, where) + nul_issues(value, where)]
    if isinstance(data, list):
        return [issue for i, value in enumerate(data) for issue in nul_issues(value, f"{path}.{i}" if path else str(i))]
    return []


def _failed(issues: list[dict[str, Any]], source: str) -> ValidationFailed:
    summary = "; ".join(f"{i['path']}: {i['message']}" for i in issues[:5])
    return ValidationFailed(f"Validation failed: {summary}", issues, source)


def validate(model: type[M], data: Any, source: str = "body") -> M:
    issues = nul_issues(data)
    if issues:
        raise _failed(issues, source)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _failed(issues_from(exc), source) from None


async def read_json(request: web.Request) -> Any:
    raw = await request.read()
    if not raw.strip():
        raise ValidationFailed("Request body is empty; a JSON object is required",
                               [{"path": "(body)", "message": "Field required", "type": "missing"}])
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValidationFailed("Malformed JSON body",
                               [{"path": "(body)", "message": "JSON decode error", "type": "json_invalid"}]) from None


async def parse_body(request: web.Request, model: type[M]) -> M:
    data = await read_json(request)
    if not isinstance(data, dict):
        raise ValidationFailed("The JSON body must be an object",
                               [{"path": "(body)", "message": "Input should be an object", "type": "dict_type"}])
    return validate(model, data)


def parse_query(request: web.Request, model: type[M]) -> M:
    return validate(model, dict(request.query), source="query")
