"""Real-world shaped mail as raw bytes: the encodings, clients and robots an inbox sees."""

from __future__ import annotations

import base64
import quopri

OWNER = "owner@example.com"


def raw(headers: list[tuple[str, str]], body: bytes | str) -> bytes:
    head = "".join(f"{name}: {value}\r\n" for name, value in headers).encode("ascii")
    data = body.encode("ascii") if isinstance(body, str) else body
    return head + b"\r\n" + data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _b64(text: str, charset: str) -> str:
    encoded = base64.b64encode(text.encode(charset)).decode()
    return "\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76))


def _qp(text: str, charset: str) -> str:
    return quopri.encodestring(text.encode(charset)).decode("ascii")


def _base(message_id: str, subject: str, sender: str = "Anna Schmidt <Anna.Schmidt@Example.org>",
          date: str | None = "Mon, 03 Mar 2025 10:00:00 +0100", to: str = f"Owner <{OWNER}>") -> list[tuple[str, str]]:
    headers = [("From", sender), ("To", to), ("Subject", subject), ("Message-ID", message_id)]
    return headers + ([("Date", date)] if date else []) + [("MIME-Version", "1.0")]


def plain() -> bytes:
    return raw(_base("<plain-1@example.org>", "Booking a portrait session") +
               [("Content-Type", "text/plain; charset=utf-8")],
               "Hi! Are you free on Saturday for a portrait session?\n\nAnna\n")


def alternative_reply() -> bytes:
    """A reply in a thread: plain + HTML, quoted history below."""
    text = ("Saturday at 10 works for me.\n\nOn Mon, 3 Mar 2025 at 11:00, Owner <owner@example.com> wrote:\n"
            "> Would Saturday at 10 suit you?\n>\n> Owner\n")
    html = ("<div>Saturday at 10 works for me.</div><div class=\"gmail_quote\">On Mon, 3 Mar 2025 at 11:00, "
            "Owner &lt;owner@example.com&gt; wrote:<blockquote>Would Saturday at 10 suit you?</blockquote></div>")
    headers = _base("<reply-2@example.org>", "Re: Booking a portrait session",
                    date="Mon, 03 Mar 2025 12:00:00 +0100") + [
        ("In-Reply-To", "<owner-reply-1@example.com>"),
        ("References", "<plain-1@example.org> <owner-reply-1@example.com>"),
        ("Content-Type", 'multipart/alternative; boundary="alt"')]
    body = (f"--alt\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n{text}\n"
            f"--alt\nContent-Type: text/html; charset=utf-8\n\n{html}\n--alt--\n")
    return raw(headers, body.encode("utf-8"))


def html_only_cp1252() -> bytes:
    html = ("<html><head><style>p {color: red}</style></head><body><p>Hello,</p><p>the price is 120 \u20ac "
            "\u2013 \u201cfinal\u201d.</p><div class=\"gmail_quote\">On Sun, Mar 2, 2025 Owner wrote:"
            "<blockquote>What is the price?</blockquote></div></body></html>")
    return raw(_base("<html-3@example.net>", "Price", sender="Bernd <bernd@example.net>") +
               [("Content-Type", "text/html; charset=windows-1252"),
                ("Content-Transfer-Encoding", "quoted-printable")], _qp(html, "cp1252"))


def latin1_qp() -> bytes:
    text = "Grüße aus Köln! Können wir am Dienstag telefonieren?\n"
    return raw(_base("<latin1-4@example.de>", "=?iso-8859-1?Q?Gr=FC=DFe_aus_K=F6ln?=",
                     sender="=?iso-8859-1?Q?J=FCrgen_M=FCller?= <juergen@example.de>") +
               [("Content-Type", "text/plain; charset=iso-8859-1"),
                ("Content-Transfer-Encoding", "quoted-printable")], _qp(text, "latin-1"))


