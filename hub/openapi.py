"""The OpenAPI 3.1 document of every route the app serves, generated from a declarative registry.

Each route is described once by an `Op` (hub/openapi_registry*.py): summary, tag, the pydantic
models that validate its body and query (the route modules' own), its responses as pydantic
models (hub/openapi_models*.py), its extra error statuses and who may call it. The routes
themselves are read from `app.router`, so a route nobody described is listed by
`undocumented_routes` (and shown in the document as undocumented) instead of silently missing.
Error envelopes follow the family `hub.errors.family_for` picks for the path, as the error
middleware does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel

Content = type[BaseModel] | dict[str, Any]  # a model, or a JSON schema for what no model describes
Auth = Literal["public", "optional", "key", "device"]
Brain = Literal["llm", "embedder", "training"]
SKIPPED_METHODS = frozenset({"HEAD", "OPTIONS", "*"})  # aiohttp adds HEAD to every GET


@dataclass(frozen=True)
class Reply:
    """One documented response: its content by media type (none: no body) and headers."""

    content: Mapping[str, Content] = field(default_factory=dict)
    description: str = ""
    headers: Mapping[str, dict[str, Any]] = field(default_factory=dict)


def json_reply(model: Content, description: str = "", **headers: dict[str, Any]) -> Reply:
    return Reply({"application/json": model}, description, headers)


@dataclass(frozen=True)
class Op:
    """How one route is documented. `path` is aiohttp's canonical form (`/x/{id}`, no regex)."""

    method: str
    path: str
    summary: str
    tag: str
    ok: Mapping[int, Reply | Content]
    body: type[BaseModel] | Mapping[str, Content] | None = None
    query: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    auth: Auth = "key"
    params: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    headers: Mapping[str, dict[str, Any]] = field(default_factory=dict)  # optional request headers: name -> schema
    brain: Brain | None = None  # what the route runs once its input is valid: a model, or a training process
    slow: bool = False  # takes large batches: the schemathesis run sends it fewer requests
    body_required: bool = True
    description: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.path


@dataclass(frozen=True)
class ServedRoute:
    """A route of `app.router` as the document names it."""

    method: str
    path: str
    handler: Any
    path_patterns: Mapping[str, str]  # parameter -> its regex, when not aiohttp's default


_PARAM = re.compile(r"\(\?P<(\w+)>(.*?)\)(?=/|\$|\)|$)")
_DEFAULT_PARAM = "[^{}/]+"


def _served_path(resource: web.AbstractResource) -> tuple[str, dict[str, str]]:
    info = resource.get_info()
    if "formatter" in info:
        patterns = {name: regex for name, regex in _PARAM.findall(info["pattern"].pattern) if regex != _DEFAULT_PARAM}
        return info["formatter"], patterns
    if "prefix" in info:  # a static directory
        return info["prefix"].rstrip("/") + "/{filename}", {}
    return resource.canonical, {}


def served_routes(app: web.Application) -> list[ServedRoute]:
    """Every route of the app (HEAD and catch-all methods left out), in registration order."""
    found: dict[tuple[str, str], ServedRoute] = {}
    for route in app.router.routes():
        if route.method in SKIPPED_METHODS or route.resource is None:
            continue
        path, patterns = _served_path(route.resource)
        found.setdefault((route.method, path), ServedRoute(route.method, path, route.handler, patterns))
    return list(found.values())


def operations(app: web.Application) -> dict[tuple[str, str], Op]:
    """The registry: every described route, plus the webhooks of the channels this app enabled."""
    from hub.channels_runtime import enabled_channels
    from hub.openapi_registry import OPERATIONS, webhook_operations
    from hub.state import SETTINGS

    webhooks = webhook_operations(enabled_channels(app[SETTINGS])) if SETTINGS in app else []
    return {op.key: op for op in (*OPERATIONS, *webhooks)}


def undocumented_routes(app: web.Application, registry: Mapping[tuple[str, str], Op] | None = None) -> list[str]:
    """"METHOD /path" of each route the registry does not describe."""
    registry = operations(app) if registry is None else registry
    return [f"{r.method} {r.path}" for r in served_routes(app) if (r.method, r.path) not in registry]


def iter_models(ops: list[Op]) -> Iterator[type[BaseModel]]:
    """Every model the document refers to (query models become parameters instead)."""
    from hub.openapi_schema import error_models

    yield from error_models()
    for op in ops:
        bodies = op.body.values() if isinstance(op.body, Mapping) else [op.body]
        replies = [r if isinstance(r, Reply) else json_reply(r) for r in op.ok.values()]
        for content in [*bodies, *(c for reply in replies for c in reply.content.values())]:
            if isinstance(content, type) and issubclass(content, BaseModel):
                yield content


def build_spec(app: web.Application) -> dict[str, Any]:
    """The whole OpenAPI 3.1 document for `app`."""
    from hub.openapi_schema import Components, document, operation_object, undocumented_object

    registry = operations(app)
    served = served_routes(app)
    described = [registry[(r.method, r.path)] for r in served if (r.method, r.path) in registry]
    components = Components(list(dict.fromkeys(iter_models(described))))
    paths: dict[str, dict[str, Any]] = {}
    for route in served:
        op = registry.get((route.method, route.path))
        item = operation_object(op, route, components) if op else undocumented_object(route)
        paths.setdefault(route.path, {})[route.method.lower()] = item
    return document(paths, components)
