"""Money amounts in chat messages: spot candidates ("$200", "1.200,50 €", "R$ 1,5 mil", "two hundred
bucks", "200/hr"), read the digits with price-parser, and tag each with an ISO currency.

Amounts written with a currency are always prices. A bare number ("could you do 90?") is a price only
in a money context: not a time, date, phone number, percentage or year, not followed by a noun
("3 photos", "2 hours"), and followed by punctuation, a rate ("/hr", "an hour") or a price word
("for", "then", "each", "total"...). A bare amount takes the currency of the nearest stated one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from price_parser import Price as _ParsedPrice

from brain.number_words import find_number_words, fold
from brain.price_context import is_money_context

SYMBOLS = {"R$": "BRL", "US$": "USD", "U$": "USD", "AU$": "AUD", "A$": "AUD", "CA$": "CAD", "C$": "CAD",
           "MX$": "MXN", "NZ$": "NZD", "$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
CODES = ("USD", "EUR", "GBP", "BRL", "CAD", "CHF", "AUD", "MXN", "JPY", "NZD")
DOLLAR_CURRENCIES = {"USD", "CAD", "AUD", "MXN", "NZD"}
_WORD_CURRENCY = [  # (folded pattern, ISO code); "dollars" follows the conversation's dollar
    (r"canadian dollars?|dollars? canadiens|dolares canadienses", "CAD"),
    (r"australian dollars?|aussie dollars?", "AUD"), (r"us dollars?|american dollars?", "USD"),
    (r"dollars?|dolares|dolar|bucks?", "$"), (r"quid|pounds?|libras?", "GBP"),
    (r"euros?|pavos|balles", "EUR"), (r"reais", "BRL"), (r"pesos", "MXN"),
    (r"francs?|franken", "CHF"), (r"yen", "JPY"),
]

_SYM = "|".join(re.escape(s) for s in sorted(SYMBOLS, key=len, reverse=True))
_CODE = "(?:" + "|".join(CODES) + r")\b"
_WORDS = "(?:" + "|".join(p.replace("o", "[oó]").replace("a", "[aá]") for p, _ in _WORD_CURRENCY) + r")\b"
_NUM = r"\d{1,3}(?:[.,]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
_NUM_SPACED = r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:[.,]\d{1,2})?"
_MULT = r"(?P<mult>k\b|\s?(?:mil|thousand|grand|tausend|mille)\b)"
_GAP = r"[ \u00a0\u202f]?"
_AMOUNT = rf"(?P<num>{_NUM_SPACED}|{_NUM})(?![\d]){_MULT}?"
_PREFIX = re.compile(
    rf"(?<![\w$€£¥])(?P<cur>{_SYM}|\b{_CODE}){_GAP}{_AMOUNT}(?P<qual>{_GAP}(?:{_CODE}|pesos\b))?", re.I)
_SUFFIX = re.compile(rf"(?<![\w.,]){_AMOUNT}{_GAP}(?P<cur>{_SYM}|{_CODE}|{_WORDS})(?P<qual>{_GAP}{_CODE})?", re.I)
_BARE = re.compile(rf"(?<![\w.,/:$€£¥#+\-]){_AMOUNT}", re.I)
_CURRENCY_AFTER = re.compile(rf"{_GAP}(?:{_SYM}|{_CODE}|{_WORDS})", re.I)
_MULTIPLIERS = {"k": 1000, "mil": 1000, "thousand": 1000, "grand": 1000, "tausend": 1000, "mille": 1000}


@dataclass(frozen=True)
class Price:
    """One money amount as written in a message."""

    amount: float
    currency: str | None
    raw_text: str
    position: int

    def to_dict(self) -> dict[str, Any]:
        return {"amount": self.amount, "currency": self.currency, "raw_text": self.raw_text,
                "position": self.position}


@dataclass(frozen=True)
class _Candidate:
    start: int
    end: int
    amount: float
    currency: str | None  # ISO code, "$" for a dollar of unknown country, None when not stated
    tight: bool = False   # symbol touches the digits ("$18"), which wins a shared symbol
    bare: bool = False


def extract_prices(text: str, *, default_currency: str | None = None) -> list[Price]:
    """Every money amount in `text`, in order of appearance (repeats included)."""
    candidates = _explicit_candidates(text)
    candidates += [c for c in _bare_candidates(text) if is_money_context(text, c.start, c.end, c.amount)]
    chosen = _without_overlaps(candidates)
    return _with_currencies(text, chosen, default_currency)


def _explicit_candidates(text: str) -> list[_Candidate]:
    found = [_from_match(m, prefix=True) for m in _PREFIX.finditer(text)]
    found += [_from_match(m, prefix=False) for m in _SUFFIX.finditer(text)]
    for words in find_number_words(text):
        currency = _CURRENCY_AFTER.match(text, words.end)
        if currency:
            code = _currency_code(currency.group().strip())
            found.append(_Candidate(words.start, currency.end(), words.value, code, tight=True))
    return [c for c in found if 0 < c.amount < 1e10]


def _from_match(match: re.Match[str], *, prefix: bool) -> _Candidate:
    code = _currency_code(match.group("qual") or match.group("cur"))  # "$500 pesos", "90 $ CAD"
    amount_end = match.end("mult") if match.group("mult") else match.end("num")
    tight = match.end("cur") == match.start("num") if prefix else amount_end == match.start("cur")
    return _Candidate(match.start(), match.end(), _amount(match.group("num"), match.group("mult")), code, tight)


def _bare_candidates(text: str) -> list[_Candidate]:
    found = [_Candidate(m.start(), m.end(), _amount(m.group("num"), m.group("mult")), None, bare=True)
             for m in _BARE.finditer(text)]
    found += [_Candidate(w.start, w.end, w.value, None, bare=True) for w in find_number_words(text)]
    return found


def _amount(number: str, multiplier: str | None) -> float:
    parsed = _ParsedPrice.fromstring(number.replace("\u00a0", " ").replace("\u202f", " "))
    value = float(parsed.amount) if parsed.amount is not None else 0.0
    if multiplier:
        value *= _MULTIPLIERS[multiplier.strip().lower()]
    return round(value, 2)


def _currency_code(token: str | None) -> str | None:
    if not token:
        return None
    token = token.strip()
    if token == "$":
        return "$"  # a dollar of the conversation's country, USD unless told otherwise
    if token.upper() in SYMBOLS:
        return SYMBOLS[token.upper()]
    if token.upper() in CODES:
        return token.upper()
    folded = fold(token)
    for pattern, code in _WORD_CURRENCY:
        if re.fullmatch(pattern, folded):
            return code
    return None


def _without_overlaps(candidates: list[_Candidate]) -> list[_Candidate]:
    """Keep the strongest reading of each stretch of text: stated currency, then a symbol touching
    its digits, then the earliest and longest match."""
    ranked = sorted(candidates, key=lambda c: (c.bare, not c.tight, c.start, -(c.end - c.start)))
    kept: list[_Candidate] = []
    for candidate in ranked:
        if all(candidate.end <= k.start or candidate.start >= k.end for k in kept):
            kept.append(candidate)
    return sorted(kept, key=lambda c: c.start)


def _with_currencies(text: str, chosen: list[_Candidate], default: str | None) -> list[Price]:
    dollar = default if default in DOLLAR_CURRENCIES else "USD"
    stated = [c.currency if c.currency != "$" else dollar for c in chosen]
    prices = []
    for i, candidate in enumerate(chosen):
        currency = stated[i] or _nearest_stated(stated, i) or default
        prices.append(Price(candidate.amount, currency, text[candidate.start:candidate.end], candidate.start))
    return prices


def _nearest_stated(stated: list[str | None], i: int) -> str | None:
    before = [c for c in stated[:i] if c]
    if before:
        return before[-1]
    return next((c for c in stated[i + 1:] if c), None)
