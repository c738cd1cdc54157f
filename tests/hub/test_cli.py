"""The replydesk CLI, run as a real process: init, doctor, keys, db upgrade."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.conftest import PG_URL


def run(cwd: Path, *args: str, config: str = "config.toml") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hub", "--config", config, *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def init(tmp_path: Path, database_url: str) -> None:
    assert run(tmp_path, "init").returncode == 0
    config = tmp_path / "config.toml"
    config.write_text(config.read_text().replace('url = "sqlite:///data/replydesk.db"',
                                                 f'url = "{database_url}"'))


def test_init_writes_config_and_a_private_generated_secret(tmp_path):
    result = run(tmp_path, "init")
    assert result.returncode == 0, result.stderr
    secret = tmp_path / "data" / "secrets" / "jwt_secret"
    assert (tmp_path / "config.toml").exists()
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert len(secret.read_text()) >= 48
    again = run(tmp_path, "init")
    assert again.returncode == 0 and "exists already" in again.stdout
    other = tmp_path / "other"
    other.mkdir()
    run(other, "init")
    assert (other / "data" / "secrets" / "jwt_secret").read_text() != secret.read_text()


def test_doctor_names_the_bad_key_and_exits_2(tmp_path):
    (tmp_path / "bad.toml").write_text('[server]\nport = "eighty"\n[auth]\njwt_secret = "' + "k" * 40 + '"\n'
                                       '[worker]\nconcurency = 3\n')
    result = run(tmp_path, "doctor", config="bad.toml")
    assert result.returncode == 2
    assert "server.port" in result.stdout and "worker.concurency" in result.stdout
    assert "unknown key" in result.stdout


def test_doctor_reports_unreachable_database(tmp_path):
    (tmp_path / "c.toml").write_text('[auth]\njwt_secret = "' + "k" * 40 + '"\n'
                                     '[database]\nurl = "postgresql://nobody@127.0.0.1:1/none"\n')
    result = run(tmp_path, "doctor", config="c.toml")
    assert result.returncode == 1
    assert "FAIL  database.url" in result.stdout and "unreachable" in result.stdout


def test_doctor_on_a_fresh_init_passes_and_hints_at_next_steps(tmp_path, database_url):
    init(tmp_path, database_url)
    result = run(tmp_path, "doctor")
    assert result.returncode == 0, result.stdout
    assert "replydesk db upgrade" in result.stdout
    assert run(tmp_path, "db", "upgrade").returncode == 0
    result = run(tmp_path, "doctor")
    assert "db upgrade" not in result.stdout and "keys create" in result.stdout


def test_keys_are_shown_once_stored_hashed_and_revocable(tmp_path, database_url):
    init(tmp_path, database_url)
    created = run(tmp_path, "keys", "create", "laptop")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("rd_") and len(key) > 40
    listed = run(tmp_path, "keys", "list")
    assert "laptop" in listed.stdout and key not in listed.stdout and "active" in listed.stdout
    assert run(tmp_path, "keys", "revoke", "1").returncode == 0
    assert "revoked" in run(tmp_path, "keys", "list").stdout
    assert run(tmp_path, "keys", "revoke", "1").returncode == 1
    if not PG_URL:
        stored = Path(database_url.removeprefix("sqlite:///")).read_bytes()
        assert key.encode() not in stored


def test_doctor_names_what_an_enabled_channel_is_missing(tmp_path):
    (tmp_path / "c.toml").write_text('[auth]\njwt_secret = "' + "k" * 40 + '"\n'
                                     f'[database]\nurl = "sqlite:///{tmp_path}/x.db"\n'
                                     '[channels.slack]\nenabled = true\nbot_token = "xoxb-1"\n'
                                     '[brain]\nmodel_path = "missing.gguf"\n')
    result = run(tmp_path, "doctor", config="c.toml")
    assert result.returncode == 1
    assert "FAIL  channels.slack.signing_secret" in result.stdout
    assert "needs server.public_url" in result.stdout
    assert "brain.model_path" in result.stdout and "does not exist" in result.stdout
    assert "xoxb-1" not in result.stdout
