"""Agent assist: the best published articles for a customer's message.

Uses the same live knowledge snapshot as the bot (``<data>/knowledge``, followed through
its ``CURRENT`` file, so a publication reaches the desk without a restart). The model is
loaded in the background at start-up: the desk serves agents at once and suggestions
appear once it is warm. Encoding and search run in an executor, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from knowledge.embedder import Embedder
from knowledge.retriever import Retriever, follow_publications
from knowledge.snapshot import load_current

log = logging.getLogger(__name__)

FOLLOW_SECONDS = 1.0
MAX_QUERY_CHARS = 2000


@dataclass(frozen=True)
class Suggestion:
    article_id: str
    title: str
    version: int
    score: float
    passage: str
    reply: str  # a ready-to-send text the agent may insert as is or adapt


class AssistUnavailable(RuntimeError):
    """No model or no published snapshot yet."""


class Assist:
    """Suggestions over the live snapshot; ``start`` loads it, ``follow`` keeps it current."""

    def __init__(self, knowledge_dir: Path, embedder_factory: Callable[[], Embedder]) -> None:
        self._dir, self._factory = knowledge_dir, embedder_factory
        self._retriever: Retriever | None = None

    @property
    def ready(self) -> bool:
        return self._retriever is not None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        embedder: Embedder | None = None
        while self._retriever is None:
            try:
                snapshot = await loop.run_in_executor(None, load_current, self._dir)
                if embedder is None:
                    embedder = await loop.run_in_executor(None, self._factory)
                retriever = Retriever(snapshot, embedder)
                await loop.run_in_executor(None, retriever.encode, "warm up")
                self._retriever = retriever
                log.info("agent assist ready on snapshot %s", snapshot.key)
            except Exception as error:  # nothing published yet: try again shortly
                log.warning("agent assist not ready: %s", error)
                await asyncio.sleep(5)

    async def follow(self) -> None:
        """Loads, then swaps in each newly published snapshot (a bad one is skipped)."""
        await self.start()
        assert self._retriever is not None
        await follow_publications(self._retriever, self._dir, FOLLOW_SECONDS)

    async def suggest(self, text: str, moment: str | None = None,
                      channel: str | None = None, k: int = 3) -> list[Suggestion]:
        """Best ``k`` articles for ``text``; the moment's own articles first when known."""
        retriever = self._retriever
        if retriever is None:
            raise AssistUnavailable("agent assist is still loading")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, _suggest, retriever, text[:MAX_QUERY_CHARS],
                                          moment, channel, k)


def _suggest(retriever: Retriever, text: str, moment: str | None, channel: str | None,
             k: int) -> list[Suggestion]:
    vector = retriever.encode(text)
    hits = retriever.search(vector, k=k, moment=moment) if moment else []
    seen = {h.article.id for h in hits}
    if len(hits) < k:
        hits += retriever.search(vector, k=k, exclude=seen)[: k - len(hits)]
    return [Suggestion(h.article.id, h.article.title, h.article.version, round(h.score, 4),
                       h.passage, _reply(h.article.title, h.article.summary, h.article.steps()))
            for h in hits]


def _reply(title: str, summary: str, steps: list[str]) -> str:
    numbered = "\n".join(f"{n}. {s}" for n, s in enumerate(steps, 1))
    return "\n".join(p for p in (f"{title}: {summary}".strip(" :"), numbered) if p)
