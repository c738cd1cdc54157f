"""The analysis stored with each inbound message and shown on its approval card: triage, sales intent,
the contact's risk, the price agreement (when money is discussed), and whether a reply is needed.

`needs_reply` is False for messages that ask nothing of the owner at a low priority ("ok thanks 👍"),
for automated or promotional text, for system text ("Missed voice call") and for a likely scam (a
reply only helps the scammer). `reasons` says why, either way.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from brain.agreement import detect_agreement
from brain.classifier import ClassifierSet, default_models
from brain.prices import extract_prices
from brain.sales import bad_actor_model, detect_bad_actor, intent_head, predict_intents, sales_result
from brain.sales_cues import read_cues as sales_moves
from brain.triage import TASKS, TriageResult, triage_vectors

MAX_TURNS = 30  # the latest turns read for risk and agreement
SCAM_NO_REPLY = 0.8


async def analyze_inbound(embedder: Any, text: str, *, contact_classification: str = "unknown",
                          conversation: list[dict[str, Any]], models: ClassifierSet | None = None,
                          now: datetime | None = None) -> dict[str, Any]:
    """Analyse one inbound message; `conversation` holds the turns before it ({"content", "sender":
    "contact" | "creator"}, oldest first). The CPU work runs in a worker thread."""
    return await asyncio.to_thread(analyze_blocking, embedder, text, contact_classification, conversation,
                                   models, now)


def train_models(embedder: Any, models: ClassifierSet) -> None:
    """Train (or load) every model the analysis reads: the triage heads, the sales intent head and the
    bad-actor heads over it. Blocking: seconds on first use, then versioned on disk."""
    for spec in TASKS:
        models.text_model(spec, embedder)
    bad_actor_model(embedder, models)


def analyze_blocking(embedder: Any, text: str, contact_classification: str, conversation: list[dict[str, Any]],
                     models: ClassifierSet | None = None, now: datetime | None = None) -> dict[str, Any]:
    models = models or default_models()
    turns = _with_current(conversation, text)[-MAX_TURNS:]
    vector = embedder.embed([text])
    triage = triage_vectors(vector, [(text, contact_classification)], now=now, embedder=embedder, models=models)[0]
    context = [str(t.get("content", "")) for t in turns[:-1]]
    sales = sales_result(text, predict_intents(intent_head(embedder, models), vector, [text])[0], context)
    risk = detect_bad_actor(turns, True, embedder=embedder, models=models)
    agreement = detect_agreement(turns, now=now).to_dict() if _money_discussed(turns, sales) else None
    needs_reply, reasons = reply_decision(triage, sales, risk, money_discussed=agreement is not None)
    return {"triage": triage.to_dict(), "sales": sales, "risk": risk, "agreement": agreement,
            "needs_reply": needs_reply, "reasons": reasons}


def _with_current(conversation: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """The conversation ending with this message (added unless it is already the last turn)."""
    turns = [dict(t) for t in conversation if isinstance(t, dict)]
    if not turns or str(turns[-1].get("content", "")) != text:
        turns.append({"content": text, "sender": "contact"})
    return turns


def _money_discussed(turns: list[dict[str, Any]], sales: dict[str, Any]) -> bool:
    if sales["intent"] == "price_inquiry":
        return True
    texts = [str(t.get("content", "")) for t in turns]
    return any(extract_prices(t) or sales_moves(t).inquiry or sales_moves(t).payment for t in texts)


def reply_decision(triage: TriageResult, sales: dict[str, Any], risk: dict[str, Any], *,
                   money_discussed: bool = True) -> tuple[bool, list[str]]:
    """(needs_reply, reasons). An "agreement" with no money ever discussed is an "ok", not a deal."""
    rules = {r["rule"] for r in triage.evidence.get("rules", [])} | {r["rule"] for r in sales["evidence"]["rules"]}
    if triage.intent == "promotional" or "bulk_sender" in rules:
        return False, ["automated or promotional message"]
    if "system_text" in rules:
        return False, ["system text, nothing was said"]
    if risk["scam_risk"] >= SCAM_NO_REPLY:
        return False, [f"likely scam (risk {risk['scam_risk']:.2f}): {risk['recommendation']}"]
    attention = sales["requires_attention"] and (money_discussed or sales["intent"] != "agreement")
    if triage.priority == "low" and not triage.needs_action and not attention:
        return False, ["low priority and nothing to answer"]
    reasons = [f"priority {triage.priority}, reply {triage.suggested_response_time}"]
    if triage.needs_action:
        reasons.append(f"asks for something ({triage.intent})")
    if attention:
        reasons.append(f"sales signal: {sales['intent']}")
    return True, reasons
