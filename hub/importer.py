"""`replydesk import`: read a chat export whole, store it, then learn the owner's style and remember the turns.

1. read: the parser for the format (hub/importers) reads and validates the WHOLE file; a malformed
   file is refused with one line naming the file and the place (exit 2) before the database is touched.
2. store: migrate, then `hub.pipeline.ingest(process=False)` per thread in batches of BATCH (imported
   history queues no drafts). External ids are deterministic, so importing again stores nothing twice.
3. style: the owner's newly stored outgoing texts, overall and per contact, merged into `style_profiles`.
4. memory: the turns of each one-to-one conversation, upserted into the memory store: the new ones,
   or all of the file's when memory lacks the earlier ones (a previous memory step failed). A failure
   is reported; the messages stay imported (exit 0) and the next import of the file retries.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from tqdm import tqdm

from brain.style import StyleProfile, learn_style, merge_profiles
from channels.base import OUTBOUND, Handle, InboundMessage
from hub.brain_services import BrainServices
from hub.clock import Clock, SystemClock
from hub.importers import ImportedThread, ImportFileError, mbox, stable_id, telegram, whatsapp
from hub.pipeline import ingest
from hub.settings import Settings
from storage import migrate
from storage.db import Database
from storage.models import Contact, Conversation, Message, StyleProfileRow

if TYPE_CHECKING:
    from brain.memory import MemoryStore

BATCH = 500  # messages per ingest unit of work
MEMORY_CHUNK = 256  # messages per memory.store call (one embedding batch run)
STYLE_SAMPLES = 20  # recent outgoing texts kept beside a style profile
STYLE_CHUNK = 500  # texts per learn_style call (see learn_profile)
OWNER_ID = "owner"
EXIT_OK, EXIT_BAD_INPUT = 0, 2
Parser = Callable[..., list[ImportedThread]]
PARSERS: dict[str, Parser] = {"whatsapp": whatsapp.parse_file, "telegram": telegram.parse_file,
                              "mbox": mbox.parse_file}
_LIMITS = {"name": 255, "subject": 998, "id": 512, "handle": 300}


@dataclass
class ThreadOutcome:
    """What storing one thread did."""

    thread: ImportedThread
    conversation_id: int
    conversation_uid: str
    new_ids: set[str] = field(default_factory=set)
    duplicates: int = 0


@dataclass
class _Scope:
    """A profile being learned for one scope, and the messages it was learned from."""

    profile: StyleProfile = field(default_factory=StyleProfile)
    messages: list[InboundMessage] = field(default_factory=list)


@dataclass(frozen=True)
class Turns:
    """The conversation turns of one conversation in the file, oldest first, ready for the memory store."""

    contact_uid: str
    conversation_uid: str
    messages: list[dict[str, Any]]
    new: frozenset[str] = frozenset()  # uids of the messages this import stored


def detect_format(path: Path, requested: str = "auto") -> str:
    """whatsapp for .zip/.txt, telegram for .json, else by the first bytes (mbox when nothing else fits)."""
    if requested != "auto":
        return requested
    suffix = path.suffix.lower()
    if suffix in (".zip", ".txt"):
        return "whatsapp"
    if suffix == ".json":
        return "telegram"
    with path.open("rb") as handle:
        head = handle.read(512)
    text = head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    if head.startswith(b"PK") or whatsapp.is_message_line(text.split("\n", 1)[0]):
        return "whatsapp"
    return "telegram" if text.startswith("{") else "mbox"


def _source(path: Path) -> Path:
    if path.is_dir() and (path / "result.json").is_file():
        return path / "result.json"  # the folder Telegram Desktop exports into
    if not path.is_file():
        raise ImportFileError(path, "", "no such file")
    return path


def _zone(settings: Settings) -> tzinfo:
    try:
        return ZoneInfo(settings.owner.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ImportFileError("config", "owner.timezone", f"unknown time zone {settings.owner.timezone!r}") from None


def _owners(settings: Settings, args: argparse.Namespace, fmt: str) -> list[str]:
    """--owner when given (a typo there is an error, not a silent fallback), else the configured owner."""
    explicit = (getattr(args, "owner", "") or "").strip()
    configured = settings.owner.email if fmt == "mbox" else settings.owner.name
    return [explicit] if explicit else [configured] if configured else []


def _short_id(value: str | None) -> str | None:
    if value is None or len(value) <= _LIMITS["id"]:
        return value
    return f"<{stable_id(value)}@long-id>"


def _fits(message: InboundMessage) -> bool:
    ids = (message.external_id, message.thread_id, message.reply_to_external_id or "")
    handles = (message.sender, *message.participants) if message.sender else message.participants
    return (all(len(i) <= _LIMITS["id"] for i in ids) and len(message.subject) <= _LIMITS["subject"]
            and max(len(message.sender_name), len(message.thread_name)) <= _LIMITS["name"]
            and all(len(h.value) <= _LIMITS["handle"] for h in handles)
            and "\x00" not in message.text and "\x00" not in (message.html or ""))


def _fit(message: InboundMessage) -> InboundMessage:
    """Cut what would overflow a column, and drop NULs (PostgreSQL refuses them in text)."""
    if _fits(message):
        return message

    def handle(h: Handle | None) -> Handle | None:
        return Handle(h.kind, h.value[:_LIMITS["handle"]]) if h is not None else None

    return replace(
        message, external_id=_short_id(message.external_id) or "", thread_id=_short_id(message.thread_id) or "",
        reply_to_external_id=_short_id(message.reply_to_external_id), sender=handle(message.sender),
        participants=tuple(filter(None, map(handle, message.participants))),
        sender_name=message.sender_name[:_LIMITS["name"]], thread_name=message.thread_name[:_LIMITS["name"]],
        subject=message.subject[:_LIMITS["subject"]], text=message.text.replace("\x00", ""),
        html=message.html.replace("\x00", "") if message.html is not None else None)


def read_threads(settings: Settings, args: argparse.Namespace) -> tuple[str, list[ImportedThread]]:
    """Parse and validate the whole file (nothing is stored). Raises ImportFileError."""
    path = _source(Path(args.path))
    try:
        fmt = detect_format(path, getattr(args, "format", "auto") or "auto")
        threads = PARSERS[fmt](path, owners=_owners(settings, args, fmt), zone=_zone(settings))
    except OSError as exc:
        raise ImportFileError(path, "", f"cannot read: {exc.strerror or exc}") from None
    return fmt, [replace(t, messages=[_fit(m) for m in t.messages]) for t in threads if t.messages]


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


async def _store_thread(db: Database, clock: Clock, thread: ImportedThread, bar: tqdm) -> ThreadOutcome:
    ordered = sorted(thread.messages, key=lambda m: m.sent_at)
    outcome: ThreadOutcome | None = None
    for start in range(0, len(ordered), BATCH):
        batch = ordered[start:start + BATCH]
        result = await ingest(db, clock, batch, process=False)
        outcome = outcome or ThreadOutcome(thread, result.conversation_id, result.conversation_uid)
        outcome.new_ids.update(m.external_id for m in result.stored)
        outcome.duplicates += result.duplicates
        bar.update(len(batch))
    assert outcome is not None  # read_threads keeps only threads with messages
    return outcome


async def store_threads(db: Database, clock: Clock, threads: Sequence[ImportedThread]) -> list[ThreadOutcome]:
    """Store every thread through the pipeline; returns what each one added."""
    total = sum(len(t.messages) for t in threads)
    with tqdm(total=total, unit="msg", desc="storing", file=sys.stderr, dynamic_ncols=True) as bar:
        return [await _store_thread(db, clock, thread, bar) for thread in threads]


def summary(outcomes: Sequence[ThreadOutcome]) -> str:
    new = sum(len(o.new_ids) for o in outcomes)
    already = sum(o.duplicates for o in outcomes)
    return (f"imported {_plural(new, 'message')} in {_plural(len(outcomes), 'conversation')} "
            f"({already:,} already there)")


def _plain_text(message: InboundMessage) -> str:
    """What the writer wrote (for email the parser has already left out the quoted history)."""
    return message.text.strip()


def _contacts(conn: sa.Connection, outcomes: Sequence[ThreadOutcome]) -> dict[int, str]:
    """conversation id -> its contact's uid, for one-to-one conversations."""
    ids, found = [o.conversation_id for o in outcomes], dict[int, str]()
    for start in range(0, len(ids), 1000):  # bound the IN list (SQLite caps bound parameters)
        found.update(conn.execute(sa.select(Conversation.id, Contact.uid)
                                  .join(Contact, Contact.id == Conversation.contact_id)
                                  .where(Conversation.id.in_(ids[start:start + 1000]),
                                         Conversation.is_group.is_(False))).tuples().all())
    return found


