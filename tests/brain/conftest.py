"""Brain fixtures: the bundled SmolLM2 GGUF, loaded once for the whole test session."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from brain.llm import LlamaCppLLM, bundled_gguf_path


@pytest.fixture(scope="session")
def bundled_llm() -> Iterator[LlamaCppLLM]:
    """A loaded LlamaCppLLM on the bundled model. Synchronous on purpose: loading blocks anyway,
    and the object holds no event-loop-bound state, so every test's own loop can use it."""
    llm = LlamaCppLLM(bundled_gguf_path(), n_ctx=2048)
    llm.load_blocking()
    yield llm
    asyncio.run(llm.close())
