"""Socket.io input channel, compatible with the public rasa-webchat 1.0.1 widget.

Rasa's socket.io channel (session_request/session_confirm, user_uttered/bot_uttered) with
input checks: an empty, oversized, binary or malformed message is answered with a
``bot_uttered`` that says what is wrong, and never reaches the bot. A customer token in the
metadata (rasa-webchat's ``customData``) is checked as on REST (channels/identity.py).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint

from channels.guard import MessageRejected, check_text
from channels.identity import token_secret, verified_metadata

log = structlog.get_logger()
DEFAULT_MAX_CHARS = 5000


class GuardedSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel with input checks."""

    def __init__(self, *args: Any, max_message_chars: int = DEFAULT_MAX_CHARS,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_message_chars = max_message_chars

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> GuardedSocketIOInput:
        credentials = credentials or {}
        channel = super().from_credentials(credentials)
        assert isinstance(channel, GuardedSocketIOInput)
        channel.max_message_chars = int(credentials.get("max_message_chars", DEFAULT_MAX_CHARS))
        return channel

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = super().blueprint(on_new_message)
        assert self.sio is not None
        sio = self.sio
        namespace = self.namespace or "/"
        handle_message = sio.handlers[namespace][self.user_message_evt]

        async def checked(sid: str, data: Any = None) -> None:
            try:
                if not isinstance(data, dict):
                    raise MessageRejected("a message must be an object with 'message' and "
                                          "'session_id'")
                data["message"] = check_text(data.get("message"), self.max_message_chars)
                data[self.metadata_key] = verified_metadata(
                    _metadata(data.get(self.metadata_key)), token_secret()) or {}
            except MessageRejected as rejected:
                log.info("socketio.message.rejected", reason=rejected.reason)
                await sio.emit(self.bot_message_evt,
                               {"text": f"Sorry, I can't read that: {rejected.reason}."},
                               room=sid, namespace=self.namespace)
                return
            await handle_message(sid, data)

        sio.handlers[namespace][self.user_message_evt] = checked
        return blueprint


def _metadata(value: Any) -> dict[str, Any] | None:
    """The message's metadata object (Rasa also accepts it as a JSON string)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise MessageRejected("the message's metadata is not valid JSON") from None
    if not isinstance(value, dict):
        raise MessageRejected("the message's metadata must be an object")
    return value
