"""The action server's side of the desk API: submit a handoff, get a queue receipt."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import aiohttp

from desk.packet import HandoffPacket


class DeskUnavailable(RuntimeError):
    """The desk could not take the handoff (down, slow, or refused it)."""


@dataclass(frozen=True)
class HandoffReceipt:
    """The desk's answer: where the customer stands in the queue."""

    handoff_id: str
    position: int
    expected_wait_seconds: int
    agents_online: int


class DeskClient(Protocol):
    async def submit(self, packet: HandoffPacket) -> HandoffReceipt: ...


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
                if reply.status != 201:
                    raise DeskUnavailable(f"desk answered {reply.status}: {body}")
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            raise DeskUnavailable(f"desk at {self._url} unreachable: {error!r}") from error
        return HandoffReceipt(str(body["id"]), int(body["position"]),
                              int(body["expected_wait_seconds"]), int(body["agents_online"]))


@dataclass
class RecordingDeskClient:
    """Fake desk for unit tests: records packets, or fails when told to."""

    fail: bool = False
    packets: list[HandoffPacket] = field(default_factory=list)

    async def submit(self, packet: HandoffPacket) -> HandoffReceipt:
        if self.fail:
            raise DeskUnavailable("recording desk told to fail")
        self.packets.append(packet)
        return HandoffReceipt(f"h{len(self.packets)}", len(self.packets), 120, 1)
