"""The desk service (aiohttp): handoff queue, agents' live chat, and their JSON API.

``init_app`` is the composition root: state lives on the app (see :mod:`desk.state`),
the database, the fan-out hub, the HTTP session to Rasa and the background workers are
opened and closed in ``cleanup_ctx``. Who may call what is decided in :mod:`desk.auth`;
domain errors become HTTP statuses in :func:`errors` only.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import yaml
from aiohttp import web

from bot.build import embedding_settings
from bot.catalogue import load_catalogue
from bot.hours import parse_hours
from bot.settings import ConfigError, Settings, load_settings, service_address
from desk import state as s
from desk.agent_api import add_agent_routes
from desk.alerts import Alerts
from desk.assist import Assist
from desk.auth import Handler, setup_auth
from desk.content import setup_content
from desk.content.state import CONTENT
from desk.correction_review import add_review_routes
from desk.corrections import CorrectionNotFound
from desk.dashboard import INSIGHT, add_insight_routes
from desk.events import Ingestor, keep_consuming_rabbitmq, keep_reconciling
from desk.hub import HubUnavailable, LocalHub, RedisHub
from desk.identity import IdentityLinks
from desk.insight import InsightLog
from desk.live import add_live_routes
from desk.messages import MessageLog
from desk.nlu_export import REDACTOR
from desk.packet import PacketInvalid
from desk.pages import add_page_routes, page_errors
from desk.presence import Presence
from desk.rasa_client import CustomerChannel, RasaCustomerChannel
from desk.relay import Relay
from desk.service_api import add_service_routes
from desk.sign_in_limits import (
    SIGN_IN_GUARD,
    MemoryAttemptLog,
    RedisAttemptLog,
    SignInGuard,
    SignInLimits,
    load_sign_in_limits,
)
from desk.store import HandoffConflict, HandoffNotFound, SqlHandoffStore
from desk.wire import RequestInvalid
from knowledge.embedder import Embedder

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 2 * 1024 * 1024
STATIC = Path(__file__).parent / "static"
CANNED_REPLIES = Path(__file__).parent / "canned_replies.yml"

def _json_error(status: int, text: str) -> web.Response:
    return web.json_response({"error": text}, status=status)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Maps domain errors to JSON HTTP errors, in one place."""
    try:
        return await handler(request)
    except PacketInvalid as invalid:
        return _json_error(422, f"invalid handoff packet at {invalid.path}: {invalid.reason}")
    except RequestInvalid as invalid:
        return _json_error(422, str(invalid))
    except json.JSONDecodeError as error:
        return _json_error(400, f"the body is not valid JSON: {error.msg} at line "
                                f"{error.lineno} column {error.colno}")
    except UnicodeDecodeError:
        return _json_error(400, "the body is not UTF-8 text")
    except HandoffNotFound as missing:
        return _json_error(404, str(missing))
    except HandoffConflict as conflict:
        return _json_error(409, str(conflict))
    except CorrectionNotFound as missing:
        return _json_error(404, str(missing))


