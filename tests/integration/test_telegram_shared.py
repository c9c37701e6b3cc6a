"""Telegram updates taken once across Rasa replicas, in this machine's Redis."""

from __future__ import annotations

import uuid

import pytest

from channels.telegram import RedisUpdates

pytestmark = pytest.mark.integration


async def test_a_repeat_reaching_another_replica_is_still_a_repeat() -> None:
    prefix = f"mot-test:{uuid.uuid4().hex}"
    first, second = (RedisUpdates("redis://127.0.0.1:6379/0", prefix=prefix) for _ in range(2))
    try:
        await first.redis.ping()
    except OSError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    try:
        assert await first.claim(41) and not await second.claim(41)
        assert 0 < await first.redis.ttl(f"{prefix}:update:41") <= 86_400
        await first.release(41)  # handling failed on the first replica
        assert await second.claim(41)
    finally:
        await first.redis.delete(f"{prefix}:update:41")
        await first.redis.close()
        await second.redis.close()
