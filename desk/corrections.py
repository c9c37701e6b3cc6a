"""Agents' corrections of the moment, kept as labelled examples for the content staff.

An agent who sees the bot got the moment wrong picks the right one; the customer's words
and both labels are stored with status ``pending_review``. The content staff review them
(knowledge app) before any reaches the NLU training data, so one agent's slip never
retrains the bot.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from desk.tables import corrections

STATUSES = ("pending_review", "accepted", "rejected")


@dataclass(frozen=True)
class Correction:
    id: int
    handoff_id: str
    conversation_id: str
    text: str
    predicted: str | None
    corrected: str
    agent_id: str
    at: float
    status: str


class CorrectionStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, handoff_id: str, conversation_id: str, text: str,
                  predicted: str | None, corrected: str, agent_id: str) -> Correction:
        values: dict[str, Any] = {
            "handoff_id": handoff_id, "conversation_id": conversation_id, "text": text,
            "predicted": predicted, "corrected": corrected, "agent_id": agent_id,
            "at": time.time(), "status": "pending_review"}
        async with self._engine.begin() as connection:
            result = await connection.execute(corrections.insert().values(**values))
        return Correction(id=int(result.inserted_primary_key[0]), **values)

    async def list(self, status: str | None = "pending_review",
                   limit: int = 500) -> list[Correction]:
        query = sa.select(corrections).order_by(corrections.c.at.desc()).limit(limit)
        if status is not None:
            query = query.where(corrections.c.status == status)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [Correction(**dict(r._mapping)) for r in rows]

    async def review(self, correction_id: int, status: str) -> bool:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")
        async with self._engine.begin() as connection:
            result = await connection.execute(corrections.update().where(
                corrections.c.id == correction_id).values(status=status))
        return bool(result.rowcount)
