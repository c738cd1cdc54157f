"""The follow-up REST API (hub/api/followups.py): what is planned and why, the owner's and each
contact's settings, cancelling by hand; API key only, errors in seed 000's envelope."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from scheduler import followups
from storage.models import Contact
from tests.hub.api.helpers import assert_seed000_error, pair_device
from tests.scheduler.test_followups import (answered_nudge, clock, nudges, settings,  # noqa: F401
                                           waiting_conversation)


async def contact_uid(hub) -> str:
    return await hub.db.scalar(sa.select(Contact.uid).where(Contact.display_name == "Jane Doe"))


async def get(hub, path: str, token: str | None = None, status: int = 200) -> dict:
    resp = await hub.request("GET", path, token)
    assert resp.status == status, await resp.text()
    return await resp.json()


async def put(hub, path: str, body: dict, status: int = 200) -> dict:
    resp = await hub.request("PUT", path, json=body)
    assert resp.status == status, await resp.text()
    return await resp.json()


async def test_lists_what_is_planned_and_why(hub, clock):
    await waiting_conversation(hub, clock)
    await followups.tick(hub.app)
    body = await get(hub, "/api/followups")
    assert body["total"] == 1 and body["page"] == 1
    (item,) = body["followups"]
    assert item["rule"] == "waiting" and item["status"] == "planned" and item["contact"]["displayName"] == "Jane Doe"
    assert item["reason"].startswith("No reply from Jane Doe for 48 hours") and item["fireAt"].endswith("Z")
    assert (await get(hub, "/api/followups?status=fired"))["total"] == 0
    filtered = await get(hub, f"/api/followups?contactId={await contact_uid(hub)}&status=all")
    assert filtered["total"] == 1


async def test_contact_settings_override_the_owners_and_replan(hub, clock):
    await waiting_conversation(hub, clock)
    await followups.tick(hub.app)
    owner = await put(hub, "/api/followups/settings", {"waitingHours": 24, "timezone": "Europe/Lisbon"})
    assert owner["effective"]["waitingHours"] == 24 and owner["overrides"] == {"waitingHours": 24,
                                                                              "timezone": "Europe/Lisbon"}
    path = f"/api/followups/contacts/{await contact_uid(hub)}/settings"
    contact = await put(hub, path, {"quietHours": {"start": "22:00", "end": "07:30"}, "maxNudges": 3,
                                    "autoSend": True})
    effective = contact["effective"]
    assert effective["timezone"] == "Europe/Lisbon" and effective["waitingHours"] == 24
    assert effective["quietHours"] == {"start": "22:00", "end": "07:30"} and effective["autoSend"] is True
    assert contact["contact"]["displayName"] == "Jane Doe"
    assert (await get(hub, "/api/followups/settings"))["effective"]["autoSend"] is False  # never inherited
    await followups.tick(hub.app)
    old, new = await nudges(hub)
    assert (old.status, old.cause) == ("cancelled", "not_applicable") and old.due_at - new.due_at == timedelta(hours=24)
    await put(hub, path, {"enabled": False})
    await followups.tick(hub.app)
    assert [n.status for n in await nudges(hub)] == ["cancelled", "cancelled"]
    cleared = await put(hub, path, {"enabled": None, "autoSend": None})
    assert "enabled" not in cleared["overrides"] and cleared["effective"]["autoSend"] is False


async def test_bad_settings_and_unknown_ids_get_seed000_errors(hub):
    await put(hub, "/api/followups/settings", {"autoSend": True}, status=400)  # owner-wide: never
    for body in ({"timezone": "Mars/Olympus"}, {"maxNudges": -1}, {"quietHours": {"start": "25:00", "end": "7"}},
                 {"rules": ["everything"]}, {"bogus": 1}):
        assert_seed000_error(await put(hub, "/api/followups/settings", body, status=400), 400)
    assert_seed000_error(await put(hub, "/api/followups/contacts/nobody/settings", {}, status=404), 404)
    assert_seed000_error(await get(hub, "/api/followups?status=later", status=400), 400)
    resp = await hub.request("POST", "/api/followups/nope/cancel")
    assert resp.status == 404
    assert_seed000_error(await resp.json(), 404)


async def test_a_device_token_is_not_enough(hub):
    paired = await pair_device(hub)
    assert_seed000_error(await get(hub, "/api/followups", paired["token"], status=403), 403)
    resp = await hub.client.get("/api/followups")
    assert resp.status == 401


async def test_the_owner_cancels_a_planned_nudge(hub, clock):
    await waiting_conversation(hub, clock)
    await followups.tick(hub.app)
    (nudge,) = await nudges(hub)
    resp = await hub.request("POST", f"/api/followups/{nudge.uid}/cancel")
    assert resp.status == 200 and (await resp.json())["cause"] == "owner_cancelled"
    again = await hub.request("POST", f"/api/followups/{nudge.id}/cancel")
    assert again.status == 200  # the same outcome twice
    clock.advance(hours=49)
    await followups.tick(hub.app)
    assert [n.status for n in await nudges(hub)] == ["cancelled"]
    await followups.tick(hub.app)


async def test_a_nudge_that_already_fired_cannot_be_cancelled(hub, clock):
    nudge = await answered_nudge(hub, clock)
    resp = await hub.request("POST", f"/api/followups/{nudge.uid}/cancel")
    assert resp.status == 409 and "already cancelled (contact_wrote)" in (await resp.json())["message"]
