"""The desk's API for processes (service bearer token): handoffs in, Rasa events in.

``POST /api/handoffs`` answers where the customer stands (position, expected wait,
agents online, business hours) only after the handoff is stored; ``POST /api/events``
answers only after the events are stored, so Rasa's broker retries anything unacknowledged.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from bot import strict_json
from desk import handling
from desk import state as s
from desk.auth import require
from desk.insight import plausible_time
from desk.packet import HandoffPacket
from desk.store import HandoffNotFound, HandoffRecord
from desk.wire import RequestInvalid

log = logging.getLogger(__name__)

#: Average handling time of one conversation, for the customer's expected wait.
AVERAGE_HANDLE_SECONDS = 240


def handoff_view(record: HandoffRecord, position: int | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": record.id, "conversation_id": record.conversation_id, "status": record.status,
        "priority": record.priority, "skill": record.skill, "moment": record.moment,
        "reason": record.reason, "channel": record.channel, "created_at": record.created_at,
        "assignee": record.assignee_name, "outcome": record.outcome, "packet": record.packet,
    }
    if position is not None:
        view["position"] = position
    return view


@require(service=True)
async def create_handoff(request: web.Request) -> web.Response:
    raw = await request.read()
    packet = HandoffPacket.from_json(strict_json.loads(raw))
    app = request.app
    record = await app[s.STORE].add(packet)
    await app[s.IDENTITIES].link_packet(packet)  # the single customer view
    await app[s.MESSAGES].adopt(record.conversation_id, record.id, record.created_at)
    position = await app[s.STORE].position(record)
    online = await handling.online_for(app, record.skill)
    is_open = app[s.HOURS].is_open(datetime.now(timezone.utc))
    log.info("handoff %s queued for %s (%s, priority %d, %d agents online)", record.id,
             record.conversation_id, packet.reason, packet.priority, online)
    await app[s.HUB].publish("queue", {"type": "queue"})
    return web.json_response(
        {"id": record.id, "position": position,
         "expected_wait_seconds": position * AVERAGE_HANDLE_SECONDS // max(1, online),
         "agents_online": online, "open": is_open, "hours": app[s.HOURS].text},
        status=201)


@require(service=True)
async def list_handoffs(request: web.Request) -> web.Response:
    queue = await request.app[s.STORE].queue()
    return web.json_response([handoff_view(r, n) for n, r in enumerate(queue, 1)])


@require(service=True)
async def get_handoff(request: web.Request) -> web.Response:
    record = await request.app[s.STORE].get(request.match_info["handoff_id"])
    if record is None:
        raise HandoffNotFound(request.match_info["handoff_id"])
    return web.json_response(handoff_view(record))


@require(service=True)
async def receive_events(request: web.Request) -> web.Response:
    """A batch of Rasa events (a JSON list, or one event object)."""
    body = strict_json.loads(await request.read())
    events = body if isinstance(body, list) else [body]
    if not all(isinstance(e, dict) for e in events):
        raise RequestInvalid("events must be JSON objects")
    for index, event in enumerate(events):
        if "timestamp" in event and not plausible_time(event["timestamp"]):
            raise RequestInvalid(f"event {index}: 'timestamp' {event['timestamp']!r} is not a "
                                 "time (seconds since 1970, before 2100)")
    stored = await request.app[s.INGESTOR].ingest(events)
    return web.json_response({"received": len(events), "stored": stored})


def add_service_routes(app: web.Application) -> None:
    app.router.add_post("/api/handoffs", create_handoff)
    app.router.add_get("/api/handoffs", list_handoffs)
    app.router.add_get("/api/handoffs/{handoff_id}", get_handoff)
    app.router.add_post("/api/events", receive_events)
