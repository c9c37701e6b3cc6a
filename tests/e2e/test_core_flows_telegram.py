"""The core flows over Telegram: updates posted to the webhook as Telegram posts them, the
bot's answers read from a stand-in Bot API (tests/fake_telegram.py), an agent's lines
reaching the same chat."""

from __future__ import annotations

import asyncio
import json
import random
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import aiohttp
import pytest

from desk.testing import sign_in
from tests.conftest import RunningAssistant, http_json
from tests.e2e.desk_customer import add_agent
from tests.fake_telegram import FakeTelegram

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


class TelegramChat:
    """One customer's chat: posts updates to the webhook with Telegram's secret header."""

    def __init__(self, assistant: RunningAssistant, telegram: FakeTelegram) -> None:
        self.url = f"{assistant.rasa_url}/webhooks/telegram/webhook"
        self.secret = (assistant.data_dir / "secrets" / "telegram-secret").read_text().strip()
        self.chat_id = random.randint(10**9, 10**10)
        self.telegram = telegram
        self.updates = 0

    def post(self, update: dict[str, Any] | bytes, secret: str | None = None) -> tuple[int, Any]:
        body = update if isinstance(update, bytes) else json.dumps(update).encode()
        request = urllib.request.Request(self.url, data=body, headers={
            "Content-Type": "application/json",
            "X-Telegram-Bot-Api-Secret-Token": self.secret if secret is None else secret})
        try:
            with urllib.request.urlopen(request, timeout=60) as reply:
                return reply.status, json.loads(reply.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def update(self, **content: Any) -> dict[str, Any]:
        self.updates += 1
        return {"update_id": self.chat_id * 1000 + self.updates, **content}

    def say(self, text: str) -> dict[str, Any]:
        update = self.update(message={"message_id": self.updates, "text": text,
                                      "chat": {"id": self.chat_id, "type": "private"}})
        assert self.post(update)[0] == 200
        return update

    def press(self, payload: str) -> None:
        update = self.update(callback_query={
            "id": uuid.uuid4().hex, "data": payload,
            "message": {"message_id": 1, "chat": {"id": self.chat_id, "type": "private"}}})
        assert self.post(update)[0] == 200

    def wait_for(self, fragment: str) -> list[dict[str, Any]]:
        return self.telegram.wait_for(str(self.chat_id), fragment)


@pytest.fixture
def chat(assistant: RunningAssistant, telegram: FakeTelegram) -> TelegramChat:
    return TelegramChat(assistant, telegram)


def test_self_service_over_telegram_with_buttons(chat: TelegramChat) -> None:
    update = chat.say("I got charged twice for the same order!!")
    answer = chat.wait_for("Did this solve it?")[-1]
    assert "**" not in answer["text"]  # Telegram shows text as written: no Markdown stars
    buttons = [row[0]["callback_data"] for row in answer["reply_markup"]["inline_keyboard"]]
    assert buttons[:2] == ["/affirm", "/deny"]
    sent = len(chat.telegram.sent(str(chat.chat_id)))
    assert chat.post(update) == (200, {"ok": True, "duplicate": True})  # Telegram retried
    chat.press("/affirm")
    chat.wait_for("Glad that sorted it")
    assert len(chat.telegram.sent(str(chat.chat_id))) == sent + 1
    assert any(m == "answerCallbackQuery" for m, _ in chat.telegram.calls)


def test_bad_updates_are_refused_or_answered_with_the_reason(chat: TelegramChat) -> None:
    assert chat.post(chat.update(message={"text": "hi", "chat": {"id": chat.chat_id}}),
                     secret="forged")[0] == 401
    status, body = chat.post(b"{not json")
    assert status == 400 and "not valid JSON" in body["error"]
    photo = chat.update(message={"message_id": 9, "photo": [{"file_id": "x"}],
                                 "chat": {"id": chat.chat_id, "type": "private"}})
    assert chat.post(photo)[0] == 200
    chat.wait_for("Sorry, I can't read that: I can only read text messages for now.")
    chat.say("x" * 6000)
    chat.wait_for("the limit is 5000")
    group = chat.update(message={"message_id": 10, "text": "a person please",
                                 "chat": {"id": chat.chat_id, "type": "group"}})
    assert chat.post(group)[0] == 200
    chat.wait_for("I can only help in a private chat")
    assert chat.post(chat.update(message=[1, 2]))[0] == 400


def test_an_agent_talks_to_the_customer_in_their_telegram_chat(
        chat: TelegramChat, assistant: RunningAssistant) -> None:
    chat.say("let me speak to a real person")
    chat.wait_for("passed your conversation to a person")
    status, queued = http_json(f"{assistant.desk_url}/api/handoffs", token=assistant.desk_token)
    assert status == 200
    conversation = f"telegram:{chat.chat_id}"  # no other channel's client can name it
    packet = next(h["packet"] for h in queued if h["conversation_id"] == conversation)
    assert packet["channel"] == "telegram"
    name, password = f"agent-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    add_agent(assistant.env, name, password)
    asyncio.run(_agent_replies(assistant, conversation, name, password))
    sent = len(chat.wait_for("Hello from the desk"))
    chat.say("thanks, that's all")  # the bot stays quiet: the agent has the conversation
    time.sleep(2)
    assert len(chat.telegram.sent(str(chat.chat_id))) == sent


async def _agent_replies(assistant: RunningAssistant, conversation: str, name: str,
                         password: str) -> None:
    async with aiohttp.ClientSession(base_url=assistant.desk_url,
                                     cookie_jar=aiohttp.CookieJar(unsafe=True)) as agent:
        csrf = {"X-CSRF-Token": await sign_in(agent, name, password)}
        queue = await (await agent.get("/api/desk/queue")).json()
        handoff = next(h["id"] for h in queue["queued"] if h["conversation_id"] == conversation)
        assert (await agent.post(f"/api/desk/handoffs/{handoff}/claim", headers=csrf)).status \
            == 200
        sent = await agent.post(f"/api/desk/handoffs/{handoff}/messages", headers=csrf,
                                json={"client_id": uuid.uuid4().hex,
                                      "text": "Hello from the desk"})
        assert sent.status in (200, 201), await sent.text()
