"""The content app's state on the desk application, opened and closed in ``cleanup_ctx``.

Its retriever is the desk's only one: agent assist (:mod:`desk.assist`) searches the same
object, so the desk loads the sentence-transformers model once and follows the published
snapshot with one task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from aiohttp import web

from bot.catalogue import load_catalogue
from bot.settings import Settings
from knowledge.embedder import Embedder, SentenceTransformerEmbedder
from knowledge.publish import Publisher, ensure_live_snapshot
from knowledge.retriever import Retriever, follow_publications
from knowledge.service import open_store
from knowledge.store import ArticleStore

log = logging.getLogger(__name__)
#: How often the desk looks for a snapshot published by another process (the CLI).
FOLLOW_SECONDS = 0.5


@dataclass
class ContentState:
    store: ArticleStore
    retriever: Retriever
    publisher: Publisher
    moments: list[tuple[str, str]]  # (id, title) in catalogue order

    @property
    def moment_ids(self) -> list[str]:
        return [m for m, _ in self.moments]


CONTENT = web.AppKey("content", ContentState)


def content_context(settings: Settings, embedder_factory: Callable[[], Embedder] | None
                    ) -> Callable[[web.Application], AsyncIterator[None]]:
    """The cleanup context: store, warm model, live snapshot, follower task."""

    async def resources(app: web.Application) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        catalogue = load_catalogue(settings.catalogue_path)
        store = await open_store(settings.desk_database_url, settings.articles_dir,
                                 catalogue.ids)
        factory = embedder_factory or (lambda: SentenceTransformerEmbedder(
            settings.embedding_model, threads=2))
        embedder = await loop.run_in_executor(None, factory)
        snapshot = await ensure_live_snapshot(store, settings.knowledge_dir, lambda: embedder,
                                              embedder.model_name, log.info)
        retriever = Retriever(snapshot, embedder)
        await loop.run_in_executor(None, retriever.encode, "warm up")
        publisher = Publisher(store, embedder, settings.knowledge_dir, on_live=retriever.swap)
        app[CONTENT] = ContentState(store, retriever, publisher,
                                    [(m.id, m.title) for m in catalogue.moments])
        follower = asyncio.create_task(
            follow_publications(retriever, settings.knowledge_dir, FOLLOW_SECONDS))
        yield
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
        await store.close()

    return resources
