"""Pydantic models to OpenAPI 3.1 objects for hub/openapi.py: components, parameters, request
bodies, responses with each family's error envelope, and the document around them."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import metadata
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from hub.errors import FASTAPI_FAMILIES, family_for, phrase
from hub.openapi_models import (DetailError, HTTPValidationError, Seed000Error, Seed003ServerError, Seed004Error,
                                WebhookError)

if TYPE_CHECKING:
    from hub.openapi import Op, Reply, ServedRoute

REF = "#/components/schemas/"
TAGS = (
    ("Hub", "The hub itself: health, the event stream, this document."),
    ("Server API (seed 000)", "Device pairing, iMessage sync and the device outbox, conversations, "
                              "response drafts. Errors `{statusCode, message, error}`."),
    ("ML API (seed 000)", "Generation, suggestions, memory, style, persona, triage and sales. "
                          "Errors `{statusCode, message, error}`."),
    ("Assistant (seed 002)", "The personal assistant. Errors `{detail}`, 422 `{detail: [{loc, msg, type}]}`."),
    ("Lead conversations (seed 003)", "Conversation management under /api/v1. Errors `{detail}`, "
                                      "422 `{detail: [{loc, msg, type}]}`."),
    ("AI hub (seed 004)", "Assistants, knowledge folders and ask. Errors `{success: false, error, issues}`."),
    ("Webhooks", "Platform callbacks, verified by each channel's signature scheme. Errors `{error}`."),
)
SECURITY = {
    "bearer": {"type": "http", "scheme": "bearer",
               "description": "An API key (`rd_…`, from `replydesk keys create`) or a device token from "
                              "POST /api/devices/verify."},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
               "description": "The same credential in a header of its own."},
}
_SECURITY_BY_AUTH: dict[str, list[dict[str, list[str]]]] = {
    "public": [], "optional": [{}, {"bearer": []}, {"apiKey": []}],
    "key": [{"bearer": []}, {"apiKey": []}], "device": [{"bearer": []}],
}
RETRY_AFTER = {"description": "Seconds to wait before retrying", "schema": {"type": "integer", "minimum": 0}}


def error_models() -> list[type[BaseModel]]:
    return [Seed000Error, DetailError, HTTPValidationError, Seed003ServerError, Seed004Error, WebhookError]


def error_model(path: str, status: int) -> type[BaseModel]:
    """The envelope hub.errors renders for an error status on `path`."""
    family = family_for(path)
    if family in FASTAPI_FAMILIES:
        if status == 422:
            return HTTPValidationError
        return Seed003ServerError if family == "seed003" and status >= 500 else DetailError
    return {"seed004": Seed004Error, "webhook": WebhookError}.get(family, Seed000Error)


def validation_status(path: str) -> int:
    return 422 if family_for(path) in FASTAPI_FAMILIES else 400


def _rewrite_refs(node: Any, renamed: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        return {k: (REF + renamed.get(v[len(REF):], v[len(REF):]) if k == "$ref" and isinstance(v, str)
                    and v.startswith(REF) else _rewrite_refs(v, renamed)) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite_refs(v, renamed) for v in node]
    return node


class Components:
    """The component schemas of a set of models, named by class (`module.Class` when two share a name)."""

    def __init__(self, models: list[type[BaseModel]]) -> None:
        refs, defs = models_json_schema([(m, "validation") for m in models], ref_template=REF + "{model}")
        raw = defs.get("$defs", {})
        renamed = {name: ".".join(name.split("__")[-2:]) for name in raw if "__" in name}
        self.schemas: dict[str, Any] = {renamed.get(k, k): _rewrite_refs(v, renamed) for k, v in sorted(raw.items())}
        self._refs = {model: _rewrite_refs(refs[(model, "validation")], renamed) for model in models}

    def schema(self, content: Any) -> dict[str, Any]:
        if isinstance(content, type) and issubclass(content, BaseModel):
            return dict(self._refs[content])
        return dict(content)

    def add(self, defs: Mapping[str, Any]) -> None:
        for name, schema in defs.items():
            self.schemas.setdefault(name, schema)


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query value is a string or absent, never null: `X | None` documents as X, optional."""
    options = schema.get("anyOf")
    if options and {"type": "null"} in options:
        rest = [o for o in options if o != {"type": "null"}]
        schema = {k: v for k, v in schema.items() if k != "anyOf"}
        schema.update(rest[0] if len(rest) == 1 else {"anyOf": rest})
    if schema.get("default", 0) is None:
        schema.pop("default")
    return schema


