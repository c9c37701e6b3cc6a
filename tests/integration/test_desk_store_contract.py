"""The desk store's contract, run against SQLite and PostgreSQL (same code, other URL)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from desk.messages import MessageLog, NewMessage
from desk.store import HandoffConflict, SqlHandoffStore
from desk.testing import make_packet

pytestmark = pytest.mark.integration

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


async def _postgres_database() -> str | None:
    try:
        import asyncpg

        connection = await asyncpg.connect(PG_ADMIN, timeout=3)
    except (OSError, asyncio.TimeoutError, ImportError):
        return None
    name = f"mot_desk_{uuid.uuid4().hex[:12]}"
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    return name


async def _drop(name: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(PG_ADMIN)
    await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await connection.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request, tmp_path) -> AsyncIterator[SqlHandoffStore]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        opened = await SqlHandoffStore.open(f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}")
        yield opened
        await opened.close()
        return
    name = await _postgres_database()
    if name is None:
        pytest.fail("PostgreSQL at 127.0.0.1:5432 is required for the scale-out contract")
    opened = await SqlHandoffStore.open(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}")
    yield opened
    await opened.close()
    await _drop(name)


async def test_queue_orders_by_priority_then_wait_and_routes_by_skill(store) -> None:  # type: ignore[no-untyped-def]
    low = await store.add(make_packet(priority=1))
    high = await store.add(make_packet(priority=4))
    billing = await store.add(make_packet(priority=4, skill="billing"))
    later_high = await store.add(make_packet(priority=4))
    assert [r.id for r in await store.queue()][:3] == [high.id, billing.id, later_high.id]
    assert [r.id for r in await store.queue(["delivery"])] == [high.id, later_high.id, low.id]
    assert await store.position(low) == 4


async def test_a_conversation_is_queued_once(store) -> None:  # type: ignore[no-untyped-def]
    packet = make_packet()
    assert (await store.add(packet)).id == (await store.add(packet)).id


async def test_only_one_of_two_racing_agents_claims(store) -> None:  # type: ignore[no-untyped-def]
    record = await store.add(make_packet())
    results = await asyncio.gather(store.claim(record.id, "a", "Ann"),
                                   store.claim(record.id, "b", "Bob"), return_exceptions=True)
    assert sum(isinstance(r, HandoffConflict) for r in results) == 1
    closed = await store.finish(record.id, "resolved")
    assert closed.status == "closed" and closed.outcome == "resolved"
    with pytest.raises(HandoffConflict):
        await store.finish(record.id, "resolved")


async def test_transfer_requeues_to_another_skill(store) -> None:  # type: ignore[no-untyped-def]
    record = await store.add(make_packet())
    await store.claim(record.id, "a", "Ann")
    moved = await store.transfer(record.id, skill="billing")
    assert (moved.status, moved.skill, moved.assignee_id) == ("queued", "billing", None)


async def test_lines_are_stored_once_in_order(store) -> None:  # type: ignore[no-untyped-def]
    log = MessageLog(store.engine)
    lines = [NewMessage(f"k{n}", "c1", "h1", "customer", f"line {n}", at=time.time())
             for n in range(5)]
    first = await log.append(lines[:3])
    again = await log.append(lines)  # re-delivery overlaps: only the new ones are stored
    assert [m.text for m in first] == ["line 0", "line 1", "line 2"]
    assert [m.text for m in again] == ["line 3", "line 4"]
    stored = await log.for_handoff("h1")
    assert [m.seq for m in stored] == sorted(m.seq for m in stored)
    assert [m.text for m in await log.for_handoff("h1", after=stored[2].seq)] == [
        "line 3", "line 4"]


async def test_outgoing_lines_are_leased_first_per_conversation(store) -> None:  # type: ignore[no-untyped-def]
    log = MessageLog(store.engine)
    await log.append([NewMessage(f"a{n}", "c1", "h1", "agent", f"reply {n}") for n in range(3)]
                     + [NewMessage("b0", "c2", "h2", "agent", "other")])
    leased = await log.lease_pending()
    assert sorted(m.key for m in leased) == ["a0", "b0"]
    assert await log.lease_pending() == []  # leased: another replica gets nothing
    await log.mark_delivered("a0")
    assert [m.key for m in await log.lease_pending()] == ["a1"]
    await log.release("b0")
    assert [m.key for m in await log.lease_pending()] == ["b0"]
    assert await log.undelivered_count() == 3
