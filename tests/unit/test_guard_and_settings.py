"""Input checks every channel applies, and configuration errors that name the key."""

from __future__ import annotations

import pytest
import yaml

from bot.rasa_config import credentials, endpoints
from bot.settings import ConfigError, load_settings
from channels.guard import MessageRejected, check_sender, check_text


@pytest.mark.parametrize(
    ("text", "status", "reason"),
    [
        ("", 400, "empty"),
        ("   \n ", 400, "empty"),
        ("\u200b\u200b", 400, "empty"),  # zero-width spaces: nothing to see
        (" \ufeff\u2060\u200d \u200e", 400, "empty"),
        ("\u3164", 400, "empty"), ("\u2800", 400, "empty"), ("\u115f\u1160", 400, "empty"),
        ("\u034f", 400, "empty"), ("\u200b\u0301", 400, "empty"),  # an accent on nothing
        (None, 400, "no text"),
        (42, 400, "must be a string"),
        ("x" * 100_000, 413, "100000 characters long; the limit is 5000"),
        ("abc\x00def", 400, "binary"),
        ("bad \ufffd bytes", 400, "binary"),
        ("my parcel is late \ud83d", 400, "binary"),  # half an emoji: no encoder writes it
    ],
)
def test_bad_messages_are_rejected_with_a_reason(text: object, status: int, reason: str) -> None:
    with pytest.raises(MessageRejected) as rejected:
        check_text(text, 5000)
    assert rejected.value.status == status and reason in rejected.value.reason


def test_good_messages_pass_stripped() -> None:
    assert check_text("  my parcel is late\n", 5000) == "my parcel is late"
    assert check_text("Ünïcödé ✓ and\ttabs", 5000) == "Ünïcödé ✓ and\ttabs"
    assert check_text("\ufeff\u200bmy card \u200b \n", 5000) == "my card"
    assert check_text("👩\u200d💻", 5000) == "👩\u200d💻"  # a joiner inside an emoji stays


@pytest.mark.parametrize(("text", "kept"), [
    ("my card 4111 1111 1111 1111 was charged twice",
     "my card •••• •••• •••• 1111 was charged twice"),
    ("4111-1111-1111-1111", "••••-••••-••••-1111"),
    ("5500005555555559?", "••••••••••••5559?"),
    ("1234 5678 9012 3456", "1234 5678 9012 3456"),  # no card network's first digit: kept
    # a digit mistyped, grouped as a card: the rest of the card is still there to read
    ("my card 4111 1111 1111 1112 was declined", "my card •••• •••• •••• 1112 was declined"),
    ("4111111111111112", "4111111111111112"),  # in one run, a card's only with its check digit
    ("order NW-100200, call 0044 7700 900123", "order NW-100200, call 0044 7700 900123"),
    ("my card is 4111 1111 1111 1111 123", "my card is •••• •••• •••• 1111 •••"),  # + its code
    ("4111.1111.1111.1111", "••••.••••.••••.1111"), ("visa4111111111111111",
                                                      "visa••••••••••••1111"),
    ("exp 12/27 cvc: 1234", "exp 12/27 cvc: ••••"),
    # a phone number, a parcel number, two order numbers: check digit right, no card's
    ("my phone number is 0044 7700 900 007", "my phone number is 0044 7700 900 007"),
    ("15501234567006", "15501234567006"), ("482913 4829108", "482913 4829108"),
    # grouped otherwise than cards are: an order number and a phone number, a sort code and
    # an account number, on one line
    ("NW-441638 07935 686971", "NW-441638 07935 686971"),
    ("sort code 46-17-53 25000806", "sort code 46-17-53 25000806"),
    # cards typed with double spaces, no-break spaces, a line break, " - "; codes named so
    ("4111  1111  1111  1111", "••••  ••••  ••••  1111"),
    ("4111\u00a01111\u00a01111\u00a01111", "••••\u00a0••••\u00a0••••\u00a01111"),
    ("4111 - 1111 - 1111 - 1111", "•••• - •••• - •••• - 1111"),
    ("3782 822463 10005", "•••• •••••• •0005"), ("the cvv is 123", "the cvv is •••"),
    ("cv2 123", "cv2 •••"),
])
def test_card_numbers_are_masked_as_they_arrive(text: str, kept: str) -> None:
    assert check_text(text, 5000) == kept


