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
