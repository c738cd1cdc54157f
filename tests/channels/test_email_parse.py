"""Parsing real-world mail (pure): encodings, clients, threading, attachments, forwards, automated
mail, and malformed input that must degrade, never crash."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from channels.base import INBOUND, OUTBOUND, Handle
from channels.email_parse import MailContext, parse_email, parse_email_safely
from channels.email_text import html_to_text, normalize_subject, reply_subject, strip_quoted
from tests.channels.fakes import mail_samples as samples

NOW = datetime(2025, 3, 5, 12, 0, tzinfo=timezone.utc)
INTERNALDATE = datetime(2025, 3, 4, 8, 30, tzinfo=timezone.utc)
CONTEXT = MailContext(own_addresses=frozenset({samples.OWNER}), now=NOW, internal_date=INTERNALDATE,
                      mailbox="INBOX", uid=7)


def parse(data: bytes, context: MailContext = CONTEXT):
    return parse_email(data, context)


def test_plain_mail_becomes_an_inbound_message_keyed_by_its_message_id():
    message = parse(samples.plain())
    assert message.channel == "email" and message.direction == INBOUND
    assert message.external_id == message.thread_id == "<plain-1@example.org>"
    assert message.sender == Handle("email", "anna.schmidt@example.org") and message.sender_name == "Anna Schmidt"
    assert message.subject == "Booking a portrait session"
    assert message.text == "Hi! Are you free on Saturday for a portrait session?\n\nAnna"
    assert message.sent_at == datetime(2025, 3, 3, 9, 0, tzinfo=timezone.utc)
    assert message.raw["automated"] is False and message.raw["uid"] == 7


def test_alternative_prefers_plain_keeps_html_and_threads_on_the_references_root():
    message = parse(samples.alternative_reply())
    assert message.text == "Saturday at 10 works for me."
    assert "<blockquote>" in (message.html or "")
    assert "> Would Saturday at 10 suit you?" in message.raw["text_full"]
    assert message.thread_id == "<plain-1@example.org>"
    assert message.reply_to_external_id == "<owner-reply-1@example.com>"
    assert message.raw["thread_by"] == "references"


def test_html_only_in_windows_1252_quoted_printable_is_read_as_text_without_the_quote():
    message = parse(samples.html_only_cp1252())
    assert message.text == "Hello,\n\nthe price is 120 \u20ac \u2013 \u201cfinal\u201d."
    assert message.html and "p {color: red}" in message.html
    assert "What is the price?" in message.raw["text_full"]


@pytest.mark.parametrize("sample, name, subject, text", [
    (samples.latin1_qp, "Jürgen Müller", "Grüße aus Köln", "Grüße aus Köln! Können wir am Dienstag telefonieren?"),
    (samples.iso2022jp_base64, "山田太郎", "打ち合わせ", "来週の打ち合わせは可能ですか？"),
    (samples.cp1252_base64, "O'Brien, Pat", "Quote – €50", "It\u2019s \u20ac50 \u2014 ok?"),
])
def test_bodies_and_rfc2047_headers_in_other_charsets(sample, name, subject, text):
    message = parse(sample())
    assert (message.sender_name, message.subject, message.text) == (name, subject, text)


def test_latin1_declared_body_is_read_as_windows_1252_and_unknown_charsets_do_not_crash():
    body = "Preis: 10 \u20ac".encode("cp1252")
    data = samples.raw([("From", "a@example.org"), ("Content-Type", "text/plain; charset=iso-8859-1")], body)
    assert parse(data).text == "Preis: 10 \u20ac"
    data = samples.raw([("From", "a@example.org"), ("Content-Type", "text/plain; charset=x-no-such-charset")],
                       "caf\u00e9".encode("utf-8"))
    assert parse(data).text == "caf\u00e9"


def test_attachments_are_described_not_stored():
    message = parse(samples.with_attachment())
    assert message.text == "Please find the invoice attached."
    assert [(a.kind, a.name, a.mime_type, a.size) for a in message.attachments] == [
        ("file", "Rechnung März.pdf", "application/pdf", 1009), ("photo", "logo.png", "image/png", 8)]
    assert all(a.url == "" for a in message.attachments)


def test_inline_forward_keeps_the_forwarded_text():
    message = parse(samples.forwarded_inline())
    assert message.text.startswith("Could you take this one?\n\nForwarded message:\nFrom: Carl Client")
    assert message.text.endswith("We are looking for a photographer on 14 June.")
    assert message.raw["forwarded"] is True


def test_forward_as_attachment_appends_the_inner_message():
    message = parse(samples.forwarded_attached())
    assert "See the attached request." in message.text and "Do you do corporate headshots?" in message.text
    assert message.raw["forwarded_messages"][0]["subject"] == "Headshots"
    assert message.attachments[0].kind == "message"


def test_missing_date_uses_internaldate_then_now():
    assert parse(samples.missing_date()).sent_at == INTERNALDATE
    no_server_date = MailContext(own_addresses=CONTEXT.own_addresses, now=NOW)
    message = parse(samples.missing_date(), no_server_date)
    assert message.sent_at == NOW and message.raw["date_source"] == "now"


def test_malformed_from_and_date_degrade_without_a_crash():
    message = parse(samples.malformed_from())
    assert message.sender == Handle("email", "broken@example.org")  # salvaged from Reply-To
    assert message.sent_at == INTERNALDATE
    unreadable = samples.raw([("From", "undisclosed"), ("Subject", "?")], "hi")
    message = parse(unreadable)
    assert message.sender is None and message.sender_name == "undisclosed" and message.text == "hi"


def test_mail_without_message_id_gets_a_stable_hash():
    first, again = parse(samples.no_message_id()), parse(samples.no_message_id())
    assert first.external_id.startswith("hash:") and first.external_id == again.external_id


def test_garbage_never_raises():
    for data in (b"", b"\x00\xff\xfe garbage", b"Content-Type: multipart/mixed\r\n\r\nno boundary",
                 b"From: \r\nSubject: =?bogus?Q?x?=\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!notbase64"):
        message = parse_email_safely(data, CONTEXT)
        assert message.channel == "email" and message.external_id


@pytest.mark.parametrize("sample, reason", [
    (samples.out_of_office, "Auto-Submitted: auto-replied"),
    (samples.autoreply_header_only, "autoreply header"),
    (samples.bounce, "Auto-Submitted: auto-replied"),
    (samples.newsletter, "Precedence: bulk"),
])
def test_automated_mail_is_flagged_with_its_reason(sample, reason):
    message = parse(sample())
    assert message.raw["automated"] is True and message.raw["automated_reason"] == reason


@pytest.mark.parametrize("extra, reason", [
    ([("List-Id", "<team.example.org>")], "List-Id (mailing list)"),
    ([("X-Auto-Response-Suppress", "OOF")], "X-Auto-Response-Suppress"),
    ([("Return-Path", "<>")], "empty Return-Path (a bounce)"),
    ([("Precedence", "junk")], "Precedence: junk"),
    ([("Auto-Submitted", "auto-generated")], "Auto-Submitted: auto-generated"),
])
def test_each_automated_marker_alone(extra, reason):
    data = samples.raw([("From", "x@example.org"), ("Subject", "Hello"), *extra], "body")
    assert parse(data).raw["automated_reason"] == reason


def test_report_postmaster_and_autoreply_subjects_are_automated_and_auto_submitted_no_is_not():
    report = samples.raw([("From", "someone@example.org"),
                          ("Content-Type", 'multipart/report; report-type=delivery-status; boundary="b"')],
                         "--b\nContent-Type: text/plain\n\nfailed\n--b--\n")
    assert parse(report).raw["automated_reason"] == "multipart/report (delivery-status)"
    postmaster = samples.raw([("From", "Postmaster@example.org")], "x")
    assert parse(postmaster).raw["automated_reason"] == "postmaster sender"
    oof = samples.raw([("From", "a@example.org"), ("Subject", "Automatic reply: hello")], "away")
    assert parse(oof).raw["automated_reason"] == "autoreply subject"
    human = samples.raw([("From", "a@example.org"), ("Auto-Submitted", "no")], "hi")
    assert parse(human).raw["automated"] is False


def test_mail_from_our_own_address_is_outbound_with_the_contact_as_participant():
    message = parse(samples.from_owner())
    assert message.direction == OUTBOUND and message.sender == Handle("email", samples.OWNER)
    assert Handle("email", "anna.schmidt@example.org") in message.participants
    assert message.thread_id == "<plain-1@example.org>"
    assert message.raw["automated_reason"] == "sent from our own address"


def test_outlook_reply_block_is_cut():
    assert parse(samples.outlook_reply()).text == "Yes, please send the contract."


@pytest.mark.parametrize("text, expected", [
    ("Sounds good.\n\nOn Mon, 3 Mar 2025 at 10:00, Bob <bob@example.com> wrote:\n> Friday?\n", "Sounds good."),
    ("Ja, gerne.\n\nAm 03.03.2025 um 10:00 schrieb Bob <bob@example.com>:\n> Zeit?\n", "Ja, gerne."),
    ("Short answer\n> quoted one\n> quoted two\n", "Short answer"),
    ("> question one\nanswer one\n> question two\nanswer two\n", "answer one\nanswer two"),
    ("Yes.\n\n-----Original Message-----\nFrom: Bob\nSent: Monday\nTo: me\nSubject: x\n\nold\n", "Yes."),
    ("> everything is quoted\n", "> everything is quoted"),
])
def test_quoted_history_is_stripped(text, expected):
    assert strip_quoted(text) == expected


def test_html_to_text_blocks_lists_links_and_quotes():
    html = ("<p>Hi&nbsp;there</p><ul><li>one</li><li>two</li></ul><script>x()</script>"
            "<a href='https://example.org/a'>the link</a><blockquote>old</blockquote>")
    assert html_to_text(html) == "Hi there\n\n- one\n- two\n\nthe link <https://example.org/a>\n\n> old"


@pytest.mark.parametrize("subject, normalized, reply", [
    ("Re: AW: SV: Angebot", "Angebot", "Re: Angebot"),
    ("Fwd: Re: Plan", "Plan", "Re: Fwd: Re: Plan"),
    ("RE[2]: Invoice", "Invoice", "Re: Invoice"),
    ("Hello", "Hello", "Re: Hello"),
])
def test_subject_normalisation(subject, normalized, reply):
    assert normalize_subject(subject) == normalized and reply_subject(subject) == reply
