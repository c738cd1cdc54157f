"""`replydesk import`: validate the whole file first, store once through the pipeline, learn the owner's
style, remember the turns. Runs in-process with a fake memory store, and once as a real process."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa

from brain.memory import MemoryStore, default_memory_path
from brain.style import StyleProfile
from hub import importer
from hub.brain_services import BrainServices
from hub.importer import detect_format, run_import_command
from storage import migrate
from storage.db import sync_url
from storage.models import Contact, Conversation, Job, Message, StyleProfileRow
from tests.conftest import make_settings
from tests.hub.test_cli import init, run

WHATSAPP = """\
1/15/24, 9:00 AM - Messages and calls are end-to-end encrypted. No one outside of this chat can read them.
1/15/24, 9:00 AM - Ana: Hi Bob! Do you still sell the espresso machine?
1/15/24, 9:05 AM - Bob: hey yes :) still have it, 120 euros
1/15/24, 9:06 AM - Ana: Great, can I pick it up on Saturday?
1/15/24, 9:10 AM - Bob: sure thing! see you saturday 😊
1/15/24, 9:11 AM - Ana: <Media omitted>
"""
TELEGRAM = {"personal_information": {"user_id": 42, "first_name": "Bob"}, "chats": {"list": [
    {"name": "Ana", "type": "personal_chat", "id": 777, "messages": [
        {"id": 1, "type": "message", "date_unixtime": "1705309200", "from": "Ana", "from_id": "user777",
         "text": "is the bike still for sale?"},
        {"id": 2, "type": "message", "date_unixtime": "1705309300", "from": "Bob", "from_id": "user42",
         "text": "yes! 200 and it's yours"}]},
    {"name": "Club", "type": "private_group", "id": 900, "messages": [
        {"id": 1, "type": "service", "date_unixtime": "1705309000", "actor": "Ana", "action": "create_group"},
        {"id": 2, "type": "message", "date_unixtime": "1705309400", "from": "Carl", "from_id": "user888",
         "text": "ride on sunday?"},
        {"id": 3, "type": "message", "date_unixtime": "1705309500", "from": "Bob", "from_id": "user42",
         "text": "count me in"}]}]}}
MBOX = """\
From ana@example.com Mon Jan 15 10:00:00 2024
From: Ana <ana@example.com>
To: Bob <bob@example.org>
Subject: Espresso machine
Date: Mon, 15 Jan 2024 10:00:00 +0000
Message-ID: <a1@example.com>

Is it still available?

From bob@example.org Mon Jan 15 11:00:00 2024
From: Bob <bob@example.org>
To: Ana <ana@example.com>
Subject: Re: Espresso machine
Date: Mon, 15 Jan 2024 11:00:00 +0000
Message-ID: <b1@example.org>
In-Reply-To: <a1@example.com>
References: <a1@example.com>

Yes, come by on Saturday.

> Is it still available?

From carl@example.net Tue Jan 16 09:00:00 2024
From: Carl <carl@example.net>
To: bob@example.org
Subject: Invoice
Date: Tue, 16 Jan 2024 09:00:00 +0000
Message-ID: <c1@example.net>

Invoice attached.
"""
MALFORMED = {  # each valid up to a broken message further down: the whole file is checked first
    "WhatsApp Chat with Ana.txt": (WHATSAPP + "1/32/24, 9:12 AM - Ana: bye\n", "line 7: invalid date"),
    "result.json": (json.dumps({"name": "Ana", "id": 777, "type": "personal_chat", "messages": [
        *TELEGRAM["chats"]["list"][0]["messages"], {"id": 3, "type": "message", "from_id": "user777"}]}),
        'messages[2]: a message needs "date_unixtime" or "date"'),
    "inbox.mbox": (MBOX + "From x\nFrom: x@example.com\nDate: never\n\nhi\n",
                   f"line {MBOX.count(chr(10)) + 1}: no valid Date header"),
}


class FakeMemory:
    """Records what the importer would remember; fails on demand."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.error = error

    async def store(self, **kwargs: Any) -> list[str]:
        if self.error is not None:
            raise self.error
        self.calls.append(kwargs)
        return []

    async def recall(self, *, user_id: str, contact_id: str, query: str, top_k: int = 3,
                     conversation_id: str | None = None) -> list[SimpleNamespace]:
        """What a real store would find for an exact text: the stored turns with that content."""
        found = [SimpleNamespace(source_message_ids=[m["message_id"]]) for call in self.calls
                 if (call["user_id"], call["contact_id"], call["conversation_id"]) == (user_id, contact_id,
                                                                                     conversation_id)
                 for m in call["messages"] if m["content"] == query]
        return found[:top_k]


