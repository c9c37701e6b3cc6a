"""Snapshots: built from published articles, saved with a manifest, stale ones refused."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from knowledge.articles import Article
from knowledge.embedder import HashingEmbedder
from knowledge.retriever import Retriever
from knowledge.snapshot import (
    KnowledgeIndexUnavailable,
    StaleIndex,
    build_snapshot,
    ensure_snapshot,
    load_current,
    save_snapshot,
    snapshot_key,
    split_passages,
)


def article(article_id: str, moment: str, text: str, **fields: object) -> Article:
    return Article(id=article_id, title=text.split(".")[0], body=text, moments=(moment,),
                   summary=text[:40], **fields)  # type: ignore[arg-type]


@pytest.fixture
def corpus() -> list[Article]:
    return [
        article("late", "parcel_late", "Parcel is late. Track the parcel and wait two days."),
        article("twice", "charged_twice", "Charged twice. A pending payment drops off."),
        article("password", "password_reset", "Reset your password. Use the reset link."),
        article("draft", "parcel_late", "Draft about late parcels.", status="draft"),
    ]


def test_only_published_articles_are_indexed(corpus: list[Article]) -> None:
    snapshot = build_snapshot(corpus, HashingEmbedder())
    assert set(snapshot.articles) == {"late", "twice", "password"}
    assert snapshot.manifest["model"] == "hashing-64"
    assert snapshot.manifest["dimension"] == 64
    assert set(snapshot.manifest["articles"]) == {"late", "twice", "password"}
    assert len(snapshot.index) == len(snapshot.passages) == snapshot.vectors.shape[0]
    assert np.allclose(np.linalg.norm(snapshot.vectors, axis=1), 1.0, atol=1e-5)


def test_long_bodies_become_several_passages_of_one_article() -> None:
    long = article("long", "parcel_late", " ".join(f"word{n}" for n in range(400)))
    passages = split_passages(long, max_words=120)
    assert len(passages) >= 4
    assert {p.article_id for p in passages} == {"long"}
    assert [p.position for p in passages] == list(range(len(passages)))


def test_saved_snapshot_loads_back_identically(tmp_path: Path, corpus: list[Article]) -> None:
    snapshot = build_snapshot(corpus, HashingEmbedder())
    save_snapshot(snapshot, tmp_path)
    loaded = load_current(tmp_path, snapshot.key, "hashing-64")
    assert loaded.key == snapshot.key
    assert loaded.articles == snapshot.articles
    assert np.array_equal(loaded.vectors, snapshot.vectors)
    manifest = json.loads((tmp_path / "snapshots" / snapshot.key / "manifest.json").read_text())
    assert {"faiss-cpu", "sentence-transformers", "numpy"} <= set(manifest["libraries"])


def test_a_changed_article_makes_the_saved_snapshot_stale(tmp_path: Path,
                                                          corpus: list[Article]) -> None:
    save_snapshot(build_snapshot(corpus, HashingEmbedder()), tmp_path)
    edited = [replace(corpus[0], body="New body.", version=2), *corpus[1:]]
    with pytest.raises(StaleIndex):
        load_current(tmp_path, snapshot_key(edited, "hashing-64"))
    with pytest.raises(StaleIndex):
        load_current(tmp_path, model_name="all-MiniLM-L6-v2")


def test_ensure_rebuilds_only_when_inputs_change(tmp_path: Path, corpus: list[Article]) -> None:
    built = []

    def factory() -> HashingEmbedder:
        built.append(1)
        return HashingEmbedder()

    first = ensure_snapshot(tmp_path, corpus, factory, "hashing-64")
    again = ensure_snapshot(tmp_path, corpus, factory, "hashing-64")
    assert first.key == again.key and len(built) == 1
    ensure_snapshot(tmp_path, [*corpus[:2]], factory, "hashing-64")
    assert len(built) == 2


def test_missing_snapshot_is_reported(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeIndexUnavailable, match="no snapshot"):
        load_current(tmp_path)


def test_retriever_filters_by_moment_channel_and_exclusions(corpus: list[Article]) -> None:
    sms_less = replace(corpus[1], channels=("web",))
    retriever = Retriever(build_snapshot([corpus[0], sms_less, corpus[2]], HashingEmbedder()),
                          HashingEmbedder())
    assert retriever.search("my parcel is late", k=1)[0].article.id == "late"
    assert [h.article.id for h in retriever.search("late", moment="charged_twice")] == ["twice"]
    assert retriever.search("charged twice", channel="sms", k=3)[0].article.id != "twice"
    assert retriever.search("late", moment="parcel_late", exclude={"late"}) == []


def test_swap_changes_the_live_snapshot_at_once(tmp_path: Path, corpus: list[Article]) -> None:
    retriever = Retriever(build_snapshot(corpus[:1], HashingEmbedder()), HashingEmbedder())
    newer = build_snapshot(corpus, HashingEmbedder())
    save_snapshot(newer, tmp_path)
    assert retriever.reload_if_changed(tmp_path)
    assert retriever.snapshot.key == newer.key
    assert not retriever.reload_if_changed(tmp_path)
