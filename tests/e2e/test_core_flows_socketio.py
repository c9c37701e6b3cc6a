"""The core flows over socket.io, the way the rasa-webchat widget talks to Rasa."""

from __future__ import annotations

import queue
import uuid
from collections.abc import Iterator

import pytest
import socketio

from tests.conftest import RunningAssistant, http_json

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


class WebchatClient:
    """Speaks rasa-webchat 1.0.1's protocol: session_request/confirm, user/bot_uttered."""

    def __init__(self, url: str, session_id: str | None = None) -> None:
        self.session_id = session_id or uuid.uuid4().hex
        self.replies: queue.Queue[dict] = queue.Queue()
        self.confirmed: queue.Queue[str] = queue.Queue()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("bot_uttered", self.replies.put)
        self.sio.on("session_confirm", self.confirmed.put)
        # Long-polling: the venv has no websocket-client; browsers upgrade to WebSocket.
        self.sio.connect(url, socketio_path="/socket.io", transports=["polling"])
        self.sio.emit("session_request", {"session_id": self.session_id})
        assert self.confirmed.get(timeout=10) == self.session_id

    def say(self, text: object, timeout: float = 30, quiet: float = 1.5) -> list[dict]:
        """Every bot_uttered until the bot has been quiet for ``quiet`` seconds.

        Rasa's socket.io channel sends each paragraph of a reply as its own message, with
        the buttons on the last one.
        """
        self.sio.emit("user_uttered", {"message": text, "session_id": self.session_id})
        replies = [self.replies.get(timeout=timeout)]
        while True:
            try:
                replies.append(self.replies.get(timeout=quiet))
            except queue.Empty:
                return replies

    def close(self) -> None:
        self.sio.disconnect()


def text_of(replies: list[dict]) -> str:
    return "\n\n".join(r.get("text", "") for r in replies)


@pytest.fixture
def webchat(assistant: RunningAssistant) -> Iterator[WebchatClient]:
    client = WebchatClient(assistant.rasa_url)
    yield client
    client.close()


def test_self_service_over_socketio(webchat: WebchatClient) -> None:
    replies = webchat.say("I got charged twice for the same order!!")
    assert "Did this solve it?" in text_of(replies)
    assert [q["payload"] for q in replies[-1]["quick_replies"]][:2] == ["/affirm", "/deny"]
    assert "Glad that sorted it" in text_of(webchat.say("/affirm"))


def test_clarify_then_handoff_over_socketio(webchat: WebchatClient, assistant) -> None:
    clarify = webchat.say("hmm not sure how to explain this")
    assert "Which of these is closest" in text_of(clarify)
    assert "passed your conversation to a person" in text_of(webchat.say("blorp zzzz"))
    _, queue_ = http_json(f"{assistant.desk_url}/api/handoffs", token=assistant.desk_token)
    packet = next(h["packet"] for h in queue_ if h["conversation_id"] == webchat.session_id)
    assert packet["channel"] == "socketio" and packet["reason"] == "low_confidence"


def test_person_on_request_over_socketio(webchat: WebchatClient) -> None:
    reply = webchat.say("let me speak to a real person")
    assert "passed your conversation to a person" in text_of(reply)


def test_a_request_for_a_person_withdrawn_while_queued(webchat: WebchatClient,
                                                       assistant) -> None:
    """ "nvm it just arrived" before anyone took it: the bot is back, and says so, live."""
    assert "passed your conversation to a person" in text_of(
        webchat.say("let me speak to a real person"))
    _, queue_ = http_json(f"{assistant.desk_url}/api/handoffs", token=assistant.desk_token)
    handoff = next(h["id"] for h in queue_ if h["conversation_id"] == webchat.session_id)
    assert "cancelled your request for a person" in text_of(webchat.say("nvm it just arrived"))
    _, record = http_json(f"{assistant.desk_url}/api/handoffs/{handoff}",
                          token=assistant.desk_token)
    assert record["status"] == "closed" and record["outcome"] == "withdrawn"
    assert "Glad that sorted it" not in text_of(webchat.say("my parcel is late"))  # the bot again


def test_bad_messages_get_a_clear_answer_over_socketio(webchat: WebchatClient) -> None:
    assert "limit is" in webchat.say("x" * 100_000)[0]["text"]
    assert "empty" in webchat.say("   ")[0]["text"]
    assert "must be a string" in webchat.say(12345)[0]["text"]
    webchat.sio.emit("user_uttered", "not an object")
    assert "must be an object" in webchat.replies.get(timeout=10)["text"]
    assert webchat.say("hello")[0]["text"].startswith("Hi!")
