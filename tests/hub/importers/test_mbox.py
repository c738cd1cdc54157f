"""mbox parsing: threading, RFC 2047 headers, plain/HTML bodies, attachments, direction, dates, errors."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from channels.base import INBOUND, OUTBOUND, Handle
from hub.importers import ImportFileError, mbox

UTC = ZoneInfo("UTC")
OWNER = "bob@example.org"


def mail(headers: str, body: str = "hello", envelope: str = "x@example.com Mon Jan  1 10:00:00 2024") -> str:
    return f"From {envelope}\n{headers.strip()}\n\n{body}\n\n"


ROOT = mail("""
From: =?utf-8?q?Ana_M=C3=BCller?= <Ana@Example.com>
To: Bob <bob@example.org>
Subject: =?utf-8?q?Caf=C3=A9?= order
Date: Mon, 1 Jan 2024 10:00:00 +0100
Message-ID: <a1@example.com>
""", "Hi Bob, two coffees please.")
REPLY = mail("""
From: Bob <BOB@example.org>
To: Ana <ana@example.com>
Subject: Re: Café order
Date: Mon, 1 Jan 2024 11:00:00 +0100
Message-ID: <b1@example.org>
In-Reply-To: <a1@example.com>
References: <a1@example.com>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="XX"
""", """--XX
Content-Type: text/plain; charset=utf-8

Sure thing!

On Mon, 1 Jan 2024 Ana wrote:
> Hi Bob, two coffees please.
--XX
Content-Type: text/html; charset=utf-8

<p>Sure thing!</p>
--XX--""")
FOLLOW_UP = mail("""
From: ana@example.com
To: bob@example.org
Subject: Re: Café order
Date: Tue, 2 Jan 2024 09:00:00 +0000
Message-ID: <a2@example.com>
In-Reply-To: <b1@example.org>
References: <a1@example.com> <b1@example.org>
""", "Thanks!")


def write(tmp_path: Path, *mails: str) -> Path:
    path = tmp_path / "inbox.mbox"
    path.write_text("".join(mails), encoding="utf-8")
    return path


def parse(path: Path, owners: tuple[str, ...] = (OWNER,), zone: ZoneInfo = UTC):
    return mbox.parse_file(path, owners=list(owners), zone=zone)


def test_thread_follows_references_like_the_email_channel(tmp_path):
    [thread] = parse(write(tmp_path, FOLLOW_UP, ROOT, REPLY))  # out of order in the file
    assert thread.thread_id == "<a1@example.com>" and not thread.is_group
    assert [m.external_id for m in thread.messages] == ["<a1@example.com>", "<b1@example.org>", "<a2@example.com>"]
    assert {m.channel for m in thread.messages} == {"email"}
    assert thread.messages[2].reply_to_external_id == "<b1@example.org>"
    assert thread.display_name == "Café order"


def test_in_reply_to_alone_threads_under_the_message_replied_to(tmp_path):
    loose = mail("From: ana@example.com\nTo: bob@example.org\nSubject: Re: Café order\n"
                 "Date: Tue, 2 Jan 2024 09:00:00 +0000\nMessage-ID: <a3@example.com>\nIn-Reply-To: <b1@example.org>")
    threads = parse(write(tmp_path, ROOT, REPLY, loose))
    assert [t.thread_id for t in threads] == ["<a1@example.com>", "<b1@example.org>"]  # as channels.email does


def test_headers_are_decoded_and_direction_follows_the_owner_address(tmp_path):
    root, reply, follow_up = parse(write(tmp_path, ROOT, REPLY, FOLLOW_UP))[0].messages
    assert (root.sender_name, root.subject) == ("Ana Müller", "Café order")
    assert root.sender == Handle("email", "ana@example.com")
    assert [m.direction for m in (root, reply, follow_up)] == [INBOUND, OUTBOUND, INBOUND]
    assert reply.participants == (Handle("email", "ana@example.com"),)
    assert root.sent_at == datetime(2024, 1, 1, 9, 0, tzinfo=timezone.utc)
    assert root.raw["line"] == 1 and root.raw["export"] == "mbox"


def test_text_is_the_new_text_with_the_whole_body_kept(tmp_path):
    reply = parse(write(tmp_path, ROOT, REPLY))[0].messages[1]
    assert reply.text == "Sure thing!"
    assert "> Hi Bob, two coffees please." in reply.raw["text_full"]
    assert reply.html is not None and "<p>Sure thing!</p>" in reply.html


def test_html_only_mail_is_converted_to_text_and_attachments_listed(tmp_path):
    html_mail = mail("""
