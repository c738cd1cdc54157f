"""Seed 000 style learning: learn (merging with what was learned before), get, apply, delete.

Profiles live in `style_profiles` (kind "style"), one per user and contact. Apply is rule-based
(brain.style.apply_style); with `use_llm` the LLM rewrites the draft guided by the profile, and the
rule-based result is kept whenever the LLM answers nothing or drops a number, price or link.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from brain.style import StyleProfile, apply_style, learn_style, merge_profiles, style_instructions
from hub.api.common import iso, json_response
from hub.api.ml_common import (guarded_rewrite, kept_samples, load_profile_row, locked_profile_row, profile_scope,
                               save_profile_row)
from hub.errors import ApiError
from hub.state import CLOCK, DB
from hub.validation import parse_body
from storage.db import Database
from storage.models import StyleProfileRow

routes = web.RouteTableDef()
KIND = "style"


class StyleSample(BaseModel):
    model_config = ConfigDict(extra="ignore")
    input: str = Field("", max_length=20_000)
    output: str = Field(max_length=20_000)


class LearnBody(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    user_id: str = Field(min_length=1, max_length=255)
    contact_id: str = Field(min_length=1, max_length=255)
    samples: list[StyleSample] = Field(min_length=1, max_length=1000)


class ApplyBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    user_id: str = Field(min_length=1, max_length=255)
    contact_id: str = Field(min_length=1, max_length=255)
    response: str = Field(min_length=1, max_length=20_000)
    use_llm: bool = False
    greet: bool = False
    sign_off: bool = False


def profile_view(user_id: str, contact_id: str, profile: dict[str, Any], updated_at: datetime) -> dict[str, Any]:
    return {**StyleProfile.from_dict(profile).to_dict(), "user_id": user_id, "contact_id": contact_id,
            "updated_at": iso(updated_at)}


def _learn(conn: sa.Connection, db: Database, body: LearnBody, learned: StyleProfile,
           now: datetime) -> dict[str, Any]:
    """Merge the new profile into the stored one (weighted by samples) in one locked unit of work."""
    row = locked_profile_row(conn, db, KIND, body.user_id, body.contact_id)
    merged = merge_profiles(StyleProfile.from_dict(row.profile or {}), learned) if row else learned
    samples = [s.model_dump() for s in body.samples if s.output.strip()]
    save_profile_row(conn, row, {
        "kind": KIND, "owner_id": body.user_id, "contact_id": body.contact_id, "profile": merged.to_dict(),
        "samples": kept_samples(row.samples if row else None, samples), "samples_count": merged.samples_count,
        "updated_at": now})
    return profile_view(body.user_id, body.contact_id, merged.to_dict(), now)


@routes.post("/style/learn")
async def learn(request: web.Request) -> web.Response:
    body = await parse_body(request, LearnBody)
    learned = await asyncio.to_thread(learn_style, [s.output for s in body.samples])
    if not learned.samples_count:
        raise ApiError(400, "Every sample output is empty; nothing to learn from")
    db = request.app[DB]
    return json_response(await db.write(_learn, db, body, learned, request.app[CLOCK].now()))


async def _profile(db: Database, user_id: str, contact_id: str) -> tuple[StyleProfile, sa.Row]:
    row = await load_profile_row(db, KIND, user_id, contact_id)
    if row is None or not row.profile:
        raise ApiError(404, f"No style profile for user {user_id!r} and contact {contact_id!r}; learn it first")
    return StyleProfile.from_dict(row.profile), row


@routes.get("/style/{user_id}/{contact_id}")
async def get_profile(request: web.Request) -> web.Response:
    user_id, contact_id = request.match_info["user_id"], request.match_info["contact_id"]
    profile, row = await _profile(request.app[DB], user_id, contact_id)
    return json_response(profile_view(user_id, contact_id, profile.to_dict(), row.updated_at))


@routes.post("/style/apply")
async def apply(request: web.Request) -> web.Response:
    body = await parse_body(request, ApplyBody)
    profile, _ = await _profile(request.app[DB], body.user_id, body.contact_id)
    styled, applied = apply_style(profile, body.response, greet=body.greet, sign_off=body.sign_off)
    used_llm = False
    if body.use_llm:
        styled, applied, used_llm = await guarded_rewrite(
            request.app, style_instructions(profile), body.response, (styled, applied))
    return json_response({"styled_response": styled, "original_response": body.response,
                          "transformations_applied": applied, "used_llm": used_llm})


@routes.delete("/style/{user_id}/{contact_id}")
async def delete_profile(request: web.Request) -> web.Response:
    user_id, contact_id = request.match_info["user_id"], request.match_info["contact_id"]
    deleted = await request.app[DB].execute(sa.delete(StyleProfileRow).where(profile_scope(KIND, user_id, contact_id)))
    if not deleted:
        raise ApiError(404, f"No style profile for user {user_id!r} and contact {contact_id!r}")
    return json_response({"deleted": True, "user_id": user_id, "contact_id": contact_id})
