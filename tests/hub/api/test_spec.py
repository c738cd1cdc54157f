"""/openapi.json and /docs: every served route described, from the models that validate requests,
with each family's error envelope; the page renders it without anything from another origin."""

from __future__ import annotations

import re
from html import escape
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from aiohttp import web

import hub.api
from channels import REGISTRY
from hub.api.devices import RegisterDevice
from hub.api.v1_conversations import IDEMPOTENCY_KEY_MAX, ListQuery
from hub.app import create_app
from hub.auth import is_public
from hub.channels_runtime import add_webhook_routes
from hub.openapi import Op, build_spec, operations, served_routes, undocumented_routes
from hub.openapi_docs import render_docs
from hub.openapi_models_ml import Triage
from hub.openapi_registry import OPERATIONS, webhook_operations
from hub.openapi_schema import error_model
from storage.ids import ROW_ID_MAX
from tests.conftest import make_settings

REF = "#/components/schemas/"
VALIDATES = re.compile(r"\b(?:parse_body|parse_query|parse)\(request, (?:\w+\.)?(\w+)")
FAMILY_ERRORS = {"/api/v1/": {"DetailError", "HTTPValidationError", "Seed003ServerError"},
                 "/api/ai-hub/": {"Seed004Error"}, "/prompt": {"DetailError", "HTTPValidationError"},
                 "/conversation/": {"DetailError", "HTTPValidationError"}, "/webhooks/": {"WebhookError"}}


@pytest.fixture(scope="module")
def bare_app(tmp_path_factory: pytest.TempPathFactory) -> web.Application:
    """The app as create_app builds it, never started (its router is all that is read)."""
    tmp = tmp_path_factory.mktemp("spec")
    return create_app(make_settings(tmp, f"sqlite:///{tmp / 'unused.db'}"))


@pytest.fixture(scope="module")
def spec(bare_app: web.Application) -> dict[str, Any]:
    return build_spec(bare_app)


def operations_of(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, item in spec["paths"].items() for method, op in item.items()]


def refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"][len(REF):]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(refs(v) for v in node))
    return set()


def test_every_served_route_is_described(bare_app: web.Application) -> None:
    missing = undocumented_routes(bare_app)
    assert not missing, ("Routes without an Op in hub/openapi_registry*.py (add one, with the route's "
                         f"request and response models): {missing}")


def test_every_registry_entry_is_a_served_route(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, f"sqlite:///{tmp_path / 'unused.db'}"))
    add_webhook_routes(app, list(REGISTRY))  # every channel's webhooks, as if all were enabled
    served = {(r.method, r.path) for r in served_routes(app)}
    stale = [f"{op.method} {op.path}" for op in (*OPERATIONS, *webhook_operations(REGISTRY)) if op.key not in served]
    assert not stale, f"Registry entries that no route matches (renamed or removed?): {stale}"
    assert undocumented_routes(app, {op.key: op for op in (*OPERATIONS, *webhook_operations(REGISTRY))}) == []


def test_a_route_nobody_described_is_listed_in_the_document(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, f"sqlite:///{tmp_path / 'unused.db'}"))

    async def handler(request: web.Request) -> web.Response:
        return web.Response()

    app.router.add_get("/api/brand-new/{thing}", handler)
    assert undocumented_routes(app) == ["GET /api/brand-new/{thing}"]
    assert build_spec(app)["paths"]["/api/brand-new/{thing}"]["get"]["x-undocumented"] is True


