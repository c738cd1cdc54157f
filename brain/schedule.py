"""Whether a conversation fixes a date or time for the session, event, meeting or delivery, and when.

A slot mentioned in a message counts as fixed when the message itself confirms it ("see you Sunday at
10"), when the other side's next message agrees to it, when it is stated flatly with a clock time ("the
party's on the 22nd, starts 6pm"), or when it names an existing appointment ("the shoot on saturday at
4"). Offered options, availability questions and payment dates do not count. The date is resolved with
`dateparser` against a caller-given base time, never the wall clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import dateparser

from brain.price_context import CLOCK, MONTHS, WEEKDAYS
from brain.sales_cues import ACCEPT_STRONG, ACCEPT_WEAK, DECLINE, HOLD, fold_same_length

_RELATIVE = r"tomorrow|tonight|today|this evening|manana|amanha|morgen|heute abend|heute|demain|ce soir|hoy|hoje"
_DAY = re.compile(
    rf"\b(?:(?:el|le|am|the|on)\s+)?\d{{1,2}}(?:º|ª|er|\.|st|nd|rd|th)?\s+(?:de\s+)?(?:{MONTHS})\b"
    rf"|\b(?:{MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b"
    rf"|\b(?:(?:next|this|on|el|la|le|am|o|a|na|no)\s+)?(?:{WEEKDAYS})s?\b|\b(?:{_RELATIVE})\b"
    rf"|\b(?:the\s+)?\d{{1,2}}(?:st|nd|rd|th)\b|\b(?:dia|el|le|am)\s+\d{{1,2}}\b(?!\s*(?:€|\$|%))")
_TIME = re.compile(
    rf"{CLOCK}|\b(?:at|by|um|as|a las|a la|a partir das?|a partir de las?)\s+\d{{1,2}}(?:[:.]\d{{2}})?\b(?![.,]\d|\s?(?:€|\$|%))"
    rf"|\b(?:noon|midday|midnight|mediodia|meio-dia|mittag|midi)\b")
_CONFIRM = re.compile(
    r"\b(?:see (?:you|u)|c u|booked|noted|it is|i'?ll be there|be there|works|done|confirmed|te espero|nos vemos|"
    r"alli estare|apuntado|anotado|te vejo|ate (?:la|logo)|ich komme|eingetragen|bis dann|note|c'est note|"
    r"a (?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|demain))\b")
_NEGATIVE = re.compile(r"\b(?:(?:i'?m|i am|fully|already) booked|not available|can'?t|unfortunately|let me check|"
                       r"i'?ll check|ocupad[oa]|nao posso|leider|je verifie|ich schaue|no puedo)\b")
_NOT_A_BOOKING = re.compile(r"\b(?:pay|paying|payment|installment|transfer|invoice|pago|pix|virement|uberweisung|"
                            r"bezahl\w*|zahl\w*|paiement|goes out|reopen\w*)\b")
_TENTATIVE = re.compile(r"\b(?:or|ou|oder|if|si|se|wenn|free|available|frei|libre|dispo|de la place|hueco|"
                        r"i have|tengo|tenho|ich hatte|j'ai)\b|\?")
_APPOINTMENT = re.compile(
    r"\b(?:the|our|my|your|la|el|le|die|das|a|o)\s+(?:\w+\s+)?(?:shoot|session|lesson|class|appointment|call|meeting|"
    r"gig|clase|sesion|cita|aula|sessao|stunde|termin|sitzung|cours|seance|rendez-vous)\b|'s (?:lesson|session|"
    r"class|shoot|call)\b")
_HOUR = re.compile(r"(\d{1,2})(?:[:h.](\d{2}))?\s?(am|pm|a\.m\.|p\.m\.)?")
_NOON = {"noon": 12, "midday": 12, "mediodia": 12, "meio-dia": 12, "mittag": 12, "midi": 12, "midnight": 0}


@dataclass(frozen=True)
class Slot:
    message_index: int
    raw_text: str
    day_text: str | None
    time_text: str | None


def find_schedule(messages: list[tuple[str, str]], *, now: datetime | None, lang: str) -> dict | None:
    """`messages` are (sender, text) pairs. The last fixed slot as
    {"raw_text", "datetime", "message_index"}, or None when no date or time is fixed."""
    slots = [_slot(i, text) for i, (_, text) in enumerate(messages)]
    fixed: Slot | None = None
    for i, slot in enumerate(slots):
        if slot is None:
            continue
        reply = _reply_to(messages, i)
        if _fixed_by_itself(messages[i][1], slot):
            fixed = slot
        elif reply is not None and _agrees(messages[reply][1]):
            fixed = slots[reply] or slot
    if fixed is None:
        return None
    when = resolve(fixed, now=now, lang=lang)
    return {"raw_text": fixed.raw_text, "datetime": when, "message_index": fixed.message_index}


def mentions_slot(text: str) -> bool:
    """Whether the message names a day or a time of day."""
    return _slot(0, text) is not None


def _slot(index: int, text: str) -> Slot | None:
    folded = fold_same_length(text)
    for sentence in re.finditer(r"[^.!\n]+[.!\n]?", folded):
        part = sentence.group()
        if _NOT_A_BOOKING.search(part):
            continue
        days = [m for m in _DAY.finditer(folded, sentence.start(), sentence.end())]
        times = [m for m in _TIME.finditer(folded, sentence.start(), sentence.end()) if _is_clock(folded, m)]
        if days or times:
            spans = sorted(days + times, key=lambda m: m.start())
            raw = text[spans[0].start():spans[-1].end()].strip(" ,")
            return Slot(index, raw, _first(text, days), _first(text, times))
    return None


def _is_clock(folded: str, match: re.Match[str]) -> bool:
    """"19h" and "10:30" are times of day; "24h delivery", "within 48h" and "a 2h session" are durations."""
    hours = re.match(r"(\d{1,2})\s?h\b", match.group())
    if hours is None:
        return int(re.search(r"\d+", match.group()).group()) <= 23 if re.search(r"\d", match.group()) else True
    preposition = re.search(r"\b(?:as|at|a las|um|vers|ab)\s*$", folded[:match.start()])
    return preposition is not None or 8 <= int(hours.group(1)) <= 23


def _first(text: str, matches: list[re.Match[str]]) -> str | None:
    return text[matches[0].start():matches[0].end()].strip() if matches else None


def _fixed_by_itself(text: str, slot: Slot) -> bool:
    folded = fold_same_length(text)
    if _NEGATIVE.search(folded):
        return False
    if _APPOINTMENT.search(folded):
        return True
    statement = not _TENTATIVE.search(folded)
    if statement and (_CONFIRM.search(folded) or ACCEPT_STRONG.search(folded)):
        return True
    return statement and slot.time_text is not None


def _reply_to(messages: list[tuple[str, str]], i: int) -> int | None:
    sender = messages[i][0]
    return next((j for j in range(i + 1, len(messages)) if messages[j][0] != sender), None)


def _agrees(text: str) -> bool:
    folded = fold_same_length(text)
    if _NEGATIVE.search(folded) or DECLINE.search(folded) or HOLD.search(folded):
        return False
    return bool(_CONFIRM.search(folded) or ACCEPT_STRONG.search(folded) or ACCEPT_WEAK.search(folded))


def resolve(slot: Slot, *, now: datetime | None, lang: str) -> str | None:
    """The slot as an ISO string (a date alone when no time is given), or None without a base time."""
    if now is None:
        return None
    base = now.replace(tzinfo=None)
    day = _parse_day(slot.day_text, base, lang) if slot.day_text else None
    clock = _parse_time(slot.time_text) if slot.time_text else None
    if day is None and clock is None:
        return None
    if day is None and clock is not None:
        day = base.date() if clock > base.time() else base.date() + timedelta(days=1)
    if clock is None:
        return day.isoformat() if day else None
    return datetime.combine(day, clock, tzinfo=now.tzinfo).isoformat()


def _parse_day(day_text: str, base: datetime, lang: str) -> date | None:
    cleaned = re.sub(r"^(?:on|the|el|la|le|am|dia|día|o|a|na|no|on the)\s+", "", day_text.strip(), flags=re.I)
    cleaned = re.sub(r"(?<=[a-z])s$", "", cleaned) if cleaned.lower().rstrip("s") in WEEKDAYS.split("|") else cleaned
    settings = {"RELATIVE_BASE": base, "PREFER_DATES_FROM": "future"}
    parsed = dateparser.parse(cleaned, languages=[lang], settings=settings) or dateparser.parse(
        cleaned, settings=settings)
    return parsed.date() if parsed else None


def _parse_time(time_text: str) -> time | None:
    folded = fold_same_length(time_text)
    for word, hour in _NOON.items():
        if word in folded:
            return time(hour, 0)
    match = _HOUR.search(folded)
    if match is None:
        return None
    hour, minute, meridiem = int(match.group(1)), int(match.group(2) or 0), match.group(3)
    if meridiem and meridiem.startswith("p") and hour < 12:
        hour += 12
    elif meridiem is None and 1 <= hour <= 7:
        hour += 12  # "see you at 4": bookings are afternoons, not 4 in the morning
    return time(hour % 24, minute) if minute < 60 else None
