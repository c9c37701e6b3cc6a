"""Fan-out of live updates to the agents' browsers, on one replica or across many.

A browser's WebSocket subscribes to topics (``queue``, ``handoff:<id>``). :class:`LocalHub`
delivers within one process; :class:`RedisHub` publishes through Redis pub/sub so every
desk replica delivers to its own sockets. The hub only *notifies*: every line is in the
database first, so a subscriber that falls behind (a slow browser) is dropped and catches
up from the database when it reconnects, instead of holding memory or losing lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from typing import Any, Protocol

log = logging.getLogger(__name__)

SUBSCRIBER_BUFFER = 256


class Subscription:
    """One browser's inbox; ``overflowed`` is set when it fell too far behind."""

    def __init__(self, topics: tuple[str, ...]) -> None:
        self.topics = topics
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue(SUBSCRIBER_BUFFER)
        self.overflowed = asyncio.Event()

    def offer(self, message: dict[str, Any]) -> None:
        try:
            self.inbox.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed.set()

    async def next(self) -> dict[str, Any] | None:
        """The next message, or None once overflowed (the caller should disconnect)."""
        getter = asyncio.ensure_future(self.inbox.get())
        stopper = asyncio.ensure_future(self.overflowed.wait())
        try:
            await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:  # also when the caller is cancelled (the page closed): leave nothing pending
            for task in (getter, stopper):
                task.cancel()
        return None if self.overflowed.is_set() else getter.result()


class Hub(Protocol):
    def subscribe(self, *topics: str) -> Subscription: ...
    def unsubscribe(self, subscription: Subscription) -> None: ...
    async def publish(self, topic: str, message: dict[str, Any]) -> None: ...


class LocalHub:
    """Delivers to this process's subscribers only (the embedded default)."""

    def __init__(self) -> None:
        self._topics: dict[str, set[Subscription]] = defaultdict(set)

    def subscribe(self, *topics: str) -> Subscription:
        subscription = Subscription(topics)
        for topic in topics:
            self._topics[topic].add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        for topic in subscription.topics:
            self._topics[topic].discard(subscription)
            if not self._topics[topic]:
                del self._topics[topic]

    def deliver(self, topic: str, message: dict[str, Any]) -> None:
        for subscription in list(self._topics.get(topic, ())):
            subscription.offer(message)

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        self.deliver(topic, message)


class HubUnavailable(RuntimeError):
    """The fan-out's Redis cannot be reached at start; the message names the setting."""


class RedisHub(LocalHub):
    """Publishes through Redis; a listener delivers every replica's messages locally.

    ``prefix`` separates deployments (and test runs) that share one Redis.
    """

    def __init__(self, redis: Any, prefix: str, where: str = "Redis") -> None:
        super().__init__()
        self._redis, self._prefix, self._where = redis, prefix, where
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._last_error: BaseException | None = None

    async def start(self, timeout: float = 10.0) -> None:
        """Subscribes; raises :class:`HubUnavailable` when Redis stays unreachable."""
        self._listener = asyncio.create_task(self._listen())
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except asyncio.TimeoutError:
            await self.stop()
            raise HubUnavailable(f"cannot reach {self._where} (MOT_REDIS_URL) within "
                                 f"{timeout:.0f} s: {self._last_error}") from None

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        await self._redis.publish(f"{self._prefix}:{topic}", json.dumps(message))

    async def _listen(self) -> None:
        from redis.exceptions import ConnectionError as RedisConnectionError

        while True:
            try:
                pubsub = self._redis.pubsub()
                await pubsub.psubscribe(f"{self._prefix}:*")
                if self._last_error is not None:
                    log.info("redis fan-out: connected to %s again", self._where)
                self._last_error = None
                self._ready.set()
                async for item in pubsub.listen():
                    if item.get("type") != "pmessage":
                        continue
                    channel = item["channel"]
                    channel = channel.decode() if isinstance(channel, bytes) else channel
                    self.deliver(channel[len(self._prefix) + 1:], json.loads(item["data"]))
            except asyncio.CancelledError:
                raise
            except (OSError, RedisConnectionError) as error:
                if self._last_error is None:  # once a streak, not a traceback a second
                    log.error("redis fan-out: cannot reach %s (MOT_REDIS_URL): %s; trying "
                              "again every second", self._where, error)
                self._last_error = error
                await asyncio.sleep(1)
                continue
            except Exception:  # Redis restarted: reconnect; browsers resync from the DB
                log.exception("redis fan-out listener failed; reconnecting")
                await asyncio.sleep(1)
