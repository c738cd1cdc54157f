"""Price agreement in a creator/contact conversation: every money mention, the negotiation stage, the
price finally accepted, a fixed date or time, and the messages that led to that verdict.

The conversation is read turn by turn as a small negotiation: quotes and counter-offers are put on the
table, an acceptance (with the number, or a "deal" / "fechado" / "ça marche" without it) takes the other
side's latest offer, a decline or a withdrawal ends it. `follow_up_recommendation` turns the verdict into
the owner's next step. Everything here is pure: no I/O, no clock, the same input gives the same output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from brain.follow_up import recommend
from brain.negotiation import Turn, choose_offer, read_turns
from brain.prices import Price
from brain.sales_cues import guess_language
from brain.schedule import find_schedule

STAGES = ("no_discussion", "inquiry", "negotiating", "agreed", "declined")


@dataclass(frozen=True)
class AgreementResult:
    """The verdict on one conversation (seed 000 /sales/detect-agreement shape, plus evidence)."""

    prices_mentioned: list[Price]
    has_agreement: bool
    agreed_price: Price | None
    schedule_info: dict | None
    negotiation_stage: str
    evidence: list[dict]

    def to_dict(self) -> dict[str, Any]:
        return {
            "prices_mentioned": [p.to_dict() for p in self.prices_mentioned],
            "has_agreement": self.has_agreement,
            "agreed_price": self.agreed_price.to_dict() if self.agreed_price else None,
            "schedule_info": self.schedule_info,
            "negotiation_stage": self.negotiation_stage,
            "evidence": self.evidence,
        }


@dataclass
class _Offer:
    sender: str
    prices: tuple[Price, ...]
    turn: Turn


@dataclass
class _Negotiation:
    """The state of the deal as the turns are read in order."""

    stage: str = "no_discussion"
    offers: list[_Offer] = field(default_factory=list)
    agreed: Price | None = None
    evidence: list[dict] = field(default_factory=list)
    commercial: bool = False

    def note(self, turn: Turn, reason: str) -> None:
        self.evidence.append({"message_index": turn.index, "text": turn.text, "reason": reason})

    def other_offer(self, sender: str) -> _Offer | None:
        """The other side's latest offer, if it came after this sender's own latest one."""
        for offer in reversed(self.offers):
            if offer.sender != sender:
                return offer
            if offer.prices:
                return None
        return None

    def known_amount(self, price: Price) -> bool:
        return any(_same(price, p) for offer in self.offers for p in offer.prices)


def detect_agreement(conversation: list[dict], *, now: datetime | None = None,
                     default_currency: str | None = None) -> AgreementResult:
    """Read `conversation` ([{"content", "sender": "creator"|"contact"}, ...]) and judge the deal."""
    turns = read_turns(conversation, default_currency=default_currency)
    state = _Negotiation()
    for turn in turns:
        _step(state, turn)
    lang = guess_language([t.text for t in turns])
    schedule = None
    if state.stage != "declined":
        schedule = find_schedule([(t.sender, t.text) for t in turns], now=now, lang=lang)
    agreed = state.stage == "agreed"
    return AgreementResult(
        prices_mentioned=[p for t in turns for p in t.prices], has_agreement=agreed,
        agreed_price=state.agreed if agreed else None, schedule_info=schedule,
        negotiation_stage=state.stage, evidence=state.evidence)


def follow_up_recommendation(contact_id: str, conversation: list[dict], last_interaction: datetime | None,
                             *, now: datetime) -> dict:
    """The owner's next step with this contact (seed 000 /sales/follow-up response shape)."""
    result = detect_agreement(conversation, now=now)
    senders = [str(m.get("sender") or "").lower() for m in conversation]
    lang = guess_language([str(m.get("content", "")) for m in conversation])
    return recommend(contact_id, result, senders, last_interaction, now=now, lang=lang)


