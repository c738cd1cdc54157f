"""The follow-up rules: from what a conversation looks like, which nudges to plan, when and why.

Pure: plain facts in, candidates out, no clock and no I/O.

- waiting: the conversation waits for the contact (status "waiting") for `waiting_hours` after
  the owner's last message;
- price_agreed: a price was agreed (brain.agreement) but no booking is confirmed, and the contact
  has gone quiet for `agreed_hours` after the owner's last message;
- contact_deferred: the contact said when they would come back ("talk next week"); nudge then.

One nudge per silence: a contact's promise to come back later than the other rules would fire
replaces them (nudging before "Friday" when they asked for time until Friday would be rude).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from brain.agreement import AgreementResult, detect_agreement
from brain.prices import Price
from brain.follow_up import recommend
from brain.sales_cues import guess_language
from scheduler.deferral import find_deferral
from scheduler.policy import (CONTACT_DEFERRED, PRICE_AGREED, WAITING, Policy, local_day, local_label,
                              next_allowed)


@dataclass(frozen=True)
class MessageFact:
    direction: str  # inbound (the contact) or outbound (the owner)
    text: str
    sent_at: datetime


@dataclass(frozen=True)
class ConversationFacts:
    conversation_id: int
    contact_id: int | None
    contact_name: str
    channel: str
    status: str
    is_group: bool
    automated: bool  # the contact's latest message was automated mail: never nudge a robot
    last_inbound_at: datetime | None
    last_outbound_at: datetime | None
    last_message_at: datetime | None
    messages: tuple[MessageFact, ...]  # the latest ones, oldest first
    # The sales signals stored with the contact's latest message (`Message.analysis["agreement"]`,
    # brain/analysis.py over a longer history), or None when it was not analysed.
    stored_agreement: dict[str, Any] | None = None


@dataclass(frozen=True)
class Candidate:
    rule: str
    due_at: datetime  # what the rule says (part of the idempotency key)
    fire_at: datetime  # due_at moved out of the contact's quiet hours
    basis_at: datetime  # a message from the contact after this moment cancels the nudge
    reason: str  # for the owner
    instruction: str  # for the drafting model: our words only
    detail: dict[str, Any] = field(default_factory=dict)


def _hours(value: float) -> str:
    return f"{value:g} hour" + ("" if value == 1 else "s")


def _name(facts: ConversationFacts) -> str:
    return facts.contact_name or "the contact"


def _waits_for_contact(facts: ConversationFacts) -> bool:
    out, inn = facts.last_outbound_at, facts.last_inbound_at
    return facts.status == "waiting" and out is not None and (inn is None or out >= inn)


def _candidate(rule: str, due: datetime, basis: datetime, policy: Policy, reason: str, instruction: str,
               detail: dict[str, Any]) -> Candidate:
    due = due.replace(microsecond=0)
    return Candidate(rule, due, next_allowed(due, policy), basis, reason, instruction, detail)


def waiting_rule(facts: ConversationFacts, policy: Policy) -> Candidate | None:
    if not _waits_for_contact(facts):
        return None
    basis = facts.last_outbound_at
    assert basis is not None
    reason = (f"No reply from {_name(facts)} for {_hours(policy.waiting_hours)} since your message of "
              f"{local_label(basis, policy)}.")
    instruction = (f"This is a follow-up: they have not answered your last message for about "
                   f"{_hours(policy.waiting_hours)}. Write one short, friendly check-in about it; do not repeat it.")
    return _candidate(WAITING, basis + timedelta(hours=policy.waiting_hours), basis, policy, reason, instruction,
                      {"waitingHours": policy.waiting_hours})


def _agreement_turns(facts: ConversationFacts) -> list[dict[str, str]]:
    return [{"content": m.text, "sender": "contact" if m.direction == "inbound" else "creator"}
            for m in facts.messages if m.text]


def _from_stored(stored: dict[str, Any] | None) -> AgreementResult | None:
    """The stored sales signals as a verdict, when they say a price was agreed and nothing booked."""
    if not stored or not stored.get("has_agreement") or stored.get("schedule_info") is not None:
        return None
    price = stored.get("agreed_price") or None
    agreed = Price(float(price["amount"]), price.get("currency"), str(price.get("raw_text", "")),
                   int(price.get("position", 0))) if price and price.get("amount") is not None else None
    return AgreementResult(prices_mentioned=[], has_agreement=True, agreed_price=agreed, schedule_info=None,
                           negotiation_stage="agreed", evidence=list(stored.get("evidence") or []))


def agreement_signal(facts: ConversationFacts, turns: list[dict[str, str]], basis: datetime
                     ) -> tuple[AgreementResult, str] | None:
    """(a price agreement with no booking, where it was read): the conversation as it stands now
    (brain.agreement), else the sales signals stored with the contact's latest message. A booking
    found in the conversation as it stands wins over both."""
    verdict = detect_agreement(turns, now=basis)
    if verdict.schedule_info is not None:
        return None
    if verdict.has_agreement:
        return verdict, "conversation"
    stored = _from_stored(facts.stored_agreement)
    return (stored, "message analysis") if stored is not None else None


def price_agreed_rule(facts: ConversationFacts, policy: Policy) -> Candidate | None:
    if not _waits_for_contact(facts):
        return None
    turns = _agreement_turns(facts)
    basis = facts.last_outbound_at
    assert basis is not None
    signal = agreement_signal(facts, turns, basis)
    if signal is None:
        return None
    verdict, source = signal
    lang = guess_language([t["content"] for t in turns])
    plan = recommend(str(facts.contact_id or ""), verdict, [t["sender"] for t in turns], basis, now=basis, lang=lang)
    price = verdict.agreed_price
    amount = f"{price.amount:g} {price.currency or ''}".strip() if price is not None else "a price"
    reason = (f"{plan['reason']} ({plan['intent_summary']}); no reply from {_name(facts)} for "
              f"{_hours(policy.agreed_hours)}.")
    instruction = (f"This is a follow-up: you agreed on {amount} but no day or time is booked yet. "
                   "Write one short, friendly message asking which day and time suit them.")
    return _candidate(PRICE_AGREED, basis + timedelta(hours=policy.agreed_hours), basis, policy, reason,
                      instruction, {"agreedPrice": amount, "evidence": verdict.evidence[-3:], "signal": source,
                                    "suggestedMessage": plan["suggested_message"]})


def _contact_turn(facts: ConversationFacts) -> list[MessageFact]:
    """The contact's latest messages written in a row (their last turn), oldest first."""
    turn: list[MessageFact] = []
    for message in reversed(facts.messages):
        if message.direction != "inbound":
            if turn:
                break
            continue
        turn.append(message)
    return list(reversed(turn))


