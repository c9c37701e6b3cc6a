"""Retrieval: passages of long articles fold into one article-level hit; moment and channel
filters; unfiltered search equals a brute-force scoring of every passage."""

from __future__ import annotations

import numpy as np

from knowledge.articles import Article
from knowledge.embedder import HashingEmbedder
from knowledge.faiss_index import APPROXIMATE
from knowledge.retriever import Retriever
from knowledge.snapshot import build_snapshot, split_passages

EMBEDDER = HashingEmbedder(128)


def article(article_id: str, moments: tuple[str, ...], body: str, **kw: object) -> Article:
    return Article(id=article_id, title=article_id.replace("-", " "), body=body,
                   moments=moments, **kw)  # type: ignore[arg-type]


LONG = article("long-returns", ("return_item",),
               "\n\n".join(f"Paragraph {n} about returns and labels " + "filler " * 60
                           for n in range(6)) + "\n\nThe refund reaches your bank in ten days.")
CORPUS = [
    LONG,
    article("refund-time", ("refund_not_received",), "Refunds take five working days."),
    article("sms-only", ("refund_not_received",), "Refund by text message.", channels=("sms",)),
    article("web-only", ("refund_not_received",), "Refund on the website.", channels=("web",)),
]


def test_long_article_is_split_but_reported_once() -> None:
    passages = split_passages(LONG)
    assert len(passages) > 3
    retriever = Retriever(build_snapshot(CORPUS, EMBEDDER), EMBEDDER)
    hits = retriever.search("refund reaches your bank in ten days", k=4)
    assert [h.article.id for h in hits].count("long-returns") == 1
    long_hit = next(h for h in hits if h.article.id == "long-returns")
    assert "ten days" in long_hit.passage  # the passage that matched, not the first one


def test_moment_and_channel_filters() -> None:
    retriever = Retriever(build_snapshot(CORPUS, EMBEDDER), EMBEDDER)
    ids = {h.article.id for h in retriever.search("refund", k=10, moment="refund_not_received")}
    assert ids == {"refund-time", "sms-only", "web-only"}
    sms = {h.article.id for h in retriever.search("refund", k=10, moment="refund_not_received",
                                                   channel="sms")}
    assert sms == {"refund-time", "sms-only"}
    assert retriever.search("refund", k=10, moment="no_such_moment") == []
    web = {h.article.id for h in retriever.search("refund", k=10, channel="web")}
    assert "sms-only" not in web and "web-only" in web


def test_unfiltered_scores_equal_brute_force_best_passage() -> None:
    snapshot = build_snapshot(CORPUS, EMBEDDER)
    retriever = Retriever(snapshot, EMBEDDER)
    query = EMBEDDER.encode(["refund in five working days"])[0]
    expected: dict[str, float] = {}
    for row, passage in enumerate(snapshot.passages):
        score = float(snapshot.vectors[row] @ query)
        expected[passage.article_id] = max(expected.get(passage.article_id, -2.0), score)
    ranked = sorted(expected.items(), key=lambda item: -item[1])
    hits = retriever.search(query, k=len(CORPUS))
    assert [h.article.id for h in hits] == [a for a, _ in ranked]
    assert np.allclose([h.score for h in hits], [s for _, s in ranked], atol=1e-5)


def test_hnsw_snapshot_above_the_threshold_gives_the_same_answers() -> None:
    exact = Retriever(build_snapshot(CORPUS, EMBEDDER), EMBEDDER)
    approximate_snapshot = build_snapshot(CORPUS, EMBEDDER, approximate_above=2)
    assert approximate_snapshot.index.kind == APPROXIMATE
    approximate = Retriever(approximate_snapshot, EMBEDDER)
    for text in ("refund five days", "labels returns", "text message"):
        assert ([h.article.id for h in exact.search(text, k=2)] ==
                [h.article.id for h in approximate.search(text, k=2)])
