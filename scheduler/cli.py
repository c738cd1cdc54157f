"""`replydesk followups`: what is planned and why, read from the database (the hub need not run).

Times are shown in each contact's own zone. `--plan` first plans the conversations that changed
since the hub last did (it queues nothing: firing is the running hub's job). Returns an exit code;
only hub/cli.py exits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

EXIT_OK, EXIT_USAGE = 0, 2


def add_followups_parser(sub: Any) -> argparse.ArgumentParser:
    """The `followups` subcommand on hub/cli.py's subparsers; the caller sets its `func`."""
    parser = sub.add_parser("followups", help="follow-up nudges: what is planned and why")
    parser.add_argument("--all", action="store_true", help="also those fired, cancelled or skipped")
    parser.add_argument("--status", default="", help="comma-separated: planned,queued,held,fired,cancelled,skipped")
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--plan", action="store_true", help="plan the conversations that changed first")
    parser.add_argument("--json", action="store_true", help="the REST API's JSON instead of text")
    return parser


def _statuses(args: argparse.Namespace) -> tuple[str, ...]:
    from scheduler.planning import ACTIVE
    from scheduler.store import STATUSES

    if getattr(args, "all", False):
        return STATUSES
    wanted = tuple(s.strip() for s in (getattr(args, "status", "") or "").split(",") if s.strip())
    unknown = [s for s in wanted if s not in STATUSES]
    if unknown:
        raise ValueError(f"unknown status {', '.join(unknown)}; use {', '.join(STATUSES)}")
    return wanted or tuple(ACTIVE)


def _line(row: Any, view: dict[str, Any], policy: Any) -> list[str]:
    from scheduler.policy import local_label

    who = (view["contact"] or {}).get("displayName") or "?"
    lines = [f"  {row.id:>5}  {who} · {row.channel} · {row.rule} · {row.status} · "
             f"fires {local_label(row.fire_at, policy)}"]
    lines.append(f"         why: {row.reason}")
    if row.note:
        lines.append(f"         note: {row.note}")
    return lines


def render(rows: list[Any], total: int, policies: dict[int | None, Any], statuses: tuple[str, ...]) -> str:
    from scheduler.store import followup_view

    if not rows:
        return f"no follow-up nudges ({', '.join(statuses)})"
    head = f"{total} follow-up nudge(s) ({', '.join(statuses)}), soonest first, times in each contact's zone:"
    lines = [head]
    for row in rows:
        lines += _line(row, followup_view(row), policies[row.contact_id])
    if total > len(rows):
        lines.append(f"  … and {total - len(rows)} more (--limit)")
    return "\n".join(lines)


async def _followups(settings: Any, args: argparse.Namespace, statuses: tuple[str, ...]) -> str:
    from hub.clock import SystemClock
    from scheduler.planning import apply_plans, load_policies, read_plans
    from scheduler.store import followup_view, list_followups
    from storage import migrate
    from storage.db import Database

    await asyncio.to_thread(migrate.upgrade, settings.database_url)
    db, zone = Database(settings.database_url), settings.owner.timezone
    try:
        if args.plan:
            now = SystemClock().now()
            await db.write(apply_plans, db, await db.read(read_plans, now, zone), now, zone, False)
        total, rows = await db.read(lambda conn: list_followups(conn, statuses=statuses, limit=args.limit))
        policies = await db.read(load_policies, {r.contact_id for r in rows}, zone)
    finally:
        await db.dispose()
    if args.json:
        return json.dumps({"followups": [followup_view(r) for r in rows], "total": total}, indent=2)
    return render(rows, total, policies, statuses)


def run_followups_command(settings: Any, args: argparse.Namespace) -> int:
    """List the planned nudges and why; `--plan` plans changed conversations first."""
    try:
        statuses = _statuses(args)
    except ValueError as exc:
        print(f"replydesk followups: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(asyncio.run(_followups(settings, args, statuses)))
    return EXIT_OK