def _samples(messages: Sequence[InboundMessage]) -> list[dict[str, Any]]:
    recent = sorted(messages, key=lambda m: m.sent_at, reverse=True)
    texts = [(text, m.sent_at) for m in recent if (text := _plain_text(m))]
    return [{"text": text, "sent_at": at.isoformat()} for text, at in texts[:STYLE_SAMPLES]]


def learn_profile(texts: Sequence[str]) -> StyleProfile:
    """learn_style over chunks of STYLE_CHUNK texts, merged by sample count: learn_style's phrase
    ranking grows with the square of its input (9,000 texts at once take minutes)."""
    profile = StyleProfile()
    for start in range(0, len(texts), STYLE_CHUNK):
        profile = merge_profiles(profile, learn_style(texts[start:start + STYLE_CHUNK]))
    return profile


def _learn(outcomes: Sequence[ThreadOutcome], contacts: dict[int, str]) -> dict[str, _Scope]:
    """Profiles of the newly stored outgoing texts: overall ("") and per contact uid."""
    scopes: dict[str, _Scope] = {}
    for o in outcomes:
        mine = [m for m in o.thread.messages if m.direction == OUTBOUND and m.external_id in o.new_ids
                and _plain_text(m)]
        if not mine:
            continue
        learned = learn_profile([_plain_text(m) for m in mine])
        for key in ["", contacts[o.conversation_id]] if o.conversation_id in contacts else [""]:
            scope = scopes.setdefault(key, _Scope())
            scope.profile = merge_profiles(scope.profile, learned)
            scope.messages.extend(mine)
    return scopes


