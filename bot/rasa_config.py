"""Writes Rasa's endpoints.yml and credentials.yml from the settings.

The embedded default keeps trackers in SQLite under the data directory and locks in
memory; the scale-out configuration (PostgreSQL trackers, Redis locks, RabbitMQ events)
is the same files with other URLs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from bot.settings import Settings

REST_CHANNEL = "channels.rest.GuardedRestInput"
SOCKETIO_CHANNEL = "channels.socketio.GuardedSocketIOInput"
TELEGRAM_CHANNEL = "channels.telegram.GuardedTelegramInput"
DESK_BROKER = "desk.broker.DeskEventBroker"


def endpoints(settings: Settings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "action_endpoint": {"url": f"{settings.url(settings.actions_port)}/webhook"},
        "tracker_store": _tracker_store(settings),
    }
    if settings.lock_store_url:
        lock = urlparse(settings.lock_store_url)
        config["lock_store"] = {"type": "redis", "url": lock.hostname, "port": lock.port or 6379,
                                "db": int((lock.path or "/0").strip("/") or 0),
                                "key_prefix": "mot"}
    if settings.event_broker_url:
        broker = urlparse(settings.event_broker_url)
        config["event_broker"] = {
            "type": "pika", "url": broker.hostname, "port": broker.port or 5672,
            "username": broker.username or "guest", "password": broker.password or "guest",
            "queues": [settings.event_queue],
            # one exchange per deployment: on Rasa's default ("rasa-exchange", a fanout)
            # every deployment on the vhost got every other's customers' events
            "exchange_name": event_exchange(settings.event_queue),
        }
    else:  # embedded default: Rasa posts its events straight to the desk
        config["event_broker"] = {"type": DESK_BROKER, "url": settings.desk_url}
    return config


def event_exchange(queue: str) -> str:
    """The RabbitMQ exchange Rasa publishes a deployment's events to (its queue's own)."""
    return f"{queue}.exchange"


def _tracker_store(settings: Settings) -> dict[str, Any]:
    if not settings.tracker_store_url:
        return {"type": "SQL", "dialect": "sqlite", "db": str(settings.data_dir / "tracker.db")}
    url = urlparse(settings.tracker_store_url)
    if url.scheme == "sqlite":
        return {"type": "SQL", "dialect": "sqlite", "db": url.path}
    return {"type": "SQL", "dialect": "postgresql", "url": url.hostname, "port": url.port or 5432,
            "db": url.path.strip("/"), "username": url.username or "postgres",
            "password": url.password or ""}


def credentials(settings: Settings) -> dict[str, Any]:
    limit = {"max_message_chars": settings.max_message_chars}
    # with Rasa replicas (a Redis lock store), socket.io sessions and mailboxes are shared
    # through the same Redis (channels/socketio.py)
    shared = {"redis_url": settings.lock_store_url} if settings.lock_store_url else {}
    channels: dict[str, Any] = {
        REST_CHANNEL: limit,
        # rasa-webchat sends the page's metadata (e.g. a customer token) as customData
        SOCKETIO_CHANNEL: {"user_message_evt": "user_uttered", "bot_message_evt": "bot_uttered",
                           "session_persistence": True, "metadata_key": "customData",
                           **limit, **shared},
    }
    if settings.telegram_token:
        channels[TELEGRAM_CHANNEL] = {
            "access_token": settings.telegram_token, "secret_token": settings.telegram_secret,
            "webhook_url": settings.telegram_webhook_url, "api_url": settings.telegram_api_url,
            **limit, **shared}
    return channels


def write_rasa_files(settings: Settings) -> tuple[Path, Path]:
    """Writes both files into the data directory; returns (endpoints, credentials)."""
    folder = settings.data_dir / "rasa"
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "endpoints.yml", folder / "credentials.yml"
    for path, content in zip(paths, (endpoints(settings), credentials(settings)), strict=True):
        path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
        path.chmod(0o600)  # credentials.yml may hold a Telegram bot's token
    return paths
