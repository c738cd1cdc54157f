"""Pure parsers for chat-history exports: each turns one file into `ImportedThread`s and stores nothing.

    whatsapp.parse_file   "Export chat" .txt (Android or iOS) or the .zip holding _chat.txt
    telegram.parse_file   Telegram Desktop result.json (one chat or the full export)
    mbox.parse_file       a Unix mbox (Gmail Takeout, Thunderbird, mutt)

Every parser reads the whole file before returning, so a malformed file raises `ImportFileError`
(naming the file and the line or JSON path) before the caller writes anything.
"""

from __future__ import annotations

import hashlib
import mimetypes
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from pathlib import Path

from channels.base import InboundMessage
from channels.handles import normalize_phone

__all__ = ["DIRECTION_MARKS", "ImportFileError", "ImportedThread", "OwnerNotFoundError", "attachment_kind",
           "clean_marks", "find_owner", "fold", "local_to_utc", "plain_spaces", "stable_id"]

# Direction marks and isolates WhatsApp and Telegram put around names, times and attachments.
DIRECTION_MARKS = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
_MARKS = dict.fromkeys(map(ord, DIRECTION_MARKS))
_SPACES = {ord("\u202f"): " ", ord("\u00a0"): " ", ord("\u2007"): " "}
_MAX_LISTED_SENDERS = 15


@dataclass(frozen=True)
class ImportedThread:
    """One conversation read from an export, its messages oldest first."""

    thread_id: str
    display_name: str
    is_group: bool
    messages: list[InboundMessage]


class ImportFileError(Exception):
    """The file cannot be imported; the message names the file and where the problem is."""

    def __init__(self, path: Path | str, where: str, problem: str) -> None:
        self.path, self.where, self.problem = str(path), where, problem
        super().__init__(f"{path}: {where}: {problem}" if where else f"{path}: {problem}")


class OwnerNotFoundError(ImportFileError):
    """None of the owner's names or addresses is a sender in the file."""


def plain_spaces(text: str) -> str:
    """Narrow and no-break spaces as plain spaces (direction marks are kept)."""
    return text.translate(_SPACES)


def clean_marks(text: str) -> str:
    """Drop invisible direction marks; narrow and no-break spaces become plain spaces."""
    return text.translate(_MARKS).translate(_SPACES)


def fold(text: str) -> str:
    """A name compared loosely: no marks, NFKC, case-folded, single spaces, no leading '~'."""
    text = unicodedata.normalize("NFKC", clean_marks(text)).casefold()
    return " ".join(text.lstrip("~").split())


def stable_id(*parts: object) -> str:
    """A deterministic id from the parts, so importing the same file again finds the same rows."""
    raw = "\x1f".join(str(part) for part in parts)
    return hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()


def local_to_utc(moment: datetime, zone: tzinfo) -> datetime:
    """A wall-clock time without zone, read in `zone`, as UTC (a time with its own zone keeps it)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(timezone.utc)


def attachment_kind(name: str = "", mime_type: str = "") -> str:
    """photo, video, voice, sticker, animation or document, from a MIME type or a file name."""
    mime = mime_type or mimetypes.guess_type(name)[0] or ""
    upper = name.upper()
    if "STICKER" in upper or upper.startswith("STK-") or mime == "image/webp":
        return "sticker"
    if "-GIF-" in upper or mime == "image/gif":
        return "animation"
    if upper.startswith("PTT-") or mime in ("audio/ogg", "audio/opus") or name.lower().endswith(".opus"):
        return "voice"
    for prefix, kind in (("image/", "photo"), ("video/", "video"), ("audio/", "audio")):
        if mime.startswith(prefix):
            return kind
    return "document"


def _same(candidate: str, key: str, name: str) -> bool:
    wanted = fold(candidate)
    if wanted and wanted in (fold(key), fold(name)):
        return True
    phone = normalize_phone(candidate)
    return phone is not None and phone in (normalize_phone(key), normalize_phone(name))


def _listing(senders: dict[str, str]) -> str:
    names = sorted({name or key for key, name in senders.items()}, key=str.casefold)
    shown = ", ".join(repr(n) for n in names[:_MAX_LISTED_SENDERS])
    more = len(names) - _MAX_LISTED_SENDERS
    return shown + (f" and {more} more" if more > 0 else "")


def find_owner(path: Path | str, candidates: Iterable[str], senders: dict[str, str]) -> str:
    """The sender key (of `senders`: key -> display name) that is the owner, trying each candidate
    name, address, phone or id in order. Raises OwnerNotFoundError listing the senders found."""
    tried = [c for c in dict.fromkeys(c.strip() for c in candidates) if c]
    for candidate in tried:
        for key, name in senders.items():
            if _same(candidate, key, name):
                return key
    wanted = " or ".join(repr(c) for c in tried) or "no name (neither --owner nor owner.name is set)"
    found = _listing(senders) if senders else "none"
    raise OwnerNotFoundError(path, "", f"cannot tell which messages are yours: {wanted} is not a sender "
                                       f"here; senders found: {found}. Pass --owner with one of them")

