"""Configuration: declared once, read from the environment, validated at start-up.

Every process reads its settings through :func:`load_settings`; a bad value stops it with
a message naming the variable and where it came from. Secrets (the desk service token,
session keys) come only from the environment, or are generated into the data directory
for the embedded default, and are never logged.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse, urlsplit

REPO = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A setting is invalid; the message names the key and its source."""

    def __init__(self, key: str, value: str, reason: str, source: str = "environment") -> None:
        super().__init__(f"{key}={value!r} ({source}): {reason}")
        self.key = key


@dataclass(frozen=True)
class Settings:
    """Where everything lives and how the processes find each other."""

    data_dir: Path
    cache_dir: Path
    host: str
    rasa_port: int
    actions_port: int
    desk_port: int
    desk_token: str
    rasa_token: str
    desk_database_url: str
    tracker_store_url: str | None
    lock_store_url: str | None
    event_broker_url: str | None
    articles_dir: Path
    catalogue_path: Path
    max_message_chars: int
    embedding_model: str
    # The agent desk (issue 4); defaults keep the embedded mode working with nothing set.
    session_key: str = ""
    cookie_secure: bool = False
    redis_url: str | None = None
    event_queue: str = "mot_events"
    business_hours: str = "always"
    business_timezone: str = "UTC"
    rest_callback_url: str | None = None
    rest_callback_secret: str = ""  # signs each callback POST (X-MoT-Signature)
    demo_users: bool = False
    insight_retention_days: int = 400  # the managers' dashboard's rows, then deleted
    alert_webhook_url: str | None = None  # early warnings are POSTed here
    telegram_token: str | None = None  # a Telegram bot's token: the Telegram channel is on
    telegram_webhook_url: str | None = None  # the public URL Telegram posts updates to
    telegram_secret: str = ""  # Telegram sends it with each update; others are refused
    telegram_api_url: str = "https://api.telegram.org"

    @property
    def knowledge_dir(self) -> Path:
        return self.data_dir / "knowledge"

    @property
    def models_dir(self) -> Path:
        return self.cache_dir / "models"

    def url(self, port: int) -> str:
        return f"http://{self.host}:{port}"

    @property
    def desk_url(self) -> str:
        return self.url(self.desk_port)

    @property
    def rasa_url(self) -> str:
        return self.url(self.rasa_port)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Reads ``MOT_*`` variables; unset ones take the embedded defaults."""
    env = os.environ if env is None else env
    data_dir = Path(env.get("MOT_DATA_DIR") or REPO / ".mot").resolve()
    if data_dir.exists() and not data_dir.is_dir():
        raise ConfigError("MOT_DATA_DIR", str(data_dir), "not a directory")
    cache_dir = Path(env.get("MOT_CACHE_DIR") or Path.home() / ".cache" / "mot-assist")
    settings = Settings(
        data_dir=data_dir,
        cache_dir=cache_dir,
        host=env.get("MOT_HOST", "127.0.0.1"),
        rasa_port=_port(env, "MOT_RASA_PORT", 5005),
        actions_port=_port(env, "MOT_ACTIONS_PORT", 5055),
        desk_port=_port(env, "MOT_DESK_PORT", 8080),
        desk_token=env.get("MOT_DESK_TOKEN") or _secret(data_dir, "desk-token"),
        rasa_token=env.get("MOT_RASA_TOKEN") or _secret(data_dir, "rasa-token"),
        desk_database_url=_url(env, "MOT_DESK_DATABASE_URL",
                               f"sqlite+aiosqlite:///{data_dir / 'desk.db'}",
                               {"sqlite+aiosqlite", "postgresql+asyncpg"}),
        tracker_store_url=_optional_url(env, "MOT_TRACKER_STORE_URL", {"sqlite", "postgresql"}),
        lock_store_url=_optional_url(env, "MOT_LOCK_STORE_URL", {"redis"}),
        event_broker_url=_optional_url(env, "MOT_EVENT_BROKER_URL", {"amqp"}),
        articles_dir=Path(env.get("MOT_ARTICLES_DIR") or REPO / "knowledge" / "articles"),
        catalogue_path=Path(env.get("MOT_CATALOGUE") or REPO / "bot" / "moments.yml"),
        max_message_chars=int_setting(env, "MOT_MAX_MESSAGE_CHARS", 5000, 1, 1_000_000),
        embedding_model=env.get("MOT_EMBEDDING_MODEL", "all-MiniLM-L6-v2"),
        session_key=env.get("MOT_SESSION_KEY") or _secret(data_dir, "session-key"),
        cookie_secure=_flag(env, "MOT_COOKIE_SECURE"),
        redis_url=_optional_url(env, "MOT_REDIS_URL", {"redis"}),
        event_queue=env.get("MOT_EVENT_QUEUE") or "mot_events",
        business_hours=env.get("MOT_BUSINESS_HOURS") or "always",
        business_timezone=env.get("MOT_BUSINESS_TZ") or "UTC",
        rest_callback_url=_optional_url(env, "MOT_REST_CALLBACK_URL", {"http", "https"}),
        rest_callback_secret=(env.get("MOT_REST_CALLBACK_SECRET")
                              or _secret(data_dir, "rest-callback-secret")),
        demo_users=_flag(env, "MOT_DEMO_USERS"),
        insight_retention_days=int_setting(env, "MOT_INSIGHT_RETENTION_DAYS", 400, 2, 3650),
        alert_webhook_url=_optional_url(env, "MOT_ALERT_WEBHOOK_URL", {"http", "https"}),
        telegram_token=_telegram_token(env),
        telegram_webhook_url=_optional_url(env, "MOT_TELEGRAM_WEBHOOK_URL", {"https"}),
        telegram_secret=_telegram_secret(env, data_dir),
        telegram_api_url=_url(env, "MOT_TELEGRAM_API_URL", "https://api.telegram.org",
                              {"http", "https"}),
    )
    if len({settings.rasa_port, settings.actions_port, settings.desk_port}) != 3:
        raise ConfigError("MOT_*_PORT", f"{settings.rasa_port},{settings.actions_port},"
                          f"{settings.desk_port}", "the three ports must differ")
    from bot.hours import parse_hours  # here: bot.hours names its errors with ConfigError

    parse_hours(settings.business_hours, settings.business_timezone)  # raises on a bad one
    return settings


def int_setting(env: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    """A whole-number setting in [low, high] (``default`` when unset); else ConfigError."""
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(key, raw, "must be a whole number") from None
    if not low <= value <= high:
        raise ConfigError(key, raw, f"must be between {low} and {high}")
    return value


def _flag(env: Mapping[str, str], key: str) -> bool:
    raw = (env.get(key) or "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise ConfigError(key, raw, "must be 1/true/yes or 0/false/no")


def _port(env: Mapping[str, str], key: str, default: int) -> int:
    return int_setting(env, key, default, 1, 65535)


def _url(env: Mapping[str, str], key: str, default: str, schemes: set[str]) -> str:
    value = env.get(key) or default
    try:
        parsed = urlparse(value)
        parsed.port  # noqa: B018 (raises ValueError for a port out of range)
    except ValueError as error:
        raise ConfigError(key, value, f"not a URL: {error}") from None
    if parsed.scheme not in schemes:
        raise ConfigError(key, value, f"scheme must be one of {sorted(schemes)}")
    if not parsed.scheme.startswith("sqlite") and not parsed.hostname:
        raise ConfigError(key, value, "the URL names no host")
    return value


#: A Telegram bot token as BotFather gives it ("123456789:AA..."), and a webhook secret as
#: setWebhook takes it.
_TELEGRAM_TOKEN = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{20,}$")
_TELEGRAM_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def _telegram_token(env: Mapping[str, str]) -> str | None:
    token = env.get("MOT_TELEGRAM_TOKEN") or None
    if token is not None and not _TELEGRAM_TOKEN.match(token):
        raise ConfigError("MOT_TELEGRAM_TOKEN", "(hidden)", "not a bot token as BotFather "
                                                            "gives it ('<digits>:<letters>')")
    return token


def _telegram_secret(env: Mapping[str, str], data_dir: Path) -> str:
    if not env.get("MOT_TELEGRAM_TOKEN"):
        return ""
    secret = env.get("MOT_TELEGRAM_SECRET") or _secret(data_dir, "telegram-secret")
    if not _TELEGRAM_SECRET.match(secret):
        raise ConfigError("MOT_TELEGRAM_SECRET", "(hidden)", "1-256 letters, digits, '_' or "
                                                             "'-' (what setWebhook takes)")
    return secret


def _optional_url(env: Mapping[str, str], key: str, schemes: set[str]) -> str | None:
    value = env.get(key)
    return _url(env, key, value, schemes) if value else None


def secret(data_dir: Path, name: str) -> str:
    """The data directory's secret ``name``, created on first use (embedded default)."""
    return _secret(data_dir, name)


