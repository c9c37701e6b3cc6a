"""Agents' corrections of the moment, kept as labelled examples for the content staff.

An agent who sees the bot got the moment wrong picks the right one; the customer's words
and both labels are stored with status ``pending_review``. Content staff or a supervisor
review them (``/content/corrections``, :mod:`desk.correction_review`) before any reaches
the NLU training data, so one agent's slip never retrains the bot; each verdict is
audited.
"""

from __future__ import annotations

import builtins
import json
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from desk import audit
from desk.tables import corrections, handoffs
from desk.users import User

STATUSES = ("pending_review", "accepted", "rejected")


class CorrectionNotFound(LookupError):
    def __init__(self, correction_id: int) -> None:
        super().__init__(f"no corrected example {correction_id}")
        self.correction_id = correction_id


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


@dataclass(frozen=True)
class BotGuess:
    """What the bot had said about the handed-off conversation (from its packet)."""

    moment: str | None
    confidence: float | None


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

    async def with_bot_guess(self, status: str | None = "pending_review",
                             limit: int = 500) -> builtins.list[tuple[Correction, BotGuess]]:
        """Newest first, each with the bot's own moment and confidence from the handoff.

        The packet's moment, not ``predicted``: a second correction of one conversation
        would otherwise show the first agent's choice as the bot's.
        """
        query = (sa.select(corrections, handoffs.c.packet)
                 .select_from(corrections.outerjoin(
                     handoffs, handoffs.c.id == corrections.c.handoff_id))
                 .order_by(corrections.c.at.desc()).limit(limit))
        if status is not None:
            query = query.where(corrections.c.status == status)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        found: builtins.list[tuple[Correction, BotGuess]] = []
        for row in rows:
            data = dict(row._mapping)
            packet = json.loads(data.pop("packet") or "{}")
            found.append((Correction(**data), _bot_guess(packet, data["predicted"])))
        return found

    async def review(self, correction_id: int, status: str, actor: User) -> Correction:
        """Sets the verdict (``accepted`` or ``rejected``), audited in the same transaction.

        Raises:
            ValueError: an unknown status.
            CorrectionNotFound: no such example.
        """
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")
        async with self._engine.begin() as connection:
            result = await connection.execute(corrections.update().where(
                corrections.c.id == correction_id).values(status=status))
            if not result.rowcount:
                raise CorrectionNotFound(correction_id)
            await audit.write(connection, actor, f"correction.{status}",
                              f"correction:{correction_id}", {"status": status})
            row = (await connection.execute(sa.select(corrections).where(
                corrections.c.id == correction_id))).one()
        return Correction(**dict(row._mapping))


def _bot_guess(packet: dict[str, Any], predicted: str | None) -> BotGuess:
    moment = packet.get("moment", predicted)
    scores = {m.get("id"): m.get("confidence") for m in packet.get("top_moments") or []}
    confidence = scores.get(moment)
    return BotGuess(moment, float(confidence) if confidence is not None else None)
