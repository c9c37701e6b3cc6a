"""The desk's in-process hub: what a WebSocket page waits on."""

from __future__ import annotations

import asyncio

import pytest

from desk.hub import LocalHub


async def test_a_subscriber_gets_what_is_published_then_none_once_overflowed() -> None:
    hub = LocalHub()
    subscription = hub.subscribe("queue")
    await hub.publish("queue", {"type": "queue"})
    assert await subscription.next() == {"type": "queue"}
    subscription.overflowed.set()
    assert await subscription.next() is None


async def test_a_wait_cancelled_with_its_page_leaves_no_task_pending() -> None:
    subscription = LocalHub().subscribe("queue")
    waiting = asyncio.ensure_future(subscription.next())
    await asyncio.sleep(0)  # waiting on the queue and on the overflow flag
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await asyncio.sleep(0)
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_an_unreachable_redis_is_one_clear_error(caplog: pytest.LogCaptureFixture) -> None:
    import redis.asyncio as aioredis

    from desk.hub import HubUnavailable, RedisHub

    client = aioredis.from_url("redis://127.0.0.1:1/0")  # nothing listens on port 1
    hub = RedisHub(client, "test", "Redis at 127.0.0.1:1")
    with pytest.raises(HubUnavailable, match=r"cannot reach Redis at 127.0.0.1:1 "
                                             r"\(MOT_REDIS_URL\) within 2 s: .*"):
        await hub.start(timeout=2)
    errors = [r for r in caplog.records if "redis fan-out" in r.getMessage()]
    assert len(errors) == 1 and errors[0].exc_info is None  # one line, no traceback a second
    await client.close()
