"""End to end through the app: mail read from a real Dovecot by the channel the hub builds, a
draft from the bundled model, the owner's approval over HTTP, the reply at a real SMTP server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa

from hub.brain_services import BrainServices
from hub.state import CHANNELS
from storage.models import Message, OutboxItem, Suggestion
from tests.channels.fakes import mail_samples as samples
from tests.channels.fakes.dovecot import PASSWORD, USER, Dovecot
from tests.channels.fakes.smtp_server import SmtpServer
from tests.conftest import make_settings, start_hub

pytest_plugins = ["tests.channels.fakes.email_fixtures"]
WAIT = 60  # seconds: a bound on a hang, never a pause


async def test_inbound_mail_is_drafted_and_the_approved_reply_is_sent_threaded(
        tmp_path: Path, database_url: str, clock, bundled_llm, shared_embedder, dovecot: Dovecot,
        smtp_server: SmtpServer):
    settings = make_settings(tmp_path, database_url, channels={"email": {
        "enabled": True, "address": USER, "display_name": "Olga Owner", "imap_host": "127.0.0.1",
        "imap_port": dovecot.port, "imap_tls": False, "imap_user": USER, "imap_password": PASSWORD,
        "smtp_host": "127.0.0.1", "smtp_port": smtp_server.port, "smtp_starttls": False}})
    hub = await start_hub(settings, clock, brain=BrainServices(settings, llm=bundled_llm, embedder=shared_embedder))
    try:
        channel = hub.app[CHANNELS]["email"]
        await asyncio.wait_for(channel.wait_synced(0), WAIT)
        uids = [await dovecot.append(mail) for mail in (samples.plain(), samples.out_of_office(), samples.bounce())]
        await asyncio.wait_for(channel.wait_synced(uids[-1]), WAIT)
        await hub.worker.run_until_idle()

        inquiry = await hub.db.first(sa.select(Message).where(Message.external_id == "<plain-1@example.org>"))
        drafts = await hub.db.rows(sa.select(Suggestion))
        assert len(await hub.db.rows(sa.select(Message))) == 3
        assert [d.reply_to_message_id for d in drafts] == [inquiry.id]  # none for the autoreply or the bounce

        resp = await hub.request("POST", f"/api/responses/{drafts[0].uid}/action", json={"action": "accept"})
        assert resp.status == 200, await resp.text()
        await hub.worker.run_until_idle()
        (outbox,) = await hub.db.rows(sa.select(OutboxItem))
    finally:
        await hub.client.close()

    (received,) = smtp_server.received
    mail = received.message
    assert received.rcpt_tos == ("anna.schmidt@example.org",) and mail["To"] == "anna.schmidt@example.org"
    assert mail["From"] == "Olga Owner <owner@example.com>"
    assert mail["Subject"] == "Re: Booking a portrait session"
    assert mail["In-Reply-To"] == "<plain-1@example.org>" and mail["References"] == "<plain-1@example.org>"
    assert mail["Message-ID"] == outbox.provider_message_id and outbox.status == "sent"
    assert mail.get_content_type() == "multipart/alternative" and mail["Auto-Submitted"] is None
