"""The owner's next step with a contact, from an agreement verdict: how urgent a follow-up is, why,
when to send it, and a friendly, professional message in the conversation's language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from brain.agreement import AgreementResult
    from brain.prices import Price

MESSAGES: dict[str, dict[str, str]] = {
    "book_slot": {
        "en": "Hi! Great to have this confirmed. Which day and time suit you best, so I can lock in your booking?",
        "es": "¡Hola! Genial que lo tengamos cerrado. ¿Qué día y hora te vienen mejor para reservarlo?",
        "pt": "Oi! Que bom que fechamos. Qual dia e horário ficam melhor pra você, pra eu já reservar?",
        "de": "Hallo! Schön, dass wir uns einig sind. Wann passt es dir am besten, damit ich den Termin eintrage?",
        "fr": "Bonjour ! Ravi que ce soit validé. Quel jour et quelle heure vous conviendraient pour réserver ?",
    },
    "reminder": {
        "en": "Hi! Just a friendly reminder about our booking. Let me know if you need anything beforehand.",
        "es": "¡Hola! Solo te recuerdo nuestra cita. Avísame si necesitas algo antes.",
        "pt": "Oi! Só passando pra lembrar do nosso horário. Se precisar de algo antes, é só avisar.",
        "de": "Hallo! Nur eine kurze Erinnerung an unseren Termin. Melde dich, falls du vorher noch etwas brauchst.",
        "fr": "Bonjour ! Petit rappel pour notre rendez-vous. N'hésitez pas si vous avez besoin de quoi que ce soit.",
    },
    "thanks": {
        "en": "Thanks again, it was a pleasure working with you! Let me know whenever you need anything else.",
        "es": "¡Gracias de nuevo, ha sido un placer! Aquí estoy para lo que necesites.",
        "pt": "Obrigado de novo, foi um prazer! Estou por aqui para o que precisar.",
        "de": "Nochmals danke, es war mir eine Freude! Melde dich gern, wenn du wieder etwas brauchst.",
        "fr": "Merci encore, ce fut un plaisir ! Je reste disponible si vous avez besoin d'autre chose.",
    },
    "answer": {
        "en": "Hi! Thanks for your message, happy to help. Could you tell me a bit more about what you have in mind?",
        "es": "¡Hola! Gracias por escribirme, encantado de ayudarte. ¿Me cuentas un poco más lo que tienes en mente?",
        "pt": "Oi! Obrigado pela mensagem, vai ser um prazer ajudar. Pode me contar um pouco mais do que você imagina?",
        "de": "Hallo! Danke für deine Nachricht, ich helfe gern. Erzählst du mir etwas mehr darüber, was du dir vorstellst?",
        "fr": "Bonjour ! Merci pour votre message, avec plaisir. Pouvez-vous m'en dire un peu plus sur votre projet ?",
    },
    "nudge": {
        "en": "Hi! Just checking in on my offer. Happy to find an option that works for you, what do you think?",
        "es": "¡Hola! Te escribo por la propuesta. Seguro que encontramos una opción que te encaje, ¿qué te parece?",
        "pt": "Oi! Passando pra saber o que achou da proposta. Podemos achar uma opção que funcione pra você!",
        "de": "Hallo! Ich wollte kurz wegen meines Angebots nachfragen. Wir finden sicher eine passende Lösung, was meinst du?",
        "fr": "Bonjour ! Je reviens vers vous au sujet de ma proposition. On trouvera une option qui vous convient, qu'en pensez-vous ?",
    },
}
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "BRL": "R$ "}


@dataclass(frozen=True)
class _Plan:
    priority: str
    reason: str
    message: str | None
    timing: str


def recommend(contact_id: str, result: AgreementResult, senders: list[str], last_interaction: datetime | None,
              *, now: datetime, lang: str) -> dict:
    """The seed 000 /sales/follow-up response for a judged conversation."""
    quiet = _hours_between(last_interaction, now)
    waiting_on_owner = bool(senders) and senders[-1] == "contact"
    plan = _plan(result, quiet, waiting_on_owner, now)
    messages = MESSAGES.get(plan.message or "", {})
    return {
        "contact_id": contact_id, "priority": plan.priority, "reason": plan.reason,
        "suggested_message": messages.get(lang, messages.get("en", "")), "optimal_timing": plan.timing,
        "intent_summary": _summary(result),
    }


def _plan(result: AgreementResult, quiet: float, waiting_on_owner: bool, now: datetime) -> _Plan:
    stage = result.negotiation_stage
    if stage in ("declined", "no_discussion"):
        reason = "Contact declined the offer" if stage == "declined" else "No pricing or booking discussed"
        return _Plan("none", reason, None, "no follow-up needed")
    if stage == "agreed":
        return _agreed_plan(result, now)
    if waiting_on_owner:
        what = "their offer" if stage == "negotiating" else "their question"
        return _Plan("high", f"Contact is waiting for your reply to {what}", "answer", "as soon as possible")
    limit = 24 if stage == "negotiating" else 48
    if quiet > limit:
        label = "Negotiation" if stage == "negotiating" else "Quote"
        return _Plan("medium", f"{label} has had no reply for over {limit} hours", "nudge", "now")
    reason = "Negotiation in progress" if stage == "negotiating" else "Quote sent, waiting for the contact"
    return _Plan("low", reason, "nudge", f"in {max(1, round(limit - quiet))} hours if there is no reply")


def _agreed_plan(result: AgreementResult, now: datetime) -> _Plan:
    schedule = result.schedule_info
    if schedule is None:
        return _Plan("high", "Price agreed but no booking confirmed", "book_slot", "within 2 hours")
    when = _as_date(schedule.get("datetime"))
    if when is not None and when < now.date():
        return _Plan("low", "Booked session has taken place", "thanks", "today")
    return _Plan("low", "Price agreed and booking confirmed", "reminder", "the day before the appointment")


def _summary(result: AgreementResult) -> str:
    stage, prices = result.negotiation_stage, result.prices_mentioned
    if stage == "agreed":
        amount = f"Agreed to {_money(result.agreed_price)}" if result.agreed_price else "Agreed to the deal"
        schedule = result.schedule_info
        return amount + (f", booked for {schedule['raw_text']}" if schedule else ", no date or time set yet")
    if stage == "negotiating":
        return "Negotiating the price" + (f", latest amount {_money(prices[-1])}" if prices else "")
    if stage == "inquiry":
        return "Asked about pricing or availability" + (f", quoted {_money(prices[-1])}" if prices else "")
    return "Declined the offer" if stage == "declined" else "No sales intent detected"


def _money(price: Price | None) -> str:
    if price is None:
        return "an unstated amount"
    amount = f"{price.amount:,.0f}" if price.amount == int(price.amount) else f"{price.amount:,.2f}"
    if price.currency in _SYMBOLS:
        return f"{_SYMBOLS[price.currency]}{amount}"
    return f"{amount} {price.currency}" if price.currency else amount


def _hours_between(earlier: datetime | None, later: datetime) -> float:
    if earlier is None:
        return 0.0
    if (earlier.tzinfo is None) != (later.tzinfo is None):
        earlier = earlier.replace(tzinfo=later.tzinfo)
    return max(0.0, (later - earlier).total_seconds() / 3600)


def _as_date(iso: str | None) -> date | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso).date() if "T" in iso else date.fromisoformat(iso)
    except ValueError:
        return None
