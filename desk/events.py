"""Rasa's event stream into the desk: customers' lines reach the agent, stored first.

Three ways in, one :class:`Ingestor`:

* embedded default: Rasa's :class:`desk.broker.DeskEventBroker` POSTs batches to
  ``/api/events`` (service token); the answer is sent only after the batch is stored;
* scale-out: Rasa's own Pika broker publishes to RabbitMQ; :func:`consume_rabbitmq` acks
  each message only after it is stored (competing consumers across desk replicas);
* safety net: :func:`reconcile` reads the trackers of open handoffs from Rasa's HTTP API
  (after a desk restart, or if the broker lost something).

Storing is idempotent (each event has a unique key), so the three may overlap freely.
A line belongs to a handoff when it happened while that handoff was open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from desk.contact import PersonalData, acknowledge
from desk.handling import announce_state
from desk.hub import Hub
from desk.insight import CLICK, MESSAGE, Fact, InsightLog, plausible_time, user_event_key
from desk.messages import Message, MessageLog, NewMessage
from desk.rasa_client import CALLBACK_KEY, DESK_KEY, CustomerChannel, RasaUnavailable
from desk.relay import announce_delivery
from desk.store import HandoffRecord, SqlHandoffStore
from desk.withdraw import withdraw

log = logging.getLogger(__name__)

RECONCILE_SECONDS = 60.0


@dataclass(frozen=True)
class RasaEvent:
    """The part of a Rasa event the desk uses, parsed once at the boundary."""

    sender_id: str
    kind: str            # "user" | "bot"
    text: str
    timestamp: float
    key: str
    channel: str
    desk_key: str | None  # set on the echo of a line the desk itself sent
    by_callback: bool = False  # ... whose delivery the desk records itself (REST callback)

    @classmethod
    def parse(cls, data: Any, sender_id: str | None = None) -> RasaEvent | None:
        """None for events the desk ignores (slots, actions, ...) or malformed ones."""
        if not isinstance(data, dict) or data.get("event") not in ("user", "bot"):
            return None
        sender = data.get("sender_id") or sender_id
        text, timestamp = data.get("text"), data.get("timestamp")
        if not isinstance(sender, str) or not isinstance(text, str) or not text \
                or not plausible_time(timestamp):
            return None
        raw_metadata = data.get("metadata")
        metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
        if data["event"] == "user":
            key = user_event_key(sender, data)
        else:
            key = f"rasa:b:{sender}:{float(timestamp)!r}"
        desk_key = metadata.get(DESK_KEY) if isinstance(metadata.get(DESK_KEY), str) else None
        return cls(sender, data["event"], text, float(timestamp), key,
                   str(data.get("input_channel") or ""), desk_key,
                   metadata.get(CALLBACK_KEY) is True)


class Ingestor:
    """Stores Rasa events as conversation lines and notifies the agents' browsers; with an
    :class:`~desk.insight.InsightLog`, also stores what the managers' dashboard counts; with
    a way to find personal data, acknowledges contact details left while a handoff waits
    (:mod:`desk.contact`), and wakes the delivery worker for that line."""

    def __init__(self, store: SqlHandoffStore, log_: MessageLog, hub: Hub,
                 insight: InsightLog | None = None,
                 personal_data: PersonalData | None = None,
                 wake: Callable[[], None] | None = None) -> None:
        self._store, self._log, self._hub, self._insight = store, log_, hub, insight
        self._personal_data, self._wake = personal_data, wake

    async def ingest(self, raw_events: list[Any], sender_id: str | None = None) -> int:
        """Stores every new customer and bot line; returns how many were new."""
        events = [e for e in (RasaEvent.parse(r, sender_id) for r in raw_events) if e]
        since = min((e.timestamp for e in events), default=0.0)
        handoffs: dict[str, list[tuple[HandoffRecord, float | None]]] = {}

        async def open_handoff(conversation_id: str, at: float) -> HandoffRecord | None:
            """The handoff that held the conversation when the line was said (not when it
            is stored: a line said just before the hand-back may arrive just after)."""
            if conversation_id not in handoffs:
                handoffs[conversation_id] = await self._store.open_since(conversation_id, since)
            return next((h for h, until in handoffs[conversation_id] if h.created_at <= at
                         and (until is None or at < until)), None)

        lines = []
        for event in events:
            if event.desk_key is not None:  # our own agent line coming back: delivered,
                if not event.by_callback:  # unless a REST callback has yet to take it
                    await announce_delivery(self._hub,
                                            await self._log.mark_delivered(event.desk_key))
                continue
            handoff = await open_handoff(event.sender_id, event.timestamp)
            lines.append(NewMessage(
                key=event.key, conversation_id=event.sender_id,
                handoff_id=handoff.id if handoff is not None else None,
                speaker="customer" if event.kind == "user" else "bot", text=event.text,
                channel=event.channel, at=event.timestamp))
        stored = await self._log.append(lines)
        withdrawal, withdrawn = await withdraw(stored, open_handoff, self._store)
        replies = await self._log.append(withdrawal)
        if self._personal_data is not None:
            replies += await self._log.append(
                await acknowledge(stored, open_handoff, self._personal_data))
        if replies and self._wake is not None:
            self._wake()
        stored += replies
        await self.announce(stored)
        for record in withdrawn:  # the queue pages and the conversation's viewers
            await announce_state(self._hub, record)
        if self._insight is not None:  # a customer talking to an agent is not a bot contact
            facts = [f for f in (Fact.parse(r, sender_id) for r in raw_events) if f]
            await self._insight.record(
                [f for f in facts if f.kind not in (MESSAGE, CLICK)
                 or await open_handoff(f.conversation_id, f.at) is None])
        return len(stored)

    async def announce(self, stored: list[Message]) -> None:
        for message in stored:
            if message.handoff_id:
                await self._hub.publish(f"handoff:{message.handoff_id}",
                                        {"type": "message", "message": message.view()})


async def reconcile(store: SqlHandoffStore, ingestor: Ingestor,
                    channel: CustomerChannel) -> int:
    """Re-reads the open handoffs' trackers from Rasa; returns how many lines were missing."""
    found = 0
    for record in [*await store.queue(), *await store.assigned_to(None)]:
        events = await channel.events(record.conversation_id)
        found += await ingestor.ingest(events, sender_id=record.conversation_id)
    if found:
        log.warning("reconciliation found %d lines the event stream had not delivered", found)
    return found


