"""The desk's side of Rasa's HTTP API: put agents' lines on the customer's own channel.

An agent's reply is appended to the conversation as a ``bot`` event with
``execute_side_effects=true&output_channel=latest``: Rasa stores it in the tracker and
sends it through the channel the customer last wrote on (socket.io: a ``bot_uttered``;
a messaging app: its API). The event's metadata carries the desk's key, so a retried
delivery can check the tracker first and never send a line twice. Handing back appends
``resume`` and runs ``utter_back_to_bot`` the same way, or, when the agent closed the
handoff as solved, ``utter_ask_agent_helped`` (:func:`hand_back`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp

from desk.packet import AGENT_ASKED
from desk.store import RESOLVING, WITHDRAWN

log = logging.getLogger(__name__)

DESK_KEY = "mot_desk_key"
#: On a line's event when the desk itself records its delivery (a REST customer hears it
#: only once the operator's callback took it): its echo from Rasa proves nothing.
CALLBACK_KEY = "mot_desk_callback"


class RasaUnavailable(RuntimeError):
    """Rasa did not take the request (down, slow, or refused); the caller retries later."""


@dataclass(frozen=True)
class Outgoing:
    """One line for the customer: an agent's reply, or a hand-back to the bot."""

    key: str
    conversation_id: str
    text: str
    author: str
    hand_back_outcome: str | None = None
    handoff_id: str | None = None


def hand_back(line: Outgoing) -> tuple[str, str]:
    """The ``last_outcome`` slot's value and the response that hand the customer back to the
    bot: after an outcome that says the problem is solved, the bot asks whether the
    customer agrees (``agent_asked:<handoff id>``, answered in the turn action); else it
    says they are back (``agent:<outcome>``)."""
    if line.hand_back_outcome in RESOLVING and line.handoff_id:
        return f"{AGENT_ASKED}:{line.handoff_id}", "utter_ask_agent_helped"
    if line.hand_back_outcome == WITHDRAWN:  # the customer's own "nvm, it arrived"
        return f"agent:{WITHDRAWN}", "utter_handoff_withdrawn"
    return f"agent:{line.hand_back_outcome}", "utter_back_to_bot"


#: The header that signs each POST to the operator's REST callback.
SIGNATURE_HEADER = "X-MoT-Signature"


def callback_signature(secret: str, body: bytes, at: int | None = None) -> str:
    """``t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">``: the receiver recomputes it
    with the shared secret and refuses a mismatch or an old ``t`` (a replay)."""
    at = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode("utf-8"), f"{at}.".encode() + body, hashlib.sha256)
    return f"t={at},v1={digest.hexdigest()}"


class CustomerChannel(Protocol):
    async def send(self, line: Outgoing) -> None: ...
    async def delivered(self, line: Outgoing) -> bool: ...
    async def events(self, conversation_id: str) -> list[dict[str, Any]]: ...


