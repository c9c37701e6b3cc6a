"""Sign-in attempt logs: one contract for memory and Redis; replicas share Redis counts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from desk.sign_in_limits import (
    AttemptLog,
    MemoryAttemptLog,
    RedisAttemptLog,
    SignInGuard,
    SignInLimits,
    SignInRefused,
)
from tests.integration.test_desk_fanout import _redis_ok

pytestmark = pytest.mark.integration

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def redis() -> AsyncIterator[Any]:
    import redis.asyncio as aioredis

    if not await _redis_ok():
        pytest.fail("Redis on 127.0.0.1:6379 is required for the replicas' sign-in limits")
    client = aioredis.from_url(REDIS)
    yield client
    await client.close()


@pytest.fixture(params=["memory", "redis"])
async def attempts(request, redis) -> AttemptLog:  # type: ignore[no-untyped-def]
    if request.param == "memory":
        return MemoryAttemptLog()
    return RedisAttemptLog(redis, f"mot-test:{uuid.uuid4().hex}")


async def test_record_keeps_the_window_and_forget_removes(attempts: AttemptLog) -> None:
    assert await attempts.record("k", "a", 100.0, 10.0) == [100.0]
    assert await attempts.record("k", "b", 105.0, 10.0) == [100.0, 105.0]
    assert await attempts.record("k", "c", 111.0, 10.0) == [105.0, 111.0]
    await attempts.forget("k", "c")
    assert await attempts.record("k", "d", 112.0, 10.0) == [105.0, 112.0]
    assert await attempts.recent("k", 116.0, 10.0) == [112.0]
    await attempts.forget("k")
    assert await attempts.recent("k", 113.0, 10.0) == []
    assert await attempts.record("k", "e", 113.0, 10.0) == [113.0]


async def test_two_replicas_count_the_same_failures(redis) -> None:  # type: ignore[no-untyped-def]
    prefix = f"mot-test:{uuid.uuid4().hex}"
    limits = SignInLimits(max_failures=4)
    a, b = (SignInGuard(RedisAttemptLog(redis, prefix), limits) for _ in range(2))
    for guard in (a, b, a, b):
        await guard.failed(await guard.begin("ann", "10.0.0.1"))
    with pytest.raises(SignInRefused):
        await a.begin("ann", "10.0.0.7")
    with pytest.raises(SignInRefused):
        await b.begin("ann", "10.0.0.8")
    keys = [key async for key in redis.scan_iter(f"{prefix}:*")]
    assert len(keys) == 2  # the account's and the address's
    assert all([await redis.ttl(key) > 0 for key in keys])  # they expire with the window
