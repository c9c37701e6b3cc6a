"""Scale-out: two desk replicas on one PostgreSQL database fan live lines out through Redis.

A customer line arriving at replica A (Rasa's events) reaches an agent's WebSocket on
replica B; an agent line sent on B is stored once and delivered once, by whichever
replica leases it.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from aiohttp.test_utils import TestClient, TestServer

from desk.app import init_app
from desk.rasa_client import RecordingCustomerChannel
from desk.testing import desk_settings, make_packet, rasa_user_event, sign_in
from desk.users import create_user
from knowledge.embedder import HashingEmbedder
from tests.integration.test_desk_store_contract import _drop, _postgres_database

pytestmark = pytest.mark.integration


async def _redis_ok() -> bool:
    import redis.asyncio as aioredis

    client = aioredis.from_url("redis://127.0.0.1:6379/0")
    try:
        return bool(await asyncio.wait_for(client.ping(), 3))
    except (OSError, asyncio.TimeoutError, Exception):
        return False
    finally:
        await client.close()


async def test_two_replicas_share_postgres_and_redis(tmp_path) -> None:  # type: ignore[no-untyped-def]
    database = await _postgres_database()
    if database is None or not await _redis_ok():
        pytest.fail("PostgreSQL and Redis on 127.0.0.1 are required for the scale-out test")
    env = {"MOT_DESK_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}",
           "MOT_REDIS_URL": "redis://127.0.0.1:6379/0", "MOT_DESK_TOKEN": "service-token",
           "MOT_SESSION_KEY": "one-key-for-every-replica"}
    settings = desk_settings(tmp_path, **env)
    await create_user(settings.desk_database_url, "ann", "pw-ann-1", ("agent",), ("delivery",),
                      rounds=4)
    channels = [RecordingCustomerChannel(), RecordingCustomerChannel()]
    replicas = [TestClient(TestServer(init_app(settings, channel=c,
                                               embedder_factory=HashingEmbedder)))
                for c in channels]
    try:
        for replica in replicas:
            await replica.start_server()
        a, b = replicas
        service = {"Authorization": "Bearer service-token"}
        packet = make_packet()
        created = await (await a.post("/api/handoffs", json=packet.to_json(),
                                      headers=service)).json()
        csrf = await sign_in(b, "ann", "pw-ann-1")
        await b.post(f"/api/desk/handoffs/{created['id']}/claim", headers={"X-CSRF-Token": csrf})
        ws = await b.ws_connect(f"/desk/ws?handoff={created['id']}")
        event = rasa_user_event(packet.conversation_id, "hello from replica A", time.time())
        await a.post("/api/events", json=[event], headers=service)
        while True:
            frame = await asyncio.wait_for(ws.receive_json(), 10)
            if frame["type"] == "message" and frame["message"]["speaker"] == "customer":
                assert frame["message"]["text"] == "hello from replica A"
                break
        await ws.send_json({"type": "send", "client_id": uuid.uuid4().hex, "text": "hi!"})
        deadline = time.monotonic() + 10
        while sum(len(c.sent) for c in channels) < 2:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.5)  # give a duplicate every chance to appear
        sent = [line.text for c in channels for line in c.sent]
        assert sent.count("hi!") == 1 and len(sent) == 2
        await ws.close()
    finally:
        for replica in replicas:
            await replica.close()
        await _drop(database)
