"""The Telegram channel's pieces without Rasa: the Bot API calls it makes, and its settings."""

from __future__ import annotations

import time

import pytest

from bot.rasa_config import TELEGRAM_CHANNEL, credentials
from bot.settings import ConfigError, load_settings
from channels.guard import MessageRejected
from channels.telegram import (
    GuardedTelegramInput,
    LocalUpdates,
    TelegramApiError,
    TelegramOutput,
    _message,
    _parts,
    _plain,
)
from tests.fake_telegram import TOKEN, FakeTelegram


@pytest.fixture
def telegram():  # type: ignore[no-untyped-def]
    fake = FakeTelegram().start()
    yield fake
    fake.stop()


async def test_answers_buttons_and_long_texts_go_out_as_telegram_takes_them(telegram) -> None:  # type: ignore[no-untyped-def]
    output = TelegramOutput(TOKEN, telegram.url)
    await output.send_text_with_buttons("42", "Here is **the fix**", [
        {"title": "Yes, solved", "payload": "/affirm"},
        {"title": "Too long", "payload": "/" + "x" * 80}])  # over 64 bytes: left out
    await output.send_text_message("42", "y" * 5000)
    sent = telegram.sent("42")
    assert sent[0]["text"] == "Here is the fix"
    assert sent[0]["reply_markup"] == {"inline_keyboard": [[{"text": "Yes, solved",
                                                             "callback_data": "/affirm"}]]}
    assert [len(m["text"]) for m in sent[1:]] == [4096, 904]
    await output.send_text_with_buttons("43", "z" * 5000, [{"title": "Yes", "payload": "/a"}])
    assert [("reply_markup" in m, len(m["text"])) for m in telegram.sent("43")] == [
        (False, 4096), (True, 904)]


async def test_a_refused_call_raises_so_the_line_is_not_marked_delivered(telegram) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TelegramApiError, match="Unauthorized"):
        await TelegramOutput("1:wrong-token", telegram.url).send_text_message("42", "hi")
    with pytest.raises(TelegramApiError, match="failed"):
        await TelegramOutput(TOKEN, "http://127.0.0.1:1").send_text_message("42", "hi")


async def test_flood_control_is_waited_out_as_telegram_asks(telegram) -> None:  # type: ignore[no-untyped-def]
    output = TelegramOutput(TOKEN, telegram.url)
    telegram.flood = [0.2, 0.1]
    started = time.monotonic()
    await output.send_text_message("42", "after the wait")
    assert time.monotonic() - started >= 0.3
    assert [m["text"] for m in telegram.sent("42")] == ["after the wait"]
    telegram.flood = [60]  # longer than a turn should wait: refused at once, retried later
    with pytest.raises(TelegramApiError, match="Too Many Requests: retry after 60"):
        await output.send_text_message("42", "too soon")
    telegram.flood = [0.01] * 4  # still flooded after every retry
    with pytest.raises(TelegramApiError, match="Too Many Requests"):
        await output.send_text_message("42", "still too soon")
    assert [m["text"] for m in telegram.sent("42")] == ["after the wait"]


async def test_an_update_is_taken_once_unless_released() -> None:
    updates = LocalUpdates(size=2)
    assert await updates.claim(7) and not await updates.claim(7)  # Telegram's retry
    await updates.release(7)  # handling failed: the retry is taken
    assert await updates.claim(7)
    for update_id in (8, 9):
        await updates.claim(update_id)
    assert await updates.claim(7)  # the oldest forgotten
    assert isinstance(GuardedTelegramInput(TOKEN, "secret").updates, LocalUpdates)


def test_the_channel_is_on_with_a_token_and_a_bad_one_is_named(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert TELEGRAM_CHANNEL not in credentials(load_settings({"MOT_DATA_DIR": str(tmp_path)}))
    settings = load_settings({"MOT_DATA_DIR": str(tmp_path), "MOT_TELEGRAM_TOKEN": TOKEN})
    channel = credentials(settings)[TELEGRAM_CHANNEL]
    assert channel["access_token"] == TOKEN and len(channel["secret_token"]) >= 32
    assert (tmp_path / "secrets" / "telegram-secret").read_text() == channel["secret_token"]
    for env, key in (({"MOT_TELEGRAM_TOKEN": "not-a-token"}, "MOT_TELEGRAM_TOKEN"),
                     ({"MOT_TELEGRAM_TOKEN": TOKEN, "MOT_TELEGRAM_SECRET": "has spaces"},
                      "MOT_TELEGRAM_SECRET"),
                     ({"MOT_TELEGRAM_WEBHOOK_URL": "http://example.org/hook"},
                      "MOT_TELEGRAM_WEBHOOK_URL")):
        with pytest.raises(ConfigError) as error:
            load_settings({"MOT_DATA_DIR": str(tmp_path), **env})
        assert error.value.key == key and "not-a-token" not in str(error.value)


def test_updates_read_as_a_customer_means_them() -> None:
    chat = {"id": 4200, "type": "private"}
    assert _message({"message": {"chat": chat, "text": "/start ref_abc"}})[1] == "/greet"
    assert _message({"message": {"chat": chat, "photo": [{}],
                                 "caption": "arrived broken"}})[1] == "arrived broken"
    assert _message({"message": {"chat": chat, "contact": {
        "phone_number": "+447700900123"}}})[1] == "+447700900123"
    assert _message({"edited_message": {"chat": chat, "text": "typo fixed"}}) == (None, None)
    assert _message({"callback_query": {"id": "1", "data": "/affirm",
                                        "message": {"chat": chat}}})[1] == "/affirm"
    with pytest.raises(MessageRejected, match="'message' must be an object"):
        _message({"message": [1, 2]})


def test_text_as_telegram_shows_and_counts_it() -> None:
    assert _plain("Try **Track your parcel** first; x**2 + y**2") == \
        "Try Track your parcel first; x**2 + y**2"
    assert _plain("**") == "**"
    assert [len(p) for p in _parts("\U0001F600" * 3000)] == [2048, 952]  # 2 units an emoji