@pytest.mark.parametrize("sender", [None, "", "   ", True, "x" * 201, "a\x00b", "a\ud800"])
def test_bad_senders_are_rejected(sender: object) -> None:
    with pytest.raises(MessageRejected):
        check_sender(sender)


def test_embedded_defaults(tmp_path) -> None:
    settings = load_settings({"MOT_DATA_DIR": str(tmp_path)})
    assert (settings.rasa_port, settings.actions_port, settings.desk_port) == (5005, 5055, 8080)
    assert settings.desk_database_url.startswith("sqlite+aiosqlite:///")
    assert len(settings.desk_token) > 30
    assert load_settings({"MOT_DATA_DIR": str(tmp_path)}).desk_token == settings.desk_token
    assert endpoints(settings)["tracker_store"]["dialect"] == "sqlite"
    assert "lock_store" not in endpoints(settings)


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"MOT_RASA_PORT": "abc"}, "MOT_RASA_PORT"),
        ({"MOT_DESK_PORT": "70000"}, "MOT_DESK_PORT"),
        ({"MOT_DESK_DATABASE_URL": "mysql://x"}, "MOT_DESK_DATABASE_URL"),
        ({"MOT_LOCK_STORE_URL": "memcached://x"}, "MOT_LOCK_STORE_URL"),
        ({"MOT_RASA_PORT": "8080"}, "MOT_*_PORT"),
    ],
)
def test_bad_config_names_the_key(tmp_path, env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings({"MOT_DATA_DIR": str(tmp_path), **env})
    assert error.value.key == key and "(environment)" in str(error.value)


def test_scale_out_configuration_uses_rasas_own_stores(tmp_path) -> None:
    settings = load_settings({
        "MOT_DATA_DIR": str(tmp_path),
        "MOT_TRACKER_STORE_URL": "postgresql://postgres@127.0.0.1:5432/test",
        "MOT_LOCK_STORE_URL": "redis://127.0.0.1:6379/1",
        "MOT_EVENT_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672",
    })
    config = endpoints(settings)
    assert config["tracker_store"] == {"type": "SQL", "dialect": "postgresql",
                                       "url": "127.0.0.1", "port": 5432, "db": "test",
                                       "username": "postgres", "password": ""}
    assert config["lock_store"]["type"] == "redis" and config["lock_store"]["db"] == 1
    assert config["event_broker"]["type"] == "pika"
    assert yaml.safe_load(yaml.safe_dump(credentials(settings)))
    # web chat across replicas: sockets, sessions and mailboxes through the same Redis
    socketio = "channels.socketio.GuardedSocketIOInput"
    assert credentials(settings)[socketio]["redis_url"] == "redis://127.0.0.1:6379/1"
    assert "redis_url" not in credentials(load_settings({"MOT_DATA_DIR": str(tmp_path)}))[
        socketio]


def test_unreachable_services_are_named_before_anything_starts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bot.settings import unreachable_services

    assert unreachable_services(load_settings({"MOT_DATA_DIR": str(tmp_path)})) == []  # SQLite
    settings = load_settings({
        "MOT_DATA_DIR": str(tmp_path),
        "MOT_DESK_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
        "MOT_EVENT_BROKER_URL": "amqp://guest:guest@127.0.0.1:1",  # nothing listens there
        "MOT_REDIS_URL": "redis://127.0.0.1:1/0"})
    assert unreachable_services(settings, timeout=1) == [
        "MOT_EVENT_BROKER_URL: cannot connect to 127.0.0.1:1 (Connection refused)",
        "MOT_REDIS_URL: cannot connect to 127.0.0.1:1 (Connection refused)"]


@pytest.mark.parametrize(("body", "reason"), [
    ('{"timestamp": NaN}', "NaN is not a JSON number"),
    ('[1, -Infinity]', "-Infinity is not a JSON number"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("{nope", "Expecting property name"),
])
def test_request_bodies_are_json_as_the_standard_has_it(body: str, reason: str) -> None:
    import json

    from bot import strict_json

    with pytest.raises(json.JSONDecodeError, match=reason):
        strict_json.loads(body.encode())
    assert strict_json.loads(b'{"a": [1.5, null]}') == {"a": [1.5, None]}