def iso2022jp_base64() -> bytes:
    text = "来週の打ち合わせは可能ですか？\n"
    subject = "=?ISO-2022-JP?B?" + base64.b64encode("打ち合わせ".encode("iso-2022-jp")).decode() + "?="
    name = "=?ISO-2022-JP?B?" + base64.b64encode("山田太郎".encode("iso-2022-jp")).decode() + "?="
    return raw(_base("<jp-5@example.jp>", subject, sender=f"{name} <taro@example.jp>") +
               [("Content-Type", "text/plain; charset=ISO-2022-JP"), ("Content-Transfer-Encoding", "base64")],
               _b64(text, "iso-2022-jp"))


def cp1252_base64() -> bytes:
    text = "It\u2019s \u20ac50 \u2014 ok?\n"
    return raw(_base("<cp-6@example.com>", "=?utf-8?B?" + base64.b64encode("Quote – €50".encode()).decode() + "?=",
                     sender="\"O'Brien, Pat\" <pat@example.com>") +
               [("Content-Type", "text/plain; charset=windows-1252"), ("Content-Transfer-Encoding", "base64")],
               _b64(text, "cp1252"))


def with_attachment() -> bytes:
    pdf = base64.b64encode(b"%PDF-1.4 " + b"x" * 1000).decode()
    body = ("--mix\nContent-Type: text/plain; charset=utf-8\n\nPlease find the invoice attached.\n"
            "--mix\nContent-Type: application/pdf; name=\"invoice.pdf\"\n"
            "Content-Disposition: attachment; filename*=utf-8''Rechnung%20M%C3%A4rz.pdf\n"
            f"Content-Transfer-Encoding: base64\n\n{pdf}\n"
            "--mix\nContent-Type: image/png\nContent-Disposition: inline; filename=\"logo.png\"\n"
            "Content-Transfer-Encoding: base64\n\niVBORw0KGgo=\n--mix--\n")
    return raw(_base("<att-7@example.org>", "Invoice") + [("Content-Type", 'multipart/mixed; boundary="mix"')],
               body)


def forwarded_inline() -> bytes:
    text = ("Could you take this one?\n\n---------- Forwarded message ---------\n"
            "From: Carl Client <carl@client.example>\nDate: Sun, Mar 2, 2025 at 9:00 AM\n"
            "Subject: Wedding in June\nTo: Anna <anna.schmidt@example.org>\n\n"
            "We are looking for a photographer on 14 June.\n")
    return raw(_base("<fwd-8@example.org>", "Fwd: Wedding in June") +
               [("Content-Type", "text/plain; charset=utf-8")], text)


def forwarded_attached() -> bytes:
    inner = raw([("From", "Dora <dora@example.com>"), ("Subject", "Headshots"), ("Message-ID", "<inner@example.com>"),
                 ("Date", "Sat, 01 Mar 2025 08:00:00 +0000"), ("Content-Type", "text/plain; charset=utf-8")],
                "Do you do corporate headshots?\n").decode()
    body = ("--fw\nContent-Type: text/plain; charset=utf-8\n\nSee the attached request.\n"
            f"--fw\nContent-Type: message/rfc822\nContent-Disposition: attachment\n\n{inner}\n--fw--\n")
    return raw(_base("<fwd-9@example.org>", "Fw: Headshots") + [("Content-Type", 'multipart/mixed; boundary="fw"')],
               body)


def missing_date() -> bytes:
    return raw(_base("<nodate-10@example.org>", "No date here", date=None) +
               [("Content-Type", "text/plain; charset=utf-8")], "This message has no Date header.\n")


def malformed_from() -> bytes:
    return raw([("From", '"Broken <name'), ("Reply-To", "Broken Person <broken@example.org>"),
                ("To", OWNER), ("Subject", "Broken from"), ("Message-ID", "<broken-11@example.org>"),
                ("Date", "not a date at all"), ("Content-Type", "text/plain; charset=utf-8")],
               "My mail client is odd.\n")


def no_message_id() -> bytes:
    return raw([("From", "Eve <eve@example.org>"), ("To", OWNER), ("Subject", "No id"),
                ("Date", "Tue, 04 Mar 2025 09:00:00 +0000"), ("Content-Type", "text/plain")], "Hello without an id.\n")


