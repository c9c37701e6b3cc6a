"""Socket.io input channel, compatible with the public rasa-webchat 1.0.1 widget.

Rasa's socket.io channel (session_request/session_confirm, user_uttered/bot_uttered) with
input checks: an empty, oversized, binary or malformed message is answered with a
``bot_uttered`` that says what is wrong, and never reaches the bot. A customer token in the
metadata (rasa-webchat's ``customData``) is checked as on REST (channels/identity.py).

Lines sent to a session with no open socket (an agent's reply, the hand-back question,
while the customer's tab is closed or reconnecting) wait in a mailbox and are emitted when
the session comes back (``session_request`` with its id); Rasa's own channel drops them.
By default the mailbox and the sockets are this Rasa process's memory
(:class:`LocalSessions`). With ``redis_url`` in the channel's credentials (``mot up`` sets
it with ``MOT_LOCK_STORE_URL``, the Rasa replicas' Redis) they are shared by every replica
(:class:`RedisSessions`): a line sent through any replica reaches the customer's socket on
whichever replica holds it (python-socketio's Redis client manager), and the mailbox
survives a restart and a reconnection to another replica.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import structlog
from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from redis.asyncio import Redis
from redis.asyncio import from_url as redis_from_url
from redis.exceptions import RedisError
from sanic import Blueprint
from socketio import AsyncRedisManager, AsyncServer

from bot import strict_json
from channels.guard import MessageRejected, check_sender, check_text
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


class Sessions(Protocol):
    """Where a session's sockets are, and the mailbox of a session without one."""

    async def deliver_or_keep(self, session: str, message: Any) -> bool:
        """True when a socket is in the session's room (emit to it); else the message is
        kept for the session, atomically with the check, and False."""

    async def joined(self, session: str, sid: str) -> list[Any]:
        """Socket ``sid`` is in the session's room now; the messages that waited for it."""

    async def left(self, sid: str) -> None:
        """Socket ``sid`` disconnected."""


class LocalSessions:
    """This process's sockets and a :class:`Mailbox` (one Rasa process)."""

    def __init__(self, mailbox: Mailbox, sio: AsyncServer, namespace: str) -> None:
        self.mailbox, self.sio, self.namespace = mailbox, sio, namespace

    def online(self, room: str) -> bool:
        manager = self.sio.manager
        if self.namespace not in manager.rooms:  # nobody connected since start
            return False
        return any(True for _ in manager.get_participants(self.namespace, room))

    async def deliver_or_keep(self, session: str, message: Any) -> bool:
        if self.online(session):  # no await between the check and keeping the message
            return True
        self.mailbox.keep(session, message)
        return False

    async def joined(self, session: str, sid: str) -> list[Any]:
        return self.mailbox.take(session)

    async def left(self, sid: str) -> None:
        return None


#: Keeps the message unless a live replica has a socket in the session's room; members of
#: replicas that stopped beating are removed on the way. KEYS: members, mailbox. ARGV:
#: message, max lines, max age (s), replica key prefix.
_KEEP_UNLESS_ONLINE = """
for _, member in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local replica = string.match(member, '^([^/]+)/')
  if replica and redis.call('EXISTS', ARGV[4] .. replica) == 1 then return 1 end
  redis.call('SREM', KEYS[1], member)
end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 0
"""
#: Adds the socket to the session's members and takes its mailbox. KEYS: members, mailbox,
#: this replica's key. ARGV: member, max age (s), replica key lifetime (s).
_JOIN = """
redis.call('SET', KEYS[3], '1', 'EX', ARGV[3])
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
local waiting = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
return waiting
"""