def query_parameters(model: type[BaseModel], components: Components) -> list[dict[str, Any]]:
    schema = model.model_json_schema(mode="validation", ref_template=REF + "{model}")
    components.add(schema.get("$defs", {}))
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        prop = _not_null({k: v for k, v in prop.items() if k != "title"})
        param = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if "description" in prop:
            param["description"] = prop.pop("description")
        params.append(param)
    return params


def path_parameters(op: Op, route: ServedRoute) -> list[dict[str, Any]]:
    params = []
    for name in (part[1:-1] for part in route.path.split("/") if part.startswith("{") and part.endswith("}")):
        default: dict[str, Any] = {"type": "string"}
        if name in route.path_patterns:
            default["pattern"] = f"^{route.path_patterns[name]}$"
        params.append({"name": name, "in": "path", "required": True, "schema": dict(op.params.get(name, default))})
    return params


def request_body(op: Op, components: Components) -> dict[str, Any] | None:
    if op.body is None:
        return None
    media = op.body if isinstance(op.body, Mapping) else {"application/json": op.body}
    return {"required": op.body_required,
            "content": {kind: {"schema": components.schema(content)} for kind, content in media.items()}}


def _reply_object(status: int, reply: Reply, components: Components) -> dict[str, Any]:
    out: dict[str, Any] = {"description": reply.description or phrase(status)}
    if reply.content:
        out["content"] = {kind: {"schema": components.schema(c)} for kind, c in reply.content.items()}
    if reply.headers:
        out["headers"] = {name: dict(header) for name, header in reply.headers.items()}
    return out


def error_statuses(op: Op, route: ServedRoute) -> list[int]:
    """The op's own error statuses plus those every route of its kind can answer."""
    statuses = set(op.errors)
    if op.auth in ("key", "device"):
        statuses |= {401, 403}
    elif op.auth == "optional":
        statuses.add(401)
    if op.body is not None or op.query is not None or op.headers:
        statuses.add(validation_status(route.path))
    if op.body is not None:
        statuses.add(413)
    if "{" in route.path:
        statuses.add(404)
    return sorted(statuses)


def responses(op: Op, route: ServedRoute, components: Components) -> dict[str, Any]:
    from hub.openapi import Reply, json_reply

    out = {str(status): _reply_object(status, reply if isinstance(reply, Reply) else json_reply(reply), components)
           for status, reply in sorted(op.ok.items())}
    for status in error_statuses(op, route):
        headers: dict[str, Any] = {}
        if status in (429, 503):
            headers["Retry-After"] = {**RETRY_AFTER, "required": status == 429}
        reply = json_reply(error_model(route.path, status), **headers)
        out.setdefault(str(status), _reply_object(status, reply, components))
    return out


def operation_object(op: Op, route: ServedRoute, components: Components) -> dict[str, Any]:
    module = getattr(route.handler, "__module__", "").rsplit(".", 1)[-1]
    item: dict[str, Any] = {
        "tags": [op.tag], "summary": op.summary,
        "operationId": f"{module}.{route.handler.__name__}" if module != "channels_runtime" else
        f"webhook{route.path.replace('/webhooks', '').replace('/', '.')}",
        "security": _SECURITY_BY_AUTH[op.auth],
    }
    if op.description:
        item["description"] = op.description
    params = path_parameters(op, route) + (query_parameters(op.query, components) if op.query else [])
    params += [{"name": name, "in": "header", "required": False, "schema": dict(schema)}
               for name, schema in op.headers.items()]
    if params:
        item["parameters"] = params
    body = request_body(op, components)
    if body:
        item["requestBody"] = body
    item["responses"] = responses(op, route, components)
    if op.brain:
        item["x-brain"] = op.brain
    return item


def undocumented_object(route: ServedRoute) -> dict[str, Any]:
    """A served route nobody described: listed, so it is not silently missing."""
    return {"tags": ["Undocumented"], "summary": f"{route.method} {route.path} (not described yet)",
            "x-undocumented": True, "responses": {"default": {"description": "Not described yet"}}}


def _version() -> str:
    try:
        return metadata.version("replydesk")
    except metadata.PackageNotFoundError:
        return "0"


def document(paths: dict[str, Any], components: Components) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Replydesk", "version": _version(),
                 "description": "Every API family the hub serves, each with its documented error envelope. "
                                "Authenticate with `Authorization: Bearer <API key or device token>`."},
        "tags": [{"name": name, "description": text} for name, text in TAGS],
        "paths": paths,
        "components": {"schemas": components.schemas, "securitySchemes": SECURITY},
    }
