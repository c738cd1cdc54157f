"""The brain's heavy parts (LLM, embedder, memory store), built from settings, loaded once, lazily.

The app takes a `BrainServices` by injection; tests share one across the session so the models
load once. Nothing here imports torch or llama.cpp until a part is first used.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from hub.settings import Settings

if TYPE_CHECKING:
    from brain.embedder import Embedder
    from brain.llm import LLM
    from brain.memory import MemoryStore

log = logging.getLogger("replydesk.brain")


def _threads(configured: int) -> int | None:
    return configured or max(1, (os.cpu_count() or 2) // 2)


class BrainServices:
    def __init__(self, settings: Settings, **preloaded: Any) -> None:
        """`preloaded` parts (llm=, embedder=) are used as they are and not closed here."""
        self.settings = settings
        self._parts: dict[str, Any] = dict(preloaded)
        self._borrowed = set(preloaded)
        self._locks: dict[str, asyncio.Lock] = {}

    async def _part(self, name: str, build: Callable[[], Awaitable[Any]]) -> Any:
        if name in self._parts:
            return self._parts[name]
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            if name not in self._parts:
                self._parts[name] = await build()
        return self._parts[name]

    def loaded(self, name: str) -> Any | None:
        """The part if it is loaded already, without loading it (for /health)."""
        return self._parts.get(name)

    async def llm(self) -> "LLM":
        return await self._part("llm", self._build_llm)

    async def embedder(self) -> "Embedder":
        return await self._part("embedder", self._build_embedder)

    async def memory(self) -> "MemoryStore":
        return await self._part("memory", self._build_memory)

    async def examples(self) -> "MemoryStore":
        """The owner's past exchanges (their message → the owner's reply), for few-shot drafting."""
        return await self._part("examples", self._build_examples)

    async def _build_llm(self) -> "LLM":
        from brain.llm import LlamaCppLLM, OpenAICompatLLM

        brain = self.settings.brain
        if brain.llm_backend == "openai":
            llm = OpenAICompatLLM(brain.openai_base_url, model=brain.openai_model,
                                  api_key=brain.openai_api_key.get_secret_value() or None)
        else:
            path = self.settings.resolve_path(brain.model_path) if brain.model_path else None
            llm = LlamaCppLLM(path, n_ctx=brain.n_ctx, n_threads=_threads(brain.threads))
        await llm.load()
        log.info("language model ready: %s", llm.model_version)
        return llm

    async def _build_embedder(self) -> "Embedder":
        from brain.embedder import MiniLMEmbedder

        embedder = await asyncio.to_thread(MiniLMEmbedder, threads=_threads(self.settings.brain.embedder_threads))
        log.info("embedding model ready")
        return embedder

    async def _store(self, collection: str) -> "MemoryStore":
        from brain.memory import MemoryStore, default_memory_path

        embedder = await self.embedder()
        if self.settings.brain.memory_url:
            return MemoryStore(embedder, url=self.settings.brain.memory_url, collection=collection)
        return MemoryStore(embedder, path=default_memory_path(self.settings.data_path), collection=collection)

    async def _build_memory(self) -> "MemoryStore":
        return await self._store("replydesk_memories")

    async def _build_examples(self) -> "MemoryStore":
        return await self._store("replydesk_examples")

    async def warm_up(self) -> None:
        for part in (self.llm, self.embedder, self.memory):
            try:
                await part()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not load a brain part at start; it will be retried when used")

    async def close(self) -> None:
        for name in ("examples", "memory", "llm"):
            part = self._parts.pop(name, None)
            if part is not None and name not in self._borrowed and hasattr(part, "close"):
                result = part.close()
                if asyncio.iscoroutine(result):
                    await result