async def keep_reconciling(store: SqlHandoffStore, ingestor: Ingestor,
                           channel: CustomerChannel) -> None:
    """At start-up (retrying until Rasa answers), then every :data:`RECONCILE_SECONDS`."""
    delay = 2.0
    while True:
        try:
            await reconcile(store, ingestor, channel)
            delay = RECONCILE_SECONDS
        except RasaUnavailable as error:
            log.info("reconciliation postponed: %s", error)
            delay = min(delay * 2, RECONCILE_SECONDS)
        except Exception:
            log.exception("reconciliation failed")
        await asyncio.sleep(delay)


async def keep_consuming_rabbitmq(url: str, queue_name: str, ingestor: Ingestor,
                                  retry_seconds: float = 1.0, max_retry: float = 30.0) -> None:
    """:func:`consume_rabbitmq`, connecting again until cancelled: a broker unreachable at
    the desk's start (or lost for good) is logged with the setting to check and tried again;
    the events wait in its queue meanwhile, and reconciliation covers the gap."""
    delay = retry_seconds
    while True:
        try:
            await consume_rabbitmq(url, queue_name, ingestor)
            delay = retry_seconds  # the queue iterator ended: connect again at once
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.error("cannot consume events from RabbitMQ at %s (MOT_EVENT_BROKER_URL): %s; "
                      "trying again in %.0f s", _without_password(url), error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_retry)


def _without_password(url: str) -> str:
    """A broker URL fit for a log line: host, port and virtual host, no credentials."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path}"


#: Rasa's default exchange, which queues of deployments before per-deployment exchanges
#: (bot.rasa_config.event_exchange) were bound to, so that each got every other's events.
SHARED_EXCHANGE = "rasa-exchange"


async def _leave_shared_exchange(connection: Any, queue_name: str) -> None:
    """Unbinds the queue from Rasa's default exchange, if it was ever bound there."""
    import aio_pika

    channel = await connection.channel()  # a failed unbind closes its channel: its own
    try:
        exchange = await channel.get_exchange(SHARED_EXCHANGE, ensure=True)
        queue = await channel.get_queue(queue_name, ensure=True)
        await queue.unbind(exchange)
    except aio_pika.exceptions.AMQPError:
        pass  # no such exchange (a new deployment): nothing to leave
    finally:
        if not channel.is_closed:
            await channel.close()


async def consume_rabbitmq(url: str, queue_name: str, ingestor: Ingestor) -> None:
    """Consumes the queue Rasa's Pika broker publishes to; acks after storing."""
    import aio_pika

    connection = await aio_pika.connect_robust(url)
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=200)
        queue = await channel.declare_queue(queue_name, durable=True)
        await _leave_shared_exchange(connection, queue_name)
        async with queue.iterator() as messages:
            async for message in messages:
                try:
                    await ingestor.ingest([json.loads(message.body)])
                except ValueError:
                    log.error("dropping a non-JSON message from %s", queue_name)
                    await message.reject()
                    continue
                except Exception:
                    log.exception("could not store an event; it stays queued")
                    with contextlib.suppress(Exception):
                        await message.nack(requeue=True)
                    await asyncio.sleep(1)
                    continue
                await message.ack()
    finally:
        await connection.close()
