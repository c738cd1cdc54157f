"""Schemathesis over /openapi.json against the real app on a real port (one hub and database for the
module, on SQLite or PostgreSQL as the suite runs): for every documented operation, valid and
invalid requests generated from the spec must get no 5xx, a documented status code and content
type, a body matching the documented schema (error envelopes included) and the documented headers.

The brain is replaced by two stand-ins so the run loads no model and stays within a few minutes:
routes marked `brain="llm"` in the registry get an LLM that is unavailable (they run up to the
model call: validation, look-ups, and their documented 503, which is the one 5xx allowed here),
and routes marked `brain="embedder"` get a hashing embedder (memory, knowledge folders, triage and
sales run their own code on its vectors). Routes marked `brain="training"` start a LoRA process
and are not fuzzed (EXCLUDED). Half of the valid requests name seeded data
(tests/hub/schemathesis_seed.py) so the 2xx bodies are checked as well as the errors.

The bugs the run found are fixed; tests/hub/test_schemathesis_bugs.py keeps a minimal reproduction
of each.
REPLYDESK_FUZZ_SCALE=4 makes every operation's budget four times larger.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from hypothesis.errors import Unsatisfiable

from hub.brain_services import BrainServices
from hub.clock import FakeClock
from hub.openapi import Op
from hub.openapi_registry import OPERATIONS
from tests.conftest import make_settings, scratch_database, start_hub
from tests.hub.api.helpers import pair_device
from tests.hub.api.test_ml_generation import DownLLM
from tests.hub.schemathesis_seed import Inputs, seed, with_seeded

import schemathesis  # noqa: E402  (a test dependency: missing, the suite fails rather than skips)
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,  # noqa: E402
                                               response_schema_conformance, status_code_conformance)

CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
SCALE = float(os.environ.get("REPLYDESK_FUZZ_SCALE", "1"))
EXCLUDED = {f"{op.method} {op.path}": "starts a LoRA fine-tuning process" for op in OPERATIONS if op.brain == "training"}
FUZZED = [op for op in OPERATIONS if f"{op.method} {op.path}" not in EXCLUDED]
MODEL_DOWN = frozenset(f"{op.method} {op.path}" for op in OPERATIONS if op.brain == "llm")


def label_of(op: Op) -> str:
    return f"{op.method} {op.path}"


def examples_for(op: Op) -> int:
    """Valid requests per operation (invalid ones: half as many)."""
    base = 5 if op.slow else {None: 16, "llm": 10, "embedder": 8}[op.brain]
    return max(1, round(base * SCALE))


class HashingEmbedder:
    """Unit vectors from hashed words: instant, deterministic, enough for the code around a model."""

    dimension = 384
    model_path = "hashing-embedder"

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split() or [""]:
                out[row, int(hashlib.md5(word.encode()).hexdigest()[:6], 16) % self.dimension] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True).clip(min=1e-9)

    async def aembed(self, texts: list[str]) -> np.ndarray:
        return await asyncio.to_thread(self.embed, list(texts))


@pytest.fixture(scope="module")
def fuzz_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One database for the module (SQLite file, or a throw-away PostgreSQL schema)."""
    with scratch_database(tmp_path_factory.mktemp("fuzz")) as url:
        yield url


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fuzz_hub(tmp_path_factory: pytest.TempPathFactory, fuzz_database_url: str) -> AsyncIterator[dict[str, Any]]:
    settings = make_settings(Path(tmp_path_factory.mktemp("fuzz-hub")), fuzz_database_url)
    brain = BrainServices(settings, llm=DownLLM(), embedder=HashingEmbedder())
    hub = await start_hub(settings, FakeClock(datetime.now(timezone.utc).replace(microsecond=0)), brain=brain)
    device = await pair_device(hub)
    inputs = await seed(hub, device["token"])
    spec = await (await hub.client.get("/openapi.json")).json()
    schema = await asyncio.to_thread(schemathesis.openapi.from_dict, spec)
    yield {"hub": hub, "device_token": device["token"], "schema": schema, "inputs": inputs,
           "base_url": str(hub.client.make_url("")).rstrip("/")}
    await hub.client.close()


def no_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """No 5xx, except the documented 503 of a route whose model is unavailable on purpose here."""
    if response.status_code == 503 and case.operation.label in MODEL_DOWN:
        return None
    return not_a_server_error(ctx, response, case)


def _strategy(operation: Any, mode: GenerationMode, inputs: Inputs) -> Any:
    generated = operation.as_strategy(generation_mode=mode)
    if mode is GenerationMode.POSITIVE and operation.label in inputs:
        return st.one_of(generated, generated.map(partial(with_seeded, inputs=inputs)))
    return generated


def fuzz(schema: Any, inputs: Inputs, label: str, base_url: str, token: str, examples: int) -> None:
    """Valid then invalid requests for one operation; raises on the first failed check."""
    operation = schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is not in /openapi.json"
    headers = {"Authorization": f"Bearer {token}"}
    for mode, count in ((GenerationMode.POSITIVE, examples), (GenerationMode.NEGATIVE, max(examples // 2, 1))):
        @settings(max_examples=count, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=_strategy(operation, mode, inputs))
        def run(case: Any) -> None:
            case.call_and_validate(base_url=base_url, headers=headers, checks=[no_server_error, *CHECKS], timeout=30)

        try:
            run()
        except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
            assert mode is GenerationMode.NEGATIVE, f"no valid request can be generated for {label}"


def test_every_operation_is_fuzzed_or_excluded_with_a_reason() -> None:
    assert {label_of(op) for op in FUZZED} | EXCLUDED.keys() == {label_of(op) for op in OPERATIONS}
    assert EXCLUDED.keys() == {"POST /api/training/start", "POST /training/start"}


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("op", FUZZED, ids=label_of)
async def test_operation_conforms_to_the_spec(fuzz_hub: dict[str, Any], op: Op) -> None:
    token = fuzz_hub["device_token"] if op.auth == "device" else fuzz_hub["hub"].api_key
    await asyncio.to_thread(fuzz, fuzz_hub["schema"], fuzz_hub["inputs"], label_of(op), fuzz_hub["base_url"], token,
                            examples_for(op))