def _save_style(conn: sa.Connection, db: Database, contact_uid: str, scope: _Scope, now: datetime) -> None:
    """Merge a learned profile into the stored one (kind "style", owner "owner", contact uid or "")."""
    table, learned = StyleProfileRow, scope.profile
    db.lock(conn, f"style:{OWNER_ID}:{contact_uid}")
    where = (table.kind == "style", table.owner_id == OWNER_ID, table.contact_id == contact_uid)
    row = conn.execute(sa.select(table.id, table.profile, table.samples).where(*where)).first()
    if row is None:
        conn.execute(sa.insert(table).values(kind="style", owner_id=OWNER_ID, contact_id=contact_uid,
                                             profile=learned.to_dict(), samples=_samples(scope.messages),
                                             samples_count=learned.samples_count, updated_at=now))
        return
    merged = merge_profiles(StyleProfile.from_dict(row.profile or {}), learned)
    samples = _samples(scope.messages) + [s for s in row.samples or [] if isinstance(s, dict)]
    conn.execute(sa.update(table).where(table.id == row.id).values(
        profile=merged.to_dict(), samples=samples[:STYLE_SAMPLES], samples_count=merged.samples_count,
        updated_at=now))


def _save_styles(conn: sa.Connection, db: Database, scopes: dict[str, _Scope], now: datetime) -> None:
    for contact_uid, scope in scopes.items():
        _save_style(conn, db, contact_uid, scope, now)


async def learn_owner_style(db: Database, outcomes: Sequence[ThreadOutcome], now: datetime) -> str:
    """Learn from the owner's newly stored outgoing texts and save; returns a line for the owner."""
    contacts = await db.read(_contacts, outcomes)
    scopes = await asyncio.to_thread(_learn, outcomes, contacts)
    if not scopes:
        return "no new outgoing messages to learn your style from"
    await db.write(_save_styles, db, scopes, now)
    return (f"learned your style from {_plural(len(scopes[''].messages), 'outgoing message')} "
            f"(overall and for {_plural(len(scopes) - 1, 'contact')})")


def _turns(conn: sa.Connection, outcomes: Sequence[ThreadOutcome]) -> tuple[list[Turns], int]:
    """Every turn of each one-to-one conversation in the file (new or already there), and the groups left out."""
    contacts, found, groups = _contacts(conn, outcomes), [], 0
    for o in outcomes:
        if o.conversation_id not in contacts:
            groups += 1
            continue
        stored = sa.select(Message.external_id, Message.uid).where(Message.conversation_id == o.conversation_id)
        uids: dict[str, str] = dict(conn.execute(stored).tuples().all())
        messages = [{"role": "assistant" if m.direction == OUTBOUND else "user", "content": text,
                     "message_id": uids[m.external_id], "sent_at": m.sent_at.isoformat()}
                    for m in sorted(o.thread.messages, key=lambda m: m.sent_at)
                    if (text := _plain_text(m)) and m.external_id in uids]
        if messages:
            new = frozenset(uids[external_id] for external_id in o.new_ids)
            found.append(Turns(contacts[o.conversation_id], o.conversation_uid, messages, new))
    return found, groups


