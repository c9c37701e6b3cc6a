"""Start-up wiring shared by ``mot up`` / ``mot index``, the action server, the desk and the CLI.

The shipped article files seed the store on the very first start; after that the store is
the source of truth and the live snapshot is built from its published articles.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path

from knowledge.articles import load_articles
from knowledge.embedder import Embedder
from knowledge.publish import ensure_live_snapshot
from knowledge.snapshot import Snapshot
from knowledge.store import ArticleStore


async def open_store(database_url: str, articles_dir: Path,
                     known_moments: Collection[str] | None = None) -> ArticleStore:
    """Opens the article store, seeding it from ``articles_dir`` if it was never seeded."""
    if database_url.startswith("sqlite") and ":///" in database_url:
        Path(database_url.split(":///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    seed = load_articles(articles_dir, known_moments)
    return await ArticleStore.open(database_url, seed=seed)


async def live_snapshot(database_url: str, articles_dir: Path,
                        known_moments: Collection[str] | None, knowledge_dir: Path,
                        embedder_factory: Callable[[], Embedder], model_name: str,
                        progress: Callable[[str], None] | None = None) -> Snapshot:
    """The snapshot of the store's published articles: loaded if current, else built."""
    store = await open_store(database_url, articles_dir, known_moments)
    try:
        return await ensure_live_snapshot(store, knowledge_dir, embedder_factory, model_name,
                                          progress)
    finally:
        await store.close()
