"""Article retrieval over the live snapshot.

Passages are scored, and each article is reported once with its best passage. A moment
filter scores that moment's passages exactly (a few rows, well under a millisecond); an
unfiltered search goes through FAISS. The snapshot is swapped by one reference assignment,
so a search running during a reload sees either the old or the new snapshot, never a mix.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from knowledge.articles import Article
from knowledge.embedder import Embedder
from knowledge.snapshot import Snapshot, current_key, load_snapshot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArticleHit:
    """One article with its best passage's cosine similarity."""

    article: Article
    score: float
    passage: str


class Retriever:
    """Finds the best published articles for a message."""

    def __init__(self, snapshot: Snapshot, embedder: Embedder) -> None:
        if snapshot.manifest.get("dimension") != embedder.dimension:
            raise ValueError(f"snapshot dimension {snapshot.manifest.get('dimension')} "
                             f"differs from the embedder's {embedder.dimension}")
        self.embedder = embedder
        self._snapshot = snapshot
        self._by_moment = _rows_by_moment(snapshot)
        self._refused: str | None = None  # the last published key refused (another model)

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def swap(self, snapshot: Snapshot) -> None:
        """Makes ``snapshot`` live; in-flight searches finish on the one they started with."""
        by_moment = _rows_by_moment(snapshot)
        self._snapshot, self._by_moment = snapshot, by_moment

    def reload_if_changed(self, directory: Path) -> bool:
        """Loads the snapshot named by ``CURRENT`` when it differs from the live one; one
        built with another model than this retriever's encoder is refused (its vectors
        would be compared with queries from other weights) and the live one stays."""
        key = current_key(directory)
        if key is None or key in (self._snapshot.key, self._refused):
            return False
        snapshot = load_snapshot(directory, key)
        built_with = snapshot.manifest.get("model")
        if built_with != self.embedder.model_name:
            self._refused = key
            log.error("knowledge snapshot %s was built with the model %r, not this process's "
                      "%r: not used; %s stays live (publish from a process with the same "
                      "MOT_EMBEDDING_MODEL)", key, built_with, self.embedder.model_name,
                      self._snapshot.key)
            return False
        self.swap(snapshot)
        return True

    def encode(self, text: str) -> np.ndarray:
        """(dimension,) float32 query vector."""
        return self.embedder.encode([text])[0]

    def search(
        self,
        query: str | np.ndarray,
        k: int = 3,
        moment: str | None = None,
        channel: str | None = None,
        exclude: Collection[str] = (),
    ) -> list[ArticleHit]:
        """Best ``k`` articles for ``query`` (text or a (dimension,) vector), best first."""
        snapshot, by_moment = self._snapshot, self._by_moment
        vector = self.encode(query) if isinstance(query, str) else np.asarray(query, np.float32)
        if moment is not None:
            rows = by_moment.get(moment, np.zeros(0, dtype=np.int64))
            scores = snapshot.vectors[rows] @ vector
        else:
            fetch = min(len(snapshot.passages), max(64, k * 16))
            top_scores, top_rows = snapshot.index.search(vector[None, :], fetch)
            scores, rows = top_scores[0], top_rows[0]
        best: dict[str, tuple[float, int]] = {}
        for score, row in zip(scores.tolist(), rows.tolist(), strict=True):
            if row < 0:  # FAISS pads with -1 when HNSW finds fewer than asked
                continue
            article_id = snapshot.passages[row].article_id
            if article_id in exclude:
                continue
            article = snapshot.articles[article_id]
            if channel is not None and channel not in article.channels:
                continue
            if article_id not in best or score > best[article_id][0]:
                best[article_id] = (score, row)
        ranked = sorted(best.items(), key=lambda item: -item[1][0])[:k]
        return [ArticleHit(snapshot.articles[a], s, snapshot.passages[r].text)
                for a, (s, r) in ranked]


def _rows_by_moment(snapshot: Snapshot) -> dict[str, np.ndarray]:
    rows: dict[str, list[int]] = defaultdict(list)
    for row, passage in enumerate(snapshot.passages):
        for moment in snapshot.articles[passage.article_id].moments:
            rows[moment].append(row)
    return {moment: np.asarray(r, dtype=np.int64) for moment, r in rows.items()}


async def follow_publications(retriever: Retriever, directory: Path,
                              interval_seconds: float = 0.5) -> None:
    """Swaps in each snapshot published to ``directory``, until cancelled.

    Used by every process that serves retrieval (action server, desk). A snapshot that
    cannot be loaded is logged and the last good one stays live.
    """
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            if await loop.run_in_executor(None, retriever.reload_if_changed, directory):
                log.info("knowledge snapshot %s is live", retriever.snapshot.key)
        except Exception:
            log.exception("could not load the published knowledge snapshot; keeping the old one")
