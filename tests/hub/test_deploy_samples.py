"""The sample deployment files in docs/deploy/ stay true to the code: the scale-out configuration
validates, and every `replydesk` command line in the units and the Procfile parses."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from hub.cli import build_parser
from hub.settings import load_settings

DEPLOY = Path(__file__).resolve().parents[2] / "docs" / "deploy"
ENV_EXAMPLE = DEPLOY / "replydesk.env.example"
COMMAND = re.compile(r"^(?:ExecStart=|\w+: )(.+)$")  # a systemd unit's or a Procfile's command


def env_example() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
             if line and not line.startswith("#"))
    return {name: value for name, value in pairs}


def test_the_scale_out_config_validates_with_the_sample_environment(monkeypatch):
    for name, value in env_example().items():
        monkeypatch.setenv(name, value)
    settings = load_settings(DEPLOY / "config.scale-out.toml")
    url = make_url(settings.database_url)
    assert url.get_backend_name() == "postgresql" and url.password is None  # libpq reads PGPASSWORD
    assert settings.brain.llm_backend == "openai" and settings.brain.memory_url == "http://127.0.0.1:8000"
    assert settings.auth.jwt_secret.get_secret_value() == env_example()["REPLYDESK_JWT_SECRET"]
    assert settings.channels.telegram.mode == "webhook"


def replydesk_command_lines() -> list[tuple[str, list[str]]]:
    found = []
    for path in sorted(DEPLOY.iterdir()):
        for line in path.read_text().splitlines():
            command = COMMAND.match(line)
            words = shlex.split(command.group(1).replace("%i", "8081")) if command else []
            if words and words[0].endswith("/replydesk"):
                found.append((path.name, words[1:]))
    return found


def test_the_units_and_the_procfile_run_the_hub_and_migrations():
    names = {(name, args[-3] if "--port" in args else args[-1]) for name, args in replydesk_command_lines()}
    assert {("replydesk.service", "serve"), ("replydesk@.service", "serve"),
            ("replydesk-migrate.service", "upgrade"), ("Procfile", "serve")} <= names


@pytest.mark.parametrize("where,args", replydesk_command_lines())
def test_every_replydesk_command_line_parses(where, args):
    parsed = build_parser().parse_args(args)
    assert parsed.command in {"serve", "db"}, where
