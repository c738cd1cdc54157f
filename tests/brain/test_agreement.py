"""Price agreement and follow-up: hand-written conversations in five languages, and the team's
labelled agreement.jsonl, scored on the whole file and on a held-out fifth the rules were not written from."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from brain.agreement import STAGES, detect_agreement, follow_up_recommendation

NOW = datetime(2024, 3, 4, 12, 0, tzinfo=timezone.utc)  # a Monday
DATASET = Path(__file__).resolve().parents[2] / "brain" / "data" / "agreement.jsonl"
FLOORS = {"has_agreement": 0.90, "agreed_amount": 0.85, "negotiation_stage": 0.75}


def convo(*turns: tuple[str, str]) -> list[dict]:
    """("cr"|"co", text) pairs as the seed 000 conversation shape."""
    return [{"sender": "creator" if who == "cr" else "contact", "content": text} for who, text in turns]


# name, conversation, expected stage, expected agreed amount, expected currency
CASES = [
    ("counter_offers_last_accepted_wins",
     convo(("cr", "A one-hour session is $300."), ("co", "could you do $200?"), ("cr", "I can do $250 final."),
           ("co", "ok deal")), "agreed", 250.0, "USD"),
    ("creator_accepts_contact_budget",
     convo(("co", "I've got $300 for the cover, can you work with that?"), ("cr", "Yes, $300 works.")),
     "agreed", 300.0, "USD"),
    ("agreement_without_number_en", convo(("cr", "The set would be $450."), ("co", "works for me!")), "agreed", 450.0, "USD"),
    ("invoice_request", convo(("cr", "That'll be £240 all in."), ("co", "send me the invoice")), "agreed", 240.0, "GBP"),
    ("agreement_es", convo(("cr", "Son 80 euros por el retrato"), ("co", "vale, trato hecho")), "agreed", 80.0, "EUR"),
    ("agreement_pt", convo(("co", "quanto fica o ensaio?"), ("cr", "R$ 450 com 30 fotos"), ("co", "fechado!")),
     "agreed", 450.0, "BRL"),
    ("agreement_de", convo(("cr", "Das Paket kostet 220 €."), ("co", "Passt, abgemacht.")), "agreed", 220.0, "EUR"),
    ("agreement_fr", convo(("cr", "C'est 120 € la séance."), ("co", "Ça marche !")), "agreed", 120.0, "EUR"),
    ("amount_in_words", convo(("cr", "Ce serait deux cents euros."), ("co", "D'accord, marché conclu.")),
     "agreed", 200.0, "EUR"),
    ("picks_a_tier", convo(("cr", "Options: sketch $45, flat color $85, full render $160."), ("co", "flat color one pls")),
     "agreed", 85.0, "USD"),
    ("itemised_total", convo(("cr", "Poster 25 €, Tasse 15 €, Versand 5 €, also 45 €."), ("co", "Ok, bezahle gleich.")),
     "agreed", 45.0, "EUR"),
    ("deposit_is_not_the_total",
     convo(("cr", "The mural is $2,000, 50% deposit to book"), ("co", "perfect, sending the $1,000 deposit now")),
     "agreed", 2000.0, "USD"),
    ("installments_are_not_the_total",
     convo(("cr", "The program is $1,800 or three payments of $600."), ("co", "I'm in, I'll do the three payments.")),
     "agreed", 1800.0, "USD"),
    ("bare_amounts_take_the_conversation_currency",
     convo(("co", "$1,500 pesos es mucho, ¿me lo dejas en 1,200?"), ("cr", "Va, 1,300 y cerramos"), ("co", "sale, trato hecho")),
     "agreed", 1300.0, "MXN"),
    ("ok_with_a_new_number_is_a_counter", convo(("cr", "I can do $250, that's my floor."), ("co", "ok 200 then?")),
     "negotiating", None, None),
    ("vale_with_a_new_number_is_a_counter", convo(("cr", "120 €, y no puedo bajar más."), ("co", "vale, ¿100 entonces?")),
     "negotiating", None, None),
    ("counter_de", convo(("cr", "Das Shooting kostet 300 €."), ("co", "Würdest du es für 250 € machen?")),
     "negotiating", None, None),
    ("fee_waiver", convo(("cr", "Delivery by Friday adds a $60 rush fee."), ("co", "can you waive it?")),
     "negotiating", None, None),
    ("decline_en", convo(("cr", "The full package is $900"), ("co", "too expensive for me, sorry")), "declined", None, None),
    ("decline_es", convo(("cr", "Serían 300 €"), ("co", "uf, muy caro para mí")), "declined", None, None),
    ("decline_pt", convo(("cr", "Fica R$ 700"), ("co", "caro demais pra mim")), "declined", None, None),
    ("decline_de", convo(("cr", "Das kostet 500 €"), ("co", "Das ist mir zu teuer, danke.")), "declined", None, None),
    ("decline_fr", convo(("cr", "Ce sera 400 €"), ("co", "c'est trop cher pour nous")), "declined", None, None),
    ("pass", convo(("cr", "$85 plus shipping"), ("co", "i'll pass, thanks")), "declined", None, None),
    ("negated_acceptance", convo(("cr", "Serían 90 €"), ("co", "no me cuadra, lo siento")), "declined", None, None),
    ("creator_declines", convo(("co", "I'll give you $20 for a full logo"), ("cr", "Sorry, I can't take that on.")),
     "declined", None, None),
    ("withdrawal_en",
     convo(("cr", "$150 for the shoutout"), ("co", "deal!"), ("co", "actually sorry, I have to cancel, budget got cut")),
     "declined", None, None),
    ("withdrawal_fr", convo(("cr", "C'est 200 € pour le logo."), ("co", "Ok ça marche"), ("co", "Désolé, finalement on annule.")),
     "declined", None, None),
    ("inquiry_unanswered", convo(("co", "how much for a logo?")), "inquiry", None, None),
    ("inquiry_answered", convo(("co", "what do you charge for a portrait?"), ("cr", "Portraits start at $120.")),
     "inquiry", None, None),
    ("ok_thanks_only_acknowledges", convo(("co", "rates?"), ("cr", "$90 an hour"), ("co", "ok thanks")),
     "inquiry", None, None),
    ("thinking_it_over", convo(("cr", "€350 for the set"), ("co", "ok let me talk to my wife first")), "inquiry", None, None),
    ("no_money_talk", convo(("co", "happy birthday!!"), ("cr", "thank you so much!")), "no_discussion", None, None),
    ("reschedule_only", convo(("co", "Können wir auf Freitag 15 Uhr verschieben?"), ("cr", "Klar, Freitag 15 Uhr passt.")),
     "no_discussion", None, None),
]


CONVERSATION = {name: conversation for name, conversation, *_ in CASES}


@pytest.mark.parametrize(("conversation", "stage", "amount", "currency"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_hand_written_conversations(conversation: list[dict], stage: str, amount: float | None,
                                    currency: str | None) -> None:
    result = detect_agreement(conversation, now=NOW)

    assert result.negotiation_stage == stage, result.evidence
    assert result.has_agreement is (stage == "agreed")
    agreed = result.agreed_price
    assert ((agreed.amount, agreed.currency) if agreed else (None, None)) == (amount, currency)


def test_seed_example_response_shape() -> None:
    conversation = convo(("cr", "My rate is $200"), ("co", "Okay deal, where should I meet you?"))

    body = detect_agreement(conversation).to_dict()

    price = {"amount": 200.0, "currency": "USD", "raw_text": "$200", "position": 11}
    assert {k: v for k, v in body.items() if k != "evidence"} == {
        "prices_mentioned": [price], "has_agreement": True, "agreed_price": price, "schedule_info": None,
        "negotiation_stage": "agreed"}
    assert body["evidence"][-1] == {"message_index": 1, "text": "Okay deal, where should I meet you?",
                                    "reason": "accepted offer of 200 USD"}


def test_evidence_walks_through_the_counter_offers() -> None:
    result = detect_agreement(CONVERSATION["counter_offers_last_accepted_wins"])

    assert [e["message_index"] for e in result.evidence] == [0, 1, 2, 3]
    assert result.evidence[-1]["reason"] == "accepted offer of 250 USD"


def test_schedule_is_resolved_against_the_given_base_time() -> None:
    conversation = convo(("cr", "Lesson is $60"), ("co", "works for me, tomorrow at 5pm?"),
                         ("cr", "Perfect, see you tomorrow at 5pm"))

    result = detect_agreement(conversation, now=NOW)

    assert result.schedule_info == {"raw_text": "tomorrow at 5pm", "datetime": "2024-03-05T17:00:00+00:00",
                                    "message_index": 2}
    assert detect_agreement(conversation).schedule_info["datetime"] is None  # no base time, no guess


@pytest.mark.parametrize("conversation", [
    convo(("cr", "Das Shooting kostet 120 €, ich hätte morgen um 10 Uhr was frei."),
          ("co", "Perfekt, morgen 10 Uhr, ich komme.")),
    convo(("co", "¿Podemos mover la clase del jueves al viernes a las 17:00?"), ("cr", "Sin problema, el viernes a las 17:00.")),
    convo(("cr", "Reminder: our session is tomorrow at 10am at the studio."), ("co", "Thanks! See you there")),
], ids=["offered_then_confirmed", "reschedule", "existing_appointment"])
def test_a_fixed_slot_is_schedule_info(conversation: list[dict]) -> None:
    assert detect_agreement(conversation, now=NOW).schedule_info is not None


@pytest.mark.parametrize("conversation", [
    convo(("co", "are you available on June 14th for an event?"), ("cr", "Let me check my calendar and get back to you!")),
    convo(("cr", "Total fee: $3,750.00."), ("co", "Signed. First installment goes out Monday.")),
    convo(("cr", "Hi everyone, commissions reopen next Monday!"), ("co", "yay!! can't wait")),
], ids=["availability_question", "payment_date", "announcement"])
def test_an_unconfirmed_or_non_session_date_is_not_schedule_info(conversation: list[dict]) -> None:
    assert detect_agreement(conversation, now=NOW).schedule_info is None


def test_detection_is_deterministic() -> None:
    for _, conversation, *_ in CASES:
        assert detect_agreement(conversation, now=NOW) == detect_agreement(conversation, now=NOW)


def test_follow_up_after_agreement_without_booking_is_high() -> None:
    conversation = convo(("cr", "My rate is $200"), ("co", "Okay deal"))

    advice = follow_up_recommendation("contact-456", conversation, NOW - timedelta(hours=1), now=NOW)

    assert set(advice) == {"contact_id", "priority", "reason", "suggested_message", "optimal_timing", "intent_summary"}
    assert (advice["contact_id"], advice["priority"], advice["reason"]) == (
        "contact-456", "high", "Price agreed but no booking confirmed")
    assert advice["suggested_message"].startswith("Hi!")
    assert "$200" in advice["intent_summary"]


def test_follow_up_on_a_quiet_negotiation_is_medium() -> None:
    conversation = convo(("co", "could you do $300?"), ("cr", "I can do $350."))

    advice = follow_up_recommendation("c", conversation, NOW - timedelta(hours=30), now=NOW)
    recent = follow_up_recommendation("c", conversation, NOW - timedelta(hours=3), now=NOW)

    assert advice["priority"] == "medium"
    assert recent["priority"] == "low"


def test_follow_up_after_a_decline_is_none() -> None:
    advice = follow_up_recommendation("c", CONVERSATION["decline_es"], NOW - timedelta(days=3), now=NOW)

    assert (advice["priority"], advice["suggested_message"]) == ("none", "")


def test_follow_up_when_the_contact_waits_on_the_owner_is_high() -> None:
    advice = follow_up_recommendation("c", convo(("co", "how much for a logo?")), NOW - timedelta(hours=2), now=NOW)

    assert advice["priority"] == "high"


@pytest.mark.parametrize(("case", "opening"), [("agreement_es", "¡Hola!"), ("agreement_pt", "Oi!"),
                                               ("agreement_de", "Hallo!"), ("agreement_fr", "Bonjour !")])
def test_follow_up_message_is_in_the_conversation_language(case: str, opening: str) -> None:
    advice = follow_up_recommendation("c", CONVERSATION[case], NOW - timedelta(hours=1), now=NOW)

    assert advice["suggested_message"].startswith(opening)


def test_follow_up_once_booked_is_low() -> None:
    conversation = convo(("cr", "Lesson is $60"), ("co", "works for me, tomorrow at 5pm?"), ("cr", "Perfect, see you then"))

    advice = follow_up_recommendation("c", conversation, NOW - timedelta(hours=1), now=NOW)

    assert (advice["priority"], advice["reason"]) == ("low", "Price agreed and booking confirmed")


# --- the labelled dataset -----------------------------------------------------------------------


@dataclass
class Score:
    name: str
    total: int = 0
    agreement_hits: int = 0
    stage_hits: int = 0
    amount_total: int = 0
    amount_hits: int = 0

    def rates(self) -> dict[str, float]:
        return {"has_agreement": self.agreement_hits / self.total,
                "agreed_amount": self.amount_hits / self.amount_total,
                "negotiation_stage": self.stage_hits / self.total}


def _dataset() -> list[tuple[int, dict]]:
    lines = DATASET.read_text(encoding="utf-8").splitlines()
    return [(number, json.loads(line)) for number, line in enumerate(lines, start=1) if line.strip()]


def _score(rows: list[tuple[int, dict]], name: str) -> tuple[Score, list[str]]:
    score, misses = Score(name), []
    for number, row in rows:
        result = detect_agreement(row["conversation"], now=NOW)
        wrong = []
        score.total += 1
        score.agreement_hits += result.has_agreement == row["has_agreement"]
        score.stage_hits += result.negotiation_stage == row["negotiation_stage"]
        if result.negotiation_stage != row["negotiation_stage"]:
            wrong.append(f"stage {result.negotiation_stage} (label {row['negotiation_stage']})")
        if row["has_agreement"] and row["agreed_amount"] is not None:
            score.amount_total += 1
            got = result.agreed_price
            if got and abs(got.amount - row["agreed_amount"]) <= 0.01 and got.currency == row["agreed_currency"]:
                score.amount_hits += 1
            else:
                label = f"{row['agreed_amount']} {row['agreed_currency']}"
                wrong.append(f"amount {got.amount if got else None} {got.currency if got else ''} (label {label})")
        if wrong:
            turns = " | ".join(f"{t['sender'][:2]}: {t['content']}" for t in row["conversation"])
            misses.append(f"line {number}: {'; '.join(wrong)}\n    {turns}")
    return score, misses


@pytest.mark.parametrize("subset", ["whole_file", "held_out_every_5th_line"])
def test_labelled_dataset_meets_the_floors(subset: str) -> None:
    rows = _dataset()
    if subset != "whole_file":
        rows = [(number, row) for number, row in rows if number % 5 == 0]  # never used to write the rules
    assert {row["negotiation_stage"] for _, row in rows} <= set(STAGES)

    score, misses = _score(rows, subset)

    rates = score.rates()
    report = f"{subset}: n={score.total} " + " ".join(f"{k}={v:.3f}" for k, v in rates.items())
    print(report)
    below = {k: v for k, v in rates.items() if v < FLOORS[k]}
    assert not below, report + "\nmisclassified:\n" + "\n".join(misses)
