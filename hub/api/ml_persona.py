"""Seed 000 "flirty" persona preset: a playful, teasing, always non-explicit voice for creators.

Learn / mark / get / apply / delete a creator's persona, kept in `style_profiles` (kind "persona",
approved samples in `samples`), and persona-flavoured reply suggestions. Deleting with
delete_samples=false clears the profile but keeps the samples, so the next learn relearns from them.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from brain.persona import PersonaProfile, apply_persona, learn_persona, merge_personas
from hub.api.common import iso, json_response
from hub.api.ml_common import (MAX_KEPT_SAMPLES, guarded_rewrite, kept_samples, load_profile_row,
                               locked_profile_row, save_profile_row)
from hub.api.ml_generation import SuggestionsBody, Theme, create_suggestions
from hub.errors import ApiError
from hub.state import CLOCK, DB
from hub.validation import parse_body, parse_query
from storage.db import Database
from storage.models import StyleProfileRow

routes = web.RouteTableDef()
KIND = "persona"
FLIRTY_THEMES = ("flirty", "flirty_closing", "deflection")


class PersonaSample(BaseModel):
    model_config = ConfigDict(extra="ignore")
    input: str = Field("", max_length=20_000)
    output: str = Field(max_length=20_000)
    context_type: str = Field("", max_length=64)
    quality_score: float = Field(1.0, ge=0, le=1)


class LearnBody(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    creator_id: str = Field(min_length=1, max_length=255)
    samples: list[PersonaSample] = Field(max_length=1000)
    merge_with_existing: bool = True


class MarkBody(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    creator_id: str = Field(min_length=1, max_length=255)
    input_context: str = Field("", max_length=20_000)
    approved_response: str = Field(min_length=1, max_length=20_000)
    context_type: str = Field("", max_length=64)


class ApplyBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    creator_id: str = Field(min_length=1, max_length=255)
    response: str = Field(min_length=1, max_length=20_000)
    context: str = Field("", max_length=4000)
    use_llm: bool = False


class DeleteQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    delete_samples: bool = False


class FlirtySuggestionsBody(SuggestionsBody):
    count: int = Field(4, ge=1, le=12)
    themes: list[Theme] = Field(default_factory=lambda: list(FLIRTY_THEMES), min_length=1, max_length=8)
    creator_id: str | None = Field(None, min_length=1, max_length=255)


def persona_instructions(p: PersonaProfile) -> str:
    """How the persona writes, for the LLM: playful at most, never explicit."""
    hints = ["playful and lightly teasing" if p.teasing_level >= 0.3 else "warm and friendly",
             "never explicit", f"about {p.avg_length or 60} characters",
             "casual" if p.formality < 0.45 else "polite",
             f"use emoji like {''.join(p.signature_emojis[:2])}" if p.emoji_usage and p.signature_emojis else "",
             f"may call them '{p.pet_names[0]}'" if p.pet_names else ""]
    return "Write " + ", ".join(h for h in hints if h) + "."


def _learn(conn: sa.Connection, db: Database, creator_id: str, new: list[dict[str, Any]], learned: PersonaProfile,
           merge: bool, now: datetime) -> dict[str, Any] | None:
    """One locked unit: merge into the stored persona, relearn from kept samples if it was cleared, or replace."""
    row = locked_profile_row(conn, db, KIND, creator_id)
    if merge and row is not None:
        samples = kept_samples(row.samples, new)
        profile = (merge_personas(PersonaProfile.from_dict(row.profile), learned) if row.profile
                   else learn_persona(samples))
    else:
        samples, profile = new[-MAX_KEPT_SAMPLES:], learned
    if not profile.samples_count:
        return None
    save_profile_row(conn, row, {"kind": KIND, "owner_id": creator_id, "contact_id": "", "profile": profile.to_dict(),
                                 "samples": samples, "samples_count": profile.samples_count, "updated_at": now})
    return profile.to_dict()


async def _learn_samples(request: web.Request, creator_id: str, samples: list[dict[str, Any]],
                         merge: bool) -> web.Response:
    learned = await asyncio.to_thread(learn_persona, samples)
    db = request.app[DB]
    profile = await db.write(_learn, db, creator_id, samples, learned, merge, request.app[CLOCK].now())
    if profile is None:
        raise ApiError(400, "No usable samples (non-empty output, quality_score above 0) to learn from")
    return json_response(profile)


@routes.post("/flirty/style/learn")
async def learn(request: web.Request) -> web.Response:
    body = await parse_body(request, LearnBody)
    return await _learn_samples(request, body.creator_id, [s.model_dump() for s in body.samples],
                                body.merge_with_existing)


@routes.post("/flirty/style/mark")
async def mark(request: web.Request) -> web.Response:
    body = await parse_body(request, MarkBody)
    sample = {"input": body.input_context, "output": body.approved_response, "context_type": body.context_type,
              "quality_score": 1.0}
    return await _learn_samples(request, body.creator_id, [sample], merge=True)


async def _persona(db: Database, creator_id: str) -> tuple[PersonaProfile, sa.Row]:
    row = await load_profile_row(db, KIND, creator_id)
    if row is None or not row.profile:
        raise ApiError(404, f"No persona profile for creator {creator_id!r}; learn it first")
    return PersonaProfile.from_dict(row.profile), row


@routes.get("/flirty/style/{creator_id}")
async def get_persona(request: web.Request) -> web.Response:
    creator_id = request.match_info["creator_id"]
    profile, row = await _persona(request.app[DB], creator_id)
    return json_response({**profile.to_dict(), "creator_id": creator_id, "updated_at": iso(row.updated_at),
                          "samples_kept": len(row.samples or [])})


@routes.post("/flirty/style/apply")
async def apply(request: web.Request) -> web.Response:
    body = await parse_body(request, ApplyBody)
    profile, _ = await _persona(request.app[DB], body.creator_id)
    styled, applied = apply_persona(profile, body.response)
    used_llm = False
    if body.use_llm:
        styled, applied, used_llm = await guarded_rewrite(
            request.app, persona_instructions(profile), body.response, (styled, applied), body.context)
    return json_response({"styled_response": styled, "original_response": body.response,
                          "transformations_applied": applied, "used_llm": used_llm})


def _delete(conn: sa.Connection, db: Database, creator_id: str, delete_samples: bool) -> int | None:
    """Samples kept after the delete, or None when there was nothing to delete."""
    row = locked_profile_row(conn, db, KIND, creator_id)
    if row is None or not (row.profile or delete_samples):
        return None
    if delete_samples:
        conn.execute(sa.delete(StyleProfileRow).where(StyleProfileRow.id == row.id))
        return 0
    conn.execute(sa.update(StyleProfileRow).where(StyleProfileRow.id == row.id).values(profile=None, samples_count=0))
    return len(row.samples or [])


@routes.delete("/flirty/style/{creator_id}")
async def delete_persona(request: web.Request) -> web.Response:
    query = parse_query(request, DeleteQuery)
    creator_id, db = request.match_info["creator_id"], request.app[DB]
    kept = await db.write(_delete, db, creator_id, query.delete_samples)
    if kept is None:
        raise ApiError(404, f"No persona profile for creator {creator_id!r}")
    return json_response({"deleted": True, "creator_id": creator_id, "samples_deleted": query.delete_samples,
                          "samples_kept": kept})


@routes.post("/flirty/suggestions")
async def flirty_suggestions(request: web.Request) -> web.Response:
    body = await parse_body(request, FlirtySuggestionsBody)
    row = await load_profile_row(request.app[DB], KIND, body.creator_id) if body.creator_id else None
    profile = PersonaProfile.from_dict(row.profile) if row is not None and row.profile else None
    request_id, options, _ = await create_suggestions(
        request.app, body, kind="flirty", page_all=True,
        guidance=persona_instructions(profile) if profile else "",
        polish=(lambda text: apply_persona(profile, text)[0]) if profile else None)
    return json_response({"request_id": request_id, "conversation_id": body.conversation_id or None,
                          "options": options, "has_more": False, "total_count": len(options)})
