"""The baseline: a bare aiohttp app whose handler only parses the same JSON body."""

from __future__ import annotations

import sys

from aiohttp import web


async def parse_only(request: web.Request) -> web.Response:
    body = await request.json()
    return web.json_response({"received": len(body.get("messages", []))})


async def ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


app = web.Application(client_max_size=1024 * 1024)
app.router.add_post("/api/sync/messages", parse_only)
app.router.add_get("/health", ok)

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
