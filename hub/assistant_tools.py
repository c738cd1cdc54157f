"""The assistant's tools over the owner's own data. All read-only: none sends, fetches or changes."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from aiohttp import web

from brain.assistant import Tool
from hub.api.common import iso
from hub.drafting import OWNER_ID
from hub.state import BRAIN, DB
from storage.models import Contact, ContactHandle, Conversation, ConversationStatus, Message

LIMIT = 5


def _like(term: str) -> str:
    return "%" + term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _search(conn: sa.Connection, query: str) -> list[str]:
    term = _like(query.strip())
    rows = conn.execute(sa.select(Conversation.id, Conversation.channel, Conversation.status, Contact.display_name,
                                  Message.text, Message.sent_at)
                        .join(Message, Message.conversation_id == Conversation.id)
                        .outerjoin(Contact, Contact.id == Conversation.contact_id)
                        .where(sa.or_(sa.func.lower(Message.text).like(term, escape="\\"),
                                      sa.func.lower(Contact.display_name).like(term, escape="\\")))
                        .order_by(Message.sent_at.desc()).limit(50)).all()
    seen: dict[int, str] = {}
    for r in rows:
        if r.id not in seen and len(seen) < LIMIT:
            seen[r.id] = (f"Conversation {r.id} with {r.display_name or 'unknown'} on {r.channel} ({r.status}): "
                          f"\"{r.text[:160]}\" at {iso(r.sent_at)}")
    return list(seen.values()) or [f"No conversation mentions \"{query}\"."]


def _followups(conn: sa.Connection) -> list[str]:
    rows = conn.execute(sa.select(Conversation.id, Conversation.channel, Conversation.last_inbound_at,
                                  Contact.display_name)
                        .outerjoin(Contact, Contact.id == Conversation.contact_id)
                        .where(Conversation.status == ConversationStatus.NEEDS_REPLY)
                        .order_by(Conversation.last_inbound_at.asc()).limit(LIMIT)).all()
    return [f"{r.display_name or 'Unknown'} on {r.channel} is waiting for a reply since {iso(r.last_inbound_at)} "
            f"(conversation {r.id})" for r in rows] or ["Nobody is waiting for a reply."]


def _contact(conn: sa.Connection, name: str) -> list[str]:
    rows = conn.execute(sa.select(Contact).where(sa.func.lower(Contact.display_name).like(_like(name.strip()),
                                                                                        escape="\\"))
                        .order_by(Contact.display_name).limit(LIMIT)).all()
    out = []
    for c in rows:
        handles = conn.execute(sa.select(ContactHandle.kind, ContactHandle.value)
                               .where(ContactHandle.contact_id == c.id)).all()
        count = conn.execute(sa.select(sa.func.count()).select_from(Conversation)
                             .where(Conversation.contact_id == c.id)).scalar_one()
        out.append(f"{c.display_name} ({c.classification}): " + ", ".join(f"{k} {v}" for k, v in handles)
                   + f"; {count} conversation(s)")
    return out or [f"No contact named \"{name}\"."]


def build_tools(app: web.Application) -> list[Tool]:
    db = app[DB]

    async def recall_memory(query: str) -> list[str]:
        memory = await app[BRAIN].memory()
        found = await memory.recall(user_id=OWNER_ID, contact_id=None, query=query or "recent", top_k=LIMIT)
        return [m.text for m in found] or ["Nothing remembered about that."]

    async def search_conversations(query: str) -> list[str]:
        return await db.read(_search, query)

    async def list_followups(_: str) -> list[str]:
        return await db.read(_followups)

    async def get_contact(name: str) -> list[str]:
        return await db.read(_contact, name)

    return [Tool("recall_memory", "search what people said in past conversations", "query", recall_memory),
            Tool("search_conversations", "find conversations by a word or a contact's name", "query",
                 search_conversations),
            Tool("list_followups", "list the people waiting for a reply", "", list_followups),
            Tool("get_contact", "look up a contact's details by name", "name", get_contact)]


