"""A Rasa event broker that posts the event stream to the desk (embedded default).

Runs inside the Rasa server (``event_broker: {type: desk.broker.DeskEventBroker}`` in
endpoints.yml). Rasa calls :meth:`publish` synchronously while saving a tracker, so
events go to an in-memory buffer and one sender task posts them in order, in batches,
and retries with back-off while the desk is down or restarting. A Rasa crash can lose the
buffer, which is why the desk also reconciles open handoffs from the tracker store.
The scale-out configuration uses Rasa's own Pika broker instead; nothing here changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any

import aiohttp
from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

log = logging.getLogger(__name__)

BATCH = 500
MAX_BUFFER = 200_000
MAX_BACKOFF_SECONDS = 5.0
CLOSE_FLUSH_SECONDS = 5.0


class DeskEventBroker(EventBroker):
    """Posts Rasa events to ``<desk>/api/events`` with the service token."""

    def __init__(self, url: str, token: str) -> None:
        self._url = url.rstrip("/") + "/api/events"
        self._headers = {"Authorization": f"Bearer {token}"}
        self._buffer: deque[dict[str, Any]] = deque()
        self._wake: asyncio.Event | None = None
        self._sender: asyncio.Task[None] | None = None

    @classmethod
    async def from_endpoint_config(cls, broker_config: EndpointConfig,
                                   event_loop: Any = None) -> DeskEventBroker:
        """The desk URL comes from endpoints.yml; the token from the data dir's secret."""
        from bot.settings import load_settings

        return cls(broker_config.url or load_settings().desk_url, load_settings().desk_token)

    def publish(self, event: dict[str, Any]) -> None:
        if len(self._buffer) >= MAX_BUFFER:  # bounded: the desk's reconciliation fills gaps
            self._buffer.popleft()
            log.error("desk event buffer full; dropped the oldest event")
        self._buffer.append(event)
        if self._sender is None:
            self._wake = asyncio.Event()
            self._sender = asyncio.get_event_loop().create_task(self._send_forever())
        assert self._wake is not None
        self._wake.set()

    async def _send_forever(self) -> None:
        assert self._wake is not None
        delay = 0.2
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._buffer:
                    if await self._post(session):
                        delay = 0.2
                    else:
                        await asyncio.sleep(delay)
                        delay = min(delay * 2, MAX_BACKOFF_SECONDS)

    async def _post(self, session: aiohttp.ClientSession) -> bool:
        batch = [self._buffer[n] for n in range(min(BATCH, len(self._buffer)))]
        try:
            async with session.post(self._url, json=batch, headers=self._headers) as reply:
                if reply.status >= 300:
                    log.warning("desk refused %d events: %s", len(batch), reply.status)
                    return False
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            log.warning("desk unreachable (%d events waiting): %r", len(self._buffer), error)
            return False
        for _ in batch:
            self._buffer.popleft()
        return True

    async def close(self) -> None:
        """Gives the buffer a few seconds to drain, then stops."""
        deadline = asyncio.get_event_loop().time() + CLOSE_FLUSH_SECONDS
        while self._buffer and asyncio.get_event_loop().time() < deadline:
            await asyncio.sleep(0.1)
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
