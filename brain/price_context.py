"""Whether a bare number in a message ("could you do 90?", "doscientos") is money, and the calendar
words (weekdays, months, clock times) that say it is a time or a date instead."""

from __future__ import annotations

import re

from brain.number_words import fold


def _names(words: str) -> str:
    """A regex alternation of the words, with and without accents, longest first."""
    variants = {w for word in words.split() for w in (word, fold(word))}
    return "|".join(sorted(variants, key=len, reverse=True))


WEEKDAYS = _names(
    "monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs fri sat sun "
    "lunes martes miércoles jueves viernes sábado domingo "
    "segunda-feira terça-feira quarta-feira quinta-feira sexta-feira segunda terça quarta quinta sexta "
    "montag dienstag mittwoch donnerstag freitag samstag sonntag "
    "lundi mardi mercredi jeudi vendredi samedi dimanche")
MONTHS = _names(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec "
    "enero febrero marzo abril mayo junio julio agosto septiembre setiembre octubre noviembre diciembre "
    "janeiro fevereiro março maio junho julho setembro outubro novembro dezembro "
    "januar jänner februar märz juni juli oktober dezember "
    "janvier février mars avril mai juin juillet août septembre octobre novembre décembre")
CLOCK = (r"\b\d{1,2}(?:[:h]\d{2})\b|\b\d{1,2}(?:[:.]\d{2})?\s?(?:am|pm|a\.m\.|p\.m\.|h|hs|uhr|o'?clock)"
         r"(?![^\W\d_])")
_AT_HOUR = re.compile(r"(?:\b(?:at|by|until|till|bis|um|ab|vers|as|às|a las|a la|das|a partir de las?)|@|\bà)"
                      r"\s+(\d{1,2})\b(?![.,]\d)", re.I)
_BLOCKED = re.compile("|".join([
    CLOCK,
    rf"\b(?:{WEEKDAYS})s?,?\s+(?:the\s+)?\d{{1,2}}\b",
    r"\b(?:dia|día|el|le|am|the|on the)\s+\d{1,2}\b(?![.,]\d|\s?(?:€|\$|£))",
    rf"\b\d{{1,2}}(?:st|nd|rd|th|º|ª|er|\.)?\s+(?:de\s+)?(?:{MONTHS})\b",
    rf"\b(?:{MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b",
    r"\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b|\b\d{4}-\d{2}-\d{2}\b",
    r"\d+(?:[.,]\d+)?\s?(?:%|percent\b|per cent\b|pct\b|por ciento\b|por cento\b|prozent\b|pour ?cent\b)",
]), re.I)
_PHONE = re.compile(r"(?<![\w.,])\+?\(?\d[\d ().\-]{5,}\d(?![\w])")
_RATE_AFTER = re.compile(
    r"\s?/\s?[^\W\d_]+|\s+(?:a|an|per|each|la|el|por|pro|par|the|die|de la)\s+(?:hour|hr|session|day|month|"
    r"week|head|person|piece|lesson|class|hora|sesion|sesión|dia|día|mes|clase|heure|séance|seance|jour|"
    r"mois|stunde|tag|monat|sitzung|aula|semaine|semana|woche)\b", re.I)
_FOLLOW_OK = set(  # price words, verbs and determiners: a noun after the number would make it a count
    "for then each total is it right works work max tops flat final firm last ok okay would sound sounds do "
    "fine good "
    "was were can could will should might must feels feel seems seem looks look "
    "your my our their the this that you we they i tu su mi ton ta votre notre mon ma dein mein unser seu meu "
    "all including incl inc inkl incluido incluidos incluso incluindo inclus compris plus cash net netto brutto ttc "
    "ht mwst iva vat tax taxes even sharp straight fixed fijo fixo fest ferme both deal "
    "pls please plz por favor bitte svp stp "
    "cada entonces entao então alors dann pour por para fur für pro chacun jeweils insgesamt todo tudo "
    "tout es est ist sería seria serait wäre ware geht va vale".split())
