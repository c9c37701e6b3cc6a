"""The desk's pages: the queue and one conversation (server-rendered, a little JavaScript).

Pages carry only what the signed-in user may see; the live parts are filled in by
``/static/desk.js`` from the JSON API and the WebSocket, always as text (never HTML), so
customer text is inert.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.catalogue import SKILLS
from desk import handling
from desk import state as s
from desk.auth import Handler, current_user, require
from desk.customer_view import confirm_same_customer, customer_view
from desk.packet import without_buttons
from desk.store import OUTCOMES
from desk.wire import IdentityConfirmation


async def home(request: web.Request) -> web.StreamResponse:
    """Each role's landing page."""
    user = await current_user(request)
    if user is None:
        raise web.HTTPFound("/login")
    if user.has_any("agent", "supervisor"):
        raise web.HTTPFound("/desk")
    if user.has_any("manager"):
        raise web.HTTPFound("/insight")
    raise web.HTTPFound("/content/")


@require("agent")
async def queue_page(request: web.Request) -> web.Response:
    return aiohttp_jinja2.render_template("queue.html", request, {})


#: Headings of error pages, by status.
ERROR_TITLES = {400: "That request is not right", 403: "Not allowed", 404: "Not found",
                409: "Someone got there first", 413: "Too large",
                422: "That request is not right"}


def _opened_by_a_person(request: web.Request) -> bool:
    """A browser navigating to a page (not the JSON API, a script's fetch or a socket)."""
    return (not request.path.startswith(("/api/", "/static/"))
            and not request.path.endswith("/ws")
            and "text/html" in request.headers.get("Accept", ""))


@web.middleware
async def page_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """An error on a page a person opened is shown as a page with the reason and a way
    back, not as bare text or JSON (the API's answers are unchanged)."""
    if not _opened_by_a_person(request):
        return await handler(request)
    try:
        response = await handler(request)
    except web.HTTPException as error:
        if error.status < 400 or error.content_type not in ("text/plain", "application/json"):
            raise
        return _error_page(request, error.status, error.text or error.reason)
    if response.status >= 400 and isinstance(response, web.Response) \
            and response.content_type == "application/json" and response.text:
        try:
            message = json.loads(response.text).get("error") or response.reason
        except (ValueError, AttributeError):
            return response
        return _error_page(request, response.status, str(message))
    return response


def _error_page(request: web.Request, status: int, message: str) -> web.Response:
    if message.startswith('{"error"'):  # desk.auth's JSON form
        with contextlib.suppress(ValueError):
            message = json.loads(message)["error"]
    return aiohttp_jinja2.render_template("error.html", request, {
        "title": ERROR_TITLES.get(status, "Something went wrong"), "message": message},
        status=status)


#: What the customer clicked, by the button's payload (moments: their catalogue titles).
CLICKED = {"/affirm": "Yes", "/deny": "No, still stuck", "/request_human": "Talk to a person",
           "/greet": "(opened the chat)"}


def readable(line: dict[str, Any], titles: dict[str, str]) -> dict[str, Any]:
    """A transcript line as agents read it: a button payload ("/deny") as what the
    customer clicked ("No, still stuck"), a bot line's Markdown bold without its stars."""
    text = str(line.get("text") or "")
    if line.get("speaker") == "customer" and text.startswith("/"):
        label = CLICKED.get(text) or titles.get(text[1:].split("{", 1)[0])
        if label:
            return {**line, "text": label, "clicked": True}
    elif line.get("speaker") == "bot":
        return {**line, "text": text.replace("**", "")}
    return line


@require("agent")
async def conversation_page(request: web.Request) -> web.Response:
    user = await current_user(request)
    assert user is not None
    record = await handling.visible_handoff(request.app, user, request.match_info["id"])
    customer = await customer_view(request.app, user, record)
    earlier = await request.app[s.MESSAGES].for_conversation(record.conversation_id, 50)
    # The packet's transcript shows this conversation up to the handoff: its lines are not
    # shown again as earlier ones.
    shown = {(t.get("speaker"), without_buttons(str(t.get("text") or "")))
             for t in record.packet.get("transcript") or ()}
    titles = {m.id: m.title for m in request.app[s.CATALOGUE].moments}
    return aiohttp_jinja2.render_template("conversation.html", request, {
        "handoff": record, "status_line": handling.status_line(record), "packet": record.packet,
        "customer": customer, "titles": titles,
        "transcript": [readable(line, titles) for line in record.packet.get("transcript") or ()],
        # a REST customer hears an agent only through the operator's callback (README)
        "unheard": record.channel == "rest" and not request.app[s.SETTINGS].rest_callback_url,
        "may_act": handling.may_act(user, record), "outcomes": OUTCOMES, "skills": SKILLS,
        "viewer": user.name, "sees_all": handling.sees_all(user),
        "moments": request.app[s.CATALOGUE].moments, "canned": request.app[s.CANNED],
        # what was said before this handoff (not after it, on a closed one), without the
        # desk's own hand-back markers
        "earlier": [m for m in earlier if m.handoff_id != record.id and m.speaker != "control"
                    and m.at < record.created_at and (m.speaker, m.text) not in shown][-20:],
    })


@require("agent")
async def same_customer_form(request: web.Request) -> web.Response:
    """The hint's *Same customer* button (a form: CSRF checked by desk.auth's middleware)."""
    user = await current_user(request)
    assert user is not None
    form = await request.post()
    handoff_id = request.match_info["id"]
    await confirm_same_customer(request.app, user, handoff_id,
                                IdentityConfirmation.parse(dict(form)))
    raise web.HTTPSeeOther(f"/desk/handoffs/{handoff_id}#customer")


def add_page_routes(app: web.Application) -> None:
    app.router.add_get("/", home)
    app.router.add_get("/desk", queue_page)
    app.router.add_get("/desk/handoffs/{id}", conversation_page)
    app.router.add_post("/desk/handoffs/{id}/same-customer", same_customer_form)
