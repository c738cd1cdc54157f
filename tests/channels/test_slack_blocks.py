"""Block Kit rendering of approval cards and modals (pure): escaping, buttons, outcome, round trips."""

from __future__ import annotations

import json

from channels import slack_blocks as sb
from channels.base import ApprovalCard


def card(**overrides) -> ApprovalCard:
    values = {"suggestion_id": 42, "contact_name": "Ann Lee", "channel": "telegram",
              "inbound_text": "Is the blue jacket in stock?", "draft": "Yes, size M is available."}
    return ApprovalCard(**{**values, **overrides})


def by_type(blocks, kind):
    return [b for b in blocks if b["type"] == kind]


def all_text(blocks) -> str:
    return json.dumps(blocks)


def test_escape_only_slacks_three_control_characters_and_round_trips():
    text = "a < b && c > d <!channel> <https://evil.example|click> &amp;"
    assert sb.escape(text) == ("a &lt; b &amp;&amp; c &gt; d &lt;!channel&gt; "
                               "&lt;https://evil.example|click&gt; &amp;amp;")
    assert sb.unescape(sb.escape(text)) == text
    assert sb.escape("émoji 👍 *bold*") == "émoji 👍 *bold*"


def test_escaped_within_never_cuts_an_entity():
    cut = sb.escaped_within("&" * 10, 12)
    assert cut == "&amp;&amp;…" and len(cut) <= 12
    assert sb.escaped_within("short", 100) == "short"


def test_pending_card_has_header_message_draft_and_buttons_carrying_only_the_id():
    blocks = sb.card_blocks(card())
    header = blocks[0]
    assert header["type"] == "header" and header["text"]["text"] == "Ann Lee on Telegram"
    assert "Is the blue jacket in stock?" in blocks[1]["text"]["text"]
    (actions,) = by_type(blocks, "actions")
    buttons = [e for e in actions["elements"] if e["type"] == "button"]
    assert [b["text"]["text"] for b in buttons] == ["Approve", "Edit", "Reject", "Regenerate"]
    assert {b["value"] for b in buttons} == {"42"}
    assert [b.get("style") for b in buttons] == ["primary", None, "danger", None]
    (select,) = [e for e in actions["elements"] if e["type"] == "static_select"]
    assert [o["value"] for o in select["options"]] == ["more_formal", "more_casual", "shorter", "add_humor"]
    assert sb.suggestion_id_of(blocks) == 42


def test_user_text_is_escaped_everywhere_it_is_mrkdwn():
    hostile = "<!channel> pay at <https://evil.example|bank> & win"
    blocks = sb.card_blocks(card(inbound_text=hostile, draft=hostile, signals={"intent": "<@U1>"}))
    text = all_text(blocks)
    assert "<!channel>" not in text and "<https://evil" not in text and "<@U1>" not in text
    assert "&lt;!channel&gt;" in text and "&amp; win" in text
    assert "<" not in sb.card_text(card(draft=hostile))


def test_draft_reads_back_exactly_from_the_posted_blocks():
    draft = "Sure & thanks! <3\n> not a quote\n*really*"
    assert sb.draft_of(sb.card_blocks(card(draft=draft))) == draft
    assert sb.draft_of([{"type": "divider"}]) == ""


def test_long_texts_fit_slacks_section_limit():
    blocks = sb.card_blocks(card(inbound_text="<" * 5000, draft="word " * 2000))
    sections = by_type(blocks, "section")
    assert all(len(s["text"]["text"]) <= sb.SECTION_LIMIT for s in sections)
    assert sections[-1]["text"]["text"].endswith("…")


def test_decided_card_shows_the_outcome_without_buttons():
    for status, outcome in (("sent", "Sent by Telegram at 14:02"), ("rejected", "Rejected: too formal"),
                            ("superseded", "Superseded by a newer draft")):
        blocks = sb.card_blocks(card(status=status, outcome=outcome))
        assert by_type(blocks, "actions") == []
        assert outcome in by_type(blocks, "context")[-1]["elements"][0]["text"]
        assert sb.card_text(card(status=status, outcome=outcome)) == f"Ann Lee: {outcome}"
        assert sb.suggestion_id_of(blocks) == 42  # thread replies still find the card


def test_signals_show_priority_intent_and_risk_with_short_evidence():
    signals = {"priority": "urgent", "evidence": {"rules": [{"rule": "deadline_today", "matched": "by 5pm",
                                                             "effect": "urgent"}]},
               "intent": {"label": "pricing", "evidence": ["asks for a quote", "mentions budget", "third"]},
               "risk": {"level": "high", "reason": "mentions a chargeback"}}
    line = sb.signal_line(signals)
    assert line == ("*Priority:* urgent (by 5pm)  ·  *Intent:* pricing (asks for a quote; mentions budget)"
                    "  ·  *Risk:* high (mentions a chargeback)")
    context = by_type(sb.card_blocks(card(signals=signals)), "context")
    assert context and context[0]["elements"][0]["text"] == line


def test_signals_nested_as_the_brain_reports_them():
    triage = {"triage": {"priority": "time-sensitive", "intent": "booking", "evidence": {"cues": {"today": "today"}}}}
    assert sb.signal_line(triage) == "*Priority:* time-sensitive (today)  ·  *Intent:* booking"
    assert sb.signal_line({}) == "" and sb.signal_line({"unrelated": 1}) == ""
    assert by_type(sb.card_blocks(card(signals={})), "context") == []


def test_modals_carry_the_suggestion_and_prefill_the_draft():
    edit = sb.edit_modal(42, "Yes, size M.")
    assert edit["callback_id"] == sb.EDIT_VIEW and json.loads(edit["private_metadata"]) == {"suggestion_id": 42}
    (field,) = edit["blocks"]
    assert field["block_id"] == sb.TEXT_BLOCK and field["optional"] is False
    assert field["element"]["initial_value"] == "Yes, size M." and field["element"]["action_id"] == sb.TEXT_ACTION
    reject = sb.reject_modal(42)
    assert reject["callback_id"] == sb.REJECT_VIEW and reject["blocks"][0]["optional"] is True
    assert all(len(m["title"]["text"]) <= 24 for m in (edit, reject))
