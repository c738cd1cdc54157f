"""The web inbox's files over real HTTP: `/` and `/static/*` are public, typed, and sent with a
Content-Security-Policy that forbids inline script and other origins; nothing else is exposed;
the page's own code never writes HTML from strings; its WebSocket authenticates without putting
the key in the URL."""

from __future__ import annotations

import json
import re

import aiohttp
import pytest

from hub.api.inbox import CONTENT_TYPES, STATIC_DIR
from tests.hub.api.helpers import assert_seed000_error

ASSETS = sorted(p.name for p in STATIC_DIR.iterdir())


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def assert_locked_down(resp) -> None:
    policy = csp_directives(resp.headers["Content-Security-Policy"])
    assert policy["default-src"] == ["'none'"]
    for directive in ("script-src", "style-src", "img-src", "connect-src"):
        assert policy[directive] == ["'self'"], directive  # no 'unsafe-inline', no other origin
    assert policy["frame-ancestors"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_the_page_is_public_and_locked_down(hub):
    resp = await hub.client.get("/")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    assert_locked_down(resp)
    assert "<title>Replydesk inbox</title>" in await resp.text()


async def test_every_asset_is_public_with_its_type(hub):
    assert {"index.html", "app.js", "inbox.css"} <= set(ASSETS)
    for name in ASSETS:
        resp = await hub.client.get(f"/static/{name}")
        assert resp.status == 200, name
        assert resp.headers["Content-Type"] == CONTENT_TYPES["." + name.rsplit(".", 1)[1]], name
        assert_locked_down(resp)
        assert await resp.read() == (STATIC_DIR / name).read_bytes()


async def test_assets_revalidate_cheaply(hub):
    first = await hub.client.get("/static/app.js")
    again = await hub.client.get("/static/app.js", headers={"If-None-Match": first.headers["ETag"]})
    assert first.headers["Cache-Control"] == "no-cache" and again.status == 304


async def test_nothing_else_is_served_and_the_api_still_needs_a_key(hub):
    for path in ("/static/missing.js", "/static/inbox.py", "/static/.hidden.js", "/static/..%2Fapi%2Finbox.py",
                 "/static/%2E%2E%2Fstatic%2Fapp.js", "/static/"):
        resp = await hub.client.get(path)
        assert resp.status == 404, path
        assert_seed000_error(await resp.json(), 404)
    assert (await hub.client.get("/api/v1/conversations")).status == 401


async def test_the_page_socket_offers_the_key_as_a_subprotocol_that_is_never_echoed(hub):
    ws = await hub.client.ws_connect("/ws", protocols=("replydesk", f"bearer.{hub.api_key}"))
    assert ws.protocol == "replydesk"
    assert json.loads((await ws.receive(timeout=5)).data)["type"] == "connected"
    await ws.close()
    for offered in (("replydesk", "bearer.rd_wrongwrongwrongwrongwrong"), ("replydesk", "bearer."), ("replydesk",)):
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            await hub.client.ws_connect("/ws", protocols=offered)
        assert caught.value.status == 401, offered


def test_the_package_directory_is_flat():
    """pyproject ships `hub = ["static/*"]`: a subfolder would be left out of the wheel."""
    assert all((STATIC_DIR / name).is_file() for name in ASSETS)
    assert all("." + name.rsplit(".", 1)[-1] in CONTENT_TYPES for name in ASSETS)


def test_the_page_loads_only_its_own_files():
    html = (STATIC_DIR / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"
    assert not re.search(r"\sstyle=|<style|\son[a-z]+=", html, re.I), "inline style or handler"
    for url in re.findall(r'(?:src|href)="([^"#]+)"', html):
        assert url.startswith("/static/") and (STATIC_DIR / url.removeprefix("/static/")).is_file(), url


def test_modules_import_only_files_that_exist():
    for name in (n for n in ASSETS if n.endswith(".js")):
        for target in re.findall(r'^import .* from "([^"]+)";$', (STATIC_DIR / name).read_text(), re.M):
            assert target.startswith("./") and (STATIC_DIR / target[2:]).is_file(), (name, target)


def test_scripts_never_write_html_from_strings():
    sinks = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function")
    for name in (n for n in ASSETS if n.endswith(".js")):
        assert not sinks.search((STATIC_DIR / name).read_text()), name
