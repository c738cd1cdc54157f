"""Playful-tone persona preset for creators: learn a teasing, non-explicit style from approved replies and apply it."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from brain.style import (
    CASUAL_BELOW, CONTRACT, EMOJI_RE, FORMAL_GREETINGS, Draft, add_signature_emoji, apply_rules, classify_punctuation,
    closing_sign_off, collapse_punctuation, detect_language, extract_emojis, formality_score, mask_protected,
    merge_weighted, opening_greeting, pet_names_in, rank_items, unmask, weighted_mean,
)

__all__ = ["PersonaProfile", "apply_persona", "learn_persona", "merge_personas", "teasing_score"]

PLAYFUL_OPENERS = ("well well", "hey you", "hey stranger", "hey trouble", "look who", "oh hey", "hmm", "mmm")
PLAYFUL_CLOSERS = ("xoxo", "talk soon", "don't be a stranger", "sweet dreams", "until next time")
_TEASE_RE = re.compile(
    r"\b(?:maybe|depends|perhaps|wouldn't you like to know|you wish|we'll see|if you're lucky|if you're good"
    r"|worth my while|behave|trouble|cheeky|tease|guess|find out|you'll see|is that so|oh really|careful|bet you"
    r"|obviously|hm{2,}|m{3,})\b|\.{3}|…|[😏😉😜😘🙈]",
    re.I,
)
_SOFTENERS = ((re.compile(r"\bI(?:['’]m| am) (?:available|free)\b", re.I), "I might be free"),
              (re.compile(r"\bI can make it\b", re.I), "I might be able to make it"))
_TAILS = (  # (topic, tail); kept playful and non-explicit on purpose
    (re.compile(r"\b(?:free|available|weekend|tonight|tomorrow|later|today|this week|meet|call)\b", re.I),
     "if you make it worth my while"),
    (re.compile(r"\b(?:thanks|thank you|appreciate)\b", re.I), "you're sweet"),
)
_THANKS_START = re.compile(r"^(?:(?:thanks|thank you)(?: so much| very much)?|thx)\b", re.I)


@dataclass(frozen=True)
class PersonaProfile:
    """A creator's playful style; to_dict() has exactly the keys of the seed's /flirty/style/learn response."""

    formality: float = 0.5
    emoji_usage: bool = False
    avg_length: int = 0
    punctuation_style: str = "standard"
    teasing_level: float = 0.0
    pet_names: list[str] = field(default_factory=list)
    signature_emojis: list[str] = field(default_factory=list)
    opener_patterns: list[str] = field(default_factory=list)
    closer_patterns: list[str] = field(default_factory=list)
    samples_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PersonaProfile:
        """Build from a stored dict; unknown keys are ignored and missing ones take the neutral default."""
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})


def teasing_score(text: str) -> float:
    """0..1: how teasing one reply reads (hedges, trailing dots, winks); two markers make it fully teasing."""
    return min(1.0, 0.5 * len(_TEASE_RE.findall(text)))


def _opener(text: str) -> list[str]:
    playful = next((p for p in PLAYFUL_OPENERS if re.match(re.escape(p) + r"\b", text.lower())), None)
    greeting = opening_greeting(text)
    return [playful] if playful else [greeting[0]] if greeting else []


def _closer(text: str) -> list[str]:
    body = re.sub(rf"(?:\s|[.!?,~…]|{EMOJI_RE.pattern})+$", "", text.lower())
    playful = next((p for p in PLAYFUL_CLOSERS if body.endswith(p)), None)
    sign_off = closing_sign_off(text)
    return [playful] if playful else [sign_off[0]] if sign_off else []


def _quality(sample: Mapping[str, Any]) -> float:
    try:
        return min(1.0, max(0.0, float(sample.get("quality_score", 1.0))))
    except (TypeError, ValueError):
        return 1.0


def learn_persona(samples: Sequence[Mapping[str, Any]]) -> PersonaProfile:
    """Learn from {"input", "output", "context_type", "quality_score"} samples, each weighted by its quality (0..1).

    Only the approved output is analysed; input and context_type are accepted for the seed's shape but unused.
    """
    pairs = [(str(s.get("output") or "").strip(), _quality(s)) for s in samples]
    pairs = [(text, w) for text, w in pairs if text and w > 0]
    if not pairs:
        return PersonaProfile()
    texts, weights = [t for t, _ in pairs], [w for _, w in pairs]
    return PersonaProfile(
        formality=round(weighted_mean([formality_score(t) for t in texts], weights), 3),
        emoji_usage=weighted_mean([bool(extract_emojis(t)) for t in texts], weights) >= 0.2,
        avg_length=round(weighted_mean([len(t) for t in texts], weights)),
        punctuation_style=classify_punctuation(texts, weights),
        teasing_level=round(weighted_mean([teasing_score(t) for t in texts], weights), 3),
        pet_names=rank_items((pet_names_in(t) for t in texts), weights, 0, 5),
        signature_emojis=rank_items((extract_emojis(t) for t in texts), weights, 0, 5),
        opener_patterns=rank_items((_opener(t) for t in texts), weights, 0, 5),
        closer_patterns=rank_items((_closer(t) for t in texts), weights, 0, 5),
        samples_count=len(pairs),
    )


def merge_personas(old: PersonaProfile, new: PersonaProfile) -> PersonaProfile:
    """Blend two personas weighted by samples_count (the seed's merge_with_existing)."""
    return merge_weighted(old, new)


def _tease(p: PersonaProfile, d: Draft) -> None:
    """Soften a flat "I'm available" and, on a short reply, trail off into a playful (non-explicit) tail."""
    if p.teasing_level < 0.3:
        return
    before = d.text
    d.update(apply_rules(d.text, _SOFTENERS), "added_teasing")
    tail = next((t for topic, t in _TAILS if topic.search(d.text)), None)
    short = d.text != before or len(d.text) <= 60
    if p.teasing_level < 0.5 or not tail or not short or re.search(r"[.!?…]\s+\S", d.text):
        return
    if re.search(r"(?:\?|\.\.\.|…)\s*$", d.text) or extract_emojis(d.text) or closing_sign_off(d.text):
        return
    d.update(re.sub(r"[.!]*$", "...", d.text, count=1), "adjusted_punctuation")
    d.update(f"{d.text} {tail}", "added_teasing")


def _pet_name_slot(text: str) -> int | None:
    """Where a pet name reads naturally: after a casual greeting ("hey babe") or a closing thank-you."""
    greeting = opening_greeting(text)
    one_word = greeting and " " not in greeting[0] and greeting[0] not in FORMAL_GREETINGS
    if one_word and not re.match(r"\s*[\ue000-\uf8ff]", text[greeting[2]:]):  # type: ignore[index]
        return greeting[2]
    thanks = _THANKS_START.match(text)
    return thanks.end() if thanks and re.match(r"\s*(?:[,.!?…]|$)", text[thanks.end():]) else None


def _pet_name(p: PersonaProfile, d: Draft) -> None:
    if p.pet_names and not pet_names_in(d.text) and (slot := _pet_name_slot(d.text)) is not None:
        d.update(f"{d.text[:slot]} {p.pet_names[0]}{d.text[slot:]}", "added_pet_name")


def apply_persona(profile: PersonaProfile, text: str) -> tuple[str, list[str]]:
    """Rewrite a draft in the persona's playful voice; numbers, prices, dates, URLs and names are never touched."""
    if not text.strip():
        return text, []
    masked, spans = mask_protected(text)
    draft = Draft(masked, detect_language(masked), spans)
    if profile.formality < CASUAL_BELOW and draft.lang == "en":
        draft.update(apply_rules(draft.text, CONTRACT), "added_contractions")
    _tease(profile, draft)
    _pet_name(profile, draft)
    if profile.punctuation_style != "expressive":
        draft.update(collapse_punctuation(draft.text), "adjusted_punctuation")
    if profile.emoji_usage:
        add_signature_emoji(profile.signature_emojis, 2, draft)
    return unmask(draft.text, spans), draft.applied