class RasaCustomerChannel:
    """Talks to Rasa's HTTP API with its auth token."""

    def __init__(self, session: aiohttp.ClientSession, rasa_url: str, token: str,
                 rest_callback_url: str | None = None, timeout_seconds: float = 10.0,
                 callback_secret: str = "") -> None:
        self._session, self._base, self._token = session, rasa_url.rstrip("/"), token
        self._callback, self._callback_secret = rest_callback_url, callback_secret
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        # lines in a REST customer's tracker whose callback has not been taken yet: a retry
        # posts the callback again and does not write the line twice
        self._awaiting_callback: set[str] = set()

    def _url(self, conversation_id: str, tail: str) -> str:
        return f"{self._base}/conversations/{quote(conversation_id, safe='')}/{tail}"

    async def _call(self, method: str, url: str, **kwargs: Any) -> Any:
        params = {"token": self._token, **kwargs.pop("params", {})}
        try:
            async with self._session.request(method, url, params=params,
                                             timeout=self._timeout, **kwargs) as reply:
                body = await reply.json(content_type=None)
                if reply.status != 200:
                    raise RasaUnavailable(f"Rasa answered {reply.status}: {str(body)[:300]}")
                return body
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            raise RasaUnavailable(f"Rasa at {self._base} unreachable: {error!r}") from error

    async def send(self, line: Outgoing) -> None:
        """Sends one line through the customer's latest channel."""
        if line.hand_back_outcome is not None:
            await self._hand_back(line)
            return
        if line.key not in self._awaiting_callback:
            metadata: dict[str, Any] = {DESK_KEY: line.key, "agent": line.author}
            if self._callback:
                metadata[CALLBACK_KEY] = True
            event = {"event": "bot", "text": line.text, "timestamp": time.time(),
                     "metadata": metadata}
            body = await self._call("POST", self._url(line.conversation_id, "tracker/events"),
                                    json=[event], params={"execute_side_effects": "true",
                                                          "output_channel": "latest",
                                                          "include_events": "NONE"})
            if not (self._callback and (body or {}).get("latest_input_channel") == "rest"):
                return
            self._awaiting_callback.add(line.key)
        # a REST customer hears the line only through the operator's callback: until it
        # takes the line, the line is not delivered (the relay tries again)
        await self._post_callback({"recipient_id": line.conversation_id, "text": line.text,
                                   "metadata": {"agent": line.author, DESK_KEY: line.key}})
        self._awaiting_callback.discard(line.key)

    async def _hand_back(self, line: Outgoing) -> None:
        outcome, response = hand_back(line)
        events = [{"event": "resume", "timestamp": time.time()},
                  {"event": "slot", "name": "handoff_id", "value": None},
                  {"event": "slot", "name": "last_outcome", "value": outcome}]
        await self._call("POST", self._url(line.conversation_id, "tracker/events"),
                         json=events, params={"include_events": "NONE"})
        said = await self._call("POST", self._url(line.conversation_id, "execute"),
                                json={"name": response},
                                params={"output_channel": "latest", "include_events": "NONE"})
        # The bot's turn ends listening, as after any message it answers: without it the
        # customer's reply follows the response directly, no rule's first step matches it,
        # and the fallback ran the turn action over and over on that one message (Rasa's
        # circuit breaker stopped it after eight).
        await self._call("POST", self._url(line.conversation_id, "tracker/events"),
                         json=[{"event": "action", "name": "action_listen",
                                "timestamp": time.time()}],
                         params={"include_events": "NONE"})
        tracker = (said or {}).get("tracker") or {}
        if self._callback and tracker.get("latest_input_channel") == "rest":
            # REST customers: the operator's callback gets the bot's words too (Rasa returns
            # them, as REST cannot push). Best effort: retrying would hand back twice, and the
            # words are in the tracker for an integrator who polls.
            for message in (said or {}).get("messages") or []:
                try:
                    await self._post_callback({**message, "recipient_id": line.conversation_id,
                                               "metadata": {DESK_KEY: line.key}})
                except RasaUnavailable as error:
                    log.warning("hand-back of %s: %s", line.conversation_id, error)

    async def _post_callback(self, message: dict[str, Any]) -> None:
        """REST customers: the operator's callback receives what socket.io would push."""
        assert self._callback is not None
        body = json.dumps(message).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self._callback_secret:
            headers[SIGNATURE_HEADER] = callback_signature(self._callback_secret, body)
        try:
            async with self._session.post(self._callback, timeout=self._timeout, data=body,
                                          headers=headers) as reply:
                if reply.status >= 300:
                    raise RasaUnavailable(f"REST callback answered {reply.status}")
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise RasaUnavailable(f"REST callback unreachable: {error!r}") from error

    async def _tracker(self, conversation_id: str) -> dict[str, Any]:
        return await self._call("GET", self._url(conversation_id, "tracker"),
                                params={"include_events": "ALL"}) or {}

    async def events(self, conversation_id: str) -> list[dict[str, Any]]:
        """The conversation's events (for reconciliation after a desk restart)."""
        return list((await self._tracker(conversation_id)).get("events") or [])

    async def delivered(self, line: Outgoing) -> bool:
        """True when an earlier attempt got through: the tracker holds this line and, for a
        REST customer with the operator's callback, the callback took it. A REST line in the
        tracker whose callback is not known to have taken it (it failed, or the desk has
        restarted since) is posted again: at least once (``mot_desk_key`` tells repeats)."""
        if line.hand_back_outcome is not None:
            return False
        tracker = await self._tracker(line.conversation_id)
        held = any((e.get("metadata") or {}).get(DESK_KEY) == line.key
                   for e in tracker.get("events") or () if e.get("event") == "bot")
        if held and self._callback and tracker.get("latest_input_channel") == "rest":
            self._awaiting_callback.add(line.key)  # only the callback is left to do
            return False
        return held


class RecordingCustomerChannel:
    """Fake Rasa for tests: records lines, keeps per-conversation events, fails when told."""

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []
        self.fail = False
        self.tracker: dict[str, list[dict[str, Any]]] = {}

    async def send(self, line: Outgoing) -> None:
        if self.fail:
            raise RasaUnavailable("recording channel told to fail")
        self.sent.append(line)
        if line.hand_back_outcome is None:
            self.tracker.setdefault(line.conversation_id, []).append(
                {"event": "bot", "text": line.text, "timestamp": time.time(),
                 "metadata": {DESK_KEY: line.key}})

    async def delivered(self, line: Outgoing) -> bool:
        return any((e.get("metadata") or {}).get(DESK_KEY) == line.key
                   for e in self.tracker.get(line.conversation_id, []))

    async def events(self, conversation_id: str) -> list[dict[str, Any]]:
        if self.fail:
            raise RasaUnavailable("recording channel told to fail")
        return list(self.tracker.get(conversation_id, []))