class RedisSessions:
    """Which sessions have a socket on some Rasa replica, and the mailboxes of those without,
    in Redis: shared by every replica and kept across restarts.

    A session's members are ``<replica>/<sid>``; a replica counts as alive while its key,
    renewed every ``beat_seconds``, has not expired, so the sockets of a replica that died
    stop counting within ``3 * beat_seconds``. Check-and-keep and join-and-take are each one
    Lua script, so a line sent while the customer comes back is either emitted to the new
    socket or handed to it from the mailbox, never left behind.
    """

    def __init__(self, redis: Redis, replica: str | None = None, max_lines: int = 100,
                 max_age: float = 86_400.0, beat_seconds: float = 2.0,
                 prefix: str = "mot:socketio") -> None:
        self.redis, self.replica = redis, replica or uuid.uuid4().hex
        self.max_lines, self.max_age, self.beat_seconds = max_lines, int(max_age), beat_seconds
        self.prefix = prefix
        self._keep = redis.register_script(_KEEP_UNLESS_ONLINE)
        self._join = redis.register_script(_JOIN)
        self._rooms: dict[str, set[str]] = {}  # this replica's sockets: sid -> sessions

    def _members(self, session: str) -> str:
        return f"{self.prefix}:members:{session}"

    def _mailbox(self, session: str) -> str:
        return f"{self.prefix}:mailbox:{session}"

    def _alive(self) -> str:
        return f"{self.prefix}:replica:{self.replica}"

    async def deliver_or_keep(self, session: str, message: Any) -> bool:
        kept = json.dumps([time.time(), message])
        online = await self._keep(keys=[self._members(session), self._mailbox(session)],
                                  args=[kept, self.max_lines, self.max_age,
                                        f"{self.prefix}:replica:"])
        return bool(online)

    async def joined(self, session: str, sid: str) -> list[Any]:
        self._rooms.setdefault(sid, set()).add(session)
        waiting = await self._join(
            keys=[self._members(session), self._mailbox(session), self._alive()],
            args=[f"{self.replica}/{sid}", self.max_age, int(3 * self.beat_seconds)])
        oldest = time.time() - self.max_age
        lines = [json.loads(raw) for raw in waiting]
        return [message for at, message in lines if at >= oldest]

    async def left(self, sid: str) -> None:
        for session in self._rooms.pop(sid, ()):
            await self.redis.srem(self._members(session), f"{self.replica}/{sid}")

    async def stopped(self) -> None:
        """This replica stops: its sockets stop counting now rather than when its key
        expires, so lines sent meanwhile wait in the mailboxes."""
        try:
            await self.redis.delete(self._alive())
        except RedisError as error:
            log.warning("socketio.sessions.stop_failed", error=str(error))

    async def beat(self) -> None:
        """Renews this replica's key, and its sessions' lifetimes, until cancelled."""
        while True:
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.set(self._alive(), "1", ex=int(3 * self.beat_seconds))
                    for session in {s for rooms in self._rooms.values() for s in rooms}:
                        pipe.expire(self._members(session), self.max_age)
                    await pipe.execute()
            except RedisError as error:
                log.warning("socketio.sessions.beat_failed", error=str(error))
            await asyncio.sleep(self.beat_seconds)


class MailboxSocketIOOutput(SocketIOOutput):
    """Rasa's socket.io output; a message for a room without a socket goes to the mailbox."""

    def __init__(self, sio: AsyncServer, bot_message_evt: str, sessions: Sessions) -> None:
        super().__init__(sio, bot_message_evt)
        self.sessions = sessions

    async def _send_message(self, socket_id: str, response: Any) -> None:
        if await self.sessions.deliver_or_keep(socket_id, response):
            await super()._send_message(socket_id, response)
        else:
            log.info("socketio.mailbox.kept", session=socket_id)


class GuardedSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel with input checks and a mailbox for sessions away."""

    def __init__(self, *args: Any, max_message_chars: int = DEFAULT_MAX_CHARS,
                 redis_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_message_chars = max_message_chars
        self.redis_url = redis_url
        self.mailbox = Mailbox()
        self.sessions: Sessions | None = None

    def get_output_channel(self) -> OutputChannel | None:
        """The output the HTTP API's ``output_channel=latest`` uses (the desk's lines)."""
        if self.sio is None or self.sessions is None:
            return super().get_output_channel()
        return MailboxSocketIOOutput(self.sio, self.bot_message_evt, self.sessions)

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> GuardedSocketIOInput:
        credentials = credentials or {}
        channel = super().from_credentials(credentials)
        assert isinstance(channel, GuardedSocketIOInput)
        channel.max_message_chars = int(credentials.get("max_message_chars", DEFAULT_MAX_CHARS))
        channel.redis_url = credentials.get("redis_url") or None
        return channel

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = super().blueprint(on_new_message)
        assert self.sio is not None
        sio = self.sio
        namespace = self.namespace or "/"
        sessions = self._shared_sessions(blueprint) if self.redis_url else LocalSessions(
            self.mailbox, sio, namespace)
        self.sessions = sessions
        handle_message = sio.handlers[namespace][self.user_message_evt]

        async def refuse(sid: str, rejected: MessageRejected) -> None:
            log.info("socketio.message.rejected", reason=rejected.reason)
            reason = rejected.reason.rstrip(".")
            await sio.emit(self.bot_message_evt, {"text": f"Sorry, I can't read that: {reason}."},
                           room=sid, namespace=self.namespace)

        async def checked(sid: str, data: Any = None) -> None:
            try:
                if not isinstance(data, dict):
                    raise MessageRejected("a message must be an object with 'message' and "
                                          "'session_id'")
                if self.session_persistence:  # Rasa drops a message without one, unanswered
                    _session_id(data.get("session_id"))
                data["message"] = check_text(data.get("message"), self.max_message_chars)
                data[self.metadata_key] = verified_metadata(
                    _metadata(data.get(self.metadata_key)), token_secret()) or {}
            except MessageRejected as rejected:
                await refuse(sid, rejected)
                return
            await handle_message(sid, data)

        sio.handlers[namespace][self.user_message_evt] = checked
        request_session = sio.handlers[namespace]["session_request"]

        async def session_request(sid: str, data: Any = None) -> None:
            try:  # a session id Rasa cannot use as a room name would lose every reply
                if data is not None and not isinstance(data, dict):
                    raise MessageRejected("a session request must be an object with "
                                          "'session_id'")
                if data and data.get("session_id") is not None:
                    _session_id(data["session_id"])
            except MessageRejected as rejected:
                await refuse(sid, rejected)
                return
            await request_session(sid, data)
            session = data.get("session_id") if isinstance(data, dict) else None
            waiting = await sessions.joined(session, sid) if isinstance(session, str) else []
            for message in waiting:  # what was said while the customer was away
                await sio.emit(self.bot_message_evt, message, room=sid,
                               namespace=self.namespace)
            if waiting:
                log.info("socketio.mailbox.delivered", session=session, messages=len(waiting))

        sio.handlers[namespace]["session_request"] = session_request
        disconnected = sio.handlers[namespace]["disconnect"]

        async def disconnect(sid: str) -> None:
            await disconnected(sid)
            await sessions.left(sid)

        sio.handlers[namespace]["disconnect"] = disconnect
        return blueprint

    def _shared_sessions(self, blueprint: Blueprint) -> RedisSessions:
        """Emits through Redis to every replica, and keeps sessions and mailboxes there.

        The client manager listens from server start: had it started at the first
        connection, as python-socketio does by default, that socket's own
        ``session_confirm`` could be published before the listener had subscribed.
        """
        assert self.sio is not None and self.redis_url
        sio = self.sio
        # Redis pub/sub channels span the server's databases: named by the URL (its
        # database) so that deployments on one Redis never emit to each other's customers
        manager = AsyncRedisManager(self.redis_url, channel="mot-socketio:" + hashlib.sha256(
            self.redis_url.encode()).hexdigest()[:12])
        manager.set_server(sio)
        sio.manager = manager
        sessions = RedisSessions(redis_from_url(self.redis_url))
        beating: list[asyncio.Task[None]] = []

        async def start(*_: Any) -> None:
            sio.manager_initialized = True
            manager.initialize()
            beating.append(asyncio.create_task(sessions.beat()))
            log.info("socketio.sessions.shared", replica=sessions.replica)

        async def stop(*_: Any) -> None:
            for task in beating:
                task.cancel()
            await sessions.stopped()

        blueprint.listener("after_server_start")(start)
        blueprint.listener("before_server_stop")(stop)
        return sessions


def _session_id(value: Any) -> str:
    """A session id as Rasa's channel uses it: the conversation's id and its room name."""
    if not isinstance(value, str):
        raise MessageRejected("'session_id' must be a string (the conversation's id)")
    return check_sender(value, "session_id")


def _metadata(value: Any) -> dict[str, Any] | None:
    """The message's metadata object (Rasa also accepts it as a JSON string)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = strict_json.loads(value)
        except json.JSONDecodeError:
            raise MessageRejected("the message's metadata is not valid JSON") from None
    if not isinstance(value, dict):
        raise MessageRejected("the message's metadata must be an object")
    return value
