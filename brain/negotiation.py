"""One conversation turned into turns ready for the agreement reader: who spoke, the prices they
mentioned (with the conversation's currency carried over to bare amounts), which of those are on
offer, and the sales cues in their wording. Also picks which of several offered prices a reply takes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from brain.prices import Price, extract_prices
from brain.sales_cues import (INSTALLMENT_AFTER, INSTALLMENT_BEFORE, OFFER_CUE, REFERENCE_BEFORE, STOPWORDS, Cues, fold_same_length,
                              read_cues)
from brain.schedule import mentions_slot

_BOOKING = re.compile(r"\b(?:book|booking|order|buy|hire|reserve|reservar|encargar|contratar|encomendar|comprar|"
                      r"agendar|buchen|bestellen|kaufen|reserver|commander|acheter|for free|gratis|de graca|"
                      r"umsonst|kostenlos|gratuit\w*|unpaid|exposure)\b")
_ALL_STOPWORDS = set().union(*STOPWORDS.values()) | {"one", "pls", "please", "por", "favor", "bitte", "the", "and"}
_CLAUSE_BREAK = re.compile(r"[,;:!?]|\.(?=\s|$)|\s(?:or|ou|o|oder)\s")
_RANKS = {"first": 0, "1st": 0, "primero": 0, "primera": 0, "primeiro": 0, "primeira": 0, "erste": 0, "ersten": 0,
          "premier": 0, "premiere": 0, "second": 1, "2nd": 1, "segundo": 1, "segunda": 1, "zweite": 1,
          "zweiten": 1, "deuxieme": 1, "last": -1, "ultimo": -1, "ultima": -1, "letzte": -1, "letzten": -1,
          "dernier": -1, "derniere": -1}
_ADD_ON_BEFORE = re.compile(r"(?:\+|\bplus|\bextra|\badditional|\badd|\bmas|\bmais|\bzzgl\.?|\bzuzuglich)\s*$")
_ADD_ON_AFTER = re.compile(r"\s*(?:de |for |fur |pour |para |of )?(?:\w+ )?(?:shipping|postage|delivery|envio|frete|"
                           r"versand|porto|port|livraison|rush|tip|propina|gorjeta|trinkgeld|pourboire)\b")
_RANK = re.compile(r"\b(?:" + "|".join(_RANKS) + r")\b")


@dataclass(frozen=True)
class Turn:
    """One message with what the agreement reader needs to know about it."""

    index: int
    sender: str
    text: str
    prices: tuple[Price, ...]  # every money mention, in order
    offer: tuple[Price, ...]   # the amounts put forward (no installments, deposits or "normally $X")
    cues: Cues
    offer_cue: bool            # "could you do", "te doy", "machst du's für"...
    booking: bool              # wants to book, order or buy
    mentions_time: bool


def read_turns(conversation: list[dict], *, default_currency: str | None) -> list[Turn]:
    texts = [str(message.get("content") or "") for message in conversation]
    stated = [extract_prices(text) for text in texts]
    running = next((p.currency for found in stated for p in found if p.currency), None) or default_currency
    turns = []
    for i, (message, text) in enumerate(zip(conversation, texts)):
        prices = extract_prices(text, default_currency=running) if stated[i] else []
        running = next((p.currency for p in reversed(stated[i]) if p.currency), running)
        turns.append(_turn(i, str(message.get("sender") or "contact").lower(), text, prices))
    return turns


def _turn(index: int, sender: str, text: str, prices: list[Price]) -> Turn:
    folded = fold_same_length(text)
    offer_cue = list(OFFER_CUE.finditer(folded))
    return Turn(index=index, sender=sender, text=text, prices=tuple(prices),
                offer=_offered(folded, prices, offer_cue[-1].start() if offer_cue else None),
                cues=read_cues(text), offer_cue=bool(offer_cue), booking=bool(_BOOKING.search(folded)),
                mentions_time=mentions_slot(text))


def _offered(folded: str, prices: list[Price], cue_at: int | None) -> tuple[Price, ...]:
    """Drop installments and deposits; drop "normally"/"instead of"/"roughly" amounts when another
    amount is left; with an offer phrase ("could u do 90"), keep what follows it."""
    kept = [p for p in prices if not _installment(folded, p)]
    main = [p for p in kept if not REFERENCE_BEFORE.search(folded[max(0, p.position - 30):p.position])]
    kept = main or kept
    if cue_at is not None:
        kept = [p for p in kept if p.position >= cue_at] or kept
    return tuple(kept)


def _installment(folded: str, price: Price) -> bool:
    """"three payments of $600", "3x de 300", "a $50 deposit", "$300 upfront"."""
    end = price.position + len(price.raw_text)
    return bool(INSTALLMENT_BEFORE.search(folded[max(0, price.position - 40):price.position])
                or INSTALLMENT_AFTER.match(folded, end))


def choose_offer(prices: tuple[Price, ...], offer_text: str, reply_text: str, *,
                 by_label_only: bool = False) -> Price | None:
    """The offered price a reply takes: the one whose wording it repeats ("flat color one pls",
    "option A please", "me quedo con el bono") or names by rank ("the first one"), else the last one
    (a total or a bundle usually comes last)."""
    if len(prices) == 1:
        return None if by_label_only else prices[0]
    reply = _label_words(reply_text)
    scores = [len(reply & _label_words(_clause(offer_text, price, prices))) for price in prices]
    best = max(scores)
    if best > 0 and scores.count(best) == 1:
        return prices[scores.index(best)]
    ranked = _RANK.search(fold_same_length(reply_text))
    if ranked:
        return prices[_RANKS[ranked.group()]]
    if by_label_only:
        return None
    main = [p for p in prices if not _is_add_on(offer_text, p)]
    return (main or list(prices))[-1]


def _is_add_on(text: str, price: Price) -> bool:
    """"+ $8 shipping", "plus £5 postage", "an extra $40": an extra on top of the deal, not its total."""
    folded = fold_same_length(text)
    before = folded[max(0, price.position - 14):price.position]
    after = folded[price.position + len(price.raw_text):price.position + len(price.raw_text) + 22]
    return bool(_ADD_ON_BEFORE.search(before) or _ADD_ON_AFTER.match(after))


def _clause(text: str, price: Price, prices: tuple[Price, ...]) -> str:
    """The clause that holds `price`, without the amount ("flat color" in "sketch $45, flat color $85")."""
    inside = [(p.position, p.position + len(p.raw_text)) for p in prices]
    breaks = [m.start() for m in _CLAUSE_BREAK.finditer(text)
              if not any(start <= m.start() < end for start, end in inside)]
    start = max((b for b in breaks if b < price.position), default=-1) + 1
    end = min((b for b in breaks if b >= price.position + len(price.raw_text)), default=len(text))
    return text[start:price.position] + " | " + text[price.position + len(price.raw_text):end]


def _label_words(text: str) -> set[str]:
    """Content words (no stopwords, crude plural folding) plus word pairs, so "option a" tells
    "option A" from "option B" although "a" alone says nothing."""
    words = re.findall(r"[^\W_]+|\|", fold_same_length(text))
    content = {w.rstrip("s") for w in words if len(w) >= 3 and w not in _ALL_STOPWORDS}
    pairs = {f"{a} {b}" for a, b in zip(words, words[1:]) if "|" not in (a, b)}
    return content | pairs