def deferred_rule(facts: ConversationFacts, policy: Policy) -> Candidate | None:
    turn = _contact_turn(facts)
    if not turn or facts.last_inbound_at is None:
        return None
    for message in reversed(turn):
        found = find_deferral(message.text, message.sent_at, policy.zone)
        if found is None:
            continue
        quoted = found.phrase if len(found.phrase) <= 80 else found.phrase[:77] + "…"
        when = local_label(found.due_at, policy)
        reason = (f"{_name(facts)} wrote \"{quoted}\" on {local_label(message.sent_at, policy)}; "
                  f"nudge on {when} if they have not written by then.")
        day = ("by " if found.deadline else "around ") + local_day(found.due_at, policy)
        instruction = (f"This is a follow-up: they said they would get back to you {day}. "
                       "Write one short, friendly message asking whether they have had a chance to decide.")
        return _candidate(CONTACT_DEFERRED, found.due_at, facts.last_inbound_at, policy, reason, instruction,
                          {"phrase": quoted, "messageAt": message.sent_at.isoformat()})
    return None


RULE_FUNCTIONS = {WAITING: waiting_rule, PRICE_AGREED: price_agreed_rule, CONTACT_DEFERRED: deferred_rule}


def candidates(facts: ConversationFacts, policy: Policy) -> list[Candidate]:
    """Every nudge the enabled rules plan for this conversation now."""
    if not policy.enabled or facts.is_group or facts.contact_id is None or facts.automated \
            or facts.status == "archived":
        return []
    found = [c for rule in policy.rules if (c := RULE_FUNCTIONS[rule](facts, policy)) is not None]
    deferred = next((c for c in found if c.rule == CONTACT_DEFERRED), None)
    if deferred is not None:  # they asked for time: nothing before the time they named
        found = [c for c in found if c is deferred or c.due_at > deferred.due_at]
    return sorted(found, key=lambda c: c.due_at)
