"""Socket.io input channel, compatible with the public rasa-webchat 1.0.1 widget.

Rasa's socket.io channel (session_request/session_confirm, user_uttered/bot_uttered) with
input checks: an empty, oversized, binary or malformed message is answered with a
``bot_uttered`` that says what is wrong, and never reaches the bot. A customer token in the
metadata (rasa-webchat's ``customData``) is checked as on REST (channels/identity.py).

Lines sent to a session with no open socket (an agent's reply, the hand-back question,
while the customer's tab is closed or reconnecting) wait in a :class:`Mailbox` and are
emitted when the session comes back (``session_request`` with its id); Rasa's own channel
drops them. The mailbox is this Rasa process's memory, like the sockets themselves.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint
from socketio import AsyncServer

from channels.guard import MessageRejected, check_text
from channels.identity import token_secret, verified_metadata

log = structlog.get_logger()
DEFAULT_MAX_CHARS = 5000


class Mailbox:
    """Messages for sessions with no open socket, oldest first, until the session is back:
    at most ``max_lines`` a session (the oldest dropped), each for ``max_age`` seconds, for at
    most ``max_sessions`` sessions (the longest waiting dropped first)."""

    def __init__(self, max_lines: int = 100, max_age: float = 86_400.0,
                 max_sessions: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_lines, self.max_age, self.max_sessions = max_lines, max_age, max_sessions
        self._clock = clock
        self._waiting: OrderedDict[str, list[tuple[float, Any]]] = OrderedDict()

    def keep(self, session: str, message: Any) -> None:
        lines = self._waiting.setdefault(session, [])
        lines.append((self._clock(), message))
        del lines[:-self.max_lines]
        while len(self._waiting) > self.max_sessions:
            dropped, _ = self._waiting.popitem(last=False)
            log.warning("socketio.mailbox.full", dropped_session=dropped)

    def take(self, session: str) -> list[Any]:
        """The session's messages younger than ``max_age``, now no longer kept."""
        oldest = self._clock() - self.max_age
        return [m for at, m in self._waiting.pop(session, []) if at >= oldest]

    def __len__(self) -> int:
        return len(self._waiting)


class MailboxSocketIOOutput(SocketIOOutput):
    """Rasa's socket.io output; a message for a room without a socket goes to the mailbox."""

    def __init__(self, sio: AsyncServer, bot_message_evt: str, mailbox: Mailbox,
                 namespace: str | None = None) -> None:
        super().__init__(sio, bot_message_evt)
        self.mailbox, self.namespace = mailbox, namespace or "/"

    def online(self, room: str) -> bool:
        manager = self.sio.manager
        if self.namespace not in manager.rooms:  # nobody connected since start
            return False
        return any(True for _ in manager.get_participants(self.namespace, room))

    async def _send_message(self, socket_id: str, response: Any) -> None:
        if self.online(socket_id):
            await super()._send_message(socket_id, response)
        else:
            self.mailbox.keep(socket_id, response)
            log.info("socketio.mailbox.kept", session=socket_id)


class GuardedSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel with input checks and a mailbox for sessions away."""

    def __init__(self, *args: Any, max_message_chars: int = DEFAULT_MAX_CHARS,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_message_chars = max_message_chars
        self.mailbox = Mailbox()

    def get_output_channel(self) -> OutputChannel | None:
        """The output the HTTP API's ``output_channel=latest`` uses (the desk's lines)."""
        if self.sio is None:
            return super().get_output_channel()
        return MailboxSocketIOOutput(self.sio, self.bot_message_evt, self.mailbox,
                                     self.namespace)

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
                reason = rejected.reason.rstrip(".")
                await sio.emit(self.bot_message_evt,
                               {"text": f"Sorry, I can't read that: {reason}."},
                               room=sid, namespace=self.namespace)
                return
            await handle_message(sid, data)

        sio.handlers[namespace][self.user_message_evt] = checked
        request_session = sio.handlers[namespace]["session_request"]

        async def session_request(sid: str, data: Any = None) -> None:
            await request_session(sid, data)
            session = data.get("session_id") if isinstance(data, dict) else None
            waiting = self.mailbox.take(session) if isinstance(session, str) else []
            for message in waiting:  # what was said while the customer was away
                await sio.emit(self.bot_message_evt, message, room=sid,
                               namespace=self.namespace)
            if waiting:
                log.info("socketio.mailbox.delivered", session=session, messages=len(waiting))

        sio.handlers[namespace]["session_request"] = session_request
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
