"""Reviewing articles: every error at once, named by field, and near-duplicate warnings."""

from __future__ import annotations

import pytest

from knowledge.articles import Article, ArticleError
from knowledge.embedder import HashingEmbedder
from knowledge.retriever import Retriever
from knowledge.snapshot import build_snapshot
from knowledge.validation import review_fields, review_text

MOMENTS = ["parcel_late", "charged_twice"]
GOOD = """---
id: parcel-late-wait
title: Late parcel? Wait two days
moments: [parcel_late]
---
Most late parcels arrive within two working days.
"""


def fields(review_errors: tuple) -> list[str | None]:  # type: ignore[type-arg]
    return [p.field for p in review_errors]


def test_a_good_article_passes() -> None:
    review = review_text(GOOD, MOMENTS)
    assert review.ok and review.article is not None and review.warnings == ()


def test_all_errors_are_reported_at_once() -> None:
    review = review_fields({"id": "x y", "moments": ["parcel_lost"], "channels": ["fax"]},
                           "", MOMENTS)
    assert not review.ok and review.article is None
    assert fields(review.errors) == ["title", "id", "body", "channels", "moments"]
    reasons = " | ".join(str(p) for p in review.errors)
    assert "title: missing" in reasons and "body: the body is empty" in reasons
    assert "unknown moment 'parcel_lost'; did you mean 'parcel_late'?" in reasons
    assert "unknown channel" in reasons


@pytest.mark.parametrize(("text", "reason"), [
    ("no front matter here", "no front matter"),
    ("---\ntitle: [unclosed\n---\nbody\n", "broken front matter"),
    ("---\n- a list\n---\nbody\n", "mapping of fields"),
    (GOOD + "x" * 20_001, "more than 20000"),
])
def test_broken_or_oversized_files_say_why(text: str, reason: str) -> None:
    review = review_text(text, MOMENTS)
    assert not review.ok and reason in str(review.errors[0])
    with pytest.raises(ArticleError, match=reason.split()[0]):
        review.raise_for_errors("draft.md")


def test_near_duplicate_of_a_published_article_is_a_warning() -> None:
    published = Article(id="parcel-late-track", title="Late parcel? Wait two days",
                        body="Most late parcels arrive within two working days.",
                        moments=("parcel_late",))
    other = Article(id="charged", title="Charged twice", body="A pending payment drops off.",
                    moments=("charged_twice",))
    embedder = HashingEmbedder()
    retriever = Retriever(build_snapshot([published, other], embedder), embedder)
    review = review_text(GOOD, MOMENTS, retriever)
    assert review.ok
    assert len(review.warnings) == 1 and "'parcel-late-track'" in str(review.warnings[0])
    itself = review_text(GOOD.replace("parcel-late-wait", "parcel-late-track"), MOMENTS,
                         retriever)
    assert itself.warnings == ()  # editing an article is not duplicating it
    assert review.to_json()["warnings"][0]["reason"].startswith("near-duplicate")


def test_several_errors_are_named_at_once() -> None:
    text = "---\nid: Bad Id!\ntitle: ''\nmoments: [parcel_late]\nchannels: [fax]\n---\n"
    review = review_text(text, MOMENTS)
    assert len(review.errors) >= 3
    with pytest.raises(ArticleError, match=rf"{len(review.errors)} errors: title: .*id: "
                                           r".*channels: "):
        review.raise_for_errors("draft.md")
