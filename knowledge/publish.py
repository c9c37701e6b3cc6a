"""Publishing: a store change becomes a new live knowledge snapshot, atomically.

publish / retire / rollback first commit to the article store, then rebuild the snapshot
from the store's published articles and make it current with :func:`save_snapshot`'s
atomic rename of ``CURRENT``. Every process serving answers (action servers, the desk)
follows ``CURRENT`` and swaps the new snapshot in by one reference assignment, so a
search sees the old or the new snapshot, never a half-built one.

Rebuilds are serialised across processes by a file lock held from reading the store to
renaming ``CURRENT``: whoever rebuilds second reads the first one's change too, so the
last snapshot written always reflects the store. Only new passages are embedded (the
previous snapshot's vectors are reused), which keeps a publication well under a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from knowledge.articles import Article
from knowledge.embedder import Embedder
from knowledge.snapshot import (
    DEFAULT_APPROXIMATE_ABOVE,
    KnowledgeIndexUnavailable,
    Snapshot,
    StaleIndex,
    build_snapshot,
    ensure_snapshot,
    load_current,
    save_snapshot,
)
from knowledge.store import ArticleStore, StoredArticle

log = logging.getLogger(__name__)

#: Old snapshot folders kept besides the current one (a reader may still be loading one).
KEEP_SNAPSHOTS = 5


class Publisher:
    """Store changes that alter what customers get, each followed by a live rebuild."""

    def __init__(self, store: ArticleStore, embedder: Embedder, knowledge_dir: Path,
                 approximate_above: int = DEFAULT_APPROXIMATE_ABOVE,
                 on_live: Callable[[Snapshot], None] | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.knowledge_dir = knowledge_dir
        self.approximate_above = approximate_above
        self.on_live = on_live
        self._local = asyncio.Lock()

    async def publish(self, article_id: str, actor: str, version: int | None = None
                      ) -> tuple[StoredArticle, Snapshot]:
        stored = await self.store.publish(article_id, actor, version)
        return stored, await self.rebuild()

    async def retire(self, article_id: str, actor: str) -> tuple[StoredArticle, Snapshot]:
        stored = await self.store.retire(article_id, actor)
        return stored, await self.rebuild()

    async def rollback(self, article_id: str, version: int, actor: str
                       ) -> tuple[StoredArticle, Snapshot]:
        stored = await self.store.rollback(article_id, version, actor)
        return stored, await self.rebuild()

    async def rebuild(self) -> Snapshot:
        """Builds the snapshot of the store's published articles and makes it current."""
        loop = asyncio.get_running_loop()
        async with self._local, _file_lock(self.knowledge_dir):
            articles = await self.store.published()
            snapshot = await loop.run_in_executor(None, self._build_and_save, articles)
        if self.on_live is not None:
            self.on_live(snapshot)
        log.info("knowledge snapshot %s is current: %d articles, %d passages", snapshot.key,
                 len(snapshot.articles), len(snapshot.passages))
        return snapshot

    def _build_and_save(self, articles: list[Article]) -> Snapshot:
        previous = _current_or_none(self.knowledge_dir)
        snapshot = build_snapshot(articles, self.embedder, self.approximate_above,
                                  previous=previous)
        save_snapshot(snapshot, self.knowledge_dir)
        prune_snapshots(self.knowledge_dir)
        return snapshot


async def ensure_live_snapshot(store: ArticleStore, knowledge_dir: Path,
                               embedder_factory: Callable[[], Embedder], model_name: str,
                               progress: Callable[[str], None] | None = None) -> Snapshot:
    """The current snapshot if it matches the store's published articles, else a rebuild.

    Used at start-up (``mot up``, ``mot index``, the action server, the desk); loading a
    matching snapshot needs no model.
    """
    loop = asyncio.get_running_loop()
    async with _file_lock(knowledge_dir):
        articles = await store.published()
        return await loop.run_in_executor(None, lambda: ensure_snapshot(
            knowledge_dir, articles, embedder_factory, model_name, progress))


def prune_snapshots(knowledge_dir: Path, keep: int = KEEP_SNAPSHOTS) -> list[Path]:
    """Deletes all but the current and the ``keep`` newest snapshot folders."""
    current = (knowledge_dir / "CURRENT").read_text(encoding="utf-8").strip()
    folders = sorted((p for p in (knowledge_dir / "snapshots").iterdir()
                      if p.is_dir() and not p.name.startswith(".") and p.name != current),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    removed = folders[keep:]
    for folder in removed:
        shutil.rmtree(folder, ignore_errors=True)
    return removed


def _current_or_none(knowledge_dir: Path) -> Snapshot | None:
    try:
        return load_current(knowledge_dir)
    except (KnowledgeIndexUnavailable, StaleIndex):
        return None


@contextlib.asynccontextmanager
async def _file_lock(knowledge_dir: Path) -> AsyncIterator[None]:
    """An exclusive lock shared by every process publishing into ``knowledge_dir``."""
    knowledge_dir.mkdir(parents=True, exist_ok=True)
    loop = asyncio.get_running_loop()
    with (knowledge_dir / ".publish.lock").open("a") as handle:
        await loop.run_in_executor(None, fcntl.flock, handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