_FOLLOW_WITH_CUE = set(
    "and y e et und but pero mas mais aber if si se wenn with con com mit avec sem sin ohne sans or o ou "
    "oder instead".split())
_PRECEDE_CUE = re.compile(
    r"(?:\b(?:do|take|pay|offer|give|budget|max|cap|for|at|en|por|pour|fur|für|is|then|ok|okay|vale|entonces|"
    r"dann|alors|around|about|only|just|under|faz|faire|mach|machen|dejo|deja|dejas|consigo|paying|give you|"
    r"va|bueno|fine|alright|so|say|maybe|like|deal|sale|make it|call it|let'?s say|quote|total|price|fee|cost|"
    r"rate|budget|preis|precio|preco|preço|prix|tarif|valor)[,!.:]?"
    r"|\d\s?x(?:\s+de)?|\b(?:payments?|installments?|plazos|parcelas|fois|raten)\s+(?:of|de|von|a|à)?)\s*$", re.I)
_LONE_MULTIPLIERS = {"cent", "cents", "hundred", "thousand", "million", "mil", "mille", "tausend"}
_NEXT_WORD = re.compile(r"\s*([^\W\d_]+(?:'[^\W\d_]+)?)")


def is_money_context(text: str, start: int, end: int, amount: float) -> bool:
    """Whether the bare number at text[start:end] reads as an amount of money."""
    spelled, raw = text[start].isalpha(), text[start:end]
    if amount < (100 if spelled else 10) or _glued_to_something(text, end):
        return False
    if (spelled and fold(raw) in _LONE_MULTIPLIERS) or (raw.isdigit() and len(raw) > 6):
        return False  # "not a cent", "hundred", an order or account number
    if not spelled and _looks_like_year(text[start:end], amount):
        return False
    if _inside(_BLOCKED, text, start, end) or _at_hour(text, start, amount) or _in_phone(text, start, end):
        return False
    return _money_follows(text, start, end)


def _glued_to_something(text: str, end: int) -> bool:
    """"3pm", "14th", "2h", "20%", "10:30", "3-hour", "10-12", "24/7", "14.06.2024" are not amounts."""
    after = text[end:end + 2]
    if not after:
        return False
    if after[0].isalpha() or after.lstrip(" ")[:1] == "%":
        return True
    return after[0] in ":-–/." and len(after) > 1 and after[1].isalnum() and not _RATE_AFTER.match(text, end)


def _looks_like_year(raw: str, amount: float) -> bool:
    return raw.isdigit() and len(raw) == 4 and 1900 <= amount <= 2100


def _inside(pattern: re.Pattern[str], text: str, start: int, end: int) -> bool:
    return any(m.start() <= start and end <= m.end() for m in pattern.finditer(text))


def _at_hour(text: str, start: int, amount: float) -> bool:
    """"at 10", "a las 11", "um 13": an hour of the day, not 10 dollars."""
    return amount <= 24 and any(m.start(1) == start for m in _AT_HOUR.finditer(text))


def _in_phone(text: str, start: int, end: int) -> bool:
    for match in _PHONE.finditer(text):
        digits = sum(ch.isdigit() for ch in match.group())
        separated = match.group().startswith("+") or any(ch in match.group() for ch in " -(")
        if digits >= 7 and separated and match.start() <= start and end <= match.end():
            return True
    return False


def _money_follows(text: str, start: int, end: int) -> bool:
    """Decide from the words around the number: a rate, a price word, or punctuation after it."""
    if _RATE_AFTER.match(text, end):
        return True
    word = _NEXT_WORD.match(text, end)
    if word is None or text[end:word.start(1)].strip():
        return True  # end of message, punctuation or emoji next
    following = fold(word.group(1))
    if following in _FOLLOW_OK or word.group(1).lower() == "é":  # Portuguese "é" is "is", "e" is "and"
        return True
    return following in _FOLLOW_WITH_CUE and bool(_PRECEDE_CUE.search(text[max(0, start - 30):start]))
