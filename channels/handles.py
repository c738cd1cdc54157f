"""Normalise addresses so one person is one contact: E.164 phones, lower-cased emails."""

from __future__ import annotations

import re

import phonenumbers

from channels.base import Handle

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONEISH = re.compile(r"^[+(\d][\d\s().\-]{5,}$")


def normalize_email(value: str) -> str | None:
    value = value.strip().lower()
    if value.startswith("mailto:"):
        value = value[7:]
    return value if _EMAIL.match(value) else None


def normalize_phone(value: str, default_region: str = "US") -> str | None:
    value = value.strip()
    for prefix in ("tel:", "sms:", "whatsapp:"):
        if value.lower().startswith(prefix):
            value = value[len(prefix):]
    if not _PHONEISH.match(value):
        return None
    try:
        number = phonenumbers.parse(value, None if value.startswith("+") else default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_handle(value: str, *, fallback_kind: str, default_region: str = "US") -> Handle | None:
    """An email or phone number becomes a shared identity; anything else stays channel-scoped."""
    value = (value or "").strip()
    if not value:
        return None
    email = normalize_email(value)
    if email:
        return Handle("email", email)
    phone = normalize_phone(value, default_region)
    if phone:
        return Handle("phone", phone)
    return Handle(fallback_kind, value)
