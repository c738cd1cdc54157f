"""Typed settings, loaded once from a TOML file; secrets resolved from env vars or files."""

from __future__ import annotations

import ipaddress
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

ENV_CONFIG_PATH = "REPLYDESK_CONFIG"
DEFAULT_CONFIG_PATH = "config.toml"


class ConfigError(Exception):
    """The configuration file is missing or invalid; the message names the file and the key."""

    def __init__(self, path: Path | str, problems: list[tuple[str, str]]):
        self.path = str(path)
        self.problems = problems
        lines = [f"{self.path}: {key}: {problem}" for key, problem in problems]
        super().__init__("\n".join(lines))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    public_url: str = ""
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    cors_origins: list[str] = []

    @field_validator("public_url")
    @classmethod
    def _url_shape(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


class DatabaseSettings(_Section):
    url: str = "sqlite:///data/replydesk.db"
    echo: bool = False
    # FULL: a committed transaction survives power loss too; NORMAL survives a process crash only.
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "sqlite+", "postgresql:", "postgresql+", "postgres:")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return value


class AuthSettings(_Section):
    jwt_secret: SecretStr
    device_token_days: int = Field(7, ge=1, le=365)


class DeviceSettings(_Section):
    # Registration from a non-loopback client needs an API key unless this is turned on.
    open_registration: bool = False
    code_ttl_minutes: int = Field(10, ge=1, le=60)
    verify_attempts: int = Field(5, ge=1, le=100)
    verify_window_minutes: int = Field(15, ge=1, le=1440)


class WorkerSettings(_Section):
    concurrency: int = Field(2, ge=1, le=64)
    batch_size: int = Field(32, ge=1, le=1000)  # per run_once round; the running worker claims per free slot
    max_attempts: int = Field(5, ge=1, le=100)
    lease_seconds: int = Field(120, ge=5)
    poll_seconds: float = Field(1.0, gt=0)


