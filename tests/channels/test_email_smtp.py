"""Sending replies over SMTP to a real server (aiosmtpd on a free port): threading headers, a
Message-ID stable across retries, multipart/alternative, Auto-Submitted, and which failures are
worth retrying."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import aiosmtplib
import pytest

from channels.base import OutboundMessage
from channels.email import EmailChannel
from channels.email_compose import classify_smtp_error, message_id_for, reference_chain
from hub.settings import EmailSettings
from tests.channels.fakes.dovecot import free_port
from tests.channels.fakes.smtp_server import SmtpServer

pytest_plugins = ["tests.channels.fakes.email_fixtures"]

OWNER = "owner@example.com"
REPLY = OutboundMessage(channel="email", thread_id="<root@example.org>", text="Saturday at 10 works.\n\nOwner",
                        idempotency_key="outbox-uid-1", recipient="Anna.Schmidt@example.org",
                        subject="Re: Booking a portrait session", reply_to_external_id="<second@example.org>",
                        references=("<root@example.org>", "hash:0123", "<second@example.org>"))


class FixedClock:
    def now(self) -> datetime:
        return datetime(2025, 3, 3, 12, 0, tzinfo=timezone.utc)


def channel_for(port: int, **overrides: object) -> EmailChannel:
    settings = EmailSettings(enabled=True, address=OWNER, display_name="Olga Owner", smtp_host="127.0.0.1",
                             smtp_port=port, smtp_starttls=False, **overrides)
    return EmailChannel(settings, clock=FixedClock())


async def test_reply_carries_threading_headers_and_both_bodies(smtp_server: SmtpServer):
    result = await channel_for(smtp_server.port).send(REPLY)
    assert result.ok and result.provider_message_id == message_id_for("outbox-uid-1", OWNER)
    (received,) = smtp_server.received
    assert received.mail_from == OWNER and received.rcpt_tos == ("anna.schmidt@example.org",)
    mail = received.message
    assert mail["From"] == "Olga Owner <owner@example.com>" and mail["To"] == "anna.schmidt@example.org"
    assert mail["Subject"] == "Re: Booking a portrait session"
    assert mail["Message-ID"] == result.provider_message_id
    assert mail["In-Reply-To"] == "<second@example.org>"
    assert mail["References"] == "<root@example.org> <second@example.org>"
    assert mail.get_content_type() == "multipart/alternative" and mail["Auto-Submitted"] is None
    plain, html = mail.get_payload()
    assert plain.get_content_type() == "text/plain" and plain.get_content().replace("\r\n", "\n").strip() == REPLY.text
    assert html.get_content_type() == "text/html" and "<p>Saturday at 10 works.</p>" in html.get_content()


async def test_automated_send_is_marked_and_capped_per_thread(smtp_server: SmtpServer):
    channel = channel_for(smtp_server.port, max_automated_per_thread=1)
    follow_up = replace(REPLY, idempotency_key="follow-up-1", automated=True, html="<p>Any news?</p>")
    assert (await channel.send(follow_up)).ok
    assert smtp_server.received[0].message["Auto-Submitted"] == "auto-replied"
    assert "<p>Any news?</p>" in smtp_server.received[0].message.get_payload()[1].get_content()
    second = await channel.send(replace(follow_up, idempotency_key="follow-up-2"))
    assert not second.ok and not second.retryable and len(smtp_server.received) == 1


async def test_a_retry_after_a_4xx_reuses_the_message_id(smtp_server: SmtpServer):
    smtp_server.handler.data_replies.append("451 4.3.0 Try again later")
    channel = channel_for(smtp_server.port)
    first = await channel.send(REPLY)
    assert not first.ok and first.retryable and "451" in (first.error or "")
    again = await channel.send(REPLY)
    assert again.ok and again.provider_message_id == message_id_for(REPLY.idempotency_key, OWNER)
    assert [r.message["Message-ID"] for r in smtp_server.received] == [again.provider_message_id]


async def test_a_5xx_is_final(smtp_server: SmtpServer):
    smtp_server.handler.rcpt_replies.append("550 5.1.1 No such user here")
    result = await channel_for(smtp_server.port).send(REPLY)
    assert not result.ok and not result.retryable and "550" in (result.error or "")


async def test_an_unreachable_server_is_retryable():
    result = await channel_for(free_port()).send(REPLY)
    assert not result.ok and result.retryable


async def test_no_address_for_the_thread_is_a_final_failure(smtp_server: SmtpServer):
    result = await channel_for(smtp_server.port).send(replace(REPLY, recipient="<root@example.org>"))
    assert not result.ok and not result.retryable and smtp_server.received == []


def test_message_id_is_deterministic_per_key():
    assert message_id_for("k", OWNER) == message_id_for("k", OWNER) != message_id_for("k2", OWNER)
    assert message_id_for("k", OWNER).endswith("@example.com>")


def test_references_start_at_the_root_skip_non_ids_and_stay_bounded():
    many = tuple(f"<m{i}@example.org>" for i in range(40))
    in_reply_to, references = reference_chain(replace(REPLY, thread_id="<root@x>", references=many,
                                                      reply_to_external_id="<m39@example.org>"))
    assert in_reply_to == "<m39@example.org>" and references[0] == "<root@x>"
    assert len(references) == 20 and references[-1] == "<m39@example.org>"


@pytest.mark.parametrize("exc, retryable", [
    (aiosmtplib.SMTPResponseException(421, "Service not available"), True),
    (aiosmtplib.SMTPDataError(452, "Insufficient storage"), True),
    (aiosmtplib.SMTPAuthenticationError(535, "Bad credentials"), False),
    (aiosmtplib.SMTPSenderRefused(553, "Not allowed", OWNER), False),
    (aiosmtplib.SMTPServerDisconnected("gone"), True),
    (aiosmtplib.SMTPConnectTimeoutError("slow"), True),
    (ConnectionRefusedError(111, "refused"), True),
])
def test_classification(exc, retryable):
    result = classify_smtp_error(exc)
    assert not result.ok and result.retryable is retryable
