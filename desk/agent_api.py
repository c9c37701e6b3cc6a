"""The agents' JSON API (session cookie + CSRF header), under ``/api/desk/``.

The desk pages' JavaScript calls these; tests and the benchmark too. Each handler parses
its input through :mod:`desk.wire` and delegates the rules to :mod:`desk.handling`.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from bot import strict_json
from bot.catalogue import SKILLS
from desk import handling
from desk import state as s
from desk.auth import current_user, require
from desk.customer_view import confirm_same_customer, customer_view
from desk.service_api import AVERAGE_HANDLE_SECONDS, handoff_view
from desk.store import HandoffRecord
from desk.users import User
from desk.wire import (
    CloseRequest,
    CorrectionRequest,
    IdentityConfirmation,
    RequestInvalid,
    SendLine,
    TransferRequest,
    sequence_after,
)


async def _user(request: web.Request) -> User:
    user = await current_user(request)
    assert user is not None  # @require ran first
    return user


async def _body(request: web.Request) -> Any:
    return strict_json.loads((await request.read()) or b"null")


def _summary(record: HandoffRecord, position: int | None = None) -> dict[str, Any]:
    view = handoff_view(record, position)
    del view["packet"]
    view["customer_id"] = record.customer_id
    view["top_moment"] = (record.packet.get("top_moments") or [{}])[0].get("id")
    return view


@require("agent")
async def queue(request: web.Request) -> web.Response:
    """The agent's queue (their skills; all for supervisors), what they hold, and waits."""
    user, store = await _user(request), request.app[s.STORE]
    queued = await store.queue(handling.skills_of(user))
    held = await store.assigned_to(None if handling.sees_all(user) else user.id)
    await request.app[s.PRESENCE].seen(user)  # a client polling the queue is at work
    online = await request.app[s.PRESENCE].online()
    return web.json_response({
        "queued": [{**_summary(r, n), "expected_wait_seconds":
                    n * AVERAGE_HANDLE_SECONDS // max(1, online)}
                   for n, r in enumerate(queued, 1)],
        "assigned": [_summary(r) for r in held], "agents_online": online,
        "open": request.app[s.HOURS].is_open(datetime.now(timezone.utc))})


@require("agent")
async def handoff(request: web.Request) -> web.Response:
    """Everything about one handoff: packet, live lines, the customer on every channel."""
    user = await _user(request)
    record = await handling.visible_handoff(request.app, user, request.match_info["id"])
    lines = await request.app[s.MESSAGES].for_handoff(record.id)
    customer = await customer_view(request.app, user, record)
    return web.json_response({**handoff_view(record), "messages": [m.view() for m in lines],
                              "customer": customer.view(),
                              "may_act": handling.may_act(user, record)})


@require("agent")
async def same_customer(request: web.Request) -> web.Response:
    """Confirms a "possibly the same customer" hint: ``{"kind": "email", "value": ...}``."""
    confirmation = IdentityConfirmation.parse(await _body(request))
    customer = await confirm_same_customer(request.app, await _user(request),
                                           request.match_info["id"], confirmation)
    return web.json_response(customer.view())


@require("agent")
async def messages(request: web.Request) -> web.Response:
    user = await _user(request)
    record = await handling.visible_handoff(request.app, user, request.match_info["id"])
    after = sequence_after(request.query.get("after"))
    lines = await request.app[s.MESSAGES].for_handoff(record.id, after)
    return web.json_response([m.view() for m in lines])


@require("agent")
async def send(request: web.Request) -> web.Response:
    line = SendLine.parse(await _body(request))
    stored = await handling.send(request.app, await _user(request), request.match_info["id"],
                                 line)
    return web.json_response(stored.view(), status=201)


@require("agent")
async def claim(request: web.Request) -> web.Response:
    record = await handling.claim(request.app, await _user(request), request.match_info["id"])
    return web.json_response(_summary(record))


@require("agent")
async def transfer(request: web.Request) -> web.Response:
    transfer_request = TransferRequest.parse(await _body(request), SKILLS)
    record = await handling.transfer(request.app, await _user(request),
                                     request.match_info["id"], transfer_request)
    return web.json_response(_summary(record))


@require("agent")
async def close(request: web.Request) -> web.Response:
    record = await handling.close(request.app, await _user(request), request.match_info["id"],
                                  CloseRequest.parse(await _body(request)))
    return web.json_response(_summary(record))


@require("agent")
async def correct(request: web.Request) -> web.Response:
    correction = CorrectionRequest.parse(await _body(request), request.app[s.CATALOGUE].ids)
    stored = await handling.correct(request.app, await _user(request),
                                    request.match_info["id"], correction)
    return web.json_response(asdict(stored), status=201)


@require("agent")
async def suggestions(request: web.Request) -> web.Response:
    """Articles for the handoff's customer line ``seq`` (or its latest one)."""
    user = await _user(request)
    record = await handling.visible_handoff(request.app, user, request.match_info["id"])
    lines = [m for m in await request.app[s.MESSAGES].for_handoff(record.id)
             if m.speaker == "customer"]
    wanted = request.query.get("seq")
    chosen = [m for m in lines if wanted is None or str(m.seq) == wanted]
    text = chosen[-1].text if chosen else " ".join(  # the customer's words, not button payloads
        t["text"] for t in record.packet.get("transcript", [])
        if t["speaker"] == "customer" and not t["text"].startswith("/"))
    if not text:
        raise RequestInvalid("no customer message to suggest articles for")
    rejected = {a.get("id") for a in record.packet.get("articles_offered") or ()
                if a.get("feedback") == "rejected"}
    found = await request.app[s.ASSIST].suggest(text, record.moment, rejected=rejected)
    return web.json_response({"for_seq": chosen[-1].seq if chosen else None,
                              "suggestions": [asdict(f) for f in found]})


@require("agent")
async def canned(request: web.Request) -> web.Response:
    return web.json_response(request.app[s.CANNED])


@require("agent")
async def moments(request: web.Request) -> web.Response:
    return web.json_response([{"id": m.id, "title": m.title, "skill": m.skill}
                              for m in request.app[s.CATALOGUE].moments])


def add_agent_routes(app: web.Application) -> None:
    base = "/api/desk"
    app.router.add_get(f"{base}/queue", queue)
    app.router.add_get(f"{base}/canned", canned)
    app.router.add_get(f"{base}/moments", moments)
    app.router.add_get(f"{base}/handoffs/{{id}}", handoff)
    app.router.add_get(f"{base}/handoffs/{{id}}/messages", messages)
    app.router.add_post(f"{base}/handoffs/{{id}}/messages", send)
    app.router.add_post(f"{base}/handoffs/{{id}}/claim", claim)
    app.router.add_post(f"{base}/handoffs/{{id}}/transfer", transfer)
    app.router.add_post(f"{base}/handoffs/{{id}}/close", close)
    app.router.add_post(f"{base}/handoffs/{{id}}/correction", correct)
    app.router.add_get(f"{base}/handoffs/{{id}}/suggestions", suggestions)
    app.router.add_post(f"{base}/handoffs/{{id}}/same-customer", same_customer)
