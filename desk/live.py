"""The agents' live channel: one WebSocket per desk page (``/desk/ws``).

Protocol (JSON frames). The browser connects with ``?handoff=<id>&after=<seq>`` (or no
handoff, for the queue page) and receives every stored line after ``seq``, then live
updates: ``message``, ``delivered``, ``handoff``, ``queue``. It sends
``{"type": "send", "client_id", "text", "note"}`` and gets ``ack`` with the stored line
(or ``error``); it re-sends unacknowledged lines after reconnecting (same ``client_id``:
stored once), and may ask ``{"type": "sync", "after": seq}`` at any time. Lines are always
in the database before they are announced, so a dropped connection or a browser too slow
to keep up (disconnected with code 4000) reconnects and loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from urllib.parse import urlparse

from aiohttp import WSMsgType, web

from bot import strict_json
from desk import handling
from desk import state as s
from desk.auth import current_user, require
from desk.hub import Subscription
from desk.store import HandoffConflict, HandoffNotFound
from desk.users import User
from desk.wire import RequestInvalid, SendLine, sequence_after

log = logging.getLogger(__name__)

SEND_TIMEOUT_SECONDS = 10.0
TOO_SLOW = 4000


def _same_origin(request: web.Request) -> bool:
    """Browsers send Origin on WebSockets; a foreign page must not ride the agent's cookie."""
    origin = request.headers.get("Origin")
    return origin is None or urlparse(origin).netloc == request.host


@require("agent")
async def live(request: web.Request) -> web.StreamResponse:
    if not _same_origin(request):
        raise web.HTTPForbidden(text="cross-origin WebSocket refused")
    user = await current_user(request)
    assert user is not None
    handoff_id = request.query.get("handoff")
    after = sequence_after(request.query.get("after"))  # a bad one: 422, before upgrading
    topics = ["queue"]  # the queue page; a conversation page hears only its conversation
    if handoff_id:
        await handling.visible_handoff(request.app, user, handoff_id)
        topics = [f"handoff:{handoff_id}"]
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=64 * 1024)
    await ws.prepare(request)
    hub, presence = request.app[s.HUB], request.app[s.PRESENCE]
    subscription = hub.subscribe(*topics)  # before the replay: nothing falls in between
    await presence.connect(user)
    try:
        if handoff_id:
            await _replay(request, ws, handoff_id, after)
        writer = asyncio.create_task(_forward(ws, subscription))
        try:
            await _read(request, ws, user, handoff_id)
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
    finally:
        hub.unsubscribe(subscription)
        await presence.disconnect(user)
    return ws


async def _send(ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
    await asyncio.wait_for(ws.send_json(frame), SEND_TIMEOUT_SECONDS)


async def _replay(request: web.Request, ws: web.WebSocketResponse, handoff_id: str,
                  after: int) -> None:
    for line in await request.app[s.MESSAGES].for_handoff(handoff_id, after):
        await _send(ws, {"type": "message", "message": line.view()})
    await _send(ws, {"type": "synced"})


async def _forward(ws: web.WebSocketResponse, subscription: Subscription) -> None:
    """Hub -> browser; a browser that cannot keep up is disconnected (it will resync)."""
    try:
        while True:
            frame = await subscription.next()
            if frame is None:
                await ws.close(code=TOO_SLOW, message=b"too slow; reconnect and resync")
                return
            await _send(ws, frame)
    except (asyncio.TimeoutError, ConnectionResetError):
        await ws.close(code=TOO_SLOW, message=b"too slow; reconnect and resync")


async def _read(request: web.Request, ws: web.WebSocketResponse, user: User,
                handoff_id: str | None) -> None:
    async for frame in ws:
        if frame.type != WSMsgType.TEXT:
            continue
        try:
            data = strict_json.loads(frame.data)
        except ValueError:
            await _send(ws, {"type": "error", "error": "frames must be JSON"})
            continue
        kind = data.get("type") if isinstance(data, dict) else None
        if kind == "sync" and handoff_id:
            try:
                after = sequence_after(data.get("after"))
            except RequestInvalid as invalid:
                await _send(ws, {"type": "error", "error": str(invalid)})
                continue
            await _replay(request, ws, handoff_id, after)
        elif kind == "send" and handoff_id:
            await _handle_send(request, ws, user, handoff_id, data)
        else:
            await _send(ws, {"type": "error", "error": f"unknown frame type {kind!r}"})


async def _handle_send(request: web.Request, ws: web.WebSocketResponse, user: User,
                       handoff_id: str, data: dict[str, Any]) -> None:
    client_id = data.get("client_id")
    try:
        stored = await handling.send(request.app, user, handoff_id, SendLine.parse(data))
    except (RequestInvalid, HandoffConflict, HandoffNotFound) as error:
        await _send(ws, {"type": "error", "client_id": client_id, "error": str(error)})
        return
    await _send(ws, {"type": "ack", "client_id": client_id, "message": stored.view()})


def add_live_routes(app: web.Application) -> None:
    app.router.add_get("/desk/ws", live)