class BrainSettings(_Section):
    llm_backend: Literal["llama_cpp", "openai"] = "llama_cpp"
    model_path: str = ""  # empty: the bundled SmolLM2-135M-Instruct GGUF
    n_ctx: int = Field(2048, ge=256, le=131072)
    threads: int = Field(0, ge=0, le=256)  # 0: half the cores
    openai_base_url: str = ""
    openai_model: str = ""
    openai_api_key: SecretStr = SecretStr("")
    memory_url: str = ""  # a Chroma server; empty: a persistent store under data_dir/memory
    embedder_threads: int = Field(0, ge=0, le=256)
    draft_max_tokens: int = Field(96, ge=8, le=2048)
    draft_timeout_seconds: float = Field(30, gt=0, le=600)
    draft_temperature: float = Field(0.7, ge=0.0, le=2.0)
    warm_up: bool = True  # load the models when the hub starts, not on the first draft

    @field_validator("openai_base_url", "memory_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class TelegramSettings(_Section):
    enabled: bool = False
    bot_token: SecretStr = SecretStr("")
    webhook_secret: SecretStr = SecretStr("")  # sent by Telegram in X-Telegram-Bot-Api-Secret-Token
    mode: Literal["webhook", "polling"] = "webhook"
    api_base_url: str = "https://api.telegram.org"
    owner_chat_id: int | None = None  # the owner's chat with the bot: approval cards go there


class SlackSettings(_Section):
    enabled: bool = False
    bot_token: SecretStr = SecretStr("")
    signing_secret: SecretStr = SecretStr("")
    api_base_url: str = "https://slack.com/api/"
    approval_channel: str = ""  # a channel id: approval cards go there


class TwilioSettings(_Section):
    enabled: bool = False
    account_sid: str = ""
    auth_token: SecretStr = SecretStr("")
    sms_from: str = ""
    whatsapp_from: str = ""  # e.g. whatsapp:+14155238886
    api_base_url: str = "https://api.twilio.com"
    whatsapp_template_sid: str = ""  # an approved template (ContentSid) for messages outside 24 h
    media_max_bytes: int = Field(10 * 1024 * 1024, ge=0)


class EmailSettings(_Section):
    enabled: bool = False
    address: str = ""
    display_name: str = ""
    imap_host: str = ""
    imap_port: int = Field(993, ge=1, le=65535)
    imap_tls: bool = True
    imap_user: str = ""
    imap_password: SecretStr = SecretStr("")
    mailbox: str = "INBOX"
    smtp_host: str = ""
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_starttls: bool = True
    smtp_tls: bool = False
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    poll_seconds: float = Field(60, gt=0)
    idle_seconds: float = Field(25 * 60, gt=0, le=29 * 60)  # re-issue IDLE before the 29-minute limit
    max_automated_per_thread: int = Field(2, ge=0)


class BlueBubblesSettings(_Section):
    enabled: bool = False
    url: str = ""
    password: SecretStr = SecretStr("")
    reconcile_seconds: float = Field(60, gt=0)


class ChannelsSettings(_Section):
    telegram: TelegramSettings = TelegramSettings()
    slack: SlackSettings = SlackSettings()
    twilio: TwilioSettings = TwilioSettings()
    email: EmailSettings = EmailSettings()
    bluebubbles: BlueBubblesSettings = BlueBubblesSettings()


class OwnerSettings(_Section):
    name: str = "Owner"
    email: str = ""
    about: str = ""
    timezone: str = "UTC"


class TrainingSettings(_Section):
    retrain_cron: str = ""  # UTC, crontab syntax, e.g. "30 3 * * *"; "": no scheduled retraining

    @field_validator("retrain_cron")
    @classmethod
    def _crontab(cls, value: str) -> str:
        if value.strip():
            from apscheduler.triggers.cron import CronTrigger

            CronTrigger.from_crontab(value)  # ValueError names the bad field
        return value.strip()


class Settings(_Section):
    """The whole validated configuration. `base_dir` anchors every relative path."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    base_dir: Path = Path(".")
    data_dir: Path = Path("data")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    auth: AuthSettings
    devices: DeviceSettings = DeviceSettings()
    worker: WorkerSettings = WorkerSettings()
    owner: OwnerSettings = OwnerSettings()
    brain: BrainSettings = BrainSettings()
    channels: ChannelsSettings = ChannelsSettings()
    training: TrainingSettings = TrainingSettings()

    def resolve_path(self, path: Path | str) -> Path:
        path = Path(path)
        return path if path.is_absolute() else (self.base_dir / path).resolve()

    @property
    def data_path(self) -> Path:
        return self.resolve_path(self.data_dir)

    @property
    def database_url(self) -> str:
        """The database URL with a relative SQLite path anchored at `base_dir`."""
        url = self.database.url
        for prefix in ("sqlite:///", "sqlite+aiosqlite:///"):
            if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
                return "sqlite:///" + str(self.resolve_path(url[len(prefix):]))
        return url


def resolve_secret(value: str, base_dir: Path) -> str:
    """`env:NAME` reads an environment variable, `file:PATH` a file; anything else is literal."""
    if value.startswith("env:"):
        name = value[4:]
        if name not in os.environ:
            raise ValueError(f"environment variable {name} is not set")
        return os.environ[name]
    if value.startswith("file:"):
        path = Path(value[5:])
        path = path if path.is_absolute() else base_dir / path
        try:
            return path.read_text().strip()
        except OSError as exc:
            raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from None
    return value


SECRET_KEYS = {("auth", "jwt_secret"), ("brain", "openai_api_key"),
               ("channels", "telegram", "bot_token"), ("channels", "telegram", "webhook_secret"),
               ("channels", "slack", "bot_token"), ("channels", "slack", "signing_secret"),
               ("channels", "twilio", "auth_token"), ("channels", "email", "imap_password"),
               ("channels", "email", "smtp_password"), ("channels", "bluebubbles", "password")}


def _table_at(raw: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any] | None:
    table: Any = raw
    for part in path:
        if not isinstance(table, dict) or not isinstance(table.get(part), dict):
            return None
        table[part] = dict(table[part])  # copies, so the caller's dict is never changed
        table = table[part]
    return table


def _resolve_secrets(raw: dict[str, Any], base_dir: Path) -> list[tuple[str, str]]:
    problems = []
    for *path, key in sorted(SECRET_KEYS):
        table = _table_at(raw, tuple(path))
        if table is not None and isinstance(table.get(key), str):
            try:
                table[key] = resolve_secret(table[key], base_dir)
            except ValueError as exc:
                problems.append((".".join([*path, key]), str(exc)))
                table[key] = "unresolved"  # keep validating the rest, so every problem is named
    return problems


def _format_errors(exc: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        elif error["type"] == "missing":
            message = "required key is missing"
        problems.append((key, message))
    return problems


def settings_from_dict(raw: dict[str, Any], *, base_dir: Path, source: str = "<settings>") -> Settings:
    raw = {section: dict(value) if isinstance(value, dict) else value for section, value in raw.items()}
    problems = _resolve_secrets(raw, base_dir)
    try:
        settings = Settings.model_validate({**raw, "base_dir": base_dir})
    except ValidationError as exc:
        problems += _format_errors(exc)
    if problems:
        raise ConfigError(source, problems)
    return settings


def default_config_path() -> Path:
    return Path(os.environ.get(ENV_CONFIG_PATH, DEFAULT_CONFIG_PATH))


def load_settings(path: Path | str | None = None) -> Settings:
    """Read and validate the TOML file once. Raises ConfigError naming file, key and problem."""
    path = Path(path) if path else default_config_path()
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(path, [("(file)", "not found; run `replydesk init` to create it")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [("(syntax)", str(exc))]) from None
    return settings_from_dict(raw, base_dir=path.resolve().parent, source=str(path))
