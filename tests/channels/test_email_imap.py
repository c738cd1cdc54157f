"""The IMAP loop against a real Dovecot, storing through the hub's real pipeline (SQLite or
PostgreSQL): a mixed mailbox, IDLE and the poll fallback, a crash between fetching and storing,
a UIDVALIDITY change, and a server that goes away and comes back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from channels.base import ChannelEvent, OutboundMessage
from channels.email import EmailChannel
from channels.email_state import MemoryStateStore, StateStore
from hub.channel_events import apply_events
from hub.settings import EmailSettings
from hub.state import CLOCK
from storage.models import Conversation, Message
from tests.channels.fakes import mail_samples as samples
from tests.channels.fakes.channel_state import DatabaseStateStore
from tests.channels.fakes.dovecot import PASSWORD, USER, Dovecot
from tests.channels.fakes.smtp_server import SmtpServer
from tests.conftest import Hub

pytest_plugins = ["tests.channels.fakes.email_fixtures"]
FAST = {"reconnect_initial": 0.05, "reconnect_max": 0.2, "timeout": 10.0}
WAIT = 30  # seconds: a bound on a hang, never a pause


def email_settings(server: Dovecot, **overrides: Any) -> EmailSettings:
    values: dict[str, Any] = {"enabled": True, "address": USER, "display_name": "Owner", "imap_host": "127.0.0.1",
                              "imap_port": server.port, "imap_tls": False, "imap_user": USER,
                              "imap_password": PASSWORD, "poll_seconds": 3600, **overrides}
    return EmailSettings(**values)


def storing(hub: Hub) -> Callable[[list[ChannelEvent]], Awaitable[None]]:
    async def emit(events: list[ChannelEvent]) -> None:
        await apply_events(hub.app, events)
    return emit


async def started(hub: Hub, server: Dovecot, state: StateStore | None = None, emit: Any = None,
                  options: dict[str, Any] | None = None, **settings: Any) -> EmailChannel:
    channel = EmailChannel(email_settings(server, **settings), clock=hub.app[CLOCK],
                           state=state or MemoryStateStore(), imap_options={**FAST, **(options or {})})
    await channel.start(emit or storing(hub))
    await asyncio.wait_for(channel.wait_synced(0), WAIT)
    return channel


async def stored(hub: Hub) -> dict[str, Any]:
    rows = await hub.db.rows(sa.select(Message).where(Message.channel == "email"))
    return {row.external_id: row for row in rows}


async def test_mixed_mailbox_is_stored_through_idle(hub: Hub, dovecot: Dovecot):
    channel = await started(hub, dovecot)
    try:
        dovecot.deliver_file(samples.plain())  # as an MDA would, into Maildir/new
        mailbox = samples.mixed_mailbox()
        last = 0
        for name, data in mailbox.items():
            if name != "plain":
                last = await dovecot.append(data)
        await asyncio.wait_for(channel.wait_synced(last), WAIT)
        assert channel.watcher.idles >= 1  # woken by IDLE: the poll interval is an hour
    finally:
        await channel.stop()
    rows = await stored(hub)
    assert len(rows) == len(mailbox)
    plain, reply = rows["<plain-1@example.org>"], rows["<reply-2@example.org>"]
    assert plain.sender_handle == "email:anna.schmidt@example.org" and plain.sender_name == "Anna Schmidt"
    assert reply.conversation_id == plain.conversation_id and reply.text == "Saturday at 10 works for me."
    assert rows["<jp-5@example.jp>"].text == "来週の打ち合わせは可能ですか？"
    assert rows["<latin1-4@example.de>"].subject == "Grüße aus Köln"
    assert rows["<html-3@example.net>"].text.startswith("Hello,\n\nthe price is 120 €")
    assert [a["name"] for a in rows["<att-7@example.org>"].attachments] == ["Rechnung März.pdf", "logo.png"]
    assert "photographer on 14 June" in rows["<fwd-8@example.org>"].text
    assert rows["<broken-11@example.org>"].sender_handle == "email:broken@example.org"
    assert rows["<nodate-10@example.org>"].raw["date_source"] == "internaldate"
    automated = {key for key, row in rows.items() if row.raw.get("automated")}
    assert automated == {"<oof-12@example.org>", "<bounce-14@mx.example.com>", "<news-15@mail.shop.example>"}
    conversation = await hub.db.first(sa.select(Conversation).where(Conversation.id == plain.conversation_id))
    assert conversation.external_id == "<plain-1@example.org>" and conversation.message_count == 2


async def test_poll_fallback_when_the_server_has_no_idle(hub: Hub, dovecot_without_idle: Dovecot):
    channel = await started(hub, dovecot_without_idle, poll_seconds=0.1)
    try:
        uid = await dovecot_without_idle.append(samples.plain())
        await asyncio.wait_for(channel.wait_synced(uid), WAIT)
        assert channel.watcher.idles == 0
    finally:
        await channel.stop()
    assert list(await stored(hub)) == ["<plain-1@example.org>"]


async def test_idle_is_reissued_before_idle_seconds(hub: Hub, dovecot: Dovecot):
    channel = await started(hub, dovecot, idle_seconds=0.1)
    try:
        await asyncio.wait_for(channel.watcher.wait_until(lambda w: w.idles >= 3), WAIT)
        uid = await dovecot.append(samples.plain())
        await asyncio.wait_for(channel.wait_synced(uid), WAIT)
    finally:
        await channel.stop()
    assert list(await stored(hub)) == ["<plain-1@example.org>"]


def gated(hub: Hub, store_first: bool) -> tuple[Any, asyncio.Event]:
    """An emit that stops mid-way (before or after storing) until the test cancels the loop."""
    reached = asyncio.Event()

    async def emit(events: list[ChannelEvent]) -> None:
        if store_first:
            await apply_events(hub.app, events)
        reached.set()
        await asyncio.Event().wait()  # never set: only cancellation ends it
    return emit, reached


async def test_cancelled_between_fetching_and_storing_then_restarted(hub: Hub, dovecot: Dovecot):
    state = DatabaseStateStore(hub.db, "email")
    for store_first in (False, True):  # killed before the store, then after it but before the cursor
        uids = [await dovecot.append(samples.raw([("From", f"c{n}@example.org"), ("Subject", f"m{n}"),
                                                  ("Message-ID", f"<kill-{store_first}-{n}@example.org>")],
                                                 f"message {n}")) for n in range(3)]
        emit, reached = gated(hub, store_first)
        channel = EmailChannel(email_settings(dovecot), clock=hub.app[CLOCK], state=state, imap_options=FAST)
        await channel.start(emit)
        await asyncio.wait_for(reached.wait(), WAIT)
        await channel.stop()
        ours = [f"<kill-{store_first}-{n}@example.org>" for n in range(3)]
        assert sorted(set(await stored(hub)) & set(ours)) == (ours if store_first else [])
        restarted = await started(hub, dovecot, state=state)
        await asyncio.wait_for(restarted.wait_synced(uids[-1]), WAIT)
        await restarted.stop()
        assert sorted(set(await stored(hub)) & set(ours)) == ours
    assert len(await stored(hub)) == 6  # the unique (channel, external_id) took the second copies


async def test_uidvalidity_change_resyncs_without_duplicates(hub: Hub, dovecot: Dovecot, caplog):
    state = DatabaseStateStore(hub.db, "email")
    await dovecot.command("create", "Support")
    for data in (samples.plain(), samples.latin1_qp()):
        await dovecot.append(data, mailbox="Support")
    channel = await started(hub, dovecot, state=state, mailbox="Support")
    await asyncio.wait_for(channel.wait_synced(2), WAIT)
    before = channel.watcher.cursor
    await channel.stop()
    await dovecot.command("delete", "Support")
    await dovecot.command("create", "Support")
    for data in (samples.plain(), samples.latin1_qp(), samples.iso2022jp_base64()):
        last = await dovecot.append(data, mailbox="Support")
    caplog.set_level(logging.WARNING, logger="replydesk.channels.email")
    channel = await started(hub, dovecot, state=state, mailbox="Support")
    await asyncio.wait_for(channel.wait_synced(last), WAIT)
    await channel.stop()
    assert channel.watcher.cursor.uidvalidity != before.uidvalidity
    assert sorted(await stored(hub)) == ["<jp-5@example.jp>", "<latin1-4@example.de>", "<plain-1@example.org>"]
    assert any("UIDVALIDITY of Support changed" in r.getMessage() for r in caplog.records)


async def test_server_down_and_back_logs_once_each_and_loses_nothing(hub: Hub, dovecot: Dovecot, caplog):
    caplog.set_level(logging.INFO, logger="replydesk.channels.email")
    channel = await started(hub, dovecot)
    try:
        dovecot.stop()
        await asyncio.wait_for(channel.watcher.wait_until(lambda w: w.failures >= 4), WAIT)
        dovecot.deliver_file(samples.plain())  # arrives while the server is down
        dovecot.start()
        await dovecot.wait_ready()
        await asyncio.wait_for(channel.wait_synced(1), WAIT)
    finally:
        await channel.stop()
    messages = [r.getMessage() for r in caplog.records]
    assert sum("is unreachable" in m for m in messages) == 1
    assert sum("is reachable again" in m for m in messages) == 1
    assert list(await stored(hub)) == ["<plain-1@example.org>"]


async def test_subject_only_reply_joins_the_thread(hub: Hub, dovecot: Dovecot):
    channel = await started(hub, dovecot)
    try:
        await dovecot.append(samples.plain())
        uid = await dovecot.append(samples.subject_only_reply())
        await asyncio.wait_for(channel.wait_synced(uid), WAIT)
    finally:
        await channel.stop()
    rows = await stored(hub)
    follow_up = rows["<subj-18@example.org>"]
    assert follow_up.conversation_id == rows["<plain-1@example.org>"].conversation_id
    assert follow_up.raw["thread_by"] == "subject"


async def test_our_own_mail_is_stored_outbound(hub: Hub, dovecot: Dovecot):
    channel = await started(hub, dovecot)
    try:
        uid = await dovecot.append(samples.from_owner())
        await asyncio.wait_for(channel.wait_synced(uid), WAIT)
    finally:
        await channel.stop()
    (row,) = (await stored(hub)).values()
    assert row.direction == "outbound"


async def test_replies_go_to_the_threads_last_human_sender_and_automated_ones_are_capped(
        hub: Hub, dovecot: Dovecot, smtp_server: SmtpServer):
    channel = await started(hub, dovecot, smtp_host="127.0.0.1", smtp_port=smtp_server.port, smtp_starttls=False,
                            max_automated_per_thread=1)
    try:
        with_reply_to = samples.raw([("From", "Anna <anna.schmidt@example.org>"),
                                     ("Reply-To", "Bookings <bookings@example.org>"), ("Subject", "Re: Booking"),
                                     ("Message-ID", "<rt-1@example.org>"), ("References", "<plain-1@example.org>")],
                                    "Please answer to our bookings address.")
        for mail in (samples.plain(), with_reply_to, samples.out_of_office()):
            uid = await dovecot.append(mail)
        await asyncio.wait_for(channel.wait_synced(uid), WAIT)
        follow_up = OutboundMessage(channel="email", thread_id="<plain-1@example.org>", text="Any news?",
                                    idempotency_key="f1", recipient="<plain-1@example.org>", automated=True)
        assert (await channel.send(follow_up)).ok
        assert not (await channel.send(replace(follow_up, idempotency_key="f2"))).ok  # capped
        uid = await dovecot.append(samples.alternative_reply())  # the contact writes again: the cap resets
        await asyncio.wait_for(channel.wait_synced(uid), WAIT)
        assert (await channel.send(replace(follow_up, idempotency_key="f3"))).ok
    finally:
        await channel.stop()
    first, second = (r.message for r in smtp_server.received)
    assert first["To"] == "bookings@example.org" and first["Subject"] == "Re: Booking"
    assert second["To"] == "anna.schmidt@example.org"
    assert second["Subject"] == "Re: Booking a portrait session"
