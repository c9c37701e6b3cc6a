"""The conversation log: every line stored once, in order, before anyone is told about it.

Customer and bot lines come from Rasa's event stream (at least once: the broker retries
and the desk reconciles from the tracker after a restart); agent lines come from the
browser (at least once: it re-sends until acknowledged). Each carries a unique ``key``, so
storing is idempotent and a retry never shows a line twice. Agent lines and hand-backs are
*outgoing*: a delivery worker passes them to Rasa and records when Rasa took them.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from desk.tables import insert_ignoring_duplicates, messages

SPEAKERS = ("customer", "bot", "agent", "note", "control", "auto")
#: Lines the desk sends: agents', hand-backs, and its own automatic ones (desk.contact).
OUTGOING = ("agent", "control", "auto")
LEASE_SECONDS = 30.0
#: From this many tries without delivery (about 3.5 s of backing off), the agent's page says
#: the line is not getting through, rather than showing "…" for as long as the channel fails.
STRUGGLING_AFTER = 3


@dataclass(frozen=True)
class NewMessage:
    """A line to store; ``key`` makes storing it idempotent."""

    key: str
    conversation_id: str
    handoff_id: str | None
    speaker: str
    text: str
    channel: str = ""
    author: str = ""
    at: float = 0.0


@dataclass(frozen=True)
class Message:
    seq: int
    key: str
    conversation_id: str
    handoff_id: str | None
    speaker: str
    text: str
    channel: str
    author: str
    at: float
    delivered_at: float | None
    attempts: int

    def view(self) -> dict[str, Any]:
        """What a browser receives (internal bookkeeping left out): ``struggling`` is true
        while a line has failed to reach the customer's channel for a while."""
        data = asdict(self)
        del data["attempts"]
        data["struggling"] = self.delivered_at is None and self.attempts >= STRUGGLING_AFTER
        return data


class MessageLog:
    """The log in the desk database (shares the handoff store's engine)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._insert = insert_ignoring_duplicates(engine, messages)

    async def append(self, lines: list[NewMessage]) -> list[Message]:
        """Stores the lines not stored before (one transaction); returns those, in order."""
        if not lines:
            return []
        fresh: list[str] = []
        async with self.engine.begin() as connection:
            for line in lines:
                values = {**asdict(line), "at": line.at or time.time(),
                          "outgoing": line.speaker in OUTGOING, "attempts": 0}
                result = await connection.execute(self._insert.values(**values))
                if result.rowcount:
                    fresh.append(line.key)
            if not fresh:
                return []
            rows = (await connection.execute(
                sa.select(messages).where(messages.c.key.in_(fresh))
                .order_by(messages.c.seq))).all()
        return [_message(r) for r in rows]

    async def adopt(self, conversation_id: str, handoff_id: str, since: float) -> int:
        """Attaches the conversation's untagged lines since ``since`` to a new handoff (they
        arrived before the handoff did, e.g. while it waited in the action server's outbox)."""
        async with self.engine.begin() as connection:
            result = await connection.execute(messages.update().where(
                messages.c.conversation_id == conversation_id,
                messages.c.handoff_id.is_(None), messages.c.at >= since)
                .values(handoff_id=handoff_id))
        return int(result.rowcount or 0)

    async def by_key(self, key: str) -> Message | None:
        async with self.engine.connect() as connection:
            row = (await connection.execute(
                sa.select(messages).where(messages.c.key == key))).first()
        return _message(row) if row is not None else None

    async def for_handoff(self, handoff_id: str, after: int = 0,
                          limit: int = 1000) -> list[Message]:
        """The handoff's lines with ``seq > after``, oldest first."""
        async with self.engine.connect() as connection:
            rows = (await connection.execute(
                sa.select(messages).where(messages.c.handoff_id == handoff_id,
                                          messages.c.seq > after)
                .order_by(messages.c.seq).limit(limit))).all()
        return [_message(r) for r in rows]

    async def for_conversation(self, conversation_id: str, limit: int = 200) -> list[Message]:
        """The conversation's latest lines (any handoff or none), oldest first."""
        async with self.engine.connect() as connection:
            rows = (await connection.execute(
                sa.select(messages).where(messages.c.conversation_id == conversation_id)
                .order_by(messages.c.seq.desc()).limit(limit))).all()
        return [_message(r) for r in reversed(rows)]

    async def lease_pending(self, limit: int = 50) -> list[Message]:
        """Leases the oldest undelivered outgoing line of each conversation.

        Only a conversation's *first* undelivered line is eligible, and only when no worker
        (on this or another replica) holds its lease, so lines reach the customer in order
        even with several desk replicas. Returns the leased lines, oldest first.
        """
        now = time.time()
        async with self.engine.connect() as connection:
            rows = (await connection.execute(
                sa.select(messages).where(messages.c.outgoing.is_(True),
                                          messages.c.delivered_at.is_(None))
                .order_by(messages.c.seq).limit(limit * 10))).all()
        firsts: dict[str, Any] = {}
        for row in rows:
            firsts.setdefault(row.conversation_id, row)
        leased = []
        for row in list(firsts.values())[:limit]:
            if row.lease_until is not None and row.lease_until >= now:
                continue
            async with self.engine.begin() as connection:
                result = await connection.execute(
                    messages.update().where(
                        messages.c.seq == row.seq, messages.c.delivered_at.is_(None),
                        sa.or_(messages.c.lease_until.is_(None), messages.c.lease_until < now))
                    .values(lease_until=now + LEASE_SECONDS, attempts=messages.c.attempts + 1))
            if result.rowcount:
                leased.append(_message(row))
        return leased

    async def mark_delivered(self, key: str) -> Message | None:
        """Records that the customer's channel took the line; the line, or None if it was
        marked before (or is unknown)."""
        async with self.engine.begin() as connection:
            result = await connection.execute(
                messages.update().where(messages.c.key == key,
                                        messages.c.delivered_at.is_(None))
                .values(delivered_at=time.time(), lease_until=None))
            if not result.rowcount:
                return None
            row = (await connection.execute(
                sa.select(messages).where(messages.c.key == key))).first()
        return _message(row) if row is not None else None

    async def release(self, key: str, delay: float = 0.0) -> None:
        """Gives a failed delivery back to the workers, to retry after ``delay`` seconds."""
        async with self.engine.begin() as connection:
            await connection.execute(
                messages.update().where(messages.c.key == key)
                .values(lease_until=time.time() + delay if delay else None))

    async def undelivered_count(self) -> int:
        async with self.engine.connect() as connection:
            return int((await connection.execute(
                sa.select(sa.func.count()).select_from(messages).where(
                    messages.c.outgoing.is_(True),
                    messages.c.delivered_at.is_(None)))).scalar_one())


def _message(row: Any) -> Message:
    return Message(seq=row.seq, key=row.key, conversation_id=row.conversation_id,
                   handoff_id=row.handoff_id, speaker=row.speaker, text=row.text,
                   channel=row.channel or "", author=row.author or "", at=row.at,
                   delivered_at=row.delivered_at, attempts=row.attempts or 0)
