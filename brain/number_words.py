"""Spelled-out numbers in English, Spanish, Portuguese, German and French ("two hundred fifty",
"doscientos", "duzentos e cinquenta", "zweihundertfünfzig", "deux cents"), found with their spans.

Each word carries the languages it belongs to; a run of number words must share a language, so
"five cents" is never read as French "cinq cents" and a stray Spanish "dos" does not join an
English number.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

ADD, HUNDRED, THOUSAND, MILLION, ARTICLE = "add", "hundred", "thousand", "million", "article"
Atom = tuple[int, str, frozenset[str]]  # (value, kind, languages)


def _seq(words: str, first: int, step: int = 1) -> dict[str, int]:
    return {w: first + i * step for i, w in enumerate(words.split())}


_UNITS_EN = _seq("one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
                 "fifteen sixteen seventeen eighteen nineteen", 1)
_UNITS_ES = _seq("uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince "
                 "dieciseis diecisiete dieciocho diecinueve veinte veintiuno veintidos veintitres "
                 "veinticuatro veinticinco veintiseis veintisiete veintiocho veintinueve", 1)
_UNITS_PT = _seq("um dois tres quatro cinco seis sete oito nove dez onze doze treze catorze quinze "
                 "dezesseis dezessete dezoito dezenove", 1)
_UNITS_FR = _seq("un deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze seize", 1)
_TENS = {
    "en": _seq("twenty thirty forty fifty sixty seventy eighty ninety", 20, 10),
    "es": _seq("treinta cuarenta cincuenta sesenta setenta ochenta noventa", 30, 10),
    "pt": _seq("vinte trinta quarenta cinquenta sessenta setenta oitenta noventa", 20, 10),
    "fr": {**_seq("vingt trente quarante cinquante soixante", 20, 10), "quatrevingt": 80, "quatrevingts": 80},
}
_HUNDREDS = {
    "es": {"cien": 100, "ciento": 100, **_seq("doscientos trescientos cuatrocientos quinientos seiscientos "
                                             "setecientos ochocientos novecientos", 200, 100),
           **_seq("doscientas trescientas cuatrocientas quinientas", 200, 100)},
    "pt": {"cem": 100, "cento": 100, **_seq("duzentos trezentos quatrocentos quinhentos seiscentos "
                                           "setecentos oitocentos novecentos", 200, 100),
           **_seq("duzentas trezentas quatrocentas quinhentas", 200, 100)},
}
_MULTIPLIERS = {
    "en": {"hundred": (100, HUNDRED), "thousand": (1000, THOUSAND), "million": (10**6, MILLION)},
    "es": {"mil": (1000, THOUSAND), "millon": (10**6, MILLION), "millones": (10**6, MILLION)},
    "pt": {"mil": (1000, THOUSAND), "milhao": (10**6, MILLION), "milhoes": (10**6, MILLION)},
    "fr": {"cent": (100, HUNDRED), "cents": (100, HUNDRED), "mille": (1000, THOUSAND),
           "million": (10**6, MILLION), "millions": (10**6, MILLION)},
    "de": {"million": (10**6, MILLION), "millionen": (10**6, MILLION)},
}
CONNECTORS = {"and": "en", "y": "es", "e": "pt", "et": "fr", "und": "de"}
_GERMAN = {"ein": 1, "eins": 1, "eine": 1, "zwei": 2, "zwo": 2, "drei": 3, "vier": 4, "funf": 5, "sechs": 6,
           "sieben": 7, "acht": 8, "neun": 9, "zehn": 10, "elf": 11, "zwolf": 12, "sechzehn": 16,
           "siebzehn": 17, "zwanzig": 20, "dreissig": 30, "vierzig": 40, "funfzig": 50, "sechzig": 60,
           "siebzig": 70, "achtzig": 80, "neunzig": 90}
_GERMAN_MORPHEME = re.compile("|".join(sorted([*_GERMAN, "hundert", "tausend", "und"], key=len, reverse=True)))


def _build_vocab() -> dict[str, Atom]:
    vocab: dict[str, Atom] = {}
    tables = [("en", _UNITS_EN, ADD), ("es", _UNITS_ES, ADD), ("pt", _UNITS_PT, ADD), ("fr", _UNITS_FR, ADD)]
    tables += [(lang, table, ADD) for lang, table in (*_TENS.items(), *_HUNDREDS.items())]
    for lang, table, kind in tables:
        for word, value in table.items():
            _merge(vocab, word, (value, kind, frozenset({lang})))
    for lang, table in _MULTIPLIERS.items():
        for word, (value, kind) in table.items():
            _merge(vocab, word, (value, kind, frozenset({lang})))
    for word in ("a", "an"):
        vocab[word] = (1, ARTICLE, frozenset({"en"}))
    return vocab


def _merge(vocab: dict[str, Atom], word: str, atom: Atom) -> None:
    old = vocab.get(word)
    if old and old[:2] == atom[:2]:
        atom = (atom[0], atom[1], old[2] | atom[2])
    vocab[word] = atom


VOCAB = _build_vocab()
_TOKEN = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")


def fold(text: str) -> str:
    """Lower-case, drop accents and German sharp s, so lookups ignore spelling variants."""
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("ß", "ss"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@dataclass(frozen=True)
class NumberWords:
    start: int
    end: int
    value: float


def _german_compound(word: str) -> list[Atom] | None:
    parts = _GERMAN_MORPHEME.findall(word)
    if "".join(parts) != word or not parts or parts == ["und"]:
        return None
    total, current, pending = 0, 0, 0
    for part in parts:
        if part == "hundert":
            current, pending = (current + pending or 1) * 100, 0
        elif part == "tausend":
            total, current, pending = total + (current + pending or 1) * 1000, 0, 0
        elif part != "und":
            current, pending = current + pending, _GERMAN[part]
    return [(total + current + pending, ADD, frozenset({"de"}))]


def _token_atoms(token: str) -> list[Atom] | None:
    """The atoms of one word (hyphenated parts split), or None if it is not wholly a number."""
    word = fold(token).replace("quatre-vingt", "quatrevingt")
    atoms: list[Atom] = []
    for part in word.split("-"):
        atom = VOCAB.get(part)
        if atom is not None:
            atoms.append(atom)
            continue
        german = _german_compound(part)
        if german is None:
            return None
        atoms.extend(german)
    return atoms


def _colloquial(atoms: list[Atom]) -> list[Atom]:
    """English "two-fifty" / "one-twenty" means 250 / 120, not 52 / 21."""
    if len(atoms) == 2 and all(a[1] == ADD and "en" in a[2] for a in atoms):
        (first, _, langs), (second, _, _) = atoms
        if 1 <= first <= 9 and 10 <= second <= 99:
            return [(first * 100 + second, ADD, langs)]
    return atoms


def _fits(current: int, value: int, langs: frozenset[str]) -> bool:
    """Whether adding `value` continues a well-formed number ("twenty five", not "two three")."""
    if current == 0:
        return True
    if current % 100 == 0 and value < 100:
        return True
    if current % 10 == 0 and value < 10:
        return True
    return "fr" in langs and current % 20 == 0 and value < 20


class _Run:
    """A run of number words being read left to right."""

    def __init__(self) -> None:
        self.start = self.end = -1
        self.total = self.current = 0
        self.langs: frozenset[str] = frozenset({"en", "es", "pt", "de", "fr"})
        self.words = 0

    def accepts(self, atoms: list[Atom]) -> bool:
        langs = self.langs
        current = self.current
        for value, kind, atom_langs in atoms:
            langs &= atom_langs
            if not langs or (kind == ADD and not _fits(current, value, langs)):
                return False
            current = current + value if kind == ADD else 0
        return True

    def add(self, atoms: list[Atom], start: int, end: int) -> None:
        self.start = start if self.words == 0 else self.start
        self.end, self.words = end, self.words + 1
        for value, kind, atom_langs in atoms:
            self.langs &= atom_langs
            if kind in (ADD, ARTICLE):
                self.current += value
            elif kind == HUNDRED:
                self.current = (self.current or 1) * 100
            elif kind == THOUSAND:
                self.total, self.current = self.total + (self.current or 1) * 1000, 0
            else:
                self.total, self.current = (self.total + (self.current or 1)) * value, 0

    def result(self) -> NumberWords | None:
        value = self.total + self.current
        return NumberWords(self.start, self.end, float(value)) if self.words and value else None


def find_number_words(text: str) -> list[NumberWords]:
    """Every maximal run of spelled-out number words in `text`, with its character span."""
    found: list[NumberWords] = []
    run, gap_from = _Run(), 0
    tokens = list(_TOKEN.finditer(text))
    for i, match in enumerate(tokens):
        atoms = _token_atoms(match.group())
        glued = run.words > 0 and text[gap_from:match.start()].strip() == ""
        if atoms is None and glued and _is_connector(match.group(), run, tokens, i, text):
            gap_from = match.end()
            continue
        if atoms is None or not glued or not run.accepts(atoms):
            _close(run, found)
            run = _Run()
        if atoms is not None and _valid_start(run, atoms, tokens, i):
            run.add(_colloquial(atoms), match.start(), match.end())
        gap_from = match.end()
    _close(run, found)
    return found


def _is_connector(word: str, run: _Run, tokens: list[re.Match[str]], i: int, text: str) -> bool:
    lang = CONNECTORS.get(fold(word))
    if lang is None or lang not in run.langs or i + 1 >= len(tokens):
        return False
    following = tokens[i + 1]
    return text[tokens[i].end():following.start()].strip() == "" and _token_atoms(following.group()) is not None


def _valid_start(run: _Run, atoms: list[Atom], tokens: list[re.Match[str]], i: int) -> bool:
    """An article ("a") only starts a number when a multiplier follows ("a hundred"); plural
    "cents" never starts one (French writes "deux cents", English "five cents" is money in cents)."""
    if run.words == 0 and fold(tokens[i].group()) == "cents":
        return False
    if atoms[0][1] != ARTICLE:
        return True
    if run.words or len(atoms) > 1 or i + 1 >= len(tokens):
        return False
    following = _token_atoms(tokens[i + 1].group())
    return bool(following) and following[0][1] in (HUNDRED, THOUSAND, MILLION)


def _close(run: _Run, found: list[NumberWords]) -> None:
    result = run.result()
    if result is not None:
        found.append(result)
