"""Telegram text arithmetic, pure: UTF-16 lengths and slices, truncation, and splitting long replies.

Telegram measures text in UTF-16 code units: entity offsets and lengths, and the 4096 limit of one
message. A Python `str` counts code points, so an emoji outside the BMP is one character here and
two units there; every limit and offset below is in UTF-16 units.
"""

from __future__ import annotations

MAX_MESSAGE = 4096  # one sendMessage / editMessageText, after entity parsing
# Preferred places to cut a long reply, best first: paragraph, line, sentence, word.
_BREAKS = ("\n\n", "\n", ". ", "! ", "? ", "; ", ", ", " ")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def utf16_slice(text: str, offset: int, length: int) -> str:
    """The substring an entity (offset, length in UTF-16 units) covers."""
    data = text.encode("utf-16-le")
    return data[2 * offset:2 * (offset + length)].decode("utf-16-le", errors="replace")


def prefix_within(text: str, limit: int) -> str:
    """The longest prefix of `text` that fits in `limit` UTF-16 units (never half a surrogate pair)."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            return text[:index]
    return text


def truncate(text: str, limit: int) -> str:
    """`text` cut to `limit` UTF-16 units, with an ellipsis when something was cut."""
    if utf16_len(text) <= limit:
        return text
    return prefix_within(text, limit - 1).rstrip() + "…"


def _cut_at(window: str) -> int:
    """Where to end the part taken from `window`: the best break in its second half or so, else
    a hard cut (a part much shorter than the limit is worse than a word cut in two)."""
    floor = len(window) // 3
    for separator in _BREAKS:
        found = window.rfind(separator)
        if found > floor:
            return found + len(separator)
    return len(window)


def split_text(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """`text` as consecutive messages of at most `limit` units, cut at paragraph, then line, then
    sentence, then word boundaries. Empty or blank text gives no parts."""
    parts: list[str] = []
    rest = text.strip()
    while utf16_len(rest) > limit:
        window = prefix_within(rest, limit)
        cut = _cut_at(window)
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts
