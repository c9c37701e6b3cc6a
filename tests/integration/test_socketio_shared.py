"""Socket.io sessions and mailboxes shared by Rasa replicas through this machine's Redis."""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as aioredis

from channels.socketio import RedisSessions

pytestmark = pytest.mark.integration


@pytest.fixture
async def redis():  # type: ignore[no-untyped-def]
    client = aioredis.from_url("redis://127.0.0.1:6379/0")
    try:
        await client.ping()
    except OSError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    yield client
    async for key in client.scan_iter("mot-test:*"):
        await client.delete(key)
    await client.close()


def replicas(redis, **options):  # type: ignore[no-untyped-def]
    prefix = f"mot-test:{uuid.uuid4().hex}"
    return (RedisSessions(redis, "replica-a", prefix=prefix, **options),
            RedisSessions(redis, "replica-b", prefix=prefix, **options))


async def test_a_line_sent_on_one_replica_waits_then_reaches_the_socket_on_another(redis) -> None:  # type: ignore[no-untyped-def]
    a, b = replicas(redis)
    assert not await b.deliver_or_keep("sess-1", {"text": "Hello, this is Ann."})  # kept
    assert await a.joined("sess-1", "sid-1") == [{"text": "Hello, this is Ann."}]
    assert await a.joined("sess-1", "sid-1") == []  # handed over once
    assert await b.deliver_or_keep("sess-1", {"text": "Online now"})  # emit: a has it
    await a.left("sid-1")  # the tab is closed
    assert not await b.deliver_or_keep("sess-1", {"text": "Did we sort it out?"})
    assert await b.joined("sess-1", "sid-2") == [{"text": "Did we sort it out?"}]


async def test_the_sockets_of_a_replica_that_stopped_no_longer_count(redis) -> None:  # type: ignore[no-untyped-def]
    a, b = replicas(redis)
    await a.joined("sess-1", "sid-1")
    assert await b.deliver_or_keep("sess-1", "while a lives")
    await a.stopped()  # a stopped (or died, and its key expired)
    assert not await b.deliver_or_keep("sess-1", "kept for the reconnection")
    assert await redis.smembers(f"{a.prefix}:members:sess-1") == set()  # cleaned up
    assert await b.joined("sess-1", "sid-9") == ["kept for the reconnection"]


async def test_a_mailbox_keeps_the_newest_lines_for_a_while(redis) -> None:  # type: ignore[no-untyped-def]
    a, b = replicas(redis, max_lines=3, max_age=60)
    for n in range(5):
        await b.deliver_or_keep("sess-1", f"line {n}")
    assert 0 < await redis.ttl(f"{a.prefix}:mailbox:sess-1") <= 60
    assert await a.joined("sess-1", "sid-1") == ["line 2", "line 3", "line 4"]
    await a.left("sid-1")
    await redis.rpush(f"{a.prefix}:mailbox:sess-1", '[0, "from 1970"]')  # older than 60 s
    assert await a.joined("sess-1", "sid-2") == []
