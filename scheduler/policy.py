"""Follow-up policy: the defaults, the owner's and a contact's overrides merged, and quiet hours.

Pure: no I/O. The defaults are module constants; the owner's defaults (scope "owner") and each
contact's overrides (scope "contact:<id>") are rows of `followup_settings` where NULL inherits.
Sending without approval is never inherited: only a contact's own row can turn it on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WAITING, PRICE_AGREED, CONTACT_DEFERRED = "waiting", "price_agreed", "contact_deferred"
RULES = (WAITING, PRICE_AGREED, CONTACT_DEFERRED)
DEFAULT_ENABLED = True
DEFAULT_QUIET_START = time(21, 0)
DEFAULT_QUIET_END = time(8, 0)
DEFAULT_MAX_NUDGES = 2  # unanswered nudges in a row; a message from the contact starts the count again
DEFAULT_WAITING_HOURS = 48.0
DEFAULT_AGREED_HOURS = 24.0
OVERRIDABLE = ("enabled", "timezone", "quiet_start", "quiet_end", "max_nudges", "waiting_hours",
               "agreed_hours", "rules")


@dataclass(frozen=True)
class Policy:
    """What applies to one contact's conversations."""

    timezone: str = "UTC"
    enabled: bool = DEFAULT_ENABLED
    quiet_start: time = DEFAULT_QUIET_START
    quiet_end: time = DEFAULT_QUIET_END
    max_nudges: int = DEFAULT_MAX_NUDGES
    waiting_hours: float = DEFAULT_WAITING_HOURS
    agreed_hours: float = DEFAULT_AGREED_HOURS
    rules: tuple[str, ...] = RULES
    auto_send: bool = False

    @property
    def zone(self) -> ZoneInfo:
        return zone_or_utc(self.timezone)

    def to_dict(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "timezone": self.timezone,
                "quietHours": {"start": hhmm(self.quiet_start), "end": hhmm(self.quiet_end)},
                "maxNudges": self.max_nudges, "waitingHours": self.waiting_hours,
                "agreedHours": self.agreed_hours, "rules": list(self.rules), "autoSend": self.auto_send}


def zone_or_utc(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def parse_hhmm(value: str) -> time:
    """"21:00" → time(21, 0). Raises ValueError for anything else."""
    hours, sep, minutes = value.partition(":")
    if not sep or not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"not an HH:MM time: {value!r}")
    return time(int(hours), int(minutes))


def hhmm(value: time) -> str:
    return value.strftime("%H:%M")


def _override(policy: Policy, row: Any) -> Policy:
    changes: dict[str, Any] = {}
    for name in OVERRIDABLE:
        value = getattr(row, name, None)
        if value is None:
            continue
        if name in ("quiet_start", "quiet_end"):
            value = parse_hhmm(value)
        elif name == "rules":
            value = tuple(r for r in RULES if r in value)
        changes[name] = value
    return replace(policy, **changes)


def effective_policy(owner_timezone: str, owner_row: Any | None, contact_row: Any | None) -> Policy:
    """Defaults ← the owner's row ← the contact's row (auto-send from the contact's row only)."""
    policy = Policy(timezone=owner_timezone)
    if owner_row is not None:
        policy = _override(policy, owner_row)
    if contact_row is not None:
        policy = _override(policy, contact_row)
        policy = replace(policy, auto_send=bool(getattr(contact_row, "auto_send", False)))
    return policy


def in_quiet_hours(local: time, start: time, end: time) -> bool:
    """Whether a local time of day falls in [start, end), which may wrap past midnight."""
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def next_allowed(at: datetime, policy: Policy) -> datetime:
    """`at` itself, or the end of the contact's quiet hours that `at` falls in (UTC)."""
    zone = policy.zone
    local = at.astimezone(zone)
    if not in_quiet_hours(local.time(), policy.quiet_start, policy.quiet_end):
        return at
    day: date = local.date() if local.time() < policy.quiet_end else local.date() + timedelta(days=1)
    return datetime.combine(day, policy.quiet_end, tzinfo=zone).astimezone(timezone.utc)


def local_label(at: datetime, policy: Policy) -> str:
    """"Fri 6 Mar 17:00 Europe/Paris": a time as the contact lives it."""
    local = at.astimezone(policy.zone)
    return f"{local:%a} {local.day} {local:%b %H:%M} {policy.timezone}"


def local_day(at: datetime, policy: Policy) -> str:
    """"Friday 6 March": the contact's day, without the time."""
    local = at.astimezone(policy.zone)
    return f"{local:%A} {local.day} {local:%B}"
