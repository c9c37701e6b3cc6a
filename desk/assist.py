"""Agent assist: the best published articles for a customer's message.

Uses the desk's one live retriever (opened by the knowledge app, :mod:`desk.content.state`):
one sentence-transformers model and one follower of ``<data>/knowledge``'s ``CURRENT``
file serve both the content staff's preview and the agents' suggestions, so the desk holds
the model in memory once and a publication reaches both at the same moment. Encoding and
search run in an executor, never on the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass, replace

from knowledge.retriever import Retriever

MAX_QUERY_CHARS = 2000


@dataclass(frozen=True)
class Suggestion:
    article_id: str
    title: str
    version: int
    score: float
    passage: str
    reply: str  # a ready-to-send text the agent may insert as is or adapt
    rejected: bool = False  # the customer said it did not help, before the handoff


class Assist:
    """Suggestions over the live snapshot of ``retriever`` (shared, kept current elsewhere)."""

    def __init__(self, retriever: Retriever) -> None:
        self._retriever = retriever

    @property
    def retriever(self) -> Retriever:
        return self._retriever

    async def suggest(self, text: str, moment: str | None = None,
                      channel: str | None = None, k: int = 3,
                      rejected: Collection[str] = ()) -> list[Suggestion]:
        """Best ``k`` articles for ``text``; the moment's own articles first when known, and
        the ones the customer already rejected (``rejected`` ids) last, marked."""
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(None, _suggest, self._retriever,
                                           text[:MAX_QUERY_CHARS], moment, channel, k)
        return sorted((replace(f, rejected=f.article_id in rejected) for f in found),
                      key=lambda f: f.rejected)  # stable: the ranking stays within each


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
