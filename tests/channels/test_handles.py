"""Address normalisation: one person, one identity, whichever way the number is written."""

from __future__ import annotations

import pytest

from channels.base import Handle
from channels.handles import normalize_handle


@pytest.mark.parametrize("raw, expected", [
    ("+1 (415) 555-0100", Handle("phone", "+14155550100")),
    ("(415) 555-0100", Handle("phone", "+14155550100")),
    ("whatsapp:+14155550100", Handle("phone", "+14155550100")),
    ("tel:+44 20 7946 0958", Handle("phone", "+442079460958")),
    ("John@Example.COM", Handle("email", "john@example.com")),
    ("mailto:a@b.de", Handle("email", "a@b.de")),
    ("U024BE7LH", Handle("slack", "U024BE7LH")),
    ("12", Handle("slack", "12")),
])
def test_normalize(raw, expected):
    assert normalize_handle(raw, fallback_kind="slack") == expected


def test_region_applies_to_national_numbers():
    assert normalize_handle("030 1234567", fallback_kind="x", default_region="DE") == Handle("phone", "+49301234567")


def test_empty_is_none():
    assert normalize_handle("  ", fallback_kind="x") is None