@pytest.fixture
def settings(tmp_path, database_url):
    return make_settings(tmp_path, database_url, owner={"name": "Bob", "email": "bob@example.org",
                                                        "timezone": "America/New_York"})


def write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def do_import(settings, path: Path, *, owner: str = "", memory: FakeMemory | None = None) -> tuple[int, FakeMemory]:
    memory = memory or FakeMemory()
    args = argparse.Namespace(path=str(path), format="auto", owner=owner)
    return run_import_command(settings, args, services=BrainServices(settings, memory=memory)), memory


def query(url: str, statement: Any) -> list[Any]:
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return list(conn.execute(statement).all())
    finally:
        engine.dispose()


def counts(url: str) -> dict[str, int]:
    tables = (Contact, Conversation, Message, Job, StyleProfileRow)
    found = query(url, sa.select(*(sa.select(sa.func.count()).select_from(t).scalar_subquery() for t in tables)))
    return dict(zip((t.__tablename__ for t in tables), found[0]))


def test_whatsapp_import_stores_each_message_once_and_queues_no_drafts(settings, database_url, tmp_path, capsys):
    path = write(tmp_path, "WhatsApp Chat with Ana.txt", WHATSAPP)
    assert do_import(settings, path)[0] == 0
    assert "imported 5 messages in 1 conversation (0 already there)" in capsys.readouterr().out
    after_first = counts(database_url)
    assert after_first == {"contacts": 1, "conversations": 1, "messages": 5, "jobs": 0, "style_profiles": 2}
    assert do_import(settings, path)[0] == 0
    assert "imported 0 messages in 1 conversation (5 already there)" in capsys.readouterr().out
    assert counts(database_url) == after_first
    overall = sa.select(StyleProfileRow.samples_count).where(StyleProfileRow.contact_id == "")
    assert query(database_url, overall) == [(2,)]  # the re-import taught nothing twice


def test_directions_and_times_are_stored_in_utc(settings, database_url, tmp_path):
    do_import(settings, write(tmp_path, "WhatsApp Chat with Ana.txt", WHATSAPP))
    stored = query(database_url, sa.select(Message.direction, Message.sent_at, Message.text, Message.attachments)
                   .order_by(Message.sent_at, Message.id))
    assert [row.direction for row in stored] == ["inbound", "outbound", "inbound", "outbound", "inbound"]
    assert stored[0].sent_at == datetime(2024, 1, 15, 14, 0, tzinfo=timezone.utc)  # 9:00 AM New York
    assert stored[-1].attachments[0]["kind"] == "media"
    [conversation] = query(database_url, sa.select(Conversation.display_name, Conversation.status,
                                                   Conversation.message_count, Contact.display_name)
                           .join(Contact, Contact.id == Conversation.contact_id))
    assert tuple(conversation) == ("Ana", "needs_reply", 5, "Ana")


