"""The /docs page: the OpenAPI document rendered into one self-contained HTML page on the server (no
CDN, no framework, readable without JavaScript): each family's routes with their security,
parameters, bodies and responses, then every schema they name. A small inline script filters."""

from __future__ import annotations

import json
from html import escape
from typing import Any

REF = "#/components/schemas/"
LIMITS = ("minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minItems",
          "maxItems", "pattern", "default")
METHODS = ("get", "put", "post", "delete", "patch")
BRAIN_BADGES = {"llm": "runs the language model", "embedder": "runs the embedder",
                "training": "starts a training process"}

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { background: #1d2330; color: #fff; padding: 14px 20px; display: flex; gap: 16px; align-items: center;
         flex-wrap: wrap; }
header h1 { font-size: 18px; margin: 0; }
header input { flex: 1; min-width: 180px; padding: 6px 10px; border-radius: 6px; border: 0; font-size: 14px; }
header a { color: #9cc3ff; }
main { max-width: 1100px; margin: 0 auto; padding: 12px 16px 48px; }
h2 { margin: 28px 0 4px; font-size: 17px; }
.tagdoc { color: #555; margin: 0 0 10px; }
details.op, .model { background: #fff; border: 1px solid #dde1e7; border-radius: 8px; margin: 6px 0; }
details.op > summary { cursor: pointer; padding: 8px 12px; display: flex; gap: 10px; align-items: baseline;
                       flex-wrap: wrap; }
.method { font: bold 12px monospace; padding: 2px 6px; border-radius: 4px; color: #fff; min-width: 52px;
          text-align: center; }
.GET { background: #2f7d32; } .POST { background: #1f5fbf; } .DELETE { background: #b3261e; }
.PATCH { background: #8a5a00; } .PUT { background: #6a3fb5; }
.path { font-family: monospace; font-weight: 600; word-break: break-all; }
.badge { font-size: 11px; padding: 1px 6px; border-radius: 10px; background: #eef0f4; color: #444; }
.body, .model { padding: 4px 14px 12px; }
.body { border-top: 1px solid #eef0f4; }
h4 { margin: 12px 0 4px; font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: #666; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
td, th { text-align: left; padding: 4px 6px; border-bottom: 1px solid #eef0f4; vertical-align: top; }
code { font-family: ui-monospace, monospace; font-size: 12.5px; }
.muted { color: #777; }
"""

FILTER_SCRIPT = """
document.getElementById("filter").addEventListener("input", (event) => {
  const term = event.target.value.trim().toLowerCase();
  for (const op of document.querySelectorAll("[data-text]")) op.hidden = !op.dataset.text.includes(term);
});
"""


def _code(text: Any) -> str:
    return f"<code>{escape(str(text))}</code>"


def type_of(schema: dict[str, Any] | None) -> str:
    """A short, linked type: `Name`, `string (date-time)`, `integer[]`, `"a" | "b"`, `X | null`."""
    if not schema:
        return "any"
    if "$ref" in schema:
        name = schema["$ref"].removeprefix(REF)
        return f'<a href="#schema-{escape(name)}">{escape(name)}</a>'
    if "enum" in schema:
        return escape(" | ".join(json.dumps(v) for v in schema["enum"]))
    if "const" in schema:
        return escape(json.dumps(schema["const"]))
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        return " | ".join(type_of(option) for option in options)
    if schema.get("type") == "array":
        return type_of(schema.get("items")) + "[]"
    kind = escape(str(schema.get("type", "any")))
    return f"{kind} ({escape(schema['format'])})" if "format" in schema else kind


def notes(schema: dict[str, Any]) -> str:
    """Constraints and description, as plain text."""
    limits = " ".join(f"{key}={json.dumps(schema[key])}" for key in LIMITS if key in schema)
    return escape(" — ".join(part for part in (limits, schema.get("description", "")) if part))


def _rows(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _parameters(op: dict[str, Any]) -> str:
    rows = [(_code(p["name"]), escape(p["in"]), "required" if p.get("required") else "",
             type_of(p.get("schema")), notes({**p.get("schema", {}), "description": p.get("description", "")}))
            for p in op.get("parameters", [])]
    return "<h4>Parameters</h4>" + _rows(("name", "in", "", "type", "notes"), rows) if rows else ""


def _content(content: dict[str, Any] | None) -> str:
    return "<br>".join(f"{_code(kind)} {type_of(media.get('schema'))}" for kind, media in (content or {}).items())


def _security(op: dict[str, Any]) -> str:
    security = op.get("security", [])
    if not security:
        return "public"
    return "credential optional" if {} in security else "bearer API key or device token"


def operation_html(path: str, method: str, op: dict[str, Any]) -> str:
    verb = method.upper()
    badges = [_security(op)] + ([BRAIN_BADGES.get(op["x-brain"], op["x-brain"])] if op.get("x-brain") else [])
    summary = (f'<span class="method {verb}">{verb}</span><span class="path">{escape(path)}</span>'
               f'<span>{escape(op.get("summary", ""))}</span>'
               + "".join(f'<span class="badge">{escape(b)}</span>' for b in badges))
    parts = [f"<p>{escape(op['description'])}</p>" if op.get("description") else "", _parameters(op)]
    if "requestBody" in op:
        optional = "" if op["requestBody"].get("required") else " (optional)"
        parts.append(f"<h4>Request body{optional}</h4>{_content(op['requestBody'].get('content'))}")
    responses = [(f"<b>{escape(status)}</b>", escape(reply.get("description", "")), _content(reply.get("content")))
                 for status, reply in op.get("responses", {}).items()]
    parts.append("<h4>Responses</h4>" + _rows(("status", "meaning", "body"), responses))
    text = escape(f"{verb} {path} {op.get('summary', '')} {' '.join(op.get('tags', []))}".lower())
    return (f'<details class="op" id="op-{escape(op.get("operationId", verb + path))}" data-text="{text}">'
            f'<summary>{summary}</summary><div class="body">{"".join(parts)}</div></details>')


def schema_html(name: str, schema: dict[str, Any]) -> str:
    required = set(schema.get("required", []))
    rows = [(_code(prop), "required" if prop in required else "", type_of(sub), notes(sub))
            for prop, sub in schema.get("properties", {}).items()]
    table = _rows(("field", "", "type", "notes"), rows) if rows else f"<p>{type_of(schema)} {notes(schema)}</p>"
    doc = f'<p class="muted">{escape(schema["description"])}</p>' if schema.get("description") else ""
    return (f'<div class="model" id="schema-{escape(name)}" data-text="{escape(name.lower())}">'
            f"<h4>{escape(name)}</h4>{doc}{table}</div>")


def _sections(spec: dict[str, Any]) -> list[str]:
    by_tag: dict[str, list[str]] = {tag["name"]: [] for tag in spec.get("tags", [])}
    for path, item in spec["paths"].items():
        for method in (m for m in METHODS if m in item):
            op = item[method]
            by_tag.setdefault((op.get("tags") or ["Other"])[0], []).append(operation_html(path, method, op))
    described = {tag["name"]: tag.get("description", "") for tag in spec.get("tags", [])}
    return [f'<section><h2>{escape(tag)}</h2><p class="tagdoc">{escape(described.get(tag, ""))}</p>{"".join(ops)}'
            "</section>" for tag, ops in by_tag.items() if ops]


def render_docs(spec: dict[str, Any]) -> str:
    """The whole page for an OpenAPI document."""
    info = spec.get("info", {})
    schemas = "".join(schema_html(name, schema) for name, schema in spec.get("components", {})
                      .get("schemas", {}).items())
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(info.get('title', 'API'))} API</title><style>{STYLE}</style></head><body>"
            f"<header><h1>{escape(info.get('title', 'API'))} API {escape(str(info.get('version', '')))}</h1>"
            '<input id="filter" placeholder="Filter by path, summary, tag or schema" aria-label="Filter">'
            '<a href="/openapi.json">openapi.json</a></header>'
            f'<main><p>{escape(info.get("description", ""))}</p>{"".join(_sections(spec))}'
            f"<section><h2>Schemas</h2>{schemas}</section></main>"
            f"<script>{FILTER_SCRIPT}</script></body></html>")