async def _pending(memory: MemoryStore, turns: Turns) -> list[dict[str, Any]]:
    """The turns to store: only the new ones when the last earlier turn is in memory already (turns
    are stored oldest first, so the earlier ones are too); all of them when it is not (an earlier
    import's memory step failed or never ran). Storing is an upsert, so a turn is never doubled."""
    earlier = [m for m in turns.messages if m["message_id"] not in turns.new]
    if earlier:
        last = earlier[-1]
        found = await memory.recall(user_id=OWNER_ID, contact_id=turns.contact_uid, query=last["content"],
                                    conversation_id=turns.conversation_uid, top_k=5)
        if not any(last["message_id"] in m.source_message_ids for m in found):
            return turns.messages
    return [m for m in turns.messages if m["message_id"] in turns.new]


async def _store_turns(memory: MemoryStore, plans: Sequence[tuple[Turns, list[dict[str, Any]]]]) -> None:
    total = sum(len(pending) for _, pending in plans)
    with tqdm(total=total, unit="msg", desc="remembering", file=sys.stderr, dynamic_ncols=True) as bar:
        for turns, pending in plans:
            for start in range(0, len(pending), MEMORY_CHUNK):
                chunk = pending[start:start + MEMORY_CHUNK]
                await memory.store(user_id=OWNER_ID, contact_id=turns.contact_uid,
                                   conversation_id=turns.conversation_uid, messages=chunk)
                bar.update(len(chunk))


async def remember(services: BrainServices, conversations: Sequence[Turns]) -> str:
    """Store the turns in memory; returns a line for the owner. Never raises (but for cancellation)."""
    if not conversations:
        return "memory: nothing to remember"
    try:
        memory = await services.memory()
        plans = [(turns, await _pending(memory, turns)) for turns in conversations]
        await _store_turns(memory, plans)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the messages are stored: report, and let the import succeed
        return (f"memory: NOT updated ({type(exc).__name__}: {exc}); the messages are imported. "
                f"Run the same import again to retry: nothing is stored twice")
    stored = sum(len(pending) for _, pending in plans)
    before = sum(len(turns.messages) for turns in conversations) - stored
    return (f"remembered {_plural(stored, 'message')} of {_plural(len(conversations), 'conversation')}"
            f" ({before:,} remembered before)")


async def _import(settings: Settings, threads: list[ImportedThread], clock: Clock,
                  services: BrainServices) -> int:
    await asyncio.to_thread(migrate.upgrade, settings.database_url)
    db = Database(settings.database_url, echo=settings.database.echo,
                  sqlite_synchronous=settings.database.sqlite_synchronous)
    try:
        outcomes = await store_threads(db, clock, threads)
        print(summary(outcomes), flush=True)
        print(await learn_owner_style(db, outcomes, clock.now()), flush=True)
        conversations, groups = await db.read(_turns, outcomes)
    finally:
        await db.dispose()
    try:
        note = await remember(services, conversations)
    finally:
        await services.close()
    skipped = f" ({_plural(groups, 'group conversation')} left out: no single contact)" if groups else ""
    print(note + skipped, file=sys.stderr if note.startswith("memory: NOT") else sys.stdout, flush=True)
    return EXIT_OK


def run_import_command(settings: Settings, args: argparse.Namespace, *, clock: Clock | None = None,
                       services: BrainServices | None = None) -> int:
    """The `replydesk import PATH [--format] [--owner]` command; returns the exit code."""
    try:
        fmt, threads = read_threads(settings, args)
    except ImportFileError as exc:
        print(f"replydesk import: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    count = sum(len(t.messages) for t in threads)
    print(f"read {_plural(count, 'message')} in {_plural(len(threads), 'conversation')} ({fmt})", flush=True)
    if not threads:
        return EXIT_OK
    return asyncio.run(_import(settings, threads, clock or SystemClock(), services or BrainServices(settings)))
