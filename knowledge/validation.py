"""Reviewing an article before it is saved: every error at once, plus warnings.

Errors (the article cannot be saved): broken front matter, a missing title or body, an
unknown moment or channel, an oversized article. Warnings (it can be saved, a person
should look): a near-duplicate of another published article, judged by the embedding
similarity of their passages.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from bot.yaml_errors import closest
from knowledge.articles import Article, ArticleError, article_from_fields, split_front_matter
from knowledge.articles import field_problems as _field_problems
from knowledge.retriever import Retriever
from knowledge.snapshot import split_passages

#: Cosine similarity of two articles' best-matching passages above which they are flagged.
#: all-MiniLM-L6-v2 scores distinct articles on one topic (tracking vs claiming a late
#: parcel) at most ~0.85 in the shipped set; a reworded copy scores above 0.9.
NEAR_DUPLICATE = 0.9


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an article; ``field`` is None for the file as a whole."""

    field: str | None
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}" if self.field else self.reason


@dataclass(frozen=True)
class Review:
    """The outcome of checking an article; ``article`` is set only when there are no errors."""

    article: Article | None
    errors: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_for_errors(self, source: str) -> Article:
        """The article, or :class:`ArticleError` naming the error (every one, when several:
        a command line shows them at once, as the content app's form does)."""
        if self.article is None or self.errors:
            problems = self.errors or (Problem(None, "not an article"),)
            raise ArticleError.of(source, [(p.field, p.reason) for p in problems])
        return self.article

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok,
                "errors": [{"field": p.field, "reason": p.reason} for p in self.errors],
                "warnings": [{"field": p.field, "reason": p.reason} for p in self.warnings]}


def review_text(text: str, known_moments: Collection[str] | None = None,
                retriever: Retriever | None = None, source: str = "<text>") -> Review:
    """Reviews an article file's text (front matter and body)."""
    try:
        meta, body = split_front_matter(text, source)
    except ArticleError as error:
        return Review(None, (Problem(None, error.reason),))
    return review_fields(meta, body, known_moments, retriever, source)


def review_fields(meta: dict[str, Any], body: str, known_moments: Collection[str] | None = None,
                  retriever: Retriever | None = None, source: str = "<form>") -> Review:
    """Reviews front-matter fields and a body (as a web form or the JSON API sends them)."""
    errors = [Problem(name, reason) for name, reason in _field_problems(meta, body)]
    moments = meta.get("moments")
    if isinstance(moments, str):  # one name written without brackets
        moments = [moments]
    if known_moments is not None and isinstance(moments, list):
        unknown = sorted({m for m in moments if isinstance(m, str)} - set(known_moments))
        if unknown:
            guesses = [g for m in unknown if (g := closest(m, known_moments))]
            hint = (f"did you mean {' or '.join(repr(g) for g in guesses)}?" if guesses else
                    f"use a moment's id, such as {min(known_moments)!r}")
            errors.append(Problem("moments", f"unknown moment {', '.join(map(repr, unknown))}; "
                                             f"{hint}"))
    if errors:
        return Review(None, tuple(errors))
    article = article_from_fields(meta, body, source)
    warnings = near_duplicates(article, retriever) if retriever is not None else []
    return Review(article, (), tuple(warnings))


def near_duplicates(article: Article, retriever: Retriever,
                    threshold: float = NEAR_DUPLICATE) -> list[Problem]:
    """Warnings for published articles (other than ``article`` itself) nearly the same."""
    texts = [p.text for p in split_passages(article)]
    vectors = retriever.embedder.encode(texts)
    best: dict[str, float] = {}
    for vector in vectors:
        for hit in retriever.search(vector, k=3, exclude={article.id}):
            best[hit.article.id] = max(best.get(hit.article.id, -1.0), hit.score)
    return [Problem(None, f"near-duplicate of the published article {other!r} (similarity "
                          f"{score:.2f}); consider editing that one instead")
            for other, score in sorted(best.items(), key=lambda item: -item[1])
            if score >= threshold]