From: shop@example.net
To: bob@example.org
Subject: Invoice
Date: Wed, 3 Jan 2024 09:00:00 +0000
Message-ID: <inv@example.net>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="MM"
""", """--MM
Content-Type: text/html; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

<html><head><style>p {color: red}</style></head><body><p>Your caf=E9 invoice</p><p>Thanks</p></body></html>
--MM
Content-Type: application/pdf; name="invoice.pdf"
Content-Disposition: attachment; filename="invoice.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--MM--""")
    [message] = parse(write(tmp_path, html_mail))[0].messages
    assert message.text == "Your café invoice\n\nThanks" and "color: red" not in message.text
    [attachment] = message.attachments
    assert (attachment.name, attachment.mime_type, attachment.size) == ("invoice.pdf", "application/pdf", 9)


def test_subject_joins_a_thread_only_with_a_shared_correspondent(tmp_path):
    no_headers = mail("""
From: Ana <ana@example.com>
To: bob@example.org
Subject: RE: Café order
Date: Wed, 3 Jan 2024 09:00:00 +0000
Message-ID: <a3@example.com>
""", "one more")
    stranger = mail("""
From: carl@example.net
To: bob@example.org
Subject: Re: Café order
Date: Wed, 3 Jan 2024 10:00:00 +0000
Message-ID: <c1@example.net>
""", "me too")
    threads = parse(write(tmp_path, ROOT, no_headers, stranger))
    assert [[m.external_id for m in t.messages] for t in threads] == [
        ["<a1@example.com>", "<a3@example.com>"], ["<c1@example.net>"]]


def test_missing_ids_are_stable_and_the_owner_can_be_named(tmp_path):
    group = mail("""
From: Bob <bob@example.org>
To: ana@example.com, Carl <carl@example.net>
Cc: bob@example.org
Subject: Plans
Date: Thu, 4 Jan 2024 09:00:00 +0000
""", "Friday?")
    [message] = parse(write(tmp_path, group), owners=("Bob",))[0].messages
    again = parse(write(tmp_path, group), owners=("Bob",))[0].messages[0]
    assert message.direction == OUTBOUND
    assert message.external_id.startswith("hash:") and message.external_id == again.external_id
    assert message.participants == (Handle("email", "ana@example.com"), Handle("email", "carl@example.net"))


def test_without_an_owner_everything_is_inbound(tmp_path):
    messages = parse(write(tmp_path, ROOT, REPLY), owners=())[0].messages
    assert {m.direction for m in messages} == {INBOUND}


def test_missing_date_falls_back_to_the_envelope_in_the_owners_zone(tmp_path):
    undated = mail("From: ana@example.com\nTo: bob@example.org\nSubject: hi\nMessage-ID: <u@x>",
                   envelope="ana@example.com Mon Jul  1 10:00:00 2024")
    [message] = parse(write(tmp_path, undated), zone=ZoneInfo("America/New_York"))[0].messages
    assert message.sent_at == datetime(2024, 7, 1, 14, 0, tzinfo=timezone.utc)


def test_not_an_mbox_is_refused_at_its_first_line(tmp_path):
    path = tmp_path / "notes.mbox"
    path.write_text("\nDear diary,\nFrom today on\n")
    with pytest.raises(ImportFileError, match=r"notes.mbox: line 2: not an mbox file"):
        parse(path)


def test_a_message_without_a_usable_date_names_its_line(tmp_path):
    bad = mail("From: ana@example.com\nSubject: hi\nDate: someday", envelope="ana@example.com")
    path = write(tmp_path, ROOT, bad)
    with pytest.raises(ImportFileError) as caught:
        parse(path)
    assert str(caught.value) == (f"{path}: line {ROOT.count(chr(10)) + 1}: no valid Date header (got 'someday') "
                                 "and no date on the 'From ' line")


def test_a_message_without_a_sender_is_refused(tmp_path):
    path = write(tmp_path, mail("To: bob@example.org\nSubject: hi\nDate: Mon, 1 Jan 2024 10:00:00 +0000"))
    with pytest.raises(ImportFileError, match=r"line 1: no sender address"):
        parse(path)
