"""GET /openapi.json (the OpenAPI 3.1 document of every route, hub/openapi.py) and GET /docs (that
document rendered into a self-contained page, hub/openapi_docs.py). Both public (hub/auth.PUBLIC_PATHS)."""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass

from aiohttp import web

from hub.openapi import build_spec
from hub.openapi_docs import render_docs

routes = web.RouteTableDef()


@dataclass(frozen=True)
class _Rendered:
    spec: bytes
    docs: str


# Built once per app: its router is frozen once it serves (an AppKey cannot be set on a frozen app).
_RENDERED: weakref.WeakKeyDictionary[web.Application, _Rendered] = weakref.WeakKeyDictionary()


def _rendered(app: web.Application) -> _Rendered:
    cached = _RENDERED.get(app)
    if cached is None:
        document = build_spec(app)
        cached = _RENDERED[app] = _Rendered(json.dumps(document, ensure_ascii=False).encode(), render_docs(document))
    return cached


@routes.get("/openapi.json")
async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=_rendered(request.app).spec, content_type="application/json", charset="utf-8")


@routes.get("/docs")
async def docs(request: web.Request) -> web.Response:
    return web.Response(text=_rendered(request.app).docs, content_type="text/html", charset="utf-8")
