"""Typed settings: one validation, secrets from env or files, errors naming file and key."""

from __future__ import annotations

import pytest

from hub.settings import ConfigError, load_settings


def write(tmp_path, text):
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_example_config_is_valid_with_a_secret_file(tmp_path):
    from hub.cli import EXAMPLE_CONFIG
    path = write(tmp_path, EXAMPLE_CONFIG.read_text())
    (tmp_path / "data" / "secrets").mkdir(parents=True)
    (tmp_path / "data" / "secrets" / "jwt_secret").write_text("s" * 40 + "\n")
    settings = load_settings(path)
    assert settings.auth.jwt_secret.get_secret_value() == "s" * 40
    assert settings.server.host == "127.0.0.1" and settings.server.port == 8080
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'replydesk.db'}"


def test_secret_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("RD_TEST_SECRET", "e" * 40)
    settings = load_settings(write(tmp_path, '[auth]\njwt_secret = "env:RD_TEST_SECRET"\n'))
    assert settings.auth.jwt_secret.get_secret_value() == "e" * 40
    assert "e" * 40 not in repr(settings)


def test_every_problem_is_named_with_file_and_key(tmp_path):
    path = write(tmp_path, '[server]\nport = 99999\nbogus = 1\n[auth]\njwt_secret = "file:missing"\n'
                           '[database]\nurl = "mysql://x"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    keys = {key for key, _ in caught.value.problems}
    assert keys == {"server.port", "server.bogus", "auth.jwt_secret", "database.url"}
    assert str(path) in str(caught.value)


def test_syntax_error_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="syntax"):
        load_settings(write(tmp_path, "[server\n"))
    with pytest.raises(ConfigError, match="replydesk init"):
        load_settings(tmp_path / "nope.toml")
