"""The soak's verdict: what the shared database and the platform fakes hold, against what was
acknowledged and approved. Each check returns its count and whether the invariant holds."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone

import sqlalchemy as sa

from storage.models import Job, Message, OutboxItem, Suggestion

DECIDED = ("approved", "sent")


@dataclass
class Verdict:
    lines: list[tuple[str, str, bool]] = field(default_factory=list)

    def add(self, label: str, value: object, ok: bool = True) -> None:
        self.lines.append((label, str(value), ok))

    @property
    def ok(self) -> bool:
        return all(ok for _, _, ok in self.lines)

    def render(self) -> str:
        return "\n".join(f"  {'ok  ' if ok else 'FAIL'} {label:<58} {value}" for label, value, ok in self.lines)


def stored_keys(conn: sa.Connection) -> Counter[tuple[str, str]]:
    rows = conn.execute(sa.select(Message.channel, Message.external_id, sa.func.count())
                        .where(Message.direction == "inbound").group_by(Message.channel, Message.external_id))
    return Counter({(channel, external_id): n for channel, external_id, n in rows})


def check_messages(conn: sa.Connection, verdict: Verdict, acknowledged: set[tuple[str, str]],
                   sent_keys: set[tuple[str, str]]) -> None:
    stored = stored_keys(conn)
    verdict.add("inbound messages stored", sum(stored.values()))
    verdict.add("acknowledged but not stored", len(acknowledged - set(stored)), not acknowledged - set(stored))
    verdict.add("stored more than once", sum(1 for n in stored.values() if n > 1),
                all(n == 1 for n in stored.values()))
    verdict.add("stored but never delivered", len(set(stored) - sent_keys), not set(stored) - sent_keys)
    processed = Counter(conn.execute(sa.select(Job.payload["message_id"].as_integer())
                                     .where(Job.kind == "inbound.process")).scalars())
    verdict.add("inbound.process jobs (one per stored message)", sum(processed.values()),
                sum(processed.values()) == sum(stored.values()) and all(n == 1 for n in processed.values()))


def check_sends(conn: sa.Connection, verdict: Verdict, sent: Counter[str], approved_ok: set[int]) -> None:
    decided = conn.execute(sa.select(Suggestion.id, sa.func.coalesce(Suggestion.edited_body, Suggestion.body))
                           .where(Suggestion.status.in_(DECIDED))).all()
    outbox = Counter(conn.execute(sa.select(OutboxItem.suggestion_id)
                                  .where(OutboxItem.suggestion_id.is_not(None))).scalars())
    unknown = {sid for sid, in conn.execute(sa.select(OutboxItem.suggestion_id).where(
        OutboxItem.status == "failed", OutboxItem.error.like("outcome unknown%")))}
    ids = {sid for sid, _ in decided}
    by_status = dict(conn.execute(sa.select(Suggestion.status, sa.func.count()).group_by(Suggestion.status)).all())
    verdict.add("drafts stored, by status", ", ".join(f"{k} {v}" for k, v in sorted(by_status.items())) or "none",
                bool(by_status))
    verdict.add("drafts approved (200 from the API)", len(approved_ok), bool(approved_ok))
    verdict.add("drafts approved in the database", len(ids), approved_ok <= ids)
    verdict.add("approved drafts with exactly one outbox row", sum(1 for s in ids if outbox[s] == 1),
                all(outbox[s] == 1 for s in ids))
    once = sum(1 for _, body in decided if sent[body] == 1)
    verdict.add("approved drafts sent exactly once", once)
    verdict.add("approved drafts sent more than once", sum(1 for _, body in decided if sent[body] > 1),
                all(sent[body] <= 1 for _, body in decided))
    missing = {sid for sid, body in decided if sent[body] == 0}
    verdict.add("approved drafts unsent, reported 'outcome unknown' (crash mid-send)", len(missing & unknown))
    verdict.add("approved drafts unsent without a report", len(missing - unknown), not missing - unknown)
    known = {body for _, body in decided}
    verdict.add("sends that match no approved draft", sum(n for text, n in sent.items() if text not in known),
                all(text in known for text in sent))


def check_jobs(conn: sa.Connection, verdict: Verdict) -> None:
    now = datetime.now(timezone.utc)
    by_status = dict(conn.execute(sa.select(Job.status, sa.func.count()).group_by(Job.status)).all())
    verdict.add("jobs by status", ", ".join(f"{k} {v}" for k, v in sorted(by_status.items())))
    overdue = conn.scalar(sa.select(sa.func.count()).select_from(Job).where(
        Job.status == "running", Job.locked_until < now))
    verdict.add("jobs leased past their lease", overdue, overdue == 0)
    waiting = conn.scalar(sa.select(sa.func.count()).select_from(Job).where(Job.status.in_(["queued", "running"])))
    verdict.add("jobs still pending or running after the drain", waiting, waiting == 0)
    dead = conn.execute(sa.select(Job.kind, Job.last_error).where(Job.status == "dead")).all()
    verdict.add("jobs dead-lettered", len(dead), not dead)
    for kind, error in dead[:5]:
        verdict.add(f"  dead {kind}", (error or "")[:120], False)
    stuck_sends = conn.scalar(sa.select(sa.func.count()).select_from(OutboxItem).where(
        OutboxItem.status.in_(["pending", "sending"])))
    verdict.add("outbox rows still pending or sending", stuck_sends, stuck_sends == 0)


def unsettled(conn: sa.Connection) -> int:
    """Work left: jobs not finished plus outbox rows not resolved."""
    jobs = conn.scalar(sa.select(sa.func.count()).select_from(Job).where(Job.status.in_(["queued", "running"])))
    sends = conn.scalar(sa.select(sa.func.count()).select_from(OutboxItem).where(
        OutboxItem.status.in_(["pending", "sending"])))
    return jobs + sends


def pending_drafts(conn: sa.Connection, limit: int) -> list[tuple[int, int]]:
    """(suggestion id, conversation id) of pending drafts, oldest first."""
    return [tuple(row) for row in conn.execute(
        sa.select(Suggestion.id, Suggestion.conversation_id).where(Suggestion.status == "pending")
        .order_by(Suggestion.id).limit(limit))]
