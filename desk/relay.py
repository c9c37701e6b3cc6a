"""Delivers agents' stored lines to the customer, in order, exactly once as seen by them.

An agent's line is stored first (the browser is acknowledged then), and this worker sends
it afterwards: woken at once for low latency, and sweeping every second for anything left
over (Rasa was down, the desk restarted mid-delivery). A line that was tried before is
looked up in Rasa's tracker first, so a crash between "Rasa took it" and "we recorded
that" does not send it twice.
"""

from __future__ import annotations

import asyncio
import logging

from desk.hub import Hub
from desk.messages import STRUGGLING_AFTER, Message, MessageLog
from desk.rasa_client import CustomerChannel, Outgoing, RasaUnavailable

log = logging.getLogger(__name__)

SWEEP_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
HAND_BACK_PREFIX = "hand_back:"


def outgoing(message: Message) -> Outgoing:
    outcome = (message.text[len(HAND_BACK_PREFIX):] if message.speaker == "control"
               and message.text.startswith(HAND_BACK_PREFIX) else None)
    return Outgoing(message.key, message.conversation_id, message.text, message.author,
                    outcome, message.handoff_id)


class Relay:
    """The delivery worker of one desk replica."""

    def __init__(self, log_: MessageLog, channel: CustomerChannel, hub: Hub) -> None:
        self._log, self._channel, self._hub = log_, channel, hub
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Something was stored: deliver now rather than at the next sweep."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            await self._sleep_or_wake()
            self._wake.clear()
            try:
                while await self.deliver_pending():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:  # the database hiccupped: keep the worker alive, sweep again
                log.exception("delivery sweep failed")

    async def _sleep_or_wake(self) -> None:
        """Waits for :meth:`wake` or SWEEP_SECONDS.

        Not ``asyncio.wait_for``: on Python 3.10 it can swallow a cancellation that arrives
        as the wait ends, and the worker would then never stop (seen as a hung shutdown).
        """
        waiter = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({waiter}, timeout=SWEEP_SECONDS)
        finally:
            waiter.cancel()

    async def deliver_pending(self) -> int:
        """One pass: each conversation's next line; returns how many were delivered."""
        lines = await self._log.lease_pending()
        results = await asyncio.gather(*(self._deliver(m) for m in lines))
        return sum(results)

    async def _deliver(self, message: Message) -> bool:
        line = outgoing(message)
        try:
            if not (message.attempts and await self._channel.delivered(line)):
                await self._channel.send(line)
        except RasaUnavailable as error:
            delay = min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** message.attempts)
            log.warning("delivery of %s to %s failed (attempt %d, retry in %.1f s): %s",
                        message.key, message.conversation_id, message.attempts + 1, delay,
                        error)
            await self._log.release(message.key, delay)
            if message.handoff_id and message.attempts + 1 >= STRUGGLING_AFTER:
                await self._hub.publish(f"handoff:{message.handoff_id}", {
                    "type": "undelivered", "seq": message.seq, "retry_in": delay})
            return False
        await announce_delivery(self._hub, await self._log.mark_delivered(message.key))
        return True


async def announce_delivery(hub: Hub, line: Message | None) -> None:
    """Tells the agents' pages that a line they sent has reached the customer (the ✓)."""
    if line is not None and line.handoff_id:
        await hub.publish(f"handoff:{line.handoff_id}", {"type": "delivered", "seq": line.seq})
