"""Scale-out events: Rasa's own Pika broker publishes to RabbitMQ; the desk consumes it,
for the agents' conversation lines and for the managers' dashboard.

The broker is configured exactly as ``bot.rasa_config.endpoints`` writes it for
``MOT_EVENT_BROKER_URL=amqp://...``, on a queue unique to this run.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from bot.rasa_config import endpoints
from desk.app import init_app
from desk.rasa_client import RecordingCustomerChannel
from desk.state import MESSAGES
from desk.testing import desk_settings, make_packet, rasa_user_event
from knowledge.embedder import HashingEmbedder

pytestmark = pytest.mark.integration


async def test_events_published_by_rasas_pika_broker_reach_the_desk(tmp_path,
                                                                     aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    import rasa.shared.core.events  # noqa: F401  (the broker uses it; Rasa imports it first)
    from rasa.core.brokers.pika import PikaEventBroker
    from rasa.utils.endpoints import EndpointConfig

    queue = f"mot_events_test_{uuid.uuid4().hex[:10]}"
    settings = desk_settings(tmp_path, MOT_EVENT_BROKER_URL="amqp://guest:guest@127.0.0.1:5672",
                             MOT_EVENT_QUEUE=queue)
    broker_config = endpoints(settings)["event_broker"]
    assert broker_config["type"] == "pika" and broker_config["queues"] == [queue]
    # its own exchange: on Rasa's shared default, deployments got each other's events
    assert broker_config["exchange_name"] == f"{queue}.exchange"
    await _bind_to_the_shared_exchange(queue)  # as a deployment before that was
    broker = await PikaEventBroker.from_endpoint_config(EndpointConfig(**broker_config))
    assert broker is not None
    desk = await aiohttp_client(init_app(settings, channel=RecordingCustomerChannel(),
                                         embedder_factory=HashingEmbedder))
    try:
        packet = make_packet()
        created = await (await desk.post("/api/handoffs", json=packet.to_json(), headers={
            "Authorization": f"Bearer {settings.desk_token}"})).json()
        for _ in range(50):
            if broker.is_ready():
                break
            await asyncio.sleep(0.1)
        broker.publish(rasa_user_event(packet.conversation_id, "via rabbitmq", time.time()))
        log = desk.server.app[MESSAGES]
        deadline = time.monotonic() + 15
        while not await log.for_handoff(created["id"]):
            assert time.monotonic() < deadline, "the event never reached the desk"
            await asyncio.sleep(0.2)
        assert [m.text for m in await log.for_handoff(created["id"])] == ["via rabbitmq"]

        # the managers' dashboard is fed one event at a time too
        other = f"c-{uuid.uuid4().hex[:8]}"
        broker.publish(rasa_user_event(other, "my parcel is late", time.time()))
        broker.publish({"event": "slot", "sender_id": other, "name": "last_outcome",
                        "value": "offered:parcel_late", "timestamp": time.time()})
        late: dict = {}
        while late.get("offered") != 1 or late.get("messages") != 1:
            assert time.monotonic() < deadline + 15, f"not on the dashboard: {late}"
            await asyncio.sleep(0.2)
            found = await (await desk.get("/api/insight?days=1", headers={
                "Authorization": f"Bearer {settings.desk_token}"})).json()
            late = next((m for m in found["moments"] if m["moment"] == "parcel_late"), {})
        assert late["contacts"] == 2 and late["handed_off"] == 1  # the handoff and the offer

        # another deployment's event on the shared exchange no longer reaches this desk
        foreign = f"c-{uuid.uuid4().hex[:8]}"
        await _publish_to_the_shared_exchange(rasa_user_event(foreign, "not yours", time.time()))
        await asyncio.sleep(1.5)
        assert await log.for_conversation(foreign, 10) == []
    finally:
        await broker.close()
        import aio_pika

        connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/")
        channel = await connection.channel()
        await channel.queue_delete(queue)
        await channel.exchange_delete(f"{queue}.exchange")
        await connection.close()


async def _shared_exchange():  # type: ignore[no-untyped-def]
    import aio_pika

    connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/")
    channel = await connection.channel()
    try:
        exchange = await channel.get_exchange("rasa-exchange", ensure=True)
    except aio_pika.exceptions.AMQPError:  # none yet: declared as Rasa declares it
        channel = await connection.channel()
        exchange = await channel.declare_exchange("rasa-exchange", aio_pika.ExchangeType.FANOUT)
    return connection, channel, exchange


async def _bind_to_the_shared_exchange(queue: str) -> None:
    connection, channel, exchange = await _shared_exchange()
    declared = await channel.declare_queue(queue, durable=True)
    await declared.bind(exchange)
    await connection.close()


async def _publish_to_the_shared_exchange(event: dict) -> None:
    import json

    import aio_pika

    connection, _, exchange = await _shared_exchange()
    await exchange.publish(aio_pika.Message(json.dumps(event).encode()), routing_key="")
    await connection.close()


async def test_a_broker_unreachable_at_start_is_logged_and_tried_again(caplog) -> None:  # type: ignore[no-untyped-def]
    from desk.events import keep_consuming_rabbitmq

    consumer = asyncio.create_task(keep_consuming_rabbitmq(
        "amqp://guest:secret@127.0.0.1:1/", "mot_events_nowhere", ingestor=None,  # type: ignore[arg-type]
        retry_seconds=0.1))
    deadline = time.monotonic() + 20
    while sum("cannot consume events" in r.getMessage() for r in caplog.records) < 2:
        assert time.monotonic() < deadline, [r.getMessage() for r in caplog.records]
        assert not consumer.done(), consumer  # it keeps trying, it does not die
        await asyncio.sleep(0.1)
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    line = next(r.getMessage() for r in caplog.records if "cannot consume" in r.getMessage())
    assert "amqp://127.0.0.1:1/ (MOT_EVENT_BROKER_URL)" in line and "secret" not in line