def out_of_office() -> bytes:
    return raw(_base("<oof-12@example.org>", "Automatic reply: Booking a portrait session") +
               [("Auto-Submitted", "auto-replied"), ("X-Auto-Response-Suppress", "All"),
                ("In-Reply-To", "<owner-reply-1@example.com>"), ("Content-Type", "text/plain; charset=utf-8")],
               "I am out of the office until Monday.\n")


def autoreply_header_only() -> bytes:
    return raw(_base("<oof-13@example.net>", "Re: Price", sender="Bernd <bernd@example.net>") +
               [("X-Autoreply", "yes"), ("Content-Type", "text/plain")], "Thanks, I will get back to you.\n")


def bounce() -> bytes:
    original = raw([("From", OWNER), ("To", "gone@nowhere.example"), ("Subject", "Hello"),
                    ("Message-ID", "<owner-sent-9@example.com>")], "Hello\n").decode()
    body = ("--dsn\nContent-Type: text/plain; charset=us-ascii\n\nThis is the mail system at host mx.example.com.\n"
            "I'm sorry to have to inform you that your message could not be delivered.\n"
            "--dsn\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.com\n\n"
            "Final-Recipient: rfc822; gone@nowhere.example\nAction: failed\nStatus: 5.1.1\n\n"
            f"--dsn\nContent-Type: message/rfc822\n\n{original}\n--dsn--\n")
    return raw([("Return-Path", "<>"), ("From", "MAILER-DAEMON@mx.example.com (Mail Delivery System)"),
                ("To", OWNER), ("Subject", "Undelivered Mail Returned to Sender"),
                ("Message-ID", "<bounce-14@mx.example.com>"), ("Date", "Mon, 03 Mar 2025 10:05:00 +0000"),
                ("Auto-Submitted", "auto-replied"),
                ("Content-Type", 'multipart/report; report-type=delivery-status; boundary="dsn"')], body)


def newsletter() -> bytes:
    return raw(_base("<news-15@mail.shop.example>", "Spring sale!", sender="Shop <news@shop.example>") +
               [("List-Id", "Shop news <news.shop.example>"), ("List-Unsubscribe", "<mailto:unsub@shop.example>"),
                ("Precedence", "bulk"), ("Content-Type", "text/plain")], "Everything 20% off.\n")


def outlook_reply() -> bytes:
    text = ("Yes, please send the contract.\n\n________________________________\n"
            "From: Owner <owner@example.com>\nSent: Monday, March 3, 2025 11:00 AM\n"
            "To: Frank <frank@example.com>\nSubject: Contract\n\nShall I send the contract?\n")
    return raw(_base("<outlook-16@example.com>", "RE: Contract", sender="Frank <frank@example.com>") +
               [("In-Reply-To", "<owner-contract@example.com>"), ("Content-Type", "text/plain; charset=utf-8")], text)


def from_owner() -> bytes:
    return raw(_base("<mine-17@example.com>", "Re: Booking a portrait session", sender=f"Owner <{OWNER}>",
                     to="Anna <anna.schmidt@example.org>") + [("References", "<plain-1@example.org>"),
                ("Content-Type", "text/plain")], "See you then!\n")


def subject_only_reply() -> bytes:
    """A reply whose client dropped In-Reply-To and References: only the subject threads it."""
    return raw(_base("<subj-18@example.org>", "Re: Booking a portrait session",
                     date="Mon, 03 Mar 2025 13:00:00 +0100") + [("Content-Type", "text/plain")],
               "Also, can my dog come along?\n")


def mixed_mailbox() -> dict[str, bytes]:
    """Every kind above, keyed by a short name (the order they are delivered in)."""
    return {"plain": plain(), "html_only": html_only_cp1252(), "latin1": latin1_qp(), "jp": iso2022jp_base64(),
            "cp1252": cp1252_base64(), "attachment": with_attachment(), "forwarded": forwarded_inline(),
            "forwarded_attached": forwarded_attached(), "missing_date": missing_date(),
            "malformed_from": malformed_from(), "no_id": no_message_id(), "out_of_office": out_of_office(),
            "bounce": bounce(), "newsletter": newsletter(), "reply": alternative_reply()}
