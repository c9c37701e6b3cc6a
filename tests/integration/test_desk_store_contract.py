"""The desk store's contract, run against SQLite and PostgreSQL (same code, other URL)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from desk import audit
from desk.identity import IdentityLinks
from desk.messages import MessageLog, NewMessage
from desk.packet import CustomerIdentity
from desk.store import HandoffConflict, SqlHandoffStore
from desk.testing import make_packet
from desk.users import User
from desk.wire import RequestInvalid

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
    assert await store.position(low) == 3  # in its own queue: the billing one is not ahead


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


# --- single customer view: identity links ------------------------------------------------

ANN = User("u-ann", "ann", ("agent",), ("delivery",))


async def _handoff(store, links, channel: str, sender: str, **packet):  # type: ignore[no-untyped-def]
    made = make_packet(channel=channel, **packet)
    made = dataclasses.replace(made, conversation_id=sender, customer_id=sender)
    record = await store.add(made)
    await links.link_packet(made)
    await store.finish(record.id, "resolved")
    return record


async def test_a_vouched_account_joins_the_customers_channels(store) -> None:  # type: ignore[no-untyped-def]
    links = IdentityLinks(store.engine)
    web = await _handoff(store, links, "socketio", "s-1",
                         identity=CustomerIdentity(customer_key="acct-42"))
    telegram = await _handoff(store, links, "telegram", "tg-9",
                              identity=CustomerIdentity(customer_key="acct-42"))
    sms = await _handoff(store, links, "twilio", "+4479460958",
                         identity=CustomerIdentity(verified_phone="+44 794 60958"))
    stranger = await _handoff(store, links, "telegram", "tg-10")
    assert {r.id for r in await store.history("telegram", "tg-9")} == {web.id, telegram.id}
    # a verified phone seen later under the account joins the SMS conversation too
    again = await _handoff(store, links, "socketio", "s-2", identity=CustomerIdentity(
        customer_key="acct-42", verified_phone="+4479460958"))
    assert {r.id for r in await store.history("twilio", "+4479460958")} == {
        web.id, telegram.id, sms.id, again.id}
    assert [r.id for r in await store.history("telegram", "tg-10")] == [stranger.id]


async def test_an_email_typed_in_chat_only_hints_until_an_agent_confirms(store) -> None:  # type: ignore[no-untyped-def]
    links = IdentityLinks(store.engine)
    verified = await _handoff(store, links, "socketio", "s-1", identity=CustomerIdentity(
        customer_key="acct-7", verified_email="Ann@Example.com"))
    typed = [{"entity": "email", "value": "ann@example.COM "}]
    chat = await _handoff(store, links, "telegram", "tg-1", entities=typed)
    assert [r.id for r in await store.history("telegram", "tg-1")] == [chat.id]
    hints = await links.hints("telegram", "tg-1")
    assert [(h.kind, h.value, h.conversations) for h in hints] == [
        ("email", "ann@example.com", 1)]
    with pytest.raises(RequestInvalid):
        await links.confirm("telegram", "tg-1", "email", "bob@example.com", ANN, chat.id)
    await links.confirm("telegram", "tg-1", "email", "ann@example.com", ANN, chat.id)
    assert {r.id for r in await store.history("telegram", "tg-1")} == {verified.id, chat.id}
    assert await links.hints("telegram", "tg-1") == []
    entry = (await audit.entries(store.engine, f"handoff:{chat.id}"))[0]
    assert (entry.actor_name, entry.action) == ("ann", "identity.confirm")


async def test_two_typed_emails_hint_both_ways(store) -> None:  # type: ignore[no-untyped-def]
    links = IdentityLinks(store.engine)
    typed = [{"entity": "email", "value": "cy@example.com"}]
    await _handoff(store, links, "socketio", "s-1", entities=typed)
    await _handoff(store, links, "telegram", "tg-1", entities=typed)
    assert [h.value for h in await links.hints("socketio", "s-1")] == ["cy@example.com"]
    assert [h.value for h in await links.hints("telegram", "tg-1")] == ["cy@example.com"]


async def test_two_accounts_are_never_merged_and_a_shared_session_moves(store) -> None:  # type: ignore[no-untyped-def]
    links = IdentityLinks(store.engine)
    first = await _handoff(store, links, "socketio", "shared",
                           identity=CustomerIdentity(customer_key="acct-1"))
    other = await _handoff(store, links, "telegram", "tg-2",
                           identity=CustomerIdentity(customer_key="acct-2"))
    await _handoff(store, links, "socketio", "shared",
                   identity=CustomerIdentity(customer_key="acct-2"))
    assert await links.key_of("socketio", "shared") == await links.key_of("telegram", "tg-2")
    assert await links.key_of("@account", "acct-1") != await links.key_of("@account", "acct-2")
    assert other.id in {r.id for r in await store.history("socketio", "shared")}
    assert first.id in {r.id for r in await store.history("socketio", "shared")}  # same pair



async def test_insight_facts_are_stored_once_and_summed_per_moment(store) -> None:  # type: ignore[no-untyped-def]
    from bot.catalogue import load_catalogue
    from desk.insight import Fact, InsightLog, report
    from desk.nlu_export import LazyRedactor
    from tests.conftest import REPO

    log = InsightLog(store.engine, LazyRedactor())
    now = time.time()
    facts = [Fact("u1", "c1", "message", "charged_twice", now - 9, 0.93, "rest",
                  "charged twice, card 4111 1111 1111 1111"),
             Fact("s1", "c1", "offered", "charged_twice", now - 8),
             Fact("s2", "c1", "resolved", "charged_twice", now - 5)]
    await log.record(facts)
    await log.record(facts)  # re-delivered: stored once
    record = await store.add(make_packet(moment="charged_twice"))
    await store.claim(record.id, "u-ann", "Ann")
    await store.finish(record.id, "resolved")
    found = await report(log, load_catalogue(REPO / "bot" / "moments.yml"), time.time(), 7)
    charged = next(m for m in found.moments if m.moment == "charged_twice")
    assert (charged.contacts, charged.solved_by_bot, charged.handed_off, charged.messages) == (
        2, 1, 1, 1)
    assert charged.reasons == {"customer_asked": 1} and charged.median_resolution_seconds
    assert await log.examples("charged_twice", now - 60) == ["charged twice, card [CARD]"]


async def test_a_database_made_with_the_old_insight_index_is_upgraded(store) -> None:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    from desk.tables import open_engine

    async with store.engine.begin() as connection:  # as a desk of 2026-11-27 left it
        await connection.execute(sa.text("DROP INDEX ix_desk_insight_facts"))
        await connection.execute(sa.text(
            "CREATE INDEX ix_desk_insight_kind_at ON desk_insight (kind, at)"))
    engine = await open_engine(store.engine.url.render_as_string(hide_password=False))

    def names(sync: sa.engine.Connection) -> set[str]:
        return {i["name"] for i in sa.inspect(sync).get_indexes("desk_insight")}

    async with engine.connect() as connection:
        assert "ix_desk_insight_facts" in await connection.run_sync(names)
        assert "ix_desk_insight_kind_at" not in await connection.run_sync(names)
    await engine.dispose()


async def test_an_early_warning_is_raised_by_one_replica_only(store) -> None:  # type: ignore[no-untyped-def]
    import aiohttp

    from bot.catalogue import load_catalogue
    from desk.alerts import Alerts
    from desk.insight import Fact, InsightLog
    from desk.nlu_export import LazyRedactor
    from tests.conftest import REPO

    log = InsightLog(store.engine, LazyRedactor())
    now = time.time()
    await log.record([Fact(f"o{n}", f"c{n}", "offered", "charged_twice", now - n)
                      for n in range(1, 7)])
    catalogue = load_catalogue(REPO / "bot" / "moments.yml")
    async with aiohttp.ClientSession() as session:
        replicas = [Alerts(log, catalogue, session, None, "x") for _ in range(2)]
        raised = await asyncio.gather(*(r.check(now) for r in replicas))
    assert sorted(len(r) for r in raised) == [0, 1]