def test_a_long_thread_is_stored_in_batches(settings, database_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(importer, "BATCH", 2)
    do_import(settings, write(tmp_path, "WhatsApp Chat with Ana.txt", WHATSAPP))
    assert "imported 5 messages in 1 conversation" in capsys.readouterr().out
    assert query(database_url, sa.select(Conversation.message_count))[0][0] == 5


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_a_malformed_file_is_refused_whole_and_writes_nothing(settings, database_url, tmp_path, capsys, name):
    do_import(settings, write(tmp_path, "WhatsApp Chat with Ana.txt", WHATSAPP))
    before, _ = counts(database_url), capsys.readouterr()
    content, where = MALFORMED[name]
    (tmp_path / "bad").mkdir()
    path = write(tmp_path / "bad", name, content)
    code, memory = do_import(settings, path)
    error = capsys.readouterr().err.strip()
    assert code == 2 and memory.calls == []
    assert error.startswith(f"replydesk import: {path}: {where}") and "\n" not in error
    assert counts(database_url) == before


def test_an_owner_missing_from_the_senders_is_refused_with_the_senders_listed(settings, database_url, tmp_path,
                                                                              capsys):
    migrate.upgrade(settings.database_url)
    code, _ = do_import(settings, write(tmp_path, "WhatsApp Chat with Ana.txt", WHATSAPP), owner="Zed")
    error = capsys.readouterr().err
    assert code == 2 and "'Zed'" in error and "senders found: 'Ana', 'Bob'" in error
    assert set(counts(database_url).values()) == {0}


def test_telegram_export_remembers_one_to_one_turns_with_stored_message_uids(settings, database_url, tmp_path,
                                                                             capsys):
    code, memory = do_import(settings, write(tmp_path, "result.json", json.dumps(TELEGRAM)))
    out = capsys.readouterr().out
    assert code == 0 and "imported 4 messages in 2 conversations" in out and "1 group conversation left out" in out
    [call] = memory.calls
    [(conversation_uid, contact_uid)] = query(database_url, sa.select(Conversation.uid, Contact.uid)
                                              .join(Contact, Contact.id == Conversation.contact_id)
                                              .where(Conversation.external_id == "export:777"))
    uids = dict(query(database_url, sa.select(Message.external_id, Message.uid)))
    assert (call["user_id"], call["contact_id"], call["conversation_id"]) == ("owner", contact_uid, conversation_uid)
    assert [(m["role"], m["content"], m["message_id"]) for m in call["messages"]] == [
        ("user", "is the bike still for sale?", uids["export:777:1"]), ("assistant", "yes! 200 and it's yours", uids["export:777:2"])]
    assert query(database_url, sa.select(Conversation.is_group).where(Conversation.external_id == "export:900"))[0][0]


def test_mbox_import_threads_mail_and_learns_from_the_unquoted_reply(settings, database_url, tmp_path, capsys):
    code, memory = do_import(settings, write(tmp_path, "inbox.mbox", MBOX))
    assert code == 0 and "imported 3 messages in 2 conversations" in capsys.readouterr().out
    stored = dict(query(database_url, sa.select(Message.external_id, Message.direction)))
    assert stored == {"<a1@example.com>": "inbound", "<b1@example.org>": "outbound", "<c1@example.net>": "inbound"}
    [samples] = query(database_url, sa.select(StyleProfileRow.samples).where(StyleProfileRow.contact_id == ""))[0]
    assert samples[0]["text"] == "Yes, come by on Saturday."
    assert {m["content"] for call in memory.calls for m in call["messages"]} >= {"Yes, come by on Saturday."}


def test_style_is_learned_overall_and_per_contact_and_merged_with_the_stored_profile(settings, database_url,
                                                                                      tmp_path):
    migrate.upgrade(settings.database_url)
    engine = sa.create_engine(sync_url(database_url))
    with engine.begin() as conn:
        conn.execute(sa.insert(StyleProfileRow).values(
            kind="style", owner_id="owner", contact_id="", profile=StyleProfile(samples_count=10).to_dict(),
            samples=[{"text": "older"}], samples_count=10, updated_at=datetime.now(timezone.utc)))
    engine.dispose()
    do_import(settings, write(tmp_path, "WhatsApp Chat with Ana.txt", WHATSAPP))
    rows = {row.contact_id: row for row in query(database_url, sa.select(StyleProfileRow))}
    [contact_uid] = [uid for uid in rows if uid]
    assert contact_uid == query(database_url, sa.select(Contact.uid))[0][0]
    assert rows[""].samples_count == 12 and rows[contact_uid].samples_count == 2
    assert [s["text"] for s in rows[""].samples] == ["sure thing! see you saturday 😊",
                                                     "hey yes :) still have it, 120 euros", "older"]
    learned = StyleProfile.from_dict(rows[contact_uid].profile)
    assert learned.emoji_usage and learned.samples_count == 2


def test_a_memory_failure_is_reported_and_the_import_still_succeeds(settings, database_url, tmp_path, capsys):
    failing = FakeMemory(RuntimeError("chroma is down"))
    code, _ = do_import(settings, write(tmp_path, "WhatsApp Chat with Ana.txt", WHATSAPP), memory=failing)
    captured = capsys.readouterr()
    assert code == 0 and "imported 5 messages" in captured.out
    assert "memory: NOT updated (RuntimeError: chroma is down)" in captured.err
    assert counts(database_url)["messages"] == 5


def test_memory_takes_only_new_turns_unless_an_earlier_import_did_not_reach_it(settings, tmp_path, capsys):
    path = write(tmp_path, "WhatsApp Chat with Ana.txt", WHATSAPP)
    failing = FakeMemory(RuntimeError("chroma is down"))
    do_import(settings, path, memory=failing)
    _, memory = do_import(settings, path)  # nothing new in the database, but memory never got the turns
    assert [len(call["messages"]) for call in memory.calls] == [4]
    assert "remembered 4 messages of 1 conversation (0 remembered before)" in capsys.readouterr().out
    newer = write(tmp_path, "WhatsApp Chat with Ana.txt", WHATSAPP + "1/15/24, 9:20 AM - Bob: on my way\n")
    do_import(settings, newer, memory=memory)  # a newer export: only its new turn is embedded
    assert [m["content"] for m in memory.calls[-1]["messages"]] == ["on my way"]
    assert "remembered 1 message of 1 conversation (4 remembered before)" in capsys.readouterr().out


def test_format_detection_by_suffix_then_content(tmp_path):
    assert detect_format(write(tmp_path, "chat.txt", "x")) == "whatsapp"
    assert detect_format(write(tmp_path, "export.zip", "x")) == "whatsapp"
    assert detect_format(write(tmp_path, "result.json", "{}")) == "telegram"
    assert detect_format(write(tmp_path, "Inbox", MBOX)) == "mbox"
    assert detect_format(write(tmp_path, "dump", ' {"chats": {}}')) == "telegram"
    assert detect_format(write(tmp_path, "chat", "\ufeff[31/12/2023, 21:41:05] Ana: hi")) == "whatsapp"
    assert detect_format(write(tmp_path, "any.txt", MBOX), "mbox") == "mbox"


def test_a_missing_file_is_refused(settings, tmp_path, capsys):
    assert do_import(settings, tmp_path / "nope.txt")[0] == 2
    assert "nope.txt: no such file" in capsys.readouterr().err


async def test_cli_import_stores_learns_style_and_remembers(tmp_path, database_url, shared_embedder):
    """The one test with the real memory store: the import loads MiniLM in its own process."""
    init(tmp_path, database_url)
    config = tmp_path / "config.toml"
    config.write_text(config.read_text().replace('name = "Owner"', 'name = "Bob"')
                      .replace('timezone = "UTC"', 'timezone = "America/New_York"'))
    write(tmp_path, "WhatsApp Chat with Ana.txt", WHATSAPP)
    bad = await asyncio.to_thread(run, tmp_path, "import", "--format", "mbox", "WhatsApp Chat with Ana.txt")
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "not an mbox file" in bad.stderr
    done = await asyncio.to_thread(run, tmp_path, "import", "WhatsApp Chat with Ana.txt")
    assert done.returncode == 0, done.stderr
    assert "imported 5 messages in 1 conversation (0 already there)" in done.stdout
    assert "remembered 4 messages of 1 conversation" in done.stdout
    assert len(query(database_url, sa.select(StyleProfileRow.id))) == 2
    [(contact_uid,)] = query(database_url, sa.select(Contact.uid))
    store = MemoryStore(shared_embedder, path=default_memory_path(tmp_path / "data"))
    try:
        found = await store.recall(user_id="owner", contact_id=contact_uid, query="espresso machine price", top_k=2)
    finally:
        await store.close()
    assert "hey yes :) still have it, 120 euros" in [m.text for m in found]
    assert all(m.contact_id == contact_uid for m in found)
