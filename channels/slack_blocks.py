"""Slack Block Kit for approval cards and their modals: pure functions from an ApprovalCard to dicts.

Every piece of user text (contact name, inbound message, draft, evidence, outcome) is escaped
(`&`, `<`, `>`) before it goes into mrkdwn, so a message cannot ping `<!channel>` or forge a link.
Button values carry only the suggestion id; the card's draft is read back from its own blocks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from channels.base import ApprovalCard

APPROVE = "replydesk_approve"
EDIT = "replydesk_edit"
REJECT = "replydesk_reject"
REGENERATE = "replydesk_regenerate"
TONE = "replydesk_tone"
CARD_BLOCK_PREFIX = "replydesk_card:"
ACTIONS_BLOCK_PREFIX = "replydesk_actions:"
DRAFT_BLOCK = "replydesk_draft"
DRAFT_LABEL = "*Draft reply*\n"
EDIT_VIEW = "replydesk_edit_view"
REJECT_VIEW = "replydesk_reject_view"
TEXT_BLOCK = "replydesk_text"
TEXT_ACTION = "text"
TONES = (("more_formal", "More formal"), ("more_casual", "More casual"), ("shorter", "Shorter"),
         ("add_humor", "Add humour"))
SIGNAL_KEYS = ("priority", "intent", "risk")
SECTION_LIMIT = 3000  # Slack's limit for a section's text
HEADER_LIMIT = 150
CHANNEL_LABELS = {"slack": "Slack", "telegram": "Telegram", "twilio": "WhatsApp / SMS", "email": "Email",
                  "imessage": "iMessage", "bluebubbles": "iMessage"}
STATUS_ICONS = {"sent": ":white_check_mark:", "approved": ":hourglass_flowing_sand:", "rejected": ":x:",
                "superseded": ":leftwards_arrow_with_hook:", "failed": ":warning:"}
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def escape(text: str) -> str:
    """Slack's three control characters, as Slack asks: nothing else is entity-encoded."""
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def escaped_within(text: str, budget: int) -> str:
    """Escape `text`, cutting it (never inside an entity) so the result fits in `budget` chars."""
    pieces: list[str] = []
    used = 0
    for ch in text:
        piece = _ESCAPES.get(ch, ch)
        if used + len(piece) > budget - 1:
            return "".join(pieces) + "…"
        pieces.append(piece)
        used += len(piece)
    return "".join(pieces)


def _plain(text: str, limit: int = 75) -> dict[str, Any]:
    return {"type": "plain_text", "text": text if len(text) <= limit else text[:limit - 1] + "…"}


def _mrkdwn_section(label: str, text: str, block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": {
        "type": "mrkdwn", "text": label + escaped_within(text or "(no text)", SECTION_LIMIT - len(label))}}
    if block_id:
        block["block_id"] = block_id
    return block


def _short(evidence: Any, limit: int = 80) -> str:
    """A few words of evidence from whatever shape the brain gave: text, a list, a rule, cues."""
    if isinstance(evidence, str):
        text = evidence
    elif isinstance(evidence, Mapping):
        for key in ("matched", "text", "reason", "effect", "rules"):
            if evidence.get(key):
                return _short(evidence[key], limit)
        cues = evidence.get("cues")  # triage's {cue name: the words that matched}
        return _short(list(cues.values()) if isinstance(cues, Mapping) else cues or "", limit)
    elif isinstance(evidence, Sequence):
        text = "; ".join(s for s in (_short(item, limit) for item in list(evidence)[:2]) if s)
    else:
        return ""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _signal(signals: Mapping[str, Any], key: str) -> tuple[str, str]:
    """(label, evidence) of one signal, found at the top level or under triage / sales / risk."""
    sources = [signals] + [signals[name] for name in ("triage", "sales", "risk")
                           if isinstance(signals.get(name), Mapping)]
    for source in sources:
        value = source.get(key)
        if isinstance(value, Mapping):
            label = value.get("label") or value.get("level") or value.get("value") or ""
            return str(label), _short(value.get("evidence") or value.get("reason") or "")
        if value not in (None, ""):
            evidence = source.get(f"{key}_evidence") or (source.get("evidence") if key == "priority" else "")
            return str(value), _short(evidence or "")
    return "", ""


def signal_line(signals: Mapping[str, Any]) -> str:
    """`*Priority:* urgent (today)  ·  *Intent:* pricing`, or "" when there are no signals."""
    parts = []
    for key in SIGNAL_KEYS:
        label, evidence = _signal(signals, key)
        if label:
            parts.append(f"*{key.title()}:* {escape(label)}" + (f" ({escape(evidence)})" if evidence else ""))
    return "  ·  ".join(parts)


