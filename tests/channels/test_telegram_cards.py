"""Approval cards for Telegram, pure: text, escaping, signals, keyboard, button data, markers."""

from __future__ import annotations

import pytest

from channels.base import ApprovalCard
from channels.telegram_cards import (TONES, Tap, callback_data, keyboard, read_callback, read_marker, render_card,
                                     render_prompt, signal_lines)
from channels.telegram_text import MAX_MESSAGE, utf16_len
from tests.channels.fakes.telegram_api import plain_text

TRIAGE = {"priority": "urgent", "intent": "question",
          "evidence": {"rules": [{"rule": "deadline", "matched": "by tomorrow", "effect": "urgent"}],
                       "cues": {"deadline": "by tomorrow"}, "learned": {}}}
SALES = {"intent": "price_inquiry", "confidence": 0.91,
         "evidence": {"rules": [], "cues": {"price": "how much"}, "learned": {}}}
RISK = {"combined_risk": 0.82, "red_flags": [{"flag": "scam:gift_card", "reasoning": "Scam move (gift card)"}],
        "recommendation": ""}


def card(**changes) -> ApprovalCard:
    base = dict(suggestion_id=42, contact_name="Jane Doe", channel="telegram",
                inbound_text="How much for a portrait session?", draft="It is $200 for an hour.")
    return ApprovalCard(**(base | changes))


def visible(html_text: str) -> str:
    return plain_text(html_text, "HTML")


def buttons(markup) -> list[tuple[str, str]]:
    return [(b.text, b.callback_data) for row in markup.inline_keyboard for b in row]


def test_card_shows_contact_channel_message_and_draft():
    text = visible(render_card(card()))
    first, *_ = text.split("\n")
    assert first == "📝 Draft #42 · Telegram · Jane Doe"
    assert "How much for a portrait session?" in text and "It is $200 for an hour." in text
    assert "Reply to this card to send your own text instead." in text


def test_card_escapes_everything_it_quotes():
    html_text = render_card(card(contact_name="<b>Eve</b> & co", inbound_text="<script>x</script>",
                                 draft="1 < 2 & 3 > 2"))
    assert "<script>" not in html_text and "&lt;script&gt;" in html_text
    assert "<b>Eve</b>" not in html_text and "&lt;b&gt;Eve&lt;/b&gt; &amp; co" in html_text
    assert "1 < 2 & 3 > 2" in visible(html_text)


def test_signals_with_short_evidence():
    lines = [visible(line) for line in signal_lines({"triage": TRIAGE, "sales": SALES, "risk": RISK})]
    assert lines == ["🚦 Priority: urgent — by tomorrow", "💰 Sales: price_inquiry — how much",
                     "⚠️ Risk: high — Scam move (gift card)"]


@pytest.mark.parametrize("signals, expected", [
    ({}, []),
    ({"priority": "low"}, ["🚦 Priority: low"]),
    ({"sales_intent": {"label": "booking_intent", "evidence": "wants Saturday"}},
     ["💰 Sales: booking_intent — wants Saturday"]),
    ({"risk": {"level": "medium"}}, ["⚠️ Risk: medium"]),
    ({"risk": {"combined_risk": 0.1}}, ["⚠️ Risk: low"]),
    ({"triage": {"priority": None}, "sales": [], "risk": "?"}, ["⚠️ Risk: ?"]),
])
def test_signals_tolerate_every_shape(signals, expected):
    assert [visible(line) for line in signal_lines(signals)] == expected


def test_signals_appear_on_the_card():
    text = visible(render_card(card(signals={"triage": TRIAGE})))
    assert "🚦 Priority: urgent — by tomorrow" in text.split("\n")[1]


def test_long_texts_are_cut_so_the_card_fits_one_message():
    huge = card(inbound_text="é" * 9000, draft="😀" * 9000, contact_name="N" * 200,
                signals={"triage": TRIAGE, "sales": SALES, "risk": RISK}, outcome="Sent by Telegram at 14:02",
                status="sent")
    assert utf16_len(visible(render_card(huge))) <= MAX_MESSAGE


def test_decided_card_shows_the_outcome_and_has_no_buttons():
    decided = card(status="rejected", outcome="Rejected: too formal")
    text = visible(render_card(decided))
    assert text.startswith("🚫 Draft #42") and text.endswith("Rejected: too formal")
    assert "Reply to this card" not in text
    assert keyboard(decided) is None


def test_pending_keyboard_has_actions_and_tones():
    assert buttons(keyboard(card())) == [
        ("✅ Approve", "a:42"), ("✏️ Edit", "e:42"), ("🚫 Reject", "r:42"), ("🔄 Regenerate", "g:42"),
        ("🎩 More formal", "t:42:more_formal"), ("👕 More casual", "t:42:more_casual"),
        ("✂️ Shorter", "t:42:shorter"), ("😄 Add humor", "t:42:add_humor")]


def test_every_button_fits_64_bytes_and_reads_back():
    biggest = 10 ** 18 - 1
    for _, data in buttons(keyboard(card(suggestion_id=biggest))):
        assert len(data.encode()) <= 64
        tap = read_callback(data)
        assert tap is not None and tap.suggestion_id == biggest
    assert read_callback(callback_data("regenerate", 7, "shorter")) == Tap("regenerate", 7, "shorter")
    assert {read_callback(callback_data(a, 7)).action for a in ("approve", "edit", "reject", "regenerate")} == \
        {"approve", "edit", "reject", "regenerate"}


@pytest.mark.parametrize("data", ["", "a", "a:", "a:x", "x:1", "t:1", "t:1:evil", "a:1:shorter", "a:-1",
                                  "a:1234567890123456789", "t:1:shorter:more"])
def test_button_data_we_did_not_write_is_refused(data):
    assert read_callback(data) is None


def test_markers_read_back_from_cards_and_prompts():
    assert read_marker(visible(render_card(card()))) == ("card", 42)
    assert read_marker(visible(render_card(card(status="sent", outcome="Sent")))) == ("card", 42)
    edit_text, edit_markup = render_prompt("edit", 42)
    reject_text, _ = render_prompt("reject", 42)
    assert read_marker(edit_text) == ("edit", 42) and read_marker(reject_text) == ("reject", 42)
    assert edit_markup.force_reply is True


@pytest.mark.parametrize("text", ["", "hello", "Jane: Draft #42", "Draft #x", "Redraft #3"])
def test_other_texts_carry_no_marker(text):
    assert read_marker(text) is None


def test_a_contact_name_cannot_fake_a_marker():
    text = visible(render_card(card(suggestion_id=5, contact_name="Reject draft #99")))
    assert read_marker(text) == ("card", 5)


def test_tones_match_the_drafting_tones():
    from brain.draft import TONES as DRAFT_TONES

    assert set(TONES) <= set(DRAFT_TONES)
