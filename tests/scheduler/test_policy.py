"""Follow-up policy: overrides merge in order, auto-send is never inherited, quiet hours wrap."""

from __future__ import annotations

from datetime import datetime, time, timezone
from types import SimpleNamespace

from scheduler.policy import Policy, effective_policy, in_quiet_hours, next_allowed

UTC = timezone.utc


def row(**values):
    fields = dict.fromkeys(("enabled", "timezone", "quiet_start", "quiet_end", "max_nudges", "waiting_hours",
                            "agreed_hours", "rules", "auto_send"))
    return SimpleNamespace(**(fields | values))


def test_contact_overrides_owner_overrides_defaults_and_auto_send_is_the_contacts_own():
    owner = row(max_nudges=5, timezone="Europe/Paris", auto_send=True, quiet_start="22:00")
    contact = row(max_nudges=1, rules=["waiting"])
    policy = effective_policy("UTC", owner, contact)
    assert (policy.max_nudges, policy.timezone, policy.rules) == (1, "Europe/Paris", ("waiting",))
    assert policy.quiet_start == time(22, 0) and policy.auto_send is False
    assert effective_policy("UTC", owner, None).auto_send is False
    assert effective_policy("UTC", None, row(auto_send=True)).auto_send is True


def test_quiet_hours_wrap_past_midnight_and_can_be_daytime():
    assert in_quiet_hours(time(23, 0), time(21, 0), time(8, 0))
    assert in_quiet_hours(time(7, 59), time(21, 0), time(8, 0))
    assert not in_quiet_hours(time(8, 0), time(21, 0), time(8, 0))
    assert in_quiet_hours(time(12, 30), time(12, 0), time(14, 0))
    assert not in_quiet_hours(time(3, 0), time(0, 0), time(0, 0))  # start == end: no quiet hours


def test_next_allowed_is_the_end_of_the_contacts_night_in_their_zone():
    policy = Policy(timezone="America/New_York")  # 21:00 to 08:00 there
    late = datetime(2026, 3, 3, 3, 0, tzinfo=UTC)  # 22:00 the day before in New York
    assert next_allowed(late, policy) == datetime(2026, 3, 3, 13, 0, tzinfo=UTC)  # 08:00 EST
    early = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)  # 05:00 in New York: the same morning
    assert next_allowed(early, policy) == datetime(2026, 3, 3, 13, 0, tzinfo=UTC)
    day = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
    assert next_allowed(day, policy) == day


def test_the_end_of_quiet_hours_follows_daylight_saving():
    policy = Policy(timezone="America/New_York")
    night = datetime(2026, 3, 8, 4, 0, tzinfo=UTC)  # 23:00 EST on the 7th; clocks go forward on the 8th
    assert next_allowed(night, policy) == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)  # 08:00 EDT