def _button(text: str, action_id: str, suggestion_id: int, style: str | None = None) -> dict[str, Any]:
    button = {"type": "button", "text": _plain(text), "action_id": action_id, "value": str(suggestion_id)}
    if style:
        button["style"] = style
    return button


def _actions(suggestion_id: int) -> dict[str, Any]:
    tone_select = {"type": "static_select", "action_id": TONE, "placeholder": _plain("Tone for regenerate"),
                   "options": [{"text": _plain(label), "value": value} for value, label in TONES]}
    return {"type": "actions", "block_id": f"{ACTIONS_BLOCK_PREFIX}{suggestion_id}", "elements": [
        _button("Approve", APPROVE, suggestion_id, "primary"), _button("Edit", EDIT, suggestion_id),
        _button("Reject", REJECT, suggestion_id, "danger"), _button("Regenerate", REGENERATE, suggestion_id),
        tone_select]}


def channel_label(channel: str) -> str:
    return CHANNEL_LABELS.get(channel, channel.title())


def card_blocks(card: ApprovalCard) -> list[dict[str, Any]]:
    """The card: who and where, their message, signals, the draft, then buttons or the outcome."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "block_id": f"{CARD_BLOCK_PREFIX}{card.suggestion_id}",
         "text": _plain(f"{card.contact_name or 'Unknown'} on {channel_label(card.channel)}", HEADER_LIMIT)},
        _mrkdwn_section("*Message*\n", card.inbound_text)]
    signals = signal_line(card.signals or {})
    if signals:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": signals}]})
    blocks.append(_mrkdwn_section(DRAFT_LABEL, card.draft, DRAFT_BLOCK))
    if card.status == "pending":
        blocks.append(_actions(card.suggestion_id))
    else:
        icon = STATUS_ICONS.get(card.status, "")
        outcome = escape(card.outcome or card.status.title())
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"{icon} *{outcome}*".strip()}]})
    return blocks


def card_text(card: ApprovalCard) -> str:
    """The notification fallback for the card (mrkdwn too, so escaped)."""
    who = escape(card.contact_name or "Unknown")
    if card.status != "pending":
        return f"{who}: {escape(card.outcome or card.status)}"
    return f"Draft reply to {who} on {channel_label(card.channel)}: {escaped_within(card.draft, 300)}"


def suggestion_id_of(blocks: Sequence[Mapping[str, Any]]) -> int | None:
    """The suggestion a posted card belongs to, from its header's block_id."""
    for block in blocks:
        block_id = str(block.get("block_id") or "")
        if block_id.startswith(CARD_BLOCK_PREFIX) and block_id[len(CARD_BLOCK_PREFIX):].isdigit():
            return int(block_id[len(CARD_BLOCK_PREFIX):])
    return None


def draft_of(blocks: Sequence[Mapping[str, Any]]) -> str:
    """The draft shown on a posted card (to prefill the edit modal), unescaped; "" if absent."""
    for block in blocks:
        if block.get("block_id") == DRAFT_BLOCK:
            text = str((block.get("text") or {}).get("text") or "")
            return unescape(text[len(DRAFT_LABEL):] if text.startswith(DRAFT_LABEL) else text)
    return ""


def _text_input(label: str, initial: str, optional: bool) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": TEXT_ACTION, "multiline": True,
                               "max_length": 3000}
    if initial:
        element["initial_value"] = initial[:3000]
    return {"type": "input", "block_id": TEXT_BLOCK, "optional": optional, "label": _plain(label),
            "element": element}


def edit_modal(suggestion_id: int, draft: str) -> dict[str, Any]:
    return {"type": "modal", "callback_id": EDIT_VIEW, "private_metadata": json.dumps({"suggestion_id": suggestion_id}),
            "title": _plain("Edit reply", 24), "submit": _plain("Send", 24), "close": _plain("Cancel", 24),
            "blocks": [_text_input("Reply to send", draft, optional=False)]}


def reject_modal(suggestion_id: int) -> dict[str, Any]:
    return {"type": "modal", "callback_id": REJECT_VIEW,
            "private_metadata": json.dumps({"suggestion_id": suggestion_id}),
            "title": _plain("Reject draft", 24), "submit": _plain("Reject", 24), "close": _plain("Cancel", 24),
            "blocks": [_text_input("Why? (it teaches the drafts)", "", optional=True)]}
