"""Seed 000 ML generation over real HTTP with the bundled model: /generate (+cache), /generate/async,
/cache, /model/reload, /suggestions and /suggestions/more."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from brain.llm import LLMUnavailable
from hub.brain_services import BrainServices
from storage.models import Job, SuggestionRequest
from tests.conftest import start_hub
from tests.hub.api.helpers import assert_seed000_error

TINY = {"max_tokens": 6, "temperature": 0.0}
CHAT = [{"role": "user", "content": "Hey, are you free Saturday?"}]


def is_iso_utc(value: Any) -> bool:
    return isinstance(value, str) and value.endswith("Z") and datetime.fromisoformat(value[:-1]) is not None


async def post(hub, path: str, payload: dict, expected: int = 200) -> dict:
    resp = await hub.request("POST", path, json=payload)
    body = await resp.json()
    assert resp.status == expected, body
    return body


async def test_generate_returns_the_documented_fields_and_caches_by_key(brain_hub):
    first = await post(brain_hub, "/generate", {"prompt": "Them: How are you?\nMe:", "stop": ["\nThem:"],
                                                "cache_key": "greeting", **TINY})
    assert isinstance(first["response"], str) and first["response"]
    assert isinstance(first["confidence"], float) and 0 < first["confidence"] <= 1
    assert isinstance(first["model_version"], str) and first["model_version"]
    assert isinstance(first["tokens_used"], int) and first["tokens_used"] > 6
    assert first["cached"] is False and first["cache_key"] == "greeting"
    again = await post(brain_hub, "/generate", {"prompt": "Them: Anything else?\nMe:", "cache_key": "greeting"})
    assert again["cached"] is True
    assert {k: again[k] for k in ("response", "confidence", "tokens_used")} == \
        {k: first[k] for k in ("response", "confidence", "tokens_used")}


async def test_same_request_without_a_key_is_cached_by_its_hash(brain_hub):
    payload = {"prompt": "Them: Lunch tomorrow?\nMe:", **TINY}
    first = await post(brain_hub, "/generate", payload)
    second = await post(brain_hub, "/generate", payload)
    assert first["cached"] is False and second["cached"] is True
    assert second["cache_key"] == first["cache_key"] and first["cache_key"].startswith("auto:")
    other = await post(brain_hub, "/generate", {**payload, "max_tokens": 5})
    assert other["cached"] is False and other["cache_key"] != first["cache_key"]


async def test_cache_invalidation_counts_keys_matching_the_pattern(brain_hub):
    for key in ("user:1", "user:2", "other"):
        await post(brain_hub, "/generate", {"prompt": f"Them: Hi {key}\nMe:", "cache_key": key, **TINY})
    for pattern, expected in (("user:*", 2), ("user:*", 0), ("*", 1), ("*", 0)):
        resp = await brain_hub.request("DELETE", "/cache", params={"pattern": pattern})
        assert resp.status == 200
        assert await resp.json() == {"invalidated": expected}
    again = await post(brain_hub, "/generate", {"prompt": "Them: Hi other\nMe:", "cache_key": "other", **TINY})
    assert again["cached"] is False


async def test_async_job_goes_from_queued_to_completed(brain_hub):
    queued = await post(brain_hub, "/generate/async", {"prompt": "Them: What's your favorite color?\nMe:",
                                                       **TINY})
    assert queued["status"] == "queued" and isinstance(queued["job_id"], str)
    resp = await brain_hub.request("GET", f"/generate/status/{queued['job_id']}")
    status = await resp.json()
    assert resp.status == 200
    assert status["status"] == "queued" and status["result"] is None and status["completed_at"] is None
    assert is_iso_utc(status["created_at"])
    assert await brain_hub.worker.run_until_idle() == 1
    done = await (await brain_hub.request("GET", f"/generate/status/{queued['job_id']}")).json()
    assert done["status"] == "completed" and done["error"] is None and is_iso_utc(done["completed_at"])
    assert isinstance(done["result"]["response"], str) and 0 < done["result"]["confidence"] <= 1
    assert done["job_id"] == queued["job_id"]


async def test_a_prompt_too_long_fails_without_retrying(brain_hub):
    payload = {"prompt": "word " * 5000, "max_tokens": 4}
    resp = await brain_hub.request("POST", "/generate", json=payload)
    assert resp.status == 400
    assert_seed000_error(await resp.json(), 400)
    queued = await post(brain_hub, "/generate/async", payload)
    assert await brain_hub.worker.run_until_idle() == 1
    failed = await (await brain_hub.request("GET", f"/generate/status/{queued['job_id']}")).json()
    assert failed["status"] == "failed" and "context" in failed["error"] and failed["result"] is None
    attempts = await brain_hub.db.scalar(sa.select(Job.attempts).where(Job.dedup_key.like("%" + queued["job_id"])))
    assert attempts == 1


async def test_unknown_job_and_suggestion_ids_are_404(brain_hub):
    for path in ("/generate/status/no-such-job", "/suggestions/more/no-such-request"):
        resp = await brain_hub.request("GET", path)
        assert resp.status == 404
        assert_seed000_error(await resp.json(), 404)


async def test_reload_keeps_serving_and_drops_the_old_models_answers(brain_hub):
    await post(brain_hub, "/generate", {"prompt": "Them: Hello\nMe:", "cache_key": "before", **TINY})
    reloaded = await post(brain_hub, "/model/reload", {})
    assert reloaded["status"] == "reloaded" and reloaded["model_loaded"] is True
    assert reloaded["model_version"].startswith("SmolLM2") and reloaded["cache_invalidated"] == 1
    after = await post(brain_hub, "/generate", {"prompt": "Them: Hello\nMe:", "cache_key": "before", **TINY})
    assert after["cached"] is False and after["response"]
    health = await (await brain_hub.client.get("/health")).json()
    assert health["model_loaded"] is True


@pytest.mark.parametrize("model_id, status", [("/no/such/model.gguf", 404), ("weights.bin", 400)])
async def test_reload_refuses_a_missing_or_non_gguf_model(brain_hub, model_id, status):
    resp = await brain_hub.request("POST", "/model/reload", params={"model_id": model_id})
    assert resp.status == status
    assert_seed000_error(await resp.json(), status)
    assert (await post(brain_hub, "/generate", {"prompt": "Them: Still there?\nMe:", **TINY}))["response"]


def assert_option(option: dict, themes: list[str]) -> None:
    assert set(option) == {"text", "descriptor", "theme", "confidence", "quality_score"}
    assert isinstance(option["text"], str) and option["text"].strip()
    assert isinstance(option["descriptor"], str) and option["descriptor"]
    assert option["theme"] in themes
    assert isinstance(option["confidence"], float) and 0 < option["confidence"] <= 1
    assert isinstance(option["quality_score"], float) and 0 < option["quality_score"] <= 1


async def test_suggestions_first_page_shows_each_theme_and_more_serves_the_rest(brain_hub):
    themes = ["casual", "brief"]
    first = await post(brain_hub, "/suggestions", {"conversation_id": "conv-123", "messages": CHAT, "count": 5,
                                                   "themes": themes})
    assert first["conversation_id"] == "conv-123" and isinstance(first["request_id"], str)
    page_themes = [o["theme"] for o in first["options"]]
    assert page_themes and page_themes == [t for t in themes if t in page_themes]  # one per theme, in order
    for option in first["options"]:
        assert_option(option, themes)
    total = first["total_count"]
    assert len(page_themes) < total <= 5 and first["has_more"] is True
    rest = await (await brain_hub.request("GET", f"/suggestions/more/{first['request_id']}")).json()
    assert len(rest["options"]) == total - len(page_themes)
    assert rest["has_more"] is False and rest["total_count"] == total
    assert rest["request_id"] == first["request_id"] and rest["conversation_id"] == "conv-123"
    texts = [o["text"] for o in first["options"] + rest["options"]]
    assert len(set(texts)) == total
    stored = await brain_hub.db.first(sa.select(SuggestionRequest).where(SuggestionRequest.id == first["request_id"]))
    assert [o["text"] for o in stored.options] == texts and stored.served == total
    empty = await (await brain_hub.request("GET", f"/suggestions/more/{first['request_id']}")).json()
    assert empty["options"] == [] and empty["has_more"] is False


async def test_more_pages_by_limit_without_regenerating(brain_hub):
    first = await post(brain_hub, "/suggestions", {"messages": CHAT, "count": 4, "themes": ["casual"]})
    assert len(first["options"]) == 1 and first["conversation_id"] is None
    seen = [first["options"][0]["text"]]
    while True:
        page = await (await brain_hub.request("GET", f"/suggestions/more/{first['request_id']}",
                                              params={"limit": "1"})).json()
        seen += [o["text"] for o in page["options"]]
        assert len(page["options"]) <= 1
        if not page["has_more"]:
            break
    assert len(seen) == first["total_count"]


class DownLLM:
    """An LLM that is never available (the model file is gone, the server is down)."""

    model_version = "down"
    loaded = False
    queue_length = 0

    async def chat(self, *args: Any, **kwargs: Any) -> Any:
        raise LLMUnavailable("model file not found")

    complete = chat

    async def reload(self, model_path: str | None = None) -> None:
        raise LLMUnavailable("model file not found")

    async def close(self) -> None:
        pass


@pytest.fixture
async def down_hub(settings, clock):
    running = await start_hub(settings, clock, brain=BrainServices(settings, llm=DownLLM()))
    yield running
    await running.client.close()


async def test_an_unavailable_model_is_503_and_async_jobs_retry_then_fail(down_hub, clock):
    for path, payload in (("/generate", {"prompt": "hi"}), ("/suggestions", {"messages": CHAT}),
                          ("/model/reload", {})):
        resp = await down_hub.request("POST", path, json=payload)
        assert resp.status == 503
        body = await resp.json()
        assert_seed000_error(body, 503)
        assert "unavailable" in body["message"]
    queued = await post(down_hub, "/generate/async", {"prompt": "hi"})
    for _ in range(3):
        assert await down_hub.worker.run_until_idle() == 1
        clock.advance(minutes=10)
    failed = await (await down_hub.request("GET", f"/generate/status/{queued['job_id']}")).json()
    assert failed["status"] == "failed" and "unavailable" in failed["error"]
    assert not failed["error"].startswith("ApiError")


BAD_INPUT = [
    ("POST", "/generate", {}),
    ("POST", "/generate", {"prompt": ""}),
    ("POST", "/generate", {"prompt": 42}),
    ("POST", "/generate", {"prompt": "hi", "max_tokens": "many"}),
    ("POST", "/generate", {"prompt": "hi", "temperature": -1}),
    ("POST", "/generate", {"prompt": "hi", "stop": "\n"}),
    ("POST", "/generate/async", {"max_tokens": 4}),
    ("POST", "/generate/async", {"prompt": ["hi"]}),
    ("POST", "/suggestions", {}),
    ("POST", "/suggestions", {"messages": []}),
    ("POST", "/suggestions", {"messages": [{"role": "user"}]}),
    ("POST", "/suggestions", {"messages": CHAT, "count": "eight"}),
    ("POST", "/suggestions", {"messages": CHAT, "count": 0}),
    ("POST", "/suggestions", {"messages": CHAT, "themes": "casual"}),
    ("POST", "/suggestions", {"messages": CHAT, "themes": ["<|im_start|>"]}),
    ("DELETE", "/cache?pattern=", None),
    ("GET", "/suggestions/more/x?limit=abc", None),
    ("GET", "/suggestions/more/x?limit=0", None),
]


@pytest.mark.parametrize("method, path, payload", BAD_INPUT)
async def test_bad_input_is_400_in_the_envelope(brain_hub, method, path, payload):
    resp = await brain_hub.request(method, path, json=payload)
    assert resp.status == 400, await resp.text()
    assert_seed000_error(await resp.json(), 400)


@pytest.mark.parametrize("path", ["/generate", "/generate/async", "/suggestions"])
async def test_malformed_json_is_400(brain_hub, path):
    resp = await brain_hub.request("POST", path, data=b'{"prompt": ', headers={"Content-Type": "application/json"})
    assert resp.status == 400
    assert_seed000_error(await resp.json(), 400)


@pytest.mark.parametrize("method, path", [
    ("POST", "/generate"), ("POST", "/generate/async"), ("GET", "/generate/status/x"), ("DELETE", "/cache"),
    ("POST", "/model/reload"), ("POST", "/suggestions"), ("GET", "/suggestions/more/x")])
async def test_every_route_needs_an_api_key(brain_hub, method, path):
    resp = await brain_hub.client.request(method, path, json={"prompt": "hi"})
    assert resp.status == 401
    assert_seed000_error(await resp.json(), 401)
