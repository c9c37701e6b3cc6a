"""The action server: Rasa's action webhook, served by aiohttp with the project's wiring.

``create_app`` is the composition root: it loads the catalogue, the embedder and the live
knowledge snapshot, opens the HTTP session to the desk, and registers the actions with
their collaborators. A background task picks up newly published snapshots (the
``CURRENT`` file) within a second, with no restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import ActionExecutionRejection, ActionNotFoundException

from actions.desk_client import DeskClient, HttpDeskClient
from actions.outbox import Outbox, OutboxDeskClient
from actions.turn import HandleTurn
from bot.build import embedding_settings
from bot.catalogue import Catalogue, load_catalogue
from bot.settings import ConfigError, Settings, load_settings
from knowledge.embedder import Embedder, SentenceTransformerEmbedder
from knowledge.retriever import Retriever, follow_publications
from knowledge.service import live_snapshot

log = logging.getLogger(__name__)

EXECUTOR = web.AppKey("executor", ActionExecutor)
RETRIEVER = web.AppKey("retriever", Retriever)
RELOAD_SECONDS = 0.5
#: Set MOT_RECORD_ACTION_CALLS to a directory to save every action call as JSON: the
#: recorded trackers that the action tests replay.
RECORD_DIR = web.AppKey("record_dir", str)


def build_executor(catalogue: Catalogue, retriever: Retriever, desk: DeskClient) -> ActionExecutor:
    executor = ActionExecutor()
    executor.register_action(HandleTurn(catalogue, retriever, desk))
    return executor


async def webhook(request: web.Request) -> web.Response:
    """Runs one action call from Rasa; errors become HTTP statuses here and only here."""
    body = await request.read()
    try:
        if request.headers.get("Content-Encoding") == "deflate":
            body = zlib.decompress(body)
        action_call = json.loads(body)
    except (zlib.error, ValueError):
        return web.json_response({"error": "the action call is not valid JSON"}, status=400)
    if not isinstance(action_call, dict):
        return web.json_response({"error": "the action call must be a JSON object"}, status=400)
    if request.app.get(RECORD_DIR):
        _record(request.app[RECORD_DIR], action_call)
    try:
        result = await request.app[EXECUTOR].run(action_call)
    except ActionExecutionRejection as rejection:
        return web.json_response({"error": rejection.message,
                                  "action_name": rejection.action_name}, status=400)
    except ActionNotFoundException as missing:
        return web.json_response({"error": missing.message,
                                  "action_name": missing.action_name}, status=404)
    return web.json_response(result)


def _record(directory: str, action_call: dict[str, Any]) -> None:
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    sender = str(action_call.get("sender_id", "unknown"))
    number = len(list(folder.glob(f"{sender}-*.json"))) + 1
    (folder / f"{sender}-{number}.json").write_text(json.dumps(action_call, indent=1))


async def health(request: web.Request) -> web.Response:
    snapshot = request.app[RETRIEVER].snapshot
    return web.json_response({"status": "ok", "knowledge": snapshot.key,
                              "articles": len(snapshot.articles)})


async def list_actions(request: web.Request) -> web.Response:
    return web.json_response([{"name": name} for name in request.app[EXECUTOR].actions])


def create_app(settings: Settings, embedder: Embedder | None = None,
               desk: DeskClient | None = None) -> web.Application:
    """The action server for ``settings``; ``embedder`` and ``desk`` may be given (tests)."""
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app[RECORD_DIR] = os.environ.get("MOT_RECORD_ACTION_CALLS", "")

    async def resources(app: web.Application) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        catalogue = load_catalogue(settings.catalogue_path)
        model: Embedder = embedder if embedder is not None else await loop.run_in_executor(
            None, SentenceTransformerEmbedder, settings.embedding_model)
        snapshot = await live_snapshot(
            settings.desk_database_url, settings.articles_dir, catalogue.ids,
            settings.knowledge_dir, lambda: model, model.model_name, progress=log.info)
        retriever = Retriever(snapshot, model)
        await loop.run_in_executor(None, retriever.encode, "warm up")
        async with aiohttp.ClientSession() as session:
            client = desk or OutboxDeskClient(  # handoffs the desk can't take are retried
                HttpDeskClient(session, settings.desk_url, settings.desk_token),
                Outbox(settings.data_dir / "actions" / "outbox.db"))
            retrier = (asyncio.create_task(client.run())
                       if isinstance(client, OutboxDeskClient) else None)
            app[RETRIEVER] = retriever
            app[EXECUTOR] = build_executor(catalogue, retriever, client)
            watcher = asyncio.create_task(
                follow_publications(retriever, settings.knowledge_dir, RELOAD_SECONDS))
            yield
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            if retrier is not None:
                retrier.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await retrier

    app.cleanup_ctx.append(resources)
    app.router.add_get("/health", health)
    app.router.add_post("/webhook", webhook)
    app.router.add_get("/actions", list_actions)
    return app


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = embedding_settings(load_settings())  # as `mot up` gives it, started alone
    except ConfigError as error:
        log.error("actions: %s", error)
        raise SystemExit(2) from None
    app: Any = create_app(settings)
    web.run_app(app, host=settings.host, port=settings.actions_port, print=None)


if __name__ == "__main__":
    main()
