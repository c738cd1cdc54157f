"""The contact's own "talk next week": found in their words, resolved from their message's time."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from scheduler.deferral import find_deferral

PARIS = ZoneInfo("Europe/Paris")
MONDAY = datetime(2026, 3, 2, 14, 30, tzinfo=timezone.utc)  # 15:30 in Paris


@pytest.mark.parametrize(("text", "local_due"), [
    ("Let me think about it until Friday", "Fri 06 Mar 17:00"),
    ("ok, talk next week!", "Mon 09 Mar 10:00"),
    ("I'll get back to you tomorrow", "Tue 03 Mar 10:00"),
    ("Let me check with my wife, I will let you know by the 15th", "Sun 15 Mar 17:00"),
    ("let me sleep on it and get back to you in a few days", "Thu 05 Mar 10:00"),
    ("Hablamos la semana que viene", "Mon 09 Mar 10:00"),
    ("I need until the end of the month", "Tue 31 Mar 17:00"),
])
def test_deferrals_resolve_in_the_contacts_zone(text, local_due):
    found = find_deferral(text, MONDAY, PARIS)
    assert found is not None, text
    assert found.due_at.tzinfo is not None
    assert found.due_at.astimezone(PARIS).strftime("%a %d %b %H:%M") == local_due


@pytest.mark.parametrize("text", ["Let me think about it", "I can't talk next week", "Great, thanks!",
                                  "Can you do it on friday?", "I need the photos by Friday",
                                  "Could you confirm by Monday?", ""])
def test_no_deferral(text):
    assert find_deferral(text, MONDAY, PARIS) is None


def test_resolved_relative_to_the_message_not_today():
    earlier = datetime(2025, 6, 2, 9, 0, tzinfo=timezone.utc)  # a Monday
    found = find_deferral("talk next week", earlier, ZoneInfo("UTC"))
    assert found is not None and found.due_at == datetime(2025, 6, 9, 10, 0, tzinfo=timezone.utc)
