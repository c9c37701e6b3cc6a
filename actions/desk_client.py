"""The action server's side of the desk API: submit a handoff, get a queue receipt."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol

import aiohttp

from desk.packet import HandoffPacket


class DeskUnavailable(RuntimeError):
    """The desk could not take the handoff (down, slow, or refused it)."""


class DeskRejected(DeskUnavailable):
    """The desk refused the packet itself (4xx): retrying the same packet cannot help."""


class HandoffSaved(DeskUnavailable):
    """The desk is unreachable, but the handoff is in the outbox and will be retried."""


@dataclass(frozen=True)
class HandoffReceipt:
    """The desk's answer: where the customer stands in the queue, and whether anyone is in."""

    handoff_id: str
    position: int
    expected_wait_seconds: int
    agents_online: int
    open: bool = True           # inside business hours
    hours: str = "always"       # the business hours, as configured (for the customer)


class DeskClient(Protocol):
    async def submit(self, packet: HandoffPacket) -> HandoffReceipt: ...


#: Refusals that may pass (auth misconfigured and fixed, throttling): keep retrying these.
RETRYABLE_4XX = (401, 403, 404, 408, 409, 425, 429)


class HttpDeskClient:
    """Posts packets to the desk service's JSON API with the shared service token."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str,
                 timeout_seconds: float = 5.0) -> None:
        self._session = session
        self._url = base_url.rstrip("/") + "/api/handoffs"
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)

    async def submit(self, packet: HandoffPacket) -> HandoffReceipt:
        try:
            async with self._session.post(self._url, json=packet.to_json(),
                                          headers=self._headers, timeout=self._timeout) as reply:
                body = await reply.json(content_type=None)
                if 400 <= reply.status < 500 and reply.status not in RETRYABLE_4XX:
                    raise DeskRejected(f"desk refused the packet ({reply.status}): {body}")
                if reply.status != 201:
                    raise DeskUnavailable(f"desk answered {reply.status}: {body}")
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            raise DeskUnavailable(f"desk at {self._url} unreachable: {error!r}") from error
        return HandoffReceipt(str(body["id"]), int(body["position"]),
                              int(body["expected_wait_seconds"]), int(body["agents_online"]),
                              bool(body.get("open", True)), str(body.get("hours", "always")))


@dataclass
class RecordingDeskClient:
    """Fake desk for unit tests: records packets, or fails when told to."""

    fail: bool = False
    agents_online: int = 1
    open: bool = True
    hours: str = "always"
    packets: list[HandoffPacket] = field(default_factory=list)

    async def submit(self, packet: HandoffPacket) -> HandoffReceipt:
        if self.fail:
            raise DeskUnavailable("recording desk told to fail")
        self.packets.append(packet)
        return HandoffReceipt(f"h{len(self.packets)}", len(self.packets), 120,
                              self.agents_online, self.open, self.hours)
