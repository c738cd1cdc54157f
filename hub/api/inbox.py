"""The web inbox: `/` and its assets under `/static/` (public; the page itself asks for the API key).

The page is plain HTML, CSS and JavaScript modules from the package directory `hub/static/`, with no
build step and nothing from another origin. Every response carries a Content-Security-Policy that
allows scripts, styles, images and connections from this origin only and no inline script or style,
so a message that smuggled markup into the page could not run even if it were ever parsed as HTML.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

from aiohttp import web

routes = web.RouteTableDef()

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
INDEX = "index.html"
CONTENT_TYPES = MappingProxyType({
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
})
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",  # CSP 3: 'self' also matches ws:/wss: on this host, for /ws
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
SECURITY_HEADERS = MappingProxyType({
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    # Revalidate every time (cheap: ETag / Last-Modified answer 304) so an upgrade shows at once.
    "Cache-Control": "no-cache",
})


def asset_path(name: str) -> Path | None:
    """The file for an asset name, or None: flat names only, known types only, never outside STATIC_DIR."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    path = STATIC_DIR / name
    if path.suffix not in CONTENT_TYPES or path.parent != STATIC_DIR or not path.is_file():
        return None
    return path


def file_response(path: Path) -> web.FileResponse:
    headers = {"Content-Type": CONTENT_TYPES[path.suffix], **SECURITY_HEADERS}
    return web.FileResponse(path, headers=headers)


@routes.get("/")
async def inbox_page(request: web.Request) -> web.FileResponse:
    return file_response(STATIC_DIR / INDEX)


@routes.get("/static/{name}")
async def inbox_asset(request: web.Request) -> web.FileResponse:
    path = asset_path(request.match_info["name"])
    if path is None:
        raise web.HTTPNotFound()
    return file_response(path)
