"""The desk's handoffs: queue, claim, transfer and close, in SQLite (default) or PostgreSQL.

One SQLAlchemy Core implementation serves both engines (``sqlite+aiosqlite://`` and
``postgresql+asyncpg://``); the contract tests run against each. State changes are
conditional updates (``... WHERE status = 'queued'``), so two agents, or two desk
replicas, claiming the same conversation cannot both win.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from desk.packet import HandoffPacket
from desk.tables import handoffs, identity_links, messages, open_engine

QUEUED, ASSIGNED, CLOSED = "queued", "assigned", "closed"
OPEN = (QUEUED, ASSIGNED)
#: How an agent may close a handoff; ``handed_back`` returns the customer to the bot unsolved.
OUTCOMES = ("resolved", "resolved_with_article", "callback_arranged", "escalated",
            "no_response", "duplicate", "handed_back")
#: The outcomes that say the agent solved the customer's problem: the customer is then asked
#: whether they agree, and insight counts the time to resolution.
RESOLVING = ("resolved", "resolved_with_article")
#: How a handoff closes when the customer withdraws it before anyone took it (desk.withdraw);
#: not an agent's choice.
WITHDRAWN = "withdrawn"


class HandoffNotFound(LookupError):
    def __init__(self, handoff_id: str) -> None:
        super().__init__(f"no handoff {handoff_id}")
        self.handoff_id = handoff_id


class HandoffConflict(RuntimeError):
    """The handoff is not in a state that allows this (claimed by another, already closed)."""

    def __init__(self, handoff_id: str, reason: str) -> None:
        super().__init__(f"handoff {handoff_id}: {reason}")
        self.handoff_id, self.reason = handoff_id, reason


@dataclass(frozen=True)
class HandoffRecord:
    id: str
    conversation_id: str
    status: str
    priority: int
    skill: str
    created_at: float
    packet: dict[str, Any]
    customer_id: str = ""
    channel: str = ""
    moment: str | None = None
    reason: str = ""
    assignee_id: str | None = None
    assignee_name: str | None = None
    claimed_at: float | None = None
    closed_at: float | None = None
    outcome: str | None = None


class HandoffStore(Protocol):
    async def add(self, packet: HandoffPacket) -> HandoffRecord: ...
    async def get(self, handoff_id: str) -> HandoffRecord | None: ...
    async def open_since(self, conversation_id: str,
                         since: float) -> list[tuple[HandoffRecord, float | None]]: ...
    async def queue(self, skills: Collection[str] | None = None) -> list[HandoffRecord]: ...
    async def position(self, record: HandoffRecord) -> int: ...


class SqlHandoffStore:
    """Handoffs in any SQLAlchemy async database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @classmethod
    async def open(cls, url: str) -> SqlHandoffStore:
        return cls(await open_engine(url))

    async def close(self) -> None:
        await self.engine.dispose()

    async def add(self, packet: HandoffPacket) -> HandoffRecord:
        """Stores a new handoff, or returns the open one of the same conversation.

        A retried submission (the action server's outbox) must not queue the customer twice.
        """
        async with self.engine.begin() as connection:
            open_row = (await connection.execute(
                sa.select(handoffs).where(handoffs.c.conversation_id == packet.conversation_id,
                                          handoffs.c.status.in_(OPEN)))).first()
            if open_row is not None:
                return _record(open_row)
            values = {
                "id": uuid.uuid4().hex, "conversation_id": packet.conversation_id,
                "customer_id": packet.customer_id, "channel": packet.channel,
                "reason": packet.reason, "moment": packet.moment, "skill": packet.skill,
                "priority": packet.priority, "status": QUEUED,
                "created_at": _asked_at(packet.created_at),
                "packet": json.dumps(packet.to_json()),
            }
            await connection.execute(handoffs.insert().values(**values))
        return _record(values)

    async def get(self, handoff_id: str) -> HandoffRecord | None:
        async with self.engine.connect() as connection:
            row = (await connection.execute(
                sa.select(handoffs).where(handoffs.c.id == handoff_id))).first()
        return _record(row) if row is not None else None

    async def require(self, handoff_id: str) -> HandoffRecord:
        record = await self.get(handoff_id)
        if record is None:
            raise HandoffNotFound(handoff_id)
        return record

    async def open_since(self, conversation_id: str,
                         since: float) -> list[tuple[HandoffRecord, float | None]]:
        """The conversation's handoffs that held it at some time from ``since`` on, newest
        first, each with the time the customer was back with the bot: when Rasa took the
        hand-back (the ``control`` line's delivery), not when the agent clicked close, for
        Rasa keeps the conversation paused until then; None while it still holds it."""
        async with self.engine.connect() as connection:
            rows = (await connection.execute(
                sa.select(handoffs, sa.func.max(messages.c.delivered_at).label("resumed_at"),
                          sa.func.count(messages.c.seq).label("hand_backs"))
                .select_from(handoffs.outerjoin(messages, sa.and_(
                    messages.c.handoff_id == handoffs.c.id, messages.c.speaker == "control")))
                .where(handoffs.c.conversation_id == conversation_id)
                .group_by(*handoffs.c)
                .order_by(handoffs.c.created_at.desc()))).all()
        held = []
        for row in rows:
            record = _record(row)
            if record.status in OPEN:
                until = None
            elif row.hand_backs:  # None until Rasa took the hand-back
                until = row.resumed_at
            else:  # closed without a hand-back
                until = record.closed_at
            if until is None or until > since:
                held.append((record, until))
        return held

    async def queue(self, skills: Collection[str] | None = None) -> list[HandoffRecord]:
        """Queued handoffs (only ``skills`` if given), highest priority first, then oldest."""
        query = sa.select(handoffs).where(handoffs.c.status == QUEUED)
        if skills is not None:
            query = query.where(handoffs.c.skill.in_(list(skills)))
        async with self.engine.connect() as connection:
            rows = (await connection.execute(
                query.order_by(handoffs.c.priority.desc(), handoffs.c.created_at))).all()
        return [_record(r) for r in rows]

    async def assigned_to(self, user_id: str | None) -> list[HandoffRecord]:
        """Open handoffs claimed by ``user_id`` (by anyone when None), oldest claim first."""
        query = sa.select(handoffs).where(handoffs.c.status == ASSIGNED)
        if user_id is not None:
            query = query.where(handoffs.c.assignee_id == user_id)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query.order_by(handoffs.c.claimed_at))).all()
        return [_record(r) for r in rows]

    async def position(self, record: HandoffRecord) -> int:
        """1-based place in the queue of the handoff's skill (the agents who take it)."""
        async with self.engine.connect() as connection:
            ahead = (await connection.execute(
                sa.select(sa.func.count()).select_from(handoffs).where(
                    handoffs.c.status == QUEUED, handoffs.c.skill == record.skill,
                    sa.or_(handoffs.c.priority > record.priority,
                           sa.and_(handoffs.c.priority == record.priority,
                                   handoffs.c.created_at < record.created_at))))).scalar_one()
        return int(ahead) + 1

    async def claim(self, handoff_id: str, user_id: str, name: str) -> HandoffRecord:
        """Assigns a queued handoff to the agent; claiming one's own again is a no-op."""
        changed = await self._update(
            handoff_id, sa.and_(handoffs.c.status == QUEUED),
            status=ASSIGNED, assignee_id=user_id, assignee_name=name, claimed_at=time.time())
        record = await self.require(handoff_id)
        if not changed and record.assignee_id != user_id:
            raise HandoffConflict(handoff_id, f"already {record.status}"
                                  + (f" to {record.assignee_name}" if record.assignee_name
                                     else ""))
        return record

    async def transfer(self, handoff_id: str, skill: str | None = None,
                       agent: tuple[str, str] | None = None) -> HandoffRecord:
        """Back to the queue of ``skill``, or straight to ``agent`` (id, name)."""
        values: dict[str, Any] = ({"status": ASSIGNED, "assignee_id": agent[0],
                                   "assignee_name": agent[1], "claimed_at": time.time()}
                                  if agent else {"status": QUEUED, "assignee_id": None,
                                                 "assignee_name": None, "claimed_at": None})
        if skill:
            values["skill"] = skill
        if not await self._update(handoff_id, handoffs.c.status.in_(OPEN), **values):
            raise HandoffConflict(handoff_id, "closed already")
        return await self.require(handoff_id)

    async def finish(self, handoff_id: str, outcome: str) -> HandoffRecord:
        """Closes an open handoff with the agent's outcome code."""
        if outcome not in OUTCOMES:
            raise HandoffConflict(handoff_id, f"unknown outcome {outcome!r}; use one of "
                                  f"{', '.join(OUTCOMES)}")
        if not await self._update(handoff_id, handoffs.c.status.in_(OPEN), status=CLOSED,
                                  outcome=outcome, closed_at=time.time()):
            raise HandoffConflict(handoff_id, "closed already")
        return await self.require(handoff_id)

    async def withdraw(self, handoff_id: str) -> HandoffRecord | None:
        """Closes a handoff the customer withdrew (:data:`WITHDRAWN`) if it is still queued;
        None if an agent took it, or it closed, meanwhile."""
        if not await self._update(handoff_id, handoffs.c.status == QUEUED, status=CLOSED,
                                  outcome=WITHDRAWN, closed_at=time.time()):
            return None
        return await self.require(handoff_id)

    async def set_moment(self, handoff_id: str, moment: str) -> None:
        await self._update(handoff_id, sa.true(), moment=moment)

    async def history(self, channel: str, customer_id: str,
                      limit: int = 20) -> list[HandoffRecord]:
        """The customer's handoffs on every channel, newest first (this one included).

        Every channel identity linked to the same customer (:mod:`desk.identity`) counts;
        a conversation never linked (stored before the links existed) has its own only.
        """
        linked = identity_links.alias("linked")
        mine = identity_links.alias("mine")
        key = sa.select(mine.c.customer_key).where(
            mine.c.channel == channel, mine.c.sender_id == customer_id).scalar_subquery()
        same_customer = sa.select(linked.c.channel, linked.c.sender_id).where(
            linked.c.customer_key == key)
        query = sa.select(handoffs).where(sa.or_(
            sa.and_(handoffs.c.channel == channel, handoffs.c.customer_id == customer_id),
            sa.tuple_(handoffs.c.channel, handoffs.c.customer_id).in_(same_customer)))
        async with self.engine.connect() as connection:
            rows = (await connection.execute(
                query.order_by(handoffs.c.created_at.desc()).limit(limit))).all()
        return [_record(r) for r in rows]

    async def _update(self, handoff_id: str, condition: Any, **values: Any) -> bool:
        async with self.engine.begin() as connection:
            result = await connection.execute(
                handoffs.update().where(handoffs.c.id == handoff_id, condition).values(**values))
        return bool(result.rowcount)


def _asked_at(created_at: str) -> float:
    """When the customer asked (the packet's time), so the wait counts from then even if
    the packet reached the desk late, from the action server's outbox; never the future."""
    try:
        asked = datetime.fromisoformat(created_at.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return time.time()
    return min(asked, time.time())


def _record(row: Any) -> HandoffRecord:
    data = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
    return HandoffRecord(
        id=data["id"], conversation_id=data["conversation_id"], status=data["status"],
        priority=data["priority"], skill=data["skill"], created_at=data["created_at"],
        packet=json.loads(data["packet"]), customer_id=data["customer_id"],
        channel=data["channel"], moment=data.get("moment"), reason=data["reason"],
        assignee_id=data.get("assignee_id"), assignee_name=data.get("assignee_name"),
        claimed_at=data.get("claimed_at"), closed_at=data.get("closed_at"),
        outcome=data.get("outcome"),
    )
