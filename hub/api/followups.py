"""Follow-up nudges over REST (seed 000 family and error envelope), API key only.

    GET  /api/followups                           what is planned and why (?status=planned,held|all,
                                                  ?conversationId=, ?contactId=, paged)
    POST /api/followups/{id}/cancel               cancel one nudge that has not fired
    GET  /api/followups/settings                  the owner's defaults: effective values and overrides
    PUT  /api/followups/settings                  change some of them (a field set to null inherits again)
    GET  /api/followups/contacts/{id}/settings    one contact's: enable, time zone, quiet hours,
    PUT  /api/followups/contacts/{id}/settings    max nudges, rules, and auto-send (only ever per contact)

The `followup.fire` job kind is registered here (`register_jobs`).
"""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.api.common import PageQuery, json_response
from hub.errors import ApiError
from hub.jobs import Worker
from hub.state import CLOCK, DB, PRINCIPAL, SETTINGS
from hub.validation import parse_body, parse_query
from scheduler.followups import register_fire_job
from scheduler.policy import is_zone, parse_hhmm
from scheduler.store import (STATUSES, cancel_followup, find_contact, find_conversation_id, followup_view,
                             list_followups, read_settings, save_settings)

routes = web.RouteTableDef()
RuleName = Literal["waiting", "price_agreed", "contact_deferred"]  # scheduler.policy.RULES


def register_jobs(app: web.Application, worker: Worker) -> None:
    register_fire_job(app, worker)


def _owner_only(request: web.Request) -> None:
    if request[PRINCIPAL].kind != "api_key":
        raise ApiError(403, "Follow-ups need an API key")


class ListQuery(PageQuery):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")
    status: str = "planned,queued,held"
    conversation_id: str | None = Field(None, alias="conversationId", max_length=64)
    contact_id: str | None = Field(None, alias="contactId", max_length=64)

    @field_validator("status")
    @classmethod
    def _known(cls, value: str) -> str:
        wanted = [s.strip() for s in value.split(",") if s.strip()]
        unknown = [s for s in wanted if s != "all" and s not in STATUSES]
        if unknown or not wanted:
            raise ValueError(f"unknown status {', '.join(unknown) or '(none)'}; use {', '.join(STATUSES)} or all")
        return value

    def statuses(self) -> tuple[str, ...]:
        wanted = tuple(s.strip() for s in self.status.split(",") if s.strip())
        return STATUSES if "all" in wanted else wanted


class QuietHours(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        parse_hhmm(value)
        return value


class OwnerSettingsBody(BaseModel):
    """Only the fields sent change; null clears an override (the value is inherited again)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    enabled: bool | None = None
    timezone: str | None = Field(None, max_length=64)
    quiet_hours: QuietHours | None = Field(None, alias="quietHours")
    max_nudges: int | None = Field(None, alias="maxNudges", ge=0, le=20)
    waiting_hours: float | None = Field(None, alias="waitingHours", gt=0, le=24 * 90)
    agreed_hours: float | None = Field(None, alias="agreedHours", gt=0, le=24 * 90)
    rules: list[RuleName] | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None and not is_zone(value):
            raise ValueError("must be an IANA time zone such as Europe/Lisbon")
        return value

    def changes(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in self.model_fields_set:
            value = getattr(self, name)
            if name == "quiet_hours":
                values["quiet_start"] = value.start if value else None
                values["quiet_end"] = value.end if value else None
            else:
                values[name] = value
        return values


class ContactSettingsBody(OwnerSettingsBody):
    auto_send: bool | None = Field(None, alias="autoSend")


async def _contact(request: web.Request) -> Any:
    key = request.match_info["id"]
    contact = await request.app[DB].read(find_contact, key)
    if contact is None:
        raise ApiError(404, f"Contact {key} not found")
    return contact


async def _resolve_filters(request: web.Request, query: ListQuery) -> dict[str, int | None]:
    db, found = request.app[DB], {"conversation_id": None, "contact_id": None}
    if query.conversation_id:
        found["conversation_id"] = await db.read(find_conversation_id, query.conversation_id)
        if found["conversation_id"] is None:
            raise ApiError(404, f"Conversation {query.conversation_id} not found")
    if query.contact_id:
        contact = await db.read(find_contact, query.contact_id)
        if contact is None:
            raise ApiError(404, f"Contact {query.contact_id} not found")
        found["contact_id"] = contact.id
    return found


@routes.get("/api/followups")
async def list_planned(request: web.Request) -> web.Response:
    _owner_only(request)
    query = parse_query(request, ListQuery)
    filters = await _resolve_filters(request, query)
    total, rows = await request.app[DB].read(lambda conn: list_followups(
        conn, statuses=query.statuses(), offset=query.offset, limit=query.page_size, **filters))
    return json_response({"followups": [followup_view(r) for r in rows], "total": total,
                          "page": query.page, "pageSize": query.page_size})


@routes.post("/api/followups/{id}/cancel")
async def cancel(request: web.Request) -> web.Response:
    _owner_only(request)
    key = request.match_info["id"]
    row = await request.app[DB].write(cancel_followup, key, request.app[CLOCK].now())
    if row is None:
        raise ApiError(404, f"Follow-up {key} not found")
    if row.status != "cancelled" or row.cause != "owner_cancelled":
        cause = f" ({row.cause})" if row.cause else ""
        raise ApiError(409, f"Follow-up {key} is already {row.status}{cause}")
    return json_response(followup_view(row))


async def _settings_response(request: web.Request, contact: Any | None) -> web.Response:
    owner_timezone = request.app[SETTINGS].owner.timezone
    body = await request.app[DB].read(read_settings, contact.id if contact else None, owner_timezone)
    if contact is not None:
        body["contact"] = {"id": contact.uid, "displayName": contact.display_name}
    return json_response(body)


@routes.get("/api/followups/settings")
async def owner_settings(request: web.Request) -> web.Response:
    _owner_only(request)
    return await _settings_response(request, None)


@routes.put("/api/followups/settings")
async def change_owner_settings(request: web.Request) -> web.Response:
    _owner_only(request)
    body = await parse_body(request, OwnerSettingsBody)
    db = request.app[DB]
    await db.write(save_settings, db, None, body.changes(), request.app[CLOCK].now())
    return await _settings_response(request, None)


@routes.get("/api/followups/contacts/{id}/settings")
async def contact_settings(request: web.Request) -> web.Response:
    _owner_only(request)
    return await _settings_response(request, await _contact(request))


@routes.put("/api/followups/contacts/{id}/settings")
async def change_contact_settings(request: web.Request) -> web.Response:
    _owner_only(request)
    contact = await _contact(request)
    body = await parse_body(request, ContactSettingsBody)
    db = request.app[DB]
    await db.write(save_settings, db, contact.id, body.changes(), request.app[CLOCK].now())
    return await _settings_response(request, contact)

