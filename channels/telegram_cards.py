"""Approval cards for Telegram, pure: the card text (HTML), its inline keyboard, the owner prompts,
and the two small codes that come back to us — button data and the first-line marker.

Button data holds ids only (Telegram allows 64 bytes): `a:<id>` approve, `e:<id>` edit, `r:<id>`
reject, `g:<id>` regenerate, `t:<id>:<tone>` regenerate in a tone. Every card and prompt starts
with a marker naming the draft (`Draft #42`, `Edit draft #42`, `Reject draft #42`), which Telegram
hands back in `reply_to_message` when the owner answers one of them by replying.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from telegram import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup

from channels.base import ApprovalCard
from channels.telegram_text import truncate

TONES = {"more_formal": "🎩 More formal", "more_casual": "👕 More casual", "shorter": "✂️ Shorter",
         "add_humor": "😄 Add humor"}
_ACTION_CODES = {"a": "approve", "e": "edit", "r": "reject", "g": "regenerate", "t": "regenerate"}
_CODES = {action: code for code, action in _ACTION_CODES.items() if code != "t"}
_MARKER = re.compile(r"^\W*(?:(Edit|Reject) )?draft #(\d+)\b", re.IGNORECASE)
_STATUS_ICONS = {"pending": "📝", "approved": "⏳", "sent": "✅", "rejected": "🚫", "superseded": "♻️",
                 "failed": "⚠️"}
_CHANNEL_NAMES = {"telegram": "Telegram", "imessage": "iMessage", "whatsapp": "WhatsApp", "sms": "SMS",
                  "bluebubbles": "iMessage", "email": "Email", "slack": "Slack", "twilio": "SMS/WhatsApp"}
INBOUND_BUDGET, DRAFT_BUDGET = 1000, 2600  # UTF-16 units; the whole card stays under 4096


@dataclass(frozen=True)
class Tap:
    """Decoded button data."""

    action: str  # approve, edit, reject, regenerate
    suggestion_id: int
    tone: str | None = None


def callback_data(action: str, suggestion_id: int, tone: str | None = None) -> str:
    if tone is not None:
        return f"t:{suggestion_id}:{tone}"
    return f"{_CODES[action]}:{suggestion_id}"


def read_callback(data: str) -> Tap | None:
    """The tap a button's data stands for; None for anything we did not write (clients can send
    arbitrary data)."""
    code, _, rest = (data or "").partition(":")
    number, _, tone = rest.partition(":")
    if code not in _ACTION_CODES or not number.isdigit() or len(number) > 18:
        return None
    if code == "t":
        return Tap("regenerate", int(number), tone) if tone in TONES else None
    return Tap(_ACTION_CODES[code], int(number)) if not tone else None


def read_marker(text: str) -> tuple[str, int] | None:
    """("card" | "edit" | "reject", suggestion id) from the first line of a card or prompt."""
    match = _MARKER.match((text or "").split("\n", 1)[0])
    if match is None:
        return None
    return (match.group(1) or "card").lower(), int(match.group(2))


def keyboard(card: ApprovalCard) -> InlineKeyboardMarkup | None:
    """Approve / Edit / Reject, Regenerate, then the tones; none once decided (editing a message's
    text without a keyboard removes the one it had)."""
    if card.status != "pending":
        return None
    sid = card.suggestion_id

    def button(label: str, action: str, tone: str | None = None) -> InlineKeyboardButton:
        return InlineKeyboardButton(label, callback_data=callback_data(action, sid, tone))

    tones = [button(label, "regenerate", tone) for tone, label in TONES.items()]
    return InlineKeyboardMarkup([
        [button("✅ Approve", "approve"), button("✏️ Edit", "edit"), button("🚫 Reject", "reject")],
        [button("🔄 Regenerate", "regenerate")], tones[:2], tones[2:]])


def _e(text: Any) -> str:
    return html.escape(str(text), quote=False)


def _label(value: Any, *keys: str) -> str:
    """A signal's label: the value itself when it is a word, else the first of `keys` it has."""
    if isinstance(value, Mapping):
        value = next((value[k] for k in keys if isinstance(value.get(k), (str, int, float))), "")
    return str(value) if isinstance(value, (str, int, float)) else ""


def _dicts(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _evidence(value: Any) -> str:
    """A short quote of why a signal fired: matched cue texts, rule names or red-flag reasons."""
    if not isinstance(value, Mapping):
        return ""
    evidence = value.get("evidence")
    if isinstance(evidence, str):
        return truncate(evidence, 60)
    found: list[str] = []
    if isinstance(evidence, Mapping):
        cues = evidence.get("cues")
        found += [str(cue) for cue in cues.values()] if isinstance(cues, Mapping) else []
        found += [str(rule.get("matched") or rule.get("rule") or "") for rule in _dicts(evidence.get("rules"))]
    found += [str(flag.get("reasoning") or flag.get("flag") or "") for flag in _dicts(value.get("red_flags"))]
    return truncate(", ".join(dict.fromkeys(text for text in found if text)), 60)


def _risk_label(value: Any) -> str:
    label = _label(value, "level", "label", "risk", "recommendation")
    score = value.get("combined_risk") if isinstance(value, Mapping) else None
    if not label and isinstance(score, (int, float)):
        label = "high" if score >= 0.7 else "medium" if score >= 0.4 else "low"
    return label


def signal_lines(signals: Mapping[str, Any]) -> list[str]:
    """One line per known signal present: triage priority, sales intent, risk, each with evidence."""
    triage = signals.get("triage", signals.get("priority"))
    sales = signals.get("sales", signals.get("sales_intent"))
    found = [("🚦 Priority", _label(triage, "priority", "label"), triage),
             ("💰 Sales", _label(sales, "intent", "label"), sales),
             ("⚠️ Risk", _risk_label(signals.get("risk")), signals.get("risk"))]
    lines = []
    for title, label, value in found:
        if label:
            why = _evidence(value)
            lines.append(f"{title}: <b>{_e(label)}</b>" + (f" — <i>{_e(why)}</i>" if why else ""))
    return lines


def render_card(card: ApprovalCard) -> str:
    """The card as Telegram HTML: marker line, signals, their message, the draft, the outcome."""
    icon = _STATUS_ICONS.get(card.status, "📝")
    channel = _CHANNEL_NAMES.get(card.channel, card.channel.title())
    lines = [f"{icon} Draft #{card.suggestion_id} · {_e(channel)} · <b>{_e(card.contact_name)}</b>"]
    lines += signal_lines(card.signals)
    lines += ["", "💬 <i>They wrote:</i>",
              f"<blockquote>{_e(truncate(card.inbound_text, INBOUND_BUDGET) or '(no text)')}</blockquote>",
              "✍️ <i>Draft:</i>", f"<blockquote>{_e(truncate(card.draft, DRAFT_BUDGET))}</blockquote>"]
    if card.outcome:
        lines += ["", f"<b>{_e(card.outcome)}</b>"]
    elif card.status == "pending":
        lines += ["", "<i>Reply to this card to send your own text instead.</i>"]
    return "\n".join(lines)


def render_prompt(kind: str, suggestion_id: int) -> tuple[str, ForceReply]:
    """The question sent after Edit or Reject, answered by replying to it (ForceReply opens the
    reply box)."""
    if kind == "edit":
        text = f"✏️ Edit draft #{suggestion_id}: reply to this message with the text to send instead."
        placeholder = "The reply to send"
    else:
        text = (f"🚫 Reject draft #{suggestion_id}: reply to this message with the reason "
                "(or just - for none).")
        placeholder = "Why reject it?"
    return text, ForceReply(input_field_placeholder=placeholder)
