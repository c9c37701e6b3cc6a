"""Preview: which articles a customer question brings back, with scores and why.

A preview can include a draft: the draft is put in place of its published version (or
beside the others if new) in a throw-away snapshot that reuses the live vectors, so only
the draft's passages are embedded. The live index is never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from knowledge.articles import Article
from knowledge.retriever import ArticleHit, Retriever
from knowledge.snapshot import build_snapshot


@dataclass(frozen=True)
class PreviewHit:
    """One article in a preview and the reasons it came back."""

    article_id: str
    title: str
    version: int
    score: float          # cosine similarity of the best passage, -1..1
    passage: str          # the passage that matched best: the "why"
    moments: tuple[str, ...]
    is_draft: bool

    def to_json(self) -> dict[str, Any]:
        return {"id": self.article_id, "title": self.title, "version": self.version,
                "score": round(self.score, 4), "passage": self.passage,
                "moments": list(self.moments), "draft": self.is_draft}


def preview(retriever: Retriever, question: str, k: int = 5, moment: str | None = None,
            channel: str | None = None, draft: Article | None = None) -> list[PreviewHit]:
    """Best ``k`` articles for ``question`` as the assistant would rank them.

    Blocking (encodes the question and maybe the draft): run it in an executor.
    """
    searcher = retriever if draft is None else with_draft(retriever, draft)
    hits = searcher.search(question, k=k, moment=moment, channel=channel)
    return [_hit(h, draft) for h in hits]


def with_draft(retriever: Retriever, draft: Article) -> Retriever:
    """A retriever over the live snapshot with ``draft`` published in it."""
    live = retriever.snapshot
    articles = [a for a in live.articles.values() if a.id != draft.id]
    articles.append(replace(draft, status="published"))
    snapshot = build_snapshot(articles, retriever.embedder, previous=live)
    return Retriever(snapshot, retriever.embedder)


def _hit(hit: ArticleHit, draft: Article | None) -> PreviewHit:
    article = hit.article
    is_draft = draft is not None and article.id == draft.id
    return PreviewHit(article.id, article.title, article.version, hit.score, hit.passage,
                      article.moments, is_draft)
