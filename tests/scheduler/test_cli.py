"""`replydesk followups` (scheduler/cli.py): what is planned and why, straight from the database."""

from __future__ import annotations

import argparse
import asyncio
import json

from scheduler import followups
from scheduler.cli import add_followups_parser, run_followups_command
from tests.scheduler.test_followups import say, waiting_conversation


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="replydesk")
    add_followups_parser(parser.add_subparsers(dest="command")).set_defaults(func=run_followups_command)
    return parser.parse_args(["followups", *argv])


async def run(settings, *argv: str) -> int:
    return await asyncio.to_thread(run_followups_command, settings, parse(*argv))  # it runs its own loop


async def test_lists_what_is_planned_and_why(hub, clock, settings, capsys):
    await waiting_conversation(hub, clock)
    await followups.tick(hub.app)
    assert await run(settings) == 0
    out = capsys.readouterr().out
    assert "1 follow-up nudge(s) (planned, queued, held)" in out
    assert "Jane Doe · fakechan · waiting · planned · fires " in out and " UTC" in out
    assert "why: No reply from Jane Doe for 48 hours since your message of" in out
    assert await run(settings, "--json") == 0
    (item,) = json.loads(capsys.readouterr().out)["followups"]
    assert item["rule"] == "waiting" and item["reason"].startswith("No reply from Jane Doe")


async def test_plan_first_then_list_even_when_the_hub_has_not_ticked(hub, clock, settings, capsys):
    await say(hub, clock, "Let me think about it, talk next week")
    await say(hub, clock, "Sure, no rush!", owner=True)
    assert await run(settings) == 0
    assert "no follow-up nudges" in capsys.readouterr().out
    assert await run(settings, "--plan") == 0
    out = capsys.readouterr().out
    assert "contact_deferred · planned" in out and "talk next week" in out


async def test_an_unknown_status_is_a_usage_error(settings, capsys):
    assert await run(settings, "--status", "later") == 2
    assert "unknown status later" in capsys.readouterr().err
