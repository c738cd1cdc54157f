"""Shared by the seed 000 ML routes: the LLM with its errors mapped to HTTP, per-app ML state,
message bodies, and the guarded LLM rewrite used by /style/apply and /flirty/style/apply."""

from __future__ import annotations

import re
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from brain.style import mask_protected
from hub.errors import ApiError
from hub.generation_cache import GenerationCache
from hub.state import BRAIN, SETTINGS
from storage.db import Database
from storage.models import StyleProfileRow

if TYPE_CHECKING:
    from brain.llm import LLM

REWRITE_MAX_TOKENS = 160  # a rewrite is about as long as its draft: ~len/4 tokens, with room
# Roles the LLM module accepts in a chat; seed 000 clients send user/assistant (and sometimes system).
ROLE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,31}$"
_LABEL = re.compile(r"^\s*(?:draft|rewritten(?: message| draft)?|rewrite|message|reply)\s*:\s*", re.I)
_CHECKED_SPAN = re.compile(r"\d|https?://|www\.|@", re.I)  # numbers, prices, dates, URLs, emails, handles


class ChatMessage(BaseModel):
    """One message of a conversation as seed 000 sends it: {"role", "content"}."""

    model_config = ConfigDict(extra="ignore")
    role: str = Field(pattern=ROLE_PATTERN)
    content: str = Field(max_length=20_000)


@dataclass
class MlState:
    """Per-app, in-process state of the ML routes."""

    cache: GenerationCache = field(default_factory=GenerationCache)


# The app is frozen before any hook of these modules runs, so this state hangs off the app by weak
# reference instead of an AppKey set in create_app (which would be the tidier home for it).
_STATES: weakref.WeakKeyDictionary[web.Application, MlState] = weakref.WeakKeyDictionary()


def ml_state(app: web.Application) -> MlState:
    state = _STATES.get(app)
    if state is None:
        state = _STATES[app] = MlState()
    return state


def llm_timeout(app: web.Application) -> float:
    return app[SETTINGS].brain.draft_timeout_seconds


@asynccontextmanager
async def llm_errors() -> AsyncIterator[None]:
    """LLM failures as API errors: unavailable, timed out or busy → 503; a bad prompt → 400."""
    from brain.llm import LLMBusy, LLMTimeout, LLMUnavailable

    try:
        yield
    except LLMBusy as exc:
        raise ApiError(503, f"The language model is busy; retry shortly ({exc})",
                       headers={"Retry-After": "5"}) from None
    except LLMTimeout as exc:
        raise ApiError(503, f"The language model did not answer in time ({exc})") from None
    except LLMUnavailable as exc:
        raise ApiError(503, f"The language model is unavailable: {exc}") from None
    except ValueError as exc:
        raise ApiError(400, f"The language model refused the request: {exc}") from None


async def get_llm(app: web.Application) -> LLM:
    async with llm_errors():
        return await app[BRAIN].llm()


def checked_spans(text: str) -> list[str]:
    """The numbers, prices, dates, URLs and emails in a text: a rewrite must keep each one verbatim."""
    _, spans = mask_protected(text)
    return [span for span in spans if _CHECKED_SPAN.search(span)]


def keeps_facts(original: str, rewritten: str) -> bool:
    return bool(rewritten.strip()) and all(span in rewritten for span in checked_spans(original))


async def llm_rewrite(app: web.Application, instructions: str, text: str, context: str = "") -> str:
    """The LLM's rewrite of `text` following `instructions` ("" when it gave nothing usable)."""
    system = ("Rewrite the user's draft message so it sounds like its owner. " + instructions
              + " Keep the meaning, and keep every number, price, date and link exactly as written."
              " Answer with the rewritten message only.")
    prompt = f"Context: {context}\n\nDraft: {text}" if context else f"Draft: {text}"
    llm = await get_llm(app)
    async with llm_errors():
        generation = await llm.chat([{"role": "system", "content": system}, {"role": "user", "content": prompt}],
                                    max_tokens=min(REWRITE_MAX_TOKENS, len(text) // 3 + 24), temperature=0.4,
                                    timeout=llm_timeout(app))
    return _LABEL.sub("", generation.text).strip()


async def guarded_rewrite(app: web.Application, instructions: str, text: str, fallback: tuple[str, list[str]],
                          context: str = "") -> tuple[str, list[str], bool]:
    """(styled text, transformations, used_llm): the LLM rewrite unless it is empty or drops a fact."""
    rewritten = await llm_rewrite(app, instructions, text, context)
    if keeps_facts(text, rewritten):
        return rewritten, ["llm_rewrite"], True
    return fallback[0], fallback[1], False


# ---------------------------------------------------------------- style_profiles rows (kind "style" / "persona")

MAX_KEPT_SAMPLES = 500  # the newest samples kept per profile, enough to relearn from


def profile_scope(kind: str, owner_id: str, contact_id: str = "") -> Any:
    return sa.and_(StyleProfileRow.kind == kind, StyleProfileRow.owner_id == owner_id,
                   StyleProfileRow.contact_id == contact_id)


def locked_profile_row(conn: sa.Connection, db: Database, kind: str, owner_id: str,
                       contact_id: str = "") -> sa.Row | None:
    """The row of one scope, locked for a read-modify-write (on PostgreSQL also when it does not exist yet)."""
    db.lock(conn, f"style_profiles:{kind}:{owner_id}:{contact_id}")
    return conn.execute(sa.select(StyleProfileRow).where(profile_scope(kind, owner_id, contact_id))
                        .with_for_update()).first()


def save_profile_row(conn: sa.Connection, existing: sa.Row | None, values: dict[str, Any]) -> None:
    """Insert or update one scope's row; `values` holds kind/owner_id/contact_id and the new columns."""
    if existing is None:
        conn.execute(sa.insert(StyleProfileRow).values(**values))
    else:
        conn.execute(sa.update(StyleProfileRow).where(StyleProfileRow.id == existing.id).values(**values))


async def load_profile_row(db: Database, kind: str, owner_id: str, contact_id: str = "") -> sa.Row | None:
    return await db.first(sa.select(StyleProfileRow).where(profile_scope(kind, owner_id, contact_id)))


def kept_samples(old: list[dict[str, Any]] | None, new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [*(old or []), *new][-MAX_KEPT_SAMPLES:]
