"""The handoff outbox: a handoff the desk could not take is kept and retried, not lost.

:class:`OutboxDeskClient` wraps the real client. When the desk is unreachable it writes
the packet to a small SQLite file (``<data>/actions/outbox.db``, committed before the
customer is answered) and raises :class:`HandoffSaved`, so the bot can say honestly that
the request is saved and will be passed on. A background task retries with back-off;
the desk de-duplicates by conversation, so a retry that raced a success queues nobody
twice. Packets the desk *refused* (4xx) are not kept: retrying cannot fix them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from pathlib import Path

from actions.desk_client import (
    DeskClient,
    DeskRejected,
    DeskUnavailable,
    HandoffReceipt,
    HandoffSaved,
)
from desk.packet import HandoffPacket

log = logging.getLogger(__name__)

RETRY_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 60.0


class Outbox:
    """Packets waiting for the desk, in a SQLite file (one writer: this action server)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(str(path), isolation_level=None,
                                           check_same_thread=False)
        self._connection.execute(
            "CREATE TABLE IF NOT EXISTS outbox (conversation_id TEXT PRIMARY KEY, "
            "packet TEXT NOT NULL, attempts INTEGER NOT NULL, next_at REAL NOT NULL)")
        self._lock = asyncio.Lock()

    async def _run(self, sql: str, *args: object) -> list[tuple[object, ...]]:
        async with self._lock:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                None, lambda: self._connection.execute(sql, args).fetchall())

    async def put(self, packet: HandoffPacket) -> None:
        """Keeps the latest packet of the conversation (durable when this returns)."""
        await self._run("INSERT OR REPLACE INTO outbox VALUES (?, ?, 0, ?)",
                        packet.conversation_id, json.dumps(packet.to_json()), time.time())

    async def due(self) -> list[tuple[HandoffPacket, int]]:
        rows = await self._run("SELECT packet, attempts FROM outbox WHERE next_at <= ? "
                               "ORDER BY next_at", time.time())
        return [(HandoffPacket.from_json(json.loads(str(p))), int(str(a))) for p, a in rows]

    async def remove(self, conversation_id: str) -> None:
        await self._run("DELETE FROM outbox WHERE conversation_id = ?", conversation_id)

    async def postpone(self, conversation_id: str, attempts: int) -> None:
        delay = min(MAX_BACKOFF_SECONDS, RETRY_SECONDS * 2 ** attempts)
        await self._run("UPDATE outbox SET attempts = ?, next_at = ? WHERE conversation_id = ?",
                        attempts + 1, time.time() + delay, conversation_id)

    async def size(self) -> int:
        return int(str((await self._run("SELECT COUNT(*) FROM outbox"))[0][0]))

    def close(self) -> None:
        self._connection.close()


class OutboxDeskClient:
    """A :class:`DeskClient` that saves what the desk could not take, and retries it."""

    def __init__(self, inner: DeskClient, outbox: Outbox) -> None:
        self.inner, self.outbox = inner, outbox

    async def submit(self, packet: HandoffPacket) -> HandoffReceipt:
        try:
            return await self.inner.submit(packet)
        except DeskRejected:
            raise
        except DeskUnavailable as error:
            await self.outbox.put(packet)
            raise HandoffSaved(f"saved in the outbox: {error}") from error

    async def flush(self) -> int:
        """Tries every due packet once; returns how many the desk took."""
        taken = 0
        for packet, attempts in await self.outbox.due():
            try:
                await self.inner.submit(packet)
            except DeskRejected as error:
                log.error("desk refused the saved handoff of %s; dropping it: %s",
                          packet.conversation_id, error)
                await self.outbox.remove(packet.conversation_id)
            except DeskUnavailable as error:
                await self.outbox.postpone(packet.conversation_id, attempts)
                log.warning("handoff of %s still waiting (attempt %d): %s",
                            packet.conversation_id, attempts + 1, error)
            else:
                await self.outbox.remove(packet.conversation_id)
                log.info("saved handoff of %s reached the desk", packet.conversation_id)
                taken += 1
        return taken

    async def run(self) -> None:
        while True:
            await asyncio.sleep(RETRY_SECONDS)
            try:
                await self.flush()
            except Exception:  # keep retrying; the file keeps the packets
                log.exception("outbox flush failed")
