"""The desk's storage: handoffs and their packets, in SQLite (default) or PostgreSQL.

One SQLAlchemy Core implementation serves both engines (``sqlite+aiosqlite://`` and
``postgresql+asyncpg://``); the contract tests run against each.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from desk.packet import HandoffPacket

metadata = sa.MetaData()

handoffs = sa.Table(
    "handoffs", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("conversation_id", sa.String(200), nullable=False, index=True),
    sa.Column("customer_id", sa.String(200), nullable=False, index=True),
    sa.Column("channel", sa.String(50), nullable=False),
    sa.Column("reason", sa.String(40), nullable=False),
    sa.Column("moment", sa.String(100)),
    sa.Column("skill", sa.String(50), nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("packet", sa.Text, nullable=False),
)

QUEUED = "queued"


@dataclass(frozen=True)
class HandoffRecord:
    id: str
    conversation_id: str
    status: str
    priority: int
    skill: str
    created_at: float
    packet: dict[str, Any]


class HandoffStore(Protocol):
    async def add(self, packet: HandoffPacket) -> HandoffRecord: ...
    async def get(self, handoff_id: str) -> HandoffRecord | None: ...
    async def queue(self) -> list[HandoffRecord]: ...
    async def position(self, record: HandoffRecord) -> int: ...


class SqlHandoffStore:
    """Handoffs in any SQLAlchemy async database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @classmethod
    async def open(cls, url: str) -> SqlHandoffStore:
        engine = create_async_engine(url, future=True)
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        return cls(engine)

    async def close(self) -> None:
        await self._engine.dispose()

    async def add(self, packet: HandoffPacket) -> HandoffRecord:
        """Stores a new handoff, or returns the open one of the same conversation.

        A retried submission (the action server's outbox) must not queue the customer twice.
        """
        async with self._engine.begin() as connection:
            open_row = (await connection.execute(
                sa.select(handoffs).where(handoffs.c.conversation_id == packet.conversation_id,
                                          handoffs.c.status == QUEUED))).first()
            if open_row is not None:
                return _record(open_row)
            values = {
                "id": uuid.uuid4().hex, "conversation_id": packet.conversation_id,
                "customer_id": packet.customer_id, "channel": packet.channel,
                "reason": packet.reason, "moment": packet.moment, "skill": packet.skill,
                "priority": packet.priority, "status": QUEUED, "created_at": time.time(),
                "packet": json.dumps(packet.to_json()),
            }
            await connection.execute(handoffs.insert().values(**values))
        return _record(values)

    async def get(self, handoff_id: str) -> HandoffRecord | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(
                sa.select(handoffs).where(handoffs.c.id == handoff_id))).first()
        return _record(row) if row is not None else None

    async def queue(self) -> list[HandoffRecord]:
        """Queued handoffs, highest priority first, then longest waiting."""
        async with self._engine.connect() as connection:
            rows = (await connection.execute(
                sa.select(handoffs).where(handoffs.c.status == QUEUED)
                .order_by(handoffs.c.priority.desc(), handoffs.c.created_at))).all()
        return [_record(r) for r in rows]

    async def position(self, record: HandoffRecord) -> int:
        """1-based place in the queue."""
        async with self._engine.connect() as connection:
            ahead = (await connection.execute(
                sa.select(sa.func.count()).select_from(handoffs).where(
                    handoffs.c.status == QUEUED,
                    sa.or_(handoffs.c.priority > record.priority,
                           sa.and_(handoffs.c.priority == record.priority,
                                   handoffs.c.created_at < record.created_at))))).scalar_one()
        return int(ahead) + 1


def _record(row: Any) -> HandoffRecord:
    data = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
    return HandoffRecord(
        id=data["id"], conversation_id=data["conversation_id"], status=data["status"],
        priority=data["priority"], skill=data["skill"], created_at=data["created_at"],
        packet=json.loads(data["packet"]),
    )
