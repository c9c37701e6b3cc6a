"""The desk service (aiohttp): handoff queue and its JSON API.

``init_app`` is the composition root: state lives on the app, the database is opened and
closed in ``cleanup_ctx``, and every ``/api`` route requires a bearer token checked before
the body is parsed. Domain errors become HTTP statuses in :func:`errors` only.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from bot.settings import Settings, load_settings
from desk.packet import HandoffPacket, PacketInvalid
from desk.store import HandoffRecord, SqlHandoffStore

log = logging.getLogger(__name__)

STORE = web.AppKey("store", SqlHandoffStore)
TOKEN = web.AppKey("token", str)
#: Until agents sign in (issue 4), waits assume one agent and this average handling time.
AVERAGE_HANDLE_SECONDS = 240
MAX_BODY_BYTES = 2 * 1024 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Unauthorized(Exception):
    pass


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Maps domain errors to JSON HTTP errors, in one place."""
    try:
        if request.path.startswith("/api/"):
            _authorise(request)
        return await handler(request)
    except Unauthorized:
        return web.json_response({"error": "missing or wrong bearer token"}, status=401)
    except PacketInvalid as invalid:
        return web.json_response({"error": f"invalid handoff packet at {invalid.path}: "
                                           f"{invalid.reason}"}, status=422)
    except json.JSONDecodeError as error:
        return web.json_response({"error": f"the body is not valid JSON: {error.msg} at line "
                                           f"{error.lineno} column {error.colno}"}, status=400)
    except UnicodeDecodeError:
        return web.json_response({"error": "the body is not UTF-8 text"}, status=400)


def _authorise(request: web.Request) -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(),
                                                             request.app[TOKEN].encode()):
        raise Unauthorized()


def _view(record: HandoffRecord, position: int | None = None) -> dict[str, object]:
    view: dict[str, object] = {
        "id": record.id, "conversation_id": record.conversation_id, "status": record.status,
        "priority": record.priority, "skill": record.skill, "created_at": record.created_at,
        "packet": record.packet,
    }
    if position is not None:
        view["position"] = position
    return view


async def create_handoff(request: web.Request) -> web.Response:
    raw = await request.read()
    packet = HandoffPacket.from_json(json.loads(raw.decode("utf-8")))
    store = request.app[STORE]
    record = await store.add(packet)
    position = await store.position(record)
    log.info("handoff %s queued for %s (%s, priority %d)", record.id, record.conversation_id,
             packet.reason, packet.priority)
    return web.json_response(
        {"id": record.id, "position": position,
         "expected_wait_seconds": position * AVERAGE_HANDLE_SECONDS, "agents_online": 0},
        status=201)


async def list_handoffs(request: web.Request) -> web.Response:
    queue = await request.app[STORE].queue()
    return web.json_response([_view(r, n) for n, r in enumerate(queue, 1)])


async def get_handoff(request: web.Request) -> web.Response:
    record = await request.app[STORE].get(request.match_info["handoff_id"])
    if record is None:
        return web.json_response({"error": "no such handoff"}, status=404)
    return web.json_response(_view(record))


async def health(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def init_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[errors], client_max_size=MAX_BODY_BYTES)
    app[TOKEN] = settings.desk_token

    async def database(app: web.Application) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = await SqlHandoffStore.open(settings.desk_database_url)
        app[STORE] = store
        yield
        await store.close()

    app.cleanup_ctx.append(database)
    app.router.add_get("/health", health)
    app.router.add_post("/api/handoffs", create_handoff)
    app.router.add_get("/api/handoffs", list_handoffs)
    app.router.add_get("/api/handoffs/{handoff_id}", get_handoff)
    return app


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = load_settings()
    web.run_app(init_app(settings), host=settings.host, port=settings.desk_port, print=None)