async def health(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def init_app(settings: Settings, channel: CustomerChannel | None = None,
             embedder_factory: Callable[[], Embedder] | None = None,
             sign_in_limits: SignInLimits | None = None) -> web.Application:
    """The desk for ``settings``; ``channel``, ``embedder_factory`` and ``sign_in_limits``
    may be given (tests); the limits are otherwise read from ``MOT_SIGNIN_*``."""
    limits = sign_in_limits or load_sign_in_limits()
    app = web.Application(middlewares=[page_errors, errors], client_max_size=MAX_BODY_BYTES)
    app[s.SETTINGS] = settings
    app[s.HOURS] = parse_hours(settings.business_hours, settings.business_timezone)
    app[s.CATALOGUE] = load_catalogue(settings.catalogue_path)
    app[s.REPLICA] = uuid.uuid4().hex[:12]
    app[s.CANNED] = yaml.safe_load(CANNED_REPLIES.read_text("utf-8")) or []
    setup_auth(app, settings)
    # --- knowledge app (content staff) ---------------------------------------------------
    setup_content(app, settings, embedder_factory)
    # --------------------------------------------------------------------------------------
    app.cleanup_ctx.append(_database(settings))
    app.cleanup_ctx.append(_shared(settings, limits))
    app.cleanup_ctx.append(_workers(settings, channel))
    app.router.add_get("/health", health)
    app.router.add_static("/static", STATIC)
    add_service_routes(app)
    add_agent_routes(app)
    add_page_routes(app)
    add_review_routes(app)
    add_live_routes(app)
    add_insight_routes(app)
    return app


def _database(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    async def database(app: web.Application) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = await SqlHandoffStore.open(settings.desk_database_url)
        app[s.STORE] = store
        app[s.MESSAGES] = MessageLog(store.engine)
        app[s.IDENTITIES] = IdentityLinks(store.engine)
        app[s.PRESENCE] = Presence(store.engine, app[s.REPLICA])
        app[INSIGHT] = InsightLog(store.engine, app[REDACTOR])
        yield
        await store.close()
    return database


def _shared(settings: Settings, limits: SignInLimits,
            ) -> Callable[[web.Application], AsyncIterator[None]]:
    """What replicas must share: the live fan-out hub and the sign-in attempt counts.

    Redis when MOT_REDIS_URL is set (replicas), else in-process.
    """
    async def shared(app: web.Application) -> AsyncIterator[None]:
        if not settings.redis_url:
            app[s.HUB] = LocalHub()
            app[SIGN_IN_GUARD] = SignInGuard(MemoryAttemptLog(), limits)
            yield
            return
        import redis.asyncio as aioredis

        client = aioredis.from_url(settings.redis_url)
        # Replicas that share a database share a channel prefix; other deployments don't.
        prefix = "mot-desk:" + hashlib.sha256(
            settings.desk_database_url.encode()).hexdigest()[:16]
        redis_hub = RedisHub(client, prefix, f"Redis at {service_address(settings.redis_url)}")
        await redis_hub.start()
        app[s.HUB] = redis_hub
        app[SIGN_IN_GUARD] = SignInGuard(RedisAttemptLog(client, f"{prefix}:sign-in"),
                                         limits)
        yield
        await redis_hub.stop()
        await client.close()
    return shared


STOP_SECONDS = 10


def _workers(settings: Settings, channel: CustomerChannel | None,
             ) -> Callable[[web.Application], AsyncIterator[None]]:
    """The HTTP session to Rasa and the background jobs; agent assist shares the knowledge
    app's retriever (one model, one snapshot follower per desk process)."""
    async def workers(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as session:
            customers = channel or RasaCustomerChannel(
                session, settings.rasa_url, settings.rasa_token, settings.rest_callback_url,
                callback_secret=settings.rest_callback_secret)
            app[s.CHANNEL] = customers
            app[s.RELAY] = Relay(app[s.MESSAGES], customers, app[s.HUB])
            app[s.INGESTOR] = Ingestor(app[s.STORE], app[s.MESSAGES], app[s.HUB], app[INSIGHT],
                                       app[REDACTOR].personal_data, app[s.RELAY].wake)
            app[s.ASSIST] = Assist(app[CONTENT].retriever)
            jobs = [app[s.RELAY].run(), app[s.PRESENCE].heartbeat(),
                    keep_reconciling(app[s.STORE], app[s.INGESTOR], customers),
                    app[REDACTOR].redact([]),  # loaded before the first message needs it
                    app[INSIGHT].keep_pruning(settings.insight_retention_days),
                    Alerts(app[INSIGHT], app[s.CATALOGUE], session, settings.alert_webhook_url,
                           f"{settings.desk_url}/insight?days=1").keep_checking()]
            if settings.event_broker_url:
                jobs.append(keep_consuming_rabbitmq(settings.event_broker_url,
                                                    settings.event_queue, app[s.INGESTOR]))
            tasks = [asyncio.create_task(job) for job in jobs]
            yield
            for task in tasks:
                task.cancel()
            # Bounded: a worker that does not stop must not hang the desk's shutdown.
            _, stuck = await asyncio.wait(tasks, timeout=STOP_SECONDS)
            for task in stuck:
                log.error("desk worker %r did not stop within %s s", task, STOP_SECONDS)
    return workers


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = embedding_settings(load_settings())  # as `mot up` gives it, started alone
    except ConfigError as error:
        log.error("desk: %s", error)
        raise SystemExit(2) from None
    if settings.redis_url:
        asyncio.run(_check_redis(settings.redis_url))
    try:
        web.run_app(init_app(settings), host=settings.host, port=settings.desk_port,
                    print=None, access_log=None)
    except HubUnavailable as error:  # Redis went away between the check and the start
        log.error("desk: %s", error)
        logging.shutdown()
        os._exit(1)  # the stores opened before it keep non-daemon threads: do not wait


async def _check_redis(url: str, timeout: float = 5.0) -> None:
    """Stops the desk at once, naming the setting, when its Redis cannot be reached."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(url, socket_connect_timeout=timeout)
    try:
        await client.ping()
    except Exception as error:
        log.error("desk: cannot reach Redis at %s (MOT_REDIS_URL): %s", service_address(url),
                  error)
        raise SystemExit(1) from None
    finally:
        await client.close()

