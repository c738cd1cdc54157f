"""Learn the owner's writing style from their outgoing messages and rewrite drafts toward it (pure, rule-based)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, TypeVar

__all__ = ["StyleProfile", "apply_style", "formality_score", "learn_style", "merge_profiles", "style_instructions"]

CASUAL_BELOW = 0.45  # a profile under this formality gets casual rewrites
FORMAL_FROM = 0.6  # a profile at or above this formality gets formal rewrites
LANGUAGE_NAMES = {"en": "English", "es": "Spanish", "pt": "Portuguese", "de": "German", "fr": "French"}

_EMOJI_BASE = (
    "[\U0001F170-\U0001F251\U0001F300-\U0001F5FF\U0001F600-\U0001F64F\U0001F680-\U0001F6FF"
    "\U0001F900-\U0001F9FF\U0001FA70-\U0001FAFF\u2600-\u27BF\u2B50\u2B55]"
)
_EMOJI_MOD = "[\uFE0F\U0001F3FB-\U0001F3FF]"
EMOJI_RE = re.compile(f"[\U0001F1E6-\U0001F1FF]{{2}}|{_EMOJI_BASE}{_EMOJI_MOD}*(?:\u200D{_EMOJI_BASE}{_EMOJI_MOD}*)*")
EMOTICON_RE = re.compile(r"(?<![\w:/])(?:[:;=]-?[)(DPp/|*]|<3|[xX]D)(?!\w)")
WORD_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_SPAN_RE = re.compile(
    "|".join((
        r"(?:https?://|www\.)\S+?(?=[.,!?;:)\]]*(?:\s|$))",
        r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
        r"(?<!\w)[@#]\w+",
        r"(?:R\$|US\$|[$€£¥₹])\s?\d(?:[\d.,]*\d)?(?:\s?[km]\b)?",
        r"\d(?:[\d.,:/-]*\d)?(?:\s?(?:%|€|£|\$|(?:[ap]\.m\.|[ap]m)(?!\w)|(?:st|nd|rd|th|h|k)\b"
        r"|(?:usd|eur|gbp|brl|reais|euros?|dollars?|bucks)\b))?",
        r"\b(?:mr|mrs|ms|dr|prof|sr|sra|jr|st)\.",
        r"[\ue000-\uf8ff]",
    )),
    re.I,
)


def _pairs(spec: str) -> dict[str, list[str]]:
    return {lang: [w.strip() for w in words.split("|")] for lang, words in (p.split(":") for p in spec.split(";"))}


_STOPWORDS = {lang: set(words.split()) for lang, words in {
    "en": "the and you to is it of that for are with this have what just my your was but not i'm it's don't",
    "es": "el los las y por con pero muy qué estoy del lo una gracias también bien",
    "pt": "os e não um uma com você meu minha tá estou muito isso obrigado obrigada também",
    "de": "der die das und ist nicht ich du sie ein eine zu mit auf für auch bin wir mir",
    "fr": "le les et est je vous des une pas qui pour avec ce mais suis moi ça c'est j'ai",
}.items()}
GREETINGS = _pairs(
    "en:hey there|hi there|hello there|hey you|hey hey|good morning|good afternoon|good evening|morning|hey|hi"
    "|hello|hiya|heya|yo|howdy|dear|greetings;es:hola|buenas|buenos días|buenas tardes|buenas noches|qué tal"
    "|estimado|estimada;pt:oi|olá|e aí|bom dia|boa tarde|boa noite|prezado|prezada;de:hallo|moin|servus"
    "|guten morgen|guten tag|guten abend|grüß dich|sehr geehrte|sehr geehrter|liebe|lieber;fr:salut|coucou"
    "|bonjour|bonsoir|cher|chère|madame|monsieur"
)
SIGN_OFFS = _pairs(
    "en:talk soon|speak soon|talk later|see you soon|see you later|see you|see ya|take care|cheers|xoxo|xxx|xx"
    "|ttyl|bye|later|best|best regards|kind regards|warm regards|regards|sincerely|all the best|best wishes|love;"
    "es:saludos|un saludo|un abrazo|abrazos|besos|besitos|hasta luego|hasta pronto|nos vemos|chao|chau"
    "|atentamente|cuídate|hablamos;pt:abraços|abraço|beijos|beijo|bjs|até logo|até mais|até já|atenciosamente"
    "|se cuida|tchau;de:lg|liebe grüße|viele grüße|beste grüße|mit freundlichen grüßen|freundliche grüße"
    "|bis bald|bis dann|bis später|tschüss|ciao;fr:bisous|bises|à bientôt|a bientôt|à plus|à demain"
    "|cordialement|bien à vous|bonne soirée|bonne journée"
)
FORMAL_GREETINGS = frozenset(
    "dear|good morning|good afternoon|good evening|greetings|estimado|estimada|prezado|prezada|sehr geehrte"
    "|sehr geehrter|madame|monsieur|cher|chère".split("|")
)
FORMAL_SIGN_OFFS = frozenset(
    "best regards|kind regards|warm regards|regards|sincerely|best wishes|all the best|atentamente|un saludo"
    "|atenciosamente|mit freundlichen grüßen|freundliche grüße|beste grüße|cordialement|bien à vous".split("|")
)
_PET_STRONG = (
    "babe|babes|hun|hon|hunny|sweetie|sweetheart|darling|cutie|buddy|bro|dude|mate|cariño|querida|querido|mi amor"
    "|mi vida|cielo|amorzinho|meu bem|chérie|chéri|mon cœur|ma belle|schatz|schatzi|liebling"
)
_PET_WEAK = "love|dear|honey|baby|beautiful|gorgeous|handsome|amor|linda|lindo|guapa|guapo|bella|hermosa|amigo|amiga"
_VOCATIVE = (  # words after which an ambiguous pet name ("love", "dear") is clearly addressing someone
    r"(?:hey|hi|hello|morning|night|thanks|thank you|thx|miss you|love you|hola|gracias|oi|obrigad[oa]|salut|coucou"
    r"|merci|hallo|danke|bonjour|buenas)"
)
PET_RE = re.compile(
    rf"\b({_PET_STRONG})\b|\b{_VOCATIVE}\s+({_PET_WEAK})\b"
    rf"|,\s*({_PET_WEAK})\b(?=\s*(?:$|[,.!?…]|{EMOJI_RE.pattern}))",
    re.I,
)
LAUGH_RE = re.compile(
    r"\b(?:lol+|lmf?ao+|rofl|(?:h[aeiu]){2,}h?|(?:j[aeij]){2,}j?|k{3,}|rs(?:rs)+|xd+|p?tdr+|mdr+)\b", re.I
)
_FORMAL_MARKERS = re.compile(
    r"\b(?:please|thank you|regards|sincerely|appreciate|kindly|assist(?:ance)?|however|therefore|certainly|furthermore"
    r"|apologi[sz]e|regarding|could you|attached|usted|atentamente|estimad[oa]|cordialmente|prezad[oa]"
    r"|atenciosamente|senhora?|cordialement|veuillez|vous|madame|monsieur|geehrter?|freundlichen|ihnen)\b",
    re.I,
)


def _rules(spec: str) -> tuple[tuple[re.Pattern[str], str], ...]:
    """Parse 'pattern => replacement' items (';' or newline separated) into whole-word, case-blind rules."""
    items = [i for line in spec.strip().splitlines() for i in line.split(";") if i.strip()]
    pairs = (i.partition("=>") for i in items)
    return tuple((re.compile(rf"\b(?:{p.strip()})\b", re.I), r.strip()) for p, _, r in pairs)


FORMALIZE = {
    "en": _rules("""
        gonna => going to; wanna => want to; gotta => have to; kinda => kind of; sorta => sort of; dunno => do not know
        lemme => let me; gimme => give me; r u => are you; u => you; ur => your; ya => you; pls|plz => please
        thx|thnx|thanx|ty|thanks => thank you; yeah|yep|yup|yea => yes; nope|nah => no; hey|hiya|heya|yo => hello
        awesome => excellent; cool => great; btw => by the way; idk => I do not know; tbh => to be honest
        imo => in my opinion; asap => as soon as possible; ok => okay; cuz|coz|cos => because; tho => though
        til => until; bday => birthday; tmrw|tmr => tomorrow; tonite => tonight; rn => right now; np => no problem
        omw => on my way; ttyl => talk to you later; brb => back shortly; nvm => never mind; omg =>; k|kk => okay"""),
    "es": _rules("q => que; xq|pq|porq => porque; tb|tmb => también; xfa|porfa|pf => por favor; bn => bien"),
    "pt": _rules("vc => você; vcs => vocês; tb|tbm => também; pq => porque; q => que; obg|obgd => obrigado; "
                 "td => tudo; hj => hoje; msg => mensagem; oi => olá"),
    "de": _rules("vllt => vielleicht; kp => keine Ahnung; nix => nichts; jz => jetzt; grad => gerade; "
                 "hey|hi|moin|servus => guten Tag"),
    "fr": _rules("slt|salut|coucou => bonjour; stp => s'il te plaît; svp => s'il vous plaît; jsp => je ne sais pas; "
                 "pk|pcq => parce que; bcp => beaucoup; dsl => désolé; tkt => ne t'inquiète pas; ouais => oui"),
}
CASUALIZE = {
    "en": _rules("""
        i would be happy to (?:assist|help)(?: you)? => happy to help
        i am (?:happy|glad) to (?:assist|help)(?: you)? => happy to help
        thank you (?:so|very) much => thanks so much; thank you => thanks
        please do(?: no|n')t hesitate to (?:contact|reach out to) (?:me|us)(?: with any questions)? => just let me know
        i apologi[sz]e => sorry; apologies => sorry; hello => hey; certainly => sure; however => but; therefore => so
        approximately|regarding => about; purchase => buy; receive => get; require => need; assistance|assist => help
        perhaps => maybe; sufficient => enough; commence => start; inform you => let you know"""),
    "es": _rules("buenos días|buenas tardes => hola; muchas gracias => gracias"),
    "pt": _rules("olá => oi; muito obrigad[oa] => valeu"),
    "de": _rules("guten tag|guten morgen => hallo; vielen dank => danke"),
    "fr": _rules("bonjour => salut; merci beaucoup => merci"),
}
SHORTEN = _rules("""
    i just wanted to (?:let you know|say|tell you)(?: that)? =>; i wanted to let you know(?: that)? =>
    just to let you know =>
    in order to => to; due to the fact that => because; at this point in time => now; in the event that => if
    as a matter of fact => actually; with regards? to => about; a large number of => many; for the purpose of => for""")
_CONTRACTION_PAIRS = [p.split("=") for p in (
    "I'm=I am,I'll=I will,I'd=I would,I've=I have,you're=you are,we're=we are,they're=they are,you'll=you will,"
    "we'll=we will,it's=it is,that's=that is,there's=there is,don't=do not,doesn't=does not,didn't=did not,"
    "can't=cannot,won't=will not,isn't=is not,aren't=are not,wasn't=was not,weren't=were not,haven't=have not,"
    "hasn't=has not,couldn't=could not,wouldn't=would not,shouldn't=should not"
).split(",")]
EXPAND = ((re.compile(r"\b(it|that|there|he|she)['’]s (been|got)\b", re.I), r"\1 has \2"),) + tuple(
    (re.compile(r"\b" + re.escape(c).replace("'", "['’]") + r"\b", re.I), e) for c, e in _CONTRACTION_PAIRS
)
CONTRACT = tuple(
    (re.compile(rf"\b{e}\b(?=\s+[^\s.,!?;:])" if " " in e else rf"\b{e}\b", re.I), c)
    for c, e in _CONTRACTION_PAIRS if e != "I have"
)
_EXPANDED_RE = re.compile(r"\b(?:" + "|".join(e for _, e in _CONTRACTION_PAIRS) + r")\b", re.I)
_SLANG = {lang: re.compile("|".join(p.pattern for p, _ in table), re.I) for lang, table in FORMALIZE.items()}
# Words safe to lowercase at a sentence start; anything else there may be a name.
KNOWN_WORDS = frozenset(w.lower() for w in WORD_RE.findall(" ".join((
    *(" ".join(s) for s in _STOPWORDS.values()), *(" ".join(g) for g in (*GREETINGS.values(), *SIGN_OFFS.values())),
    *(p.pattern + " " + r for t in (*FORMALIZE.values(), *CASUALIZE.values(), SHORTEN) for p, r in t),
    *(" ".join(pair) for pair in _CONTRACTION_PAIRS),
    "i so sure yes no okay sounds got let glad sorry can could would will also maybe good great nice love hope",
    "looking see we they he she on in at as if when how why where who lol lmao rofl haha xd",
))))


@dataclass(frozen=True)
class StyleProfile:
    """How the owner writes, learned from their outgoing messages."""

    formality: float = 0.5
    emoji_usage: bool = False
    emoji_rate: float = 0.0
    signature_emojis: list[str] = field(default_factory=list)
    avg_length: int = 0
    avg_words: float = 0.0
    punctuation_style: str = "standard"
    exclamation_rate: float = 0.0
    lowercase_start_rate: float = 0.0
    contractions_rate: float = 0.5
    greetings: list[str] = field(default_factory=list)
    sign_offs: list[str] = field(default_factory=list)
    pet_names: list[str] = field(default_factory=list)
    common_phrases: list[str] = field(default_factory=list)
    language: str = "en"
    samples_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StyleProfile:
        """Build from a stored dict; unknown keys are ignored and missing ones take the neutral default."""
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})


# --- analysis shared with brain.persona --------------------------------------------------------------------------

def extract_emojis(text: str) -> list[str]:
    return EMOJI_RE.findall(text)


def _scan_edge(patterns: dict[str, list[str]], text: str, at_start: bool) -> tuple[str, int, int] | None:
    """Longest known phrase at the start (or end) of text, as (canonical phrase, start, end)."""
    lowered = text.lower()
    if at_start:
        head = re.match(r"[\s¡¿\"'(]*", text).end()  # type: ignore[union-attr]
        found = [(p, head, head + m.end()) for ps in patterns.values() for p in ps
                 if (m := re.match(re.escape(p) + r"+(?![^\W_])", lowered[head:]))]
        return max(found, key=lambda f: len(f[0])) if found else None
    end = re.search(rf"(?:\s|[.!?,~…]|{EMOJI_RE.pattern})*$", text).start()  # type: ignore[union-attr]
    for p in sorted({p for ps in patterns.values() for p in ps}, key=len, reverse=True):  # longest first
        before = r"(?<![^\W_])" if " " in p else r"(?:^|(?<=[.!?,\n])|(?<=[.!?,\n] ))"
        if m := re.search(before + re.escape(p) + "$", lowered[:end]):
            return p, m.start(), end
    return None


def opening_greeting(text: str) -> tuple[str, int, int] | None:
    """The greeting a message opens with ("hey", "buenos días"), with its span; elongations like "heyyy" count."""
    return _scan_edge(GREETINGS, text, at_start=True)


def closing_sign_off(text: str) -> tuple[str, int, int] | None:
    """The sign-off a message closes with ("talk soon", "bisous"), with its span."""
    return _scan_edge(SIGN_OFFS, text, at_start=False)


def pet_names_in(text: str) -> list[str]:
    """Terms of endearment used to address someone; ambiguous words ("love", "dear") only in address position."""
    return [next(g for g in m.groups() if g).lower() for m in PET_RE.finditer(text)]


def detect_language(text: str, default: str = "en") -> str:
    """Dominant language by distinctive stopword counts; default when there is no evidence."""
    words = [w.lower() for w in WORD_RE.findall(text)]
    counts = {lang: sum(w in stop for w in words) for lang, stop in _STOPWORDS.items()}
    best = max(counts, key=lambda lang: counts[lang])
    return best if counts[best] else default


def _first_letter(text: str) -> str | None:
    m = re.match(rf"(?:\s|[¡¿\"'(]|{EMOJI_RE.pattern})*([^\W\d_])", text)
    return m.group(1) if m else None


def _is_expressive(text: str) -> bool:
    return bool(re.search(r"[!?]{2,}|\.{3,}|…", text)) or text.count("!") >= 2


def formality_score(text: str) -> float:
    """0 (very casual) .. 1 (very formal): smoothed ratio of formal to casual evidence in one message."""
    masked, _ = mask_protected(text)
    body = EMOJI_RE.sub(" ", masked).strip()
    words = WORD_RE.findall(body)
    formal = casual = 0.0
    if first := _first_letter(body):
        casual, formal = (casual + 1, formal) if first.islower() else (casual, formal + 0.5)
    if _is_expressive(body):
        casual += 1
    elif body[-1:] in (".", "?"):
        formal += 0.5
    elif body[-1:].isalnum():
        casual += 0.5
    casual += 0.75 * min(2, len(extract_emojis(masked)) + len(EMOTICON_RE.findall(body)))
    casual += min(3, len(_SLANG[detect_language(body)].findall(body)) + len(LAUGH_RE.findall(body)))
    casual += 0.5 * min(2, sum(len(p.findall(body)) for p, _ in EXPAND[1:]))
    formal += 0.5 * min(2, len(_EXPANDED_RE.findall(body))) + min(3, len(_FORMAL_MARKERS.findall(body)))
    mean_word = sum(map(len, words)) / len(words) if words else 4.5
    formal, casual = formal + 0.5 * (mean_word > 5.5), casual + 0.5 * (mean_word < 3.8)
    return round((formal + 1) / (formal + casual + 2), 4)


def weighted_mean(values: Sequence[float], weights: Sequence[float]) -> float:
    total = sum(weights)
    return sum(v * w for v, w in zip(values, weights)) / total if total else 0.0


def rank_items(per_text: Iterable[Iterable[str]], weights: Iterable[float], min_weight: float, limit: int) -> list[str]:
    """Items by total weight, heaviest first (ties keep first-seen order), dropping those under min_weight."""
    totals: Counter[str] = Counter()
    for items, w in zip(per_text, weights):
        for item in items:
            totals[item] += w
    return [item for item, w in totals.most_common() if w >= min_weight][:limit]


def classify_punctuation(texts: Sequence[str], weights: Sequence[float]) -> str:
    """'expressive' (!!, ?!, ..., many !), 'minimal' (mostly no end punctuation) or 'standard'."""
    stripped = [EMOJI_RE.sub("", t).rstrip() for t in texts]
    if weighted_mean([_is_expressive(t) for t in stripped], weights) >= 0.25:
        return "expressive"
    if weighted_mean([t[-1:] in ".!?…" for t in stripped], weights) < 0.3:
        return "minimal"
    return "standard"


def _contraction_rate(texts: Sequence[str]) -> float:
    short = sum(len(p.findall(t)) for t in texts for p, _ in EXPAND[1:])
    full = sum(len(_EXPANDED_RE.findall(t)) for t in texts)
    return (short + 0.5) / (short + full + 1)


def _common_phrases(texts: Sequence[str], min_count: int) -> list[str]:
    counts: Counter[str] = Counter()
    filler = {"the", "a", "an", "to", "of", "and", "in", "on", "at", "is", "it", "i", "for", "that", "be", "my"}
    for text in texts:
        for sentence in re.split(r"[.!?\n]+", text.lower()):
            words = WORD_RE.findall(sentence)
            grams = (" ".join(words[i:i + n]) for n in (3, 2) for i in range(len(words) - n + 1))
            counts.update(g for g in grams if not set(g.split()) <= filler)
    kept = [g for g, c in counts.most_common() if c >= min_count]
    return [g for g in kept if not any(g in k and counts[k] >= counts[g] for k in kept if k != g)][:10]


def learn_style(outgoing_texts: Sequence[str]) -> StyleProfile:
    """Learn a profile from the owner's own outgoing messages (blank ones are skipped)."""
    texts = [t.strip() for t in outgoing_texts if t and t.strip()]
    if not texts:
        return StyleProfile()
    n, ones = len(texts), [1.0] * len(texts)
    floor = 2 if n >= 5 else 1
    emojis = [extract_emojis(t) for t in texts]
    starts = [f for t in texts if (f := _first_letter(t))]
    return StyleProfile(
        formality=round(weighted_mean([formality_score(t) for t in texts], ones), 3),
        emoji_usage=sum(bool(e) for e in emojis) / n >= 0.2,
        emoji_rate=round(sum(map(len, emojis)) / n, 3),
        signature_emojis=rank_items(emojis, ones, floor, 5),
        avg_length=round(sum(map(len, texts)) / n),
        avg_words=round(sum(len(WORD_RE.findall(t)) for t in texts) / n, 2),
        punctuation_style=classify_punctuation(texts, ones),
        exclamation_rate=round(sum(t.count("!") for t in texts) / n, 3),
        lowercase_start_rate=round(sum(c.islower() for c in starts) / len(starts), 3) if starts else 0.0,
        contractions_rate=round(_contraction_rate(texts), 3),
        greetings=rank_items(([g[0]] if (g := opening_greeting(t)) else [] for t in texts), ones, floor, 5),
        sign_offs=rank_items(([s[0]] if (s := closing_sign_off(t)) else [] for t in texts), ones, floor, 5),
        pet_names=rank_items((pet_names_in(t) for t in texts), ones, 1, 5),
        common_phrases=_common_phrases(texts, floor),
        language=detect_language(" ".join(texts)),
        samples_count=n,
    )


def merge_profiles(old: StyleProfile, new: StyleProfile) -> StyleProfile:
    """Blend two profiles weighted by samples_count; ties in categorical fields go to the newer profile."""
    return merge_weighted(old, new)


_P = TypeVar("_P")


def merge_weighted(old: _P, new: _P) -> _P:
    """Blend two profile dataclasses field by field, weighted by their samples_count."""
    wo, wn = getattr(old, "samples_count"), getattr(new, "samples_count")
    if not wo or not wn:
        return new if wn or not wo else old
    merged: dict[str, Any] = {"samples_count": wo + wn}
    for f in fields(old):  # type: ignore[arg-type]
        a, b = getattr(old, f.name), getattr(new, f.name)
        if f.name == "samples_count":
            continue
        if isinstance(a, bool):
            merged[f.name] = weighted_mean([a, b], [wo, wn]) >= 0.5
        elif isinstance(a, (int, float)):
            mean = weighted_mean([a, b], [wo, wn])
            merged[f.name] = round(mean) if isinstance(a, int) else round(mean, 3)
        elif isinstance(a, list):
            limit = 10 if f.name == "common_phrases" else 5
            ranked = [([x], w / (i + 1)) for lst, w in ((b, wn), (a, wo)) for i, x in enumerate(lst)]
            merged[f.name] = rank_items((x for x, _ in ranked), (w for _, w in ranked), 0, limit)
        else:
            merged[f.name] = b if wn >= wo else a
    return replace(new, **merged)  # type: ignore[type-var]


# --- rewriting -----------------------------------------------------------------------------------------------------

_SENTENCE_START = re.compile(r"((?:^|[.!?…]\s+|\n)[\s¡¿\"'(]*)([^\W\d_][\w'’]*)")
_PUA = re.compile("[\ue000-\uf8ff]")
_AFTER_BOUNDARY = re.compile(rf"(?:[.!?…:]|{EMOJI_RE.pattern})$")


def _is_name(m: re.Match[str]) -> bool:
    """Capitalised words that are not sentence starts (and brands like iPhone) are names: never rewritten."""
    word, before = m.group(), m.string[: m.start()]
    if any(c.isupper() for c in word[1:]) and not word.isupper():
        return True
    if len(word) > 1 and word.isupper():
        return word.lower() not in KNOWN_WORDS
    if not word[0].isupper() or re.fullmatch(r"I(?:['’]\w+)?", word) or re.search(r"\n[\s\"'(¡¿]*$", before):
        return False
    before = re.sub(r"[\s\"'(¡¿]+$", "", before)
    return bool(before) and not _AFTER_BOUNDARY.search(before)


def mask_protected(text: str) -> tuple[str, list[str]]:
    """Swap numbers, prices, dates, URLs, emails, handles and names for private-use placeholder characters."""
    spans: list[str] = []

    def hide(m: re.Match[str]) -> str:
        spans.append(m.group())
        return chr(0xE000 + len(spans) - 1)

    masked = _SPAN_RE.sub(hide, text)
    return re.sub(r"(?<![\w'’])[^\W\d_][\w'’-]*", lambda m: hide(m) if _is_name(m) else m.group(), masked), spans


def unmask(text: str, spans: Sequence[str]) -> str:
    return _PUA.sub(lambda m: spans[ord(m.group()) - 0xE000], text)


def _tidy(text: str, lang: str) -> str:
    """Repair the spacing and stray commas that word removals leave behind."""
    text = re.sub(r"[ \t]{2,}", " ", text)
    text = re.sub(r"[ \t]+([,.;:" + ("" if lang == "fr" else "!?") + "])", r"\1", text)
    text = re.sub(r",\s*(?=[.!?])|(?<=[.!?])\s*,", "", text)
    return re.sub(r"(?m)^[ \t,;:]+|[ \t]+$", "", text).strip()


@dataclass
class Draft:
    """A masked draft being rewritten, and the names of the transformations that changed it."""

    text: str
    lang: str
    spans: list[str] = field(default_factory=list)
    greet: bool = False
    sign_off: bool = False
    applied: list[str] = field(default_factory=list)

    def update(self, new: str, name: str) -> None:
        """Take the rewrite and record its name, unless it changes nothing or would leave nothing to send."""
        if not re.search(r"[^\W_]|[\ue000-\uf8ff]", new):
            return
        if new != self.text and (new := _tidy(new, self.lang)) != self.text:
            self.text = new
            if name not in self.applied:
                self.applied.append(name)


def _cased(m: re.Match[str], rep: str) -> str:
    src, before = m.group(), m.string[: m.start()]
    if not rep:
        return " "
    rep = m.expand(rep)
    cap = src[0].isupper() and not (len(src) > 1 and src.isupper())
    if re.match(r"I\b", src):  # the pronoun says nothing about the case of the sentence
        cap = not before.strip() or bool(re.search(r"[.!?…\n]\s*$", before))
    return rep[0].upper() + rep[1:] if cap else rep


def apply_rules(text: str, rules: Iterable[tuple[re.Pattern[str], str]]) -> str:
    for pattern, rep in rules:
        text = pattern.sub(lambda m: _cased(m, rep), text)
    return text


def collapse_punctuation(text: str) -> str:
    text = re.sub(r"[!?]{2,}", lambda m: "?" if "?" in m.group() else "!", text)
    return re.sub(r"\.{4,}", "...", text)


def _lower_known(m: re.Match[str]) -> str:
    word = m.group(2)
    if word.lower() not in KNOWN_WORDS or (len(word) > 1 and word.isupper()):
        return m.group()
    return m.group(1) + word[0].lower() + word[1:]


def _shorten(p: StyleProfile, d: Draft) -> None:
    if d.lang == "en" and p.avg_length and len(d.text) > max(40, 1.5 * p.avg_length):
        d.update(apply_rules(d.text, SHORTEN), "shortened")


def _drop_pet_names(text: str, keep: Sequence[str]) -> str:
    """Remove terms of endearment the owner does not use (only the name, not the greeting before it)."""
    for m in reversed(list(PET_RE.finditer(text))):
        group = next(i for i, g in enumerate(m.groups(), 1) if g)
        if m.group(group).lower() not in keep:
            text = text[: m.start(group)] + " " + text[m.end(group):]
    return text


def _vocabulary(p: StyleProfile, d: Draft) -> None:
    if p.formality >= FORMAL_FROM:
        text = LAUGH_RE.sub(" ", apply_rules(d.text, FORMALIZE.get(d.lang, ())))
        d.update(_drop_pet_names(text, p.pet_names), "formalized_vocabulary")
    elif p.formality < CASUAL_BELOW:
        d.update(apply_rules(d.text, CASUALIZE.get(d.lang, ())), "casualized_vocabulary")


def _contractions(p: StyleProfile, d: Draft) -> None:
    if d.lang != "en":
        return
    rate = p.contractions_rate
    if rate > 0.55 or (rate >= 0.45 and p.formality < CASUAL_BELOW):
        d.update(apply_rules(d.text, CONTRACT), "added_contractions")
    elif rate < 0.45 or p.formality >= FORMAL_FROM:
        d.update(apply_rules(d.text, EXPAND), "removed_contractions")


def _greeting(p: StyleProfile, d: Draft) -> None:
    """A formal opener becomes a casual owner's own greeting; greet=True adds one where there is none."""
    if not p.greetings or d.lang != p.language:
        return
    found, target = opening_greeting(d.text), p.greetings[0]
    swappable = found and found[0] in GREETINGS[p.language] and found[0] in FORMAL_GREETINGS
    if swappable and p.formality < CASUAL_BELOW and found[0] not in p.greetings:
        d.update(d.text[: found[1]] + target + d.text[found[2]:], "added_greeting")
    elif not found and d.greet:
        d.update(f"{target}, " + _SENTENCE_START.sub(_lower_known, d.text, count=1), "added_greeting")


def _with_sign_off(body: str, sign_off: str, formal: bool) -> str:
    body = body.rstrip(" ,")
    if formal:
        return f"{body}\n\n{sign_off}"
    return f"{body} {sign_off}" if re.search(r"\W$", body) else f"{body}, {sign_off}"


def _sign_off(p: StyleProfile, d: Draft) -> None:
    """A sign-off of the other register becomes the owner's own; sign_off=True adds one where there is none."""
    if not p.sign_offs or d.lang != p.language:
        return
    found, target, formal = closing_sign_off(d.text), p.sign_offs[0], p.formality >= FORMAL_FROM
    if found and found[0] not in p.sign_offs and found[0] in SIGN_OFFS[p.language]:
        is_formal = found[0] in FORMAL_SIGN_OFFS
        if (formal and not is_formal) or (p.formality < CASUAL_BELOW and is_formal):
            d.update(_with_sign_off(d.text[: found[1]], target, formal) + d.text[found[2]:], "added_sign_off")
    elif not found and d.sign_off:
        d.update(_with_sign_off(d.text, target, formal), "added_sign_off")


def _drop_emoji(p: StyleProfile, d: Draft) -> None:
    if not p.emoji_usage:
        text = EMOJI_RE.sub(" ", d.text)
        d.update(EMOTICON_RE.sub(" ", text) if p.formality >= FORMAL_FROM else text, "removed_emoji")


_LINK_SPAN = re.compile(r"https?://|www\.|[@#]|[^@\s]+@", re.I)
_AFTER_WORD = r"(?<=[^\W_]|[\ue000-\uf8ff])"


def _close_lines(text: str, mark: str, spans: Sequence[str]) -> str:
    """End each line that stops mid-sentence with mark; one-word, greeting, sign-off and link-ending lines stay."""
    def close(m: re.Match[str]) -> str:
        line, last = m.group(), m.group()[-1:]
        if " " not in line.strip() or not re.fullmatch(rf"[^\W_]|{_PUA.pattern}", last):
            return line
        if _PUA.fullmatch(last) and _LINK_SPAN.match(spans[ord(last) - 0xE000]):
            return line
        greeting = opening_greeting(line)
        return line if closing_sign_off(line) or (greeting and greeting[2] >= len(line)) else line + mark

    return re.sub(r"(?m)^.*$", close, text)


def _punctuation(p: StyleProfile, d: Draft) -> None:
    text = d.text if p.punctuation_style == "expressive" else collapse_punctuation(d.text)
    if p.formality >= FORMAL_FROM:
        text = _close_lines(re.sub(_AFTER_WORD + r"(?:\.{3}|…)", ".", text), ".", d.spans)
    elif p.punctuation_style == "minimal":
        text = re.sub(r"(?<!\.)\.$", "", text)
    elif p.punctuation_style == "expressive":
        text = _close_lines(re.sub(_AFTER_WORD + r"\.(?=\s|$)", "!", text), "!", d.spans)
        text = re.sub(r"(?<![!?])!$", "!!", text) if p.exclamation_rate >= 1.5 else text
    d.update(text, "adjusted_punctuation")


def _case(p: StyleProfile, d: Draft) -> None:
    if p.lowercase_start_rate >= 0.5 and p.formality < FORMAL_FROM:
        d.update(_SENTENCE_START.sub(_lower_known, d.text), "lowercased_start")
        return
    text = _SENTENCE_START.sub(lambda m: m.group(1) + m.group(2)[0].upper() + m.group(2)[1:], d.text)
    d.update(re.sub(r"\bi\b", "I", text) if d.lang == "en" else text, "capitalized_start")


def add_signature_emoji(emojis: Sequence[str], count: int, d: Draft) -> None:
    if emojis and not extract_emojis(d.text):
        d.update(f"{d.text} {''.join(emojis[:count])}", "added_emoji")


_STEPS: tuple[Callable[[StyleProfile, Draft], None], ...] = (
    _shorten, _vocabulary, _contractions, _greeting, _sign_off, _drop_emoji, _punctuation, _case,
)


def apply_style(
    profile: StyleProfile, text: str, *, greet: bool = False, sign_off: bool = False
) -> tuple[str, list[str]]:
    """Rewrite a draft toward the profile; numbers, prices, dates, URLs, emails and names are never touched.

    An owner's greeting or sign-off replaces a different one already in the draft; greet/sign_off also add one
    where the draft has none (the caller knows whether the message opens or closes a conversation).
    """
    if not text.strip():
        return text, []
    masked, spans = mask_protected(text)
    draft = Draft(masked, detect_language(masked, profile.language), spans, greet, sign_off)
    for step in _STEPS:
        step(profile, draft)
    if profile.emoji_usage:
        add_signature_emoji(profile.signature_emojis, max(1, min(3, round(profile.emoji_rate))), draft)
    return unmask(draft.text, spans), draft.applied


_PUNCTUATION_HINTS = {"expressive": "expressive punctuation (!!, ...) is fine", "minimal": "keep punctuation minimal"}


def style_instructions(profile: StyleProfile) -> str:
    """A one-sentence description of the style for the drafting prompt ("" when nothing was learned)."""
    p = profile
    if not p.samples_count:
        return ""
    tone = "casually" if p.formality < 0.35 else "formally" if p.formality >= FORMAL_FROM else "in a friendly tone"
    size = "short" if p.avg_length < 80 else "medium length" if p.avg_length < 200 else "longer"
    rate = p.contractions_rate
    contractions = "use contractions" if rate > 0.6 else "avoid contractions" if rate < 0.4 else ""
    hints = [
        f"write {tone}",
        "lowercase is fine" if p.lowercase_start_rate >= 0.5 else "",
        f"in {LANGUAGE_NAMES.get(p.language, p.language)}" if p.language != "en" else "",
        f"{size} (about {p.avg_length} characters)",
        contractions,
        f"use emoji like {''.join(p.signature_emojis[:3])}" if p.emoji_usage and p.signature_emojis else "no emoji",
        _PUNCTUATION_HINTS.get(p.punctuation_style, ""),
        f"greet with '{p.greetings[0]}'" if p.greetings else "",
        f"sign off with '{p.sign_offs[0]}'" if p.sign_offs else "",
        f"may call them '{p.pet_names[0]}'" if p.pet_names else "",
        "phrases they often use: " + ", ".join(f"'{x}'" for x in p.common_phrases[:3]) if p.common_phrases else "",
    ]
    text = ", ".join(h for h in hints if h)
    return text[0].upper() + text[1:] + "."
