"""The contact's own "talk next week" / "let me think about it until Friday": when they said they
would come back, resolved with dateparser relative to the time of their message, in their zone.

Pure: the same text, time and zone give the same answer. The matched phrase is kept for the owner
to read; the drafting model is only ever told the resolved date, never the contact's words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import dateparser

MORNING = time(10, 0)  # "talk next week": the morning of that day
END_OF_DAY = time(17, 0)  # "until Friday": the end of their working day
MAX_AHEAD = timedelta(days=120)
_WEEKDAYS = r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tue|tues|wed|thu|thurs|fri|sat|sun"
_MONTHS = (r"january|february|march|april|may|june|july|august|september|october|november|december|"
           r"jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
_CUE = (r"talk|speak|chat|catch up|get back|come back|circle back|let you know|tell you|think(?: about it| it over)?|"
        r"decide|confirm|be in touch|touch base|reach out|follow up|revert|sleep on it|"
        r"(?:give me|need)(?=\s+(?:until|till))|need (?:some )?time|"
        r"hablamos|te digo|te aviso|lo pienso|falamos|on se parle|je te dis|je vous dis|"
        r"sprechen wir|ich melde mich|melde mich")
_DAY = (rf"(?:{_WEEKDAYS})|(?:the\s+)?\d{{1,2}}(?:st|nd|rd|th)(?:\s+of\s+(?:{_MONTHS}))?"
        rf"|(?:{_MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?")
_WHEN = (rf"(?P<deadline>by|until|till|til|before)\s+(?:the\s+)?(?:end of (?:the )?(?:week|month)|next week|"
         rf"tomorrow|the weekend|{_DAY})"
         rf"|(?:next|this|coming)\s+(?:week|month|weekend|{_WEEKDAYS})|tomorrow|after the weekend|"
         rf"end of (?:the )?(?:week|month)|in\s+(?:a|an|one|two|three|four|a few|a couple of|\d{{1,2}})\s+"
         rf"(?:days?|weeks?)|(?:on\s+)?(?:{_DAY})"
         rf"|la semana que viene|la pr[oó]xima semana|semana que vem|pr[oó]xima semana|la semaine prochaine|"
         rf"n[aä]chste woche|ma[nñ]ana|amanh[aã]|demain|morgen")
_PATTERN = re.compile(rf"\b(?P<cue>{_CUE})\b(?P<gap>[^.!?\n]{{0,40}}?)\b(?P<when>{_WHEN})\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?\n]|$")
_NEGATED = re.compile(r"\b(?:can'?t|cannot|won'?t|not|no|never|unable)\b", re.IGNORECASE)
_ALIASES = {"this weekend": "saturday", "coming weekend": "saturday", "the weekend": "saturday",
            "next weekend": "saturday", "end of the week": "friday", "end of week": "friday",
            "after the weekend": "monday", "tomorrow": "tomorrow"}
_NEXT_WEEK = re.compile(r"next week|semana que viene|pr[oó]xima semana|semana que vem|semaine prochaine|"
                        r"n[aä]chste woche", re.IGNORECASE)
_END_OF_MONTH = re.compile(r"end of (?:the )?month", re.IGNORECASE)
_LEADING = re.compile(r"^(?:by|until|till|til|before|on|the)\s+", re.IGNORECASE)
_COUNTS = (("a couple of", "2"), ("a few", "3"), ("four", "4"), ("three", "3"), ("two", "2"), ("one", "1"),
           ("an", "1"), ("a", "1"))


@dataclass(frozen=True)
class Deferral:
    phrase: str  # the words matched, for the owner
    due_at: datetime  # UTC
    deadline: bool  # "until/by X" (end of that day) rather than "on X" (its morning)


def _next_monday(day: date) -> date:
    return day + timedelta(days=7 - day.weekday())


def _end_of_month(day: date) -> date:
    first_next = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    return first_next - timedelta(days=1)


def _resolve_day(when: str, base: datetime) -> date | None:
    """The local day named by `when`, relative to the local time `base` (naive)."""
    text = _LEADING.sub("", when.strip().lower())
    if _NEXT_WEEK.search(text):
        return _next_monday(base.date())
    if _END_OF_MONTH.search(text):
        return _end_of_month(base.date())
    text = _ALIASES.get(text, text)
    for words, digits in _COUNTS:
        text = re.sub(rf"^in {words} ", f"in {digits} ", text)
    parsed = dateparser.parse(text, settings={"RELATIVE_BASE": base, "PREFER_DATES_FROM": "future",
                                              "RETURN_AS_TIMEZONE_AWARE": False})
    return parsed.date() if parsed is not None else None


def find_deferral(text: str, sent_at: datetime, zone: ZoneInfo) -> Deferral | None:
    """The first "I'll come back to you then" in `text`, resolved in the contact's zone."""
    for match in _PATTERN.finditer(text or ""):
        prefix = text[max(0, match.start() - 12):match.start()] + match.group("gap")
        end = _SENTENCE_END.search(text, match.end())
        if _NEGATED.search(prefix) or (end is not None and text[end.start():end.start() + 1] == "?"):
            continue  # "I can't talk next week", "can you confirm by Friday?"
        local = sent_at.astimezone(zone)
        day = _resolve_day(match.group("when"), local.replace(tzinfo=None))
        if day is None:
            continue
        deadline = match.group("deadline") is not None
        due = datetime.combine(day, END_OF_DAY if deadline else MORNING, tzinfo=zone).astimezone(timezone.utc)
        if sent_at < due <= sent_at + MAX_AHEAD:
            return Deferral(match.group(0).strip(), due.replace(microsecond=0), deadline)
    return None