def _secret(data_dir: Path, name: str) -> str:
    """A random secret kept in the data directory, so every local process shares it."""
    path = data_dir / "secrets" / name
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(value)
    return value


#: The services a setting points to, checked before ``mot up`` starts anything.
SERVICE_SETTINGS = (("MOT_DESK_DATABASE_URL", "desk_database_url"),
                    ("MOT_TRACKER_STORE_URL", "tracker_store_url"),
                    ("MOT_LOCK_STORE_URL", "lock_store_url"),
                    ("MOT_EVENT_BROKER_URL", "event_broker_url"),
                    ("MOT_REDIS_URL", "redis_url"))
DEFAULT_PORTS = {"postgresql": 5432, "redis": 6379, "amqp": 5672}


def service_address(url: str) -> str:
    """A server URL's "host:port" (the scheme's default port when none is given), fit for
    messages: no credentials."""
    parts = urlsplit(url)
    port = parts.port or DEFAULT_PORTS.get(parts.scheme.split("+")[0], 0)
    return f"{parts.hostname or 'localhost'}:{port}"


def unreachable_services(settings: Settings, timeout: float = 3.0) -> list[str]:
    """Each configured server (PostgreSQL, Redis, RabbitMQ) that does not accept a TCP
    connection, as "KEY: cannot connect to host:port (reason)"; SQLite files are not
    servers. A start fails fast on these instead of in a process's traceback minutes on."""
    problems = []
    for key, attribute in SERVICE_SETTINGS:
        url = getattr(settings, attribute)
        if not url:
            continue
        if urlsplit(url).scheme.split("+")[0] not in DEFAULT_PORTS:
            continue
        host, _, port = service_address(url).rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=timeout).close()
        except OSError as error:
            problems.append(f"{key}: cannot connect to {host}:{port} ({error.strerror or error})")
    return problems