def test_the_document_is_valid_openapi_3_1(spec: dict[str, Any]) -> None:
    import schemathesis  # a test dependency: missing, the test fails rather than skips

    assert spec["openapi"] == "3.1.0"
    schemathesis.openapi.from_dict(spec).validate()
    for schema in spec["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)
    dangling = refs(spec) - set(spec["components"]["schemas"])
    assert not dangling, dangling
    ids = [op["operationId"] for _, _, op in operations_of(spec)]
    assert len(ids) == len(set(ids)), "operationIds must be unique"


def test_bodies_and_queries_are_the_route_modules_own_models(spec: dict[str, Any]) -> None:
    register = spec["paths"]["/api/devices/register"]["post"]["requestBody"]["content"]["application/json"]
    assert register["schema"] == {"$ref": REF + "RegisterDevice"}
    assert spec["components"]["schemas"]["RegisterDevice"]["properties"] == \
        RegisterDevice.model_json_schema()["properties"]
    params = spec["paths"]["/api/v1/conversations"]["get"]["parameters"]
    assert [p["name"] for p in params] == list(ListQuery.model_json_schema()["properties"])
    assert all(p["in"] == "query" and not p["required"] for p in params)
    lead = next(p for p in params if p["name"] == "lead_id")
    assert lead["schema"] == {"type": "integer", "minimum": 0, "maximum": ROW_ID_MAX}  # `RowId | None`: never null
    reply = spec["paths"]["/api/v1/conversations/{id}/reply"]["post"]["parameters"]
    assert {"name": "Idempotency-Key", "in": "header", "required": False,
            "schema": {"type": "string", "maxLength": IDEMPOTENCY_KEY_MAX}} in reply
    page = spec["paths"]["/api/conversations"]["get"]["parameters"]
    assert [p["name"] for p in page] == ["page", "pageSize"]  # aliases, as clients send them


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: f"{op.method} {op.path}")
def test_each_operation_documents_its_family_errors(spec: dict[str, Any], op: Op) -> None:
    item = spec["paths"][op.path][op.method.lower()]
    assert op.ok.keys() <= {int(s) for s in item["responses"]}
    errors = {int(s): reply for s, reply in item["responses"].items() if int(s) >= 400 and int(s) not in op.ok}
    if op.auth in ("key", "device"):
        assert {401, 403} <= errors.keys()
    if op.body is not None or op.query is not None:
        assert (422 if op.path.startswith(("/api/v1/", "/prompt")) else 400) in errors
    for status, reply in errors.items():
        assert reply["content"]["application/json"]["schema"] == {"$ref": REF + error_model(op.path, status).__name__}
        family = next((names for prefix, names in FAMILY_ERRORS.items() if op.path.startswith(prefix)),
                      {"Seed000Error"})
        assert error_model(op.path, status).__name__ in family


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: f"{op.method} {op.path}")
def test_public_operations_are_exactly_the_public_paths(spec: dict[str, Any], op: Op) -> None:
    concrete = re.sub(r"\{[^}]+\}", "x", op.path)
    assert is_public(concrete) == (op.auth in ("public", "optional")), "hub/auth.py and the registry disagree"
    security = spec["paths"][op.path][op.method.lower()]["security"]
    assert (security == []) == (op.auth == "public")


def test_webhooks_of_every_channel_are_described_with_their_envelope() -> None:
    ops = webhook_operations(REGISTRY)
    assert {op.path for op in ops} >= {"/webhooks/telegram", "/webhooks/slack/events", "/webhooks/twilio"}
    assert all(op.auth == "public" and error_model(op.path, 403).__name__ == "WebhookError" for op in ops)


def test_only_enabled_channels_webhooks_are_in_the_document(spec: dict[str, Any], bare_app: web.Application) -> None:
    assert not [path for path in spec["paths"] if path.startswith("/webhooks/")]
    assert not [key for key in operations(bare_app) if key[1].startswith("/webhooks/")]


def test_triage_view_lists_every_field_of_the_brain_result() -> None:
    from dataclasses import fields

    from brain.triage import TriageResult

    assert set(Triage.model_fields) == {f.name for f in fields(TriageResult)} | {"message_id"}


async def test_openapi_json_and_docs_are_public(hub: Any) -> None:
    resp = await hub.client.get("/openapi.json")
    assert resp.status == 200 and resp.content_type == "application/json"
    served = await resp.json()
    assert served["info"]["title"] == "Replydesk" and "/api/v1/conversations/{id}/approve" in served["paths"]
    assert undocumented_routes(hub.app) == []
    page = await hub.client.get("/docs")
    assert page.status == 200 and page.content_type == "text/html"
    assert await page.text() == render_docs(served)


def test_docs_page_renders_every_operation_and_schema_offline(spec: dict[str, Any]) -> None:
    html = render_docs(spec)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "the page must load nothing from elsewhere"
    for method, path, op in operations_of(spec):
        assert f'id="op-{escape(op["operationId"])}"' in html, f"{method} {path} is not on the page"
        assert f'<span class="method {method}">{method}</span><span class="path">{escape(path)}</span>' in html
    anchors = set(re.findall(r'id="schema-([^"]+)"', html))
    assert anchors == {escape(name) for name in spec["components"]["schemas"]}
    assert set(re.findall(r'href="#schema-([^"]+)"', html)) <= anchors, "a type links to a schema not on the page"
    approve = html[html.index('id="op-v1_conversations.approve"'):]
    approve = approve[:approve.index("</details>")]
    assert 'href="#schema-ApproveBody"' in approve and 'href="#schema-HTTPValidationError"' in approve
    assert "bearer API key or device token" in approve


def test_every_model_a_route_validates_with_is_in_the_document() -> None:
    """Scans the route modules for parse_body / parse_query / parse(request, Model, ...) calls: each
    model must be an Op's body or query (which the document is generated from, tested above)."""
    used = {name for source in Path(hub.api.__file__).parent.glob("*.py")
            for name in VALIDATES.findall(source.read_text())} - {"model"}
    assert len(used) > 20, "the scan found few validation calls: has hub/validation's API changed?"
    bodies = [op.body.values() if isinstance(op.body, dict) else [op.body] for op in OPERATIONS]
    documented = {m.__name__ for op, models in zip(OPERATIONS, bodies) for m in [*models, op.query]
                  if isinstance(m, type)}
    assert used <= documented, f"validated but not documented: {used - documented}"