def _step(state: _Negotiation, turn: Turn) -> None:
    cues = turn.cues
    if cues.decline and (state.commercial or turn.prices or cues.inquiry):
        _decline(state, turn)
    elif turn.offer:
        _priced_turn(state, turn)
    else:
        _unpriced_turn(state, turn)
    state.commercial = state.commercial or bool(turn.prices) or cues.inquiry or turn.booking or cues.pushback


def _decline(state: _Negotiation, turn: Turn) -> None:
    withdrawn = state.stage == "agreed"
    state.stage, state.agreed = "declined", None
    state.note(turn, "withdrew after agreeing" if withdrawn else "turned the deal down")


def _priced_turn(state: _Negotiation, turn: Turn) -> None:
    cues, other = turn.cues, state.other_offer(turn.sender)
    matched = _matching_price(turn, other)
    if matched is not None and _accepts_with_number(turn, state):
        _agree(state, turn, matched, f"accepted offer of {_money(matched)}")
    elif other is not None and cues.payment and not cues.question:
        price = _paid_for(turn, other)
        _agree(state, turn, price, f"paid for the offer of {_money(price)}")
    elif turn.sender == "contact" and (cues.confirm_question or cues.reference_quote or _asks_about(turn, state)):
        _put_on_table(state, _Offer("creator", turn.offer, turn))
        _move(state, turn, "inquiry", f"asked about the quoted {_money(turn.offer[-1])}")
    elif cues.pushback and not any(not state.known_amount(p) for p in turn.offer):
        _move(state, turn, "negotiating", "pushed back on the price")
        if other is None:
            _put_on_table(state, _Offer("creator", turn.offer, turn))
    else:
        _new_offer(state, turn, other)


def _accepts_with_number(turn: Turn, state: _Negotiation) -> bool:
    """Repeating the other side's number accepts it, unless the turn refuses, holds, or asks for more
    ("if it's 450 can you include the raw files too?")."""
    cues = turn.cues
    if cues.refusal or cues.confirm_question or cues.hold:
        return False
    if cues.pushback and not cues.accept_strong and (cues.question or not cues.accept_weak):
        return False
    if state.stage == "declined" and not (cues.accept_strong or cues.payment):
        return False
    return cues.accept_strong or cues.accept_weak or cues.payment or not cues.question


def _asks_about(turn: Turn, state: _Negotiation) -> bool:
    """"For the $1,800 package, how much is the deposit?": a price quoted back inside a question."""
    return turn.cues.inquiry and turn.cues.question and not turn.offer_cue and state.other_offer("contact") is None


def _new_offer(state: _Negotiation, turn: Turn, other: _Offer | None) -> None:
    if state.stage == "agreed" and all(state.known_amount(p) for p in turn.offer):
        return  # the agreed price restated (an invoice, a receipt)
    own = [o for o in state.offers if o.sender == turn.sender and o.prices]
    revised = any(not any(_same(p, q) for q in own[-1].prices) for p in turn.offer) if own else False
    _put_on_table(state, _Offer(turn.sender, turn.offer, turn))
    if other is not None or revised:
        _move(state, turn, "negotiating", f"counter-offer of {_money(turn.offer[-1])}")
    elif turn.sender == "creator" and state.stage in ("no_discussion", "inquiry", "declined"):
        if state.stage != "declined":
            _move(state, turn, "inquiry", f"quoted {_money(turn.offer[-1])}")
    else:
        _move(state, turn, "negotiating", f"offered {_money(turn.offer[-1])}")


def _unpriced_turn(state: _Negotiation, turn: Turn) -> None:
    cues, other = turn.cues, state.other_offer(turn.sender)
    if cues.refusal and other is not None:
        _decline(state, turn)
    elif other is not None and (_accepts_without_number(turn, state) or _picks_tier(turn, other)):
        price = choose_offer(other.prices, other.turn.text, turn.text)
        _agree(state, turn, price, f"accepted offer of {_money(price)}")
    elif state.stage not in ("agreed", "declined") and ((cues.payment and state.commercial) or cues.same_terms):
        _agree(state, turn, None, "committed to pay without a stated amount")
    elif cues.pushback and state.commercial and state.stage != "agreed":
        _move(state, turn, "negotiating", "asked to change the terms")
    elif (cues.inquiry or turn.booking) and state.stage == "no_discussion":
        _move(state, turn, "inquiry", "asked about price or availability")


