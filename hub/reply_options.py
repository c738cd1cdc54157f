"""Themed reply options for /suggestions and /flirty/suggestions, all drafted in ONE LLM call.

The call is constrained by a JSON schema whose keys are the themes, in order, each an array of the
options wanted for that theme: the model writes every option right after its theme's name, which
steers the tone, and never has to spend tokens on labels. Descriptors and quality scores are
derived from the text by rules; confidence is the model's own (exp mean log-probability of the call).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from brain.llm import clean_reply
from brain.style import extract_emojis

if TYPE_CHECKING:
    from brain.llm import LLM

OPTION_MAX_CHARS = 110
TOKENS_PER_OPTION = 36  # measured ~17 on SmolLM2; the schema bounds each option, this bounds the call
TRANSCRIPT_CHARS = 2400
MAX_CALLS = 2
THEME_GUIDE = {
    "casual": "relaxed and friendly", "brief": "just a few words", "empathetic": "warm and understanding",
    "formal": "polite and formal", "professional": "clear and professional", "enthusiastic": "excited and upbeat",
    "funny": "light and humorous", "humorous": "light and humorous", "curious": "asks a friendly question back",
    "decline": "politely says no", "flirty": "playful and teasing, never explicit",
    "flirty_closing": "playful, gently steering toward booking or buying, never explicit",
    "deflection": "politely sidesteps the question",
}
_FIXED_DESCRIPTORS = {
    "empathetic": "Supportive", "formal": "Polite", "professional": "Professional", "funny": "Playful",
    "humorous": "Playful", "decline": "Polite no", "flirty": "Teasing", "flirty_closing": "Sales close",
    "deflection": "Deflecting",
}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_ONE_WORD_REPLIES = frozenset("yes yeah yep sure ok okay okey definitely absolutely maybe perhaps thanks thank "
                               "nope no totally deal great perfect cool nice awesome".split())
_TONE_WORDS = frozenset(w for theme in THEME_GUIDE for w in (theme, theme.replace("_", " ")))
_DEBRIS = re.compile(r"[\[\]{}\"\\#*]|\w_\w|\w{20,}")  # JSON or markup leftovers, identifiers, hashes


# No brackets, braces, quotes, backslashes or line breaks (the small model's usual JSON debris), and
# no space or punctuation first (its degenerate answers are ", " and the like).
_BANNED = r'\[\]{}"\\\n<>|'
_OPTION_PATTERN = rf"^[^ ,.;:)!?\-{_BANNED}][^{_BANNED}]{{1,{OPTION_MAX_CHARS - 1}}}$"


def split_count(themes: Sequence[str], count: int) -> dict[str, int]:
    """How many options each theme gets: as even as possible, earlier themes first."""
    share, extra = divmod(count, len(themes))
    wanted = {theme: share + (i < extra) for i, theme in enumerate(themes)}
    return {theme: n for theme, n in wanted.items() if n}


def options_schema(per_theme: dict[str, int]) -> dict[str, Any]:
    option = {"type": "string", "pattern": _OPTION_PATTERN}
    properties = {theme: {"type": "array", "items": option, "minItems": n, "maxItems": n}
                  for theme, n in per_theme.items()}
    return {"type": "object", "properties": properties, "required": list(per_theme),
            "additionalProperties": False}


def transcript(messages: Sequence[dict[str, str]]) -> str:
    """The latest messages as "Them:/Me:" lines, newest kept when the text is too long."""
    lines: list[str] = []
    for message in reversed(messages):
        speaker = "Me" if message["role"] == "assistant" else "Them" if message["role"] == "user" else "Note"
        lines.insert(0, f"{speaker}: {' '.join(message['content'].split())[:600]}")
        if sum(map(len, lines)) > TRANSCRIPT_CHARS:
            lines.pop(0)
            break
    return "\n".join(lines)


def prompt_messages(messages: Sequence[dict[str, str]], per_theme: dict[str, int],
                    guidance: str = "") -> list[dict[str, str]]:
    tones = "; ".join(f"{t} = {THEME_GUIDE.get(t, t.replace('_', ' '))}" for t in per_theme)
    system = ("You suggest text message replies the owner (Me) could send next. For each tone, write the "
              f"requested number of different replies, one or two short sentences each. Tones: {tones}. "
              f"Keep every reply friendly and non-explicit. {guidance}").strip()
    user = f"Conversation:\n{transcript(messages) or '(no messages yet)'}\n\nWrite the replies as JSON."
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _salvage(raw: str, themes: Sequence[str]) -> dict[str, list[str]]:
    """Complete strings under each theme key of a JSON text the token budget cut short."""
    found: dict[str, list[str]] = {}
    for theme in themes:
        start = raw.find(json.dumps(theme))
        if start < 0:
            continue
        body = raw[start + len(json.dumps(theme)):].split("]", 1)[0]
        found[theme] = [_json_string(s) for s in re.findall(r'"(?:[^"\\]|\\.)*"', body)]
    return found


def _json_string(quoted: str) -> str:
    try:
        return str(json.loads(quoted, strict=False))
    except ValueError:  # a bad escape (servers that ignore the schema's pattern): keep the raw text
        return quoted[1:-1]


def parse_options(raw: str, themes: Sequence[str]) -> dict[str, list[str]]:
    try:
        data = json.loads(raw, strict=False)
    except ValueError:
        return _salvage(raw, themes)
    if not isinstance(data, dict):
        return {}
    return {t: [s for s in data.get(t, []) if isinstance(s, str)] for t in themes if isinstance(data.get(t), list)}


def clean_option(text: str, theme: str) -> str:
    text = re.sub(r"^[\s,;:.)\-]+", "", text)
    text = re.sub(r"^[^\W\d_]{2,15}\W{0,2}:\s+", "", text)  # a label the model put first ("casual: ...")
    return clean_reply(text)


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _echoes_instructions(words: list[str], theme: str) -> bool:
    """The small model sometimes answers with the tone itself ("Casual", "Just a few words")."""
    said = " ".join(words)
    guide = " ".join(_words(THEME_GUIDE.get(theme, "")))
    return bool(said) and (said in _TONE_WORDS or said == " ".join(_words(theme)) or (len(said) > 8 and said in guide))


def quality_score(text: str, theme: str, incoming: str) -> float:
    """0..1 by rules: usable length, mostly words, no JSON debris, not an echo of their message, on theme."""
    words, theirs = _words(text), set(_words(incoming))
    score = 1.0
    if theirs and words:
        overlap = len(set(words) & theirs) / len(set(words) | theirs)
        score -= 0.6 if overlap >= 0.8 else 0.25 if overlap >= 0.5 else 0.0
    letters = sum(c.isalpha() or c.isspace() for c in text) / max(1, len(text))
    score -= 0.4 if letters < 0.7 else 0.0
    score -= 0.3 if _DEBRIS.search(text) else 0.0
    score -= 0.2 if len(words) > 30 or (theme == "brief" and len(words) > 10) else 0.0
    score -= 0.15 if len(text) >= OPTION_MAX_CHARS - 2 else 0.0  # cut by the schema's length bound
    score -= 0.2 if len(words) >= 6 and len(set(words)) < len(words) / 2 else 0.0
    score -= 0.35 if len(words) == 1 and words[0] not in _ONE_WORD_REPLIES and text[-1:] not in "!?" else 0.0
    score -= 0.4 if _echoes_instructions(words, theme) else 0.0
    return round(min(1.0, max(0.05, score)), 2)


def describe(text: str, theme: str) -> str:
    """A short label for the option ("Enthusiastic", "Curious", "Teasing", ...)."""
    if theme in _FIXED_DESCRIPTORS:
        return _FIXED_DESCRIPTORS[theme]
    if "!" in text:
        return "Enthusiastic"
    if text.rstrip().endswith("?"):
        return "Curious"
    if len(_words(text)) <= 4:
        return "Short and sweet"
    return theme.replace("_", " ").capitalize()


Drafted = dict[str, list[tuple[str, float]]]  # theme -> (text, confidence of the call that wrote it)


def _theme_options(theme: str, drafted: list[tuple[str, float]], incoming: str, seen: set[str],
                   polish: Callable[[str], str] | None) -> list[dict[str, Any]]:
    options = []
    for text, confidence in drafted:
        cleaned = clean_option(text, theme)
        cleaned = polish(cleaned) if polish and cleaned else cleaned
        if not (_words(cleaned) or extract_emojis(cleaned)) or cleaned.lower() in seen:
            continue
        seen.add(cleaned.lower())
        options.append({"text": cleaned, "descriptor": describe(cleaned, theme), "theme": theme,
                        "confidence": round(confidence, 3), "quality_score": quality_score(cleaned, theme, incoming)})
    return sorted(options, key=lambda o: -o["quality_score"])


def rank_options(drafted: Drafted, per_theme: dict[str, int], incoming: str,
                 polish: Callable[[str], str] | None = None) -> list[dict[str, Any]]:
    """The best `per_theme[theme]` usable options of each theme, interleaved across themes (best first) so
    any first page shows every theme."""
    seen: set[str] = set()
    ranked = [_theme_options(theme, drafted.get(theme, []), incoming, seen, polish)[:wanted]
              for theme, wanted in per_theme.items()]
    rounds = max((len(options) for options in ranked), default=0)
    return [options[i] for i in range(rounds) for options in ranked if i < len(options)]


async def _draft_once(llm: LLM, messages: Sequence[dict[str, str]], per_theme: dict[str, int], timeout: float,
                      guidance: str) -> tuple[dict[str, list[str]], float]:
    generation = await llm.chat(prompt_messages(messages, per_theme, guidance),
                                max_tokens=sum(per_theme.values()) * TOKENS_PER_OPTION + 8 * len(per_theme) + 16,
                                temperature=0.8, timeout=timeout, grammar_json_schema=options_schema(per_theme))
    return parse_options(generation.text, list(per_theme)), generation.confidence


async def draft_options(llm: LLM, messages: Sequence[dict[str, str]], themes: Sequence[str], count: int, *,
                        timeout: float, guidance: str = "",
                        polish: Callable[[str], str] | None = None) -> list[dict[str, Any]]:
    """`count` themed options from one schema-constrained call; a second call only when the first came
    back mostly unusable (the small bundled model sometimes degenerates). Fewer if both did."""
    per_theme = split_count(themes, count)
    incoming = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    drafted: Drafted = {theme: [] for theme in per_theme}
    options: list[dict[str, Any]] = []
    for _ in range(MAX_CALLS):
        texts, confidence = await _draft_once(llm, messages, per_theme, timeout, guidance)
        for theme, items in texts.items():
            drafted[theme] += [(text, confidence) for text in items]
        options = rank_options(drafted, per_theme, incoming, polish)
        if 2 * len(options) >= count:
            break
    return options
