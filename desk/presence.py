"""Which agents are online, across every desk replica (for "no agent online" answers).

Each replica refreshes a row per signed-in agent with an open desk page every few
seconds, and per agent whose own client reads the queue through the JSON API (each read); an
agent counts as online while their row is fresh.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from desk.tables import presence
from desk.users import User

HEARTBEAT_SECONDS = 10.0
FRESH_SECONDS = 30.0


class Presence:
    """This replica's connected agents, mirrored into the shared database."""

    def __init__(self, engine: AsyncEngine, replica: str) -> None:
        self._engine, self._replica = engine, replica
        self._connected: Counter[str] = Counter()
        self._names: dict[str, str] = {}

    async def connect(self, user: User) -> None:
        self._connected[user.id] += 1
        self._names[user.id] = user.name
        await self._touch([user.id])

    async def disconnect(self, user: User) -> None:
        self._connected[user.id] -= 1
        if self._connected[user.id] <= 0:
            del self._connected[user.id]
            async with self._engine.begin() as connection:
                await connection.execute(presence.delete().where(
                    presence.c.user_id == user.id, presence.c.replica == self._replica))

    async def seen(self, user: User) -> None:
        """An agent's own client read the queue through the JSON API: online for
        :data:`FRESH_SECONDS` from now, as a desk page's heartbeat would keep them."""
        self._names.setdefault(user.id, user.name)
        await self._touch([user.id])

    async def online(self) -> int:
        return len(await self.online_ids())

    async def online_ids(self) -> set[str]:
        """The ids of the agents online now, on any replica."""
        async with self._engine.connect() as connection:
            return set((await connection.execute(
                sa.select(sa.distinct(presence.c.user_id)).where(
                    presence.c.last_seen > time.time() - FRESH_SECONDS))).scalars())

    async def heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            await self._touch(list(self._connected))

    async def _touch(self, user_ids: list[str]) -> None:
        now = time.time()
        async with self._engine.begin() as connection:
            for user_id in user_ids:
                updated = await connection.execute(presence.update().where(
                    presence.c.user_id == user_id, presence.c.replica == self._replica)
                    .values(last_seen=now))
                if not updated.rowcount:
                    await connection.execute(presence.insert().values(
                        user_id=user_id, replica=self._replica,
                        name=self._names.get(user_id, ""), last_seen=now))