def _accepts_without_number(turn: Turn, state: _Negotiation) -> bool:
    cues = turn.cues
    if cues.hold or cues.refusal or (cues.pushback and not cues.accept_strong):
        return False
    if cues.accept_strong or cues.payment or (turn.booking and turn.mentions_time):
        return True
    acknowledged_only = cues.thanks and not turn.mentions_time  # "ok thanks" after a quote
    weak_ok = cues.accept_weak and not acknowledged_only and (not cues.question or turn.mentions_time)
    return weak_ok and state.stage != "declined"


def _picks_tier(turn: Turn, other: _Offer) -> bool:
    """"flat color one pls" after "sketch $45, flat color $85, full render $160"."""
    if len(other.prices) < 2 or turn.cues.question or turn.cues.hold:
        return False
    return choose_offer(other.prices, other.turn.text, turn.text, by_label_only=True) is not None


def _agree(state: _Negotiation, turn: Turn, price: Price | None, reason: str) -> None:
    if state.stage == "agreed" and price is None:
        return
    state.stage, state.agreed = "agreed", price if price is not None else state.agreed
    if price is not None:
        _put_on_table(state, _Offer(turn.sender, (price,), turn))
    state.note(turn, reason)


def _move(state: _Negotiation, turn: Turn, stage: str, reason: str) -> None:
    if stage != state.stage or stage == "negotiating":
        state.stage = stage
        state.note(turn, reason)


def _put_on_table(state: _Negotiation, offer: _Offer) -> None:
    state.offers.append(offer)


def _matching_price(turn: Turn, other: _Offer | None) -> Price | None:
    """The other side's offered price that this turn ends on: the same amount, the sum of their items,
    or a count of their unit price ("I'll take 3, so $165"). "Por 200 € te hago dos; las tres serían
    270 €" ends on a new amount, so it is a counter."""
    if other is None:
        return None
    mine = turn.offer[-1]
    for theirs in other.prices:
        if _same(mine, theirs):
            return theirs
    if len(other.prices) > 1 and abs(sum(p.amount for p in other.prices) - mine.amount) < 0.01:
        return mine
    if any(_same_currency(mine, p) and _quantity_of(mine.amount, p.amount, turn.text) for p in other.prices):
        return mine
    return None


def _quantity_of(total: float, unit: float, text: str) -> bool:
    """`total` is a whole number (2 to 50) of `unit`, and that number is written in the message."""
    count = total / unit if unit else 0
    if abs(count - round(count)) > 1e-6 or not 2 <= round(count) <= 50:
        return False
    return re.search(rf"(?<![\d.,]){round(count)}(?![\d.,]\d)", text) is not None


def _paid_for(turn: Turn, other: _Offer) -> Price:
    """A payment names the deal's total, or a deposit towards the offer on the table."""
    paid = turn.offer[-1]
    offered = choose_offer(other.prices, other.turn.text, turn.text)
    if len(other.prices) > 1 and abs(sum(p.amount for p in other.prices) - paid.amount) < 0.01:
        return paid
    return offered if paid.amount < offered.amount else paid


def _same(a: Price, b: Price) -> bool:
    return abs(a.amount - b.amount) < 0.01 and _same_currency(a, b)


def _same_currency(a: Price, b: Price) -> bool:
    return a.currency == b.currency or None in (a.currency, b.currency)


def _money(price: Price | None) -> str:
    if price is None:
        return "an unstated amount"
    return f"{price.amount:g} {price.currency}" if price.currency else f"{price.amount:g}"
