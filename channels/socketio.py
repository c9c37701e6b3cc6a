"""Socket.io input channel, compatible with the public rasa-webchat 1.0.1 widget.

Rasa's socket.io channel (session_request/session_confirm, user_uttered/bot_uttered) with
input checks: an empty, oversized, binary or malformed message is answered with a
``bot_uttered`` that says what is wrong, and never reaches the bot.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint

from channels.guard import MessageRejected, check_text

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
        async def checked(message: UserMessage) -> None:
            try:
                message.text = check_text(message.text, self.max_message_chars)
            except MessageRejected as rejected:
                log.info("socketio.message.rejected", reason=rejected.reason)
                await message.output_channel.send_text_message(
                    message.sender_id, f"Sorry, I can't read that: {rejected.reason}.")
                return
            await on_new_message(message)

        blueprint = super().blueprint(checked)
        assert self.sio is not None
        namespace = self.namespace or "/"
        handle_message = self.sio.handlers[namespace][self.user_message_evt]

        async def well_formed(sid: str, data: Any = None) -> None:
            if not isinstance(data, dict):
                await self.sio.emit(self.bot_message_evt,  # type: ignore[union-attr]
                                    {"text": "Sorry, I can't read that: a message must be an "
                                             "object with 'message' and 'session_id'."},
                                    room=sid, namespace=self.namespace)
                return
            await handle_message(sid, data)

        self.sio.handlers[namespace][self.user_message_evt] = well_formed
        return blueprint
