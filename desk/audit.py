"""The desk's audit log: who linked a customer's identities, who reviewed an example.

Entries are written with :func:`write` inside the transaction of the change they record,
so a change without its entry (or an entry without its change) cannot happen.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from desk.tables import audit
from desk.users import User


@dataclass(frozen=True)
class AuditEntry:
    at: float
    actor_id: str
    actor_name: str
    action: str     # e.g. identity.confirm, correction.accepted
    subject: str    # what was changed, e.g. "handoff:<id>", "correction:<id>"
    detail: dict[str, Any]


async def write(connection: AsyncConnection, actor: User, action: str, subject: str,
                detail: dict[str, Any]) -> None:
    """Adds one entry on ``connection`` (the caller's transaction)."""
    await connection.execute(audit.insert().values(
        at=time.time(), actor_id=actor.id, actor_name=actor.name, action=action,
        subject=subject, detail=json.dumps(detail)))


async def entries(engine: AsyncEngine, subject: str | None = None,
                  limit: int = 200) -> list[AuditEntry]:
    """Newest first; only ``subject``'s when given."""
    query = sa.select(audit).order_by(audit.c.id.desc()).limit(limit)
    if subject is not None:
        query = query.where(audit.c.subject == subject)
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    return [AuditEntry(r.at, r.actor_id, r.actor_name, r.action, r.subject,
                       json.loads(r.detail)) for r in rows]
