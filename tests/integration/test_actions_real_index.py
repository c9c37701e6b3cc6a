"""The turn action against a real index built with the real model (all-MiniLM-L6-v2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from actions.desk_client import RecordingDeskClient
from actions.server import build_executor
from knowledge.retriever import Retriever
from knowledge.snapshot import build_snapshot, load_current, save_snapshot

pytestmark = pytest.mark.integration
TRACKERS = Path(__file__).resolve().parents[1] / "data" / "trackers"


@pytest.fixture(scope="module")
def retriever(articles, real_embedder) -> Retriever:
    return Retriever(build_snapshot(articles, real_embedder), real_embedder)


def call(name: str) -> dict:
    return json.loads((TRACKERS / f"{name}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("recorded", "expected"),
    [("answer-1", {"parcel-late-track"}), ("deny-1", {"charged-twice-refund",
                                                       "charged-twice-pending"}),
     ("unsure-2", {"parcel-late-track", "parcel-late-claim"})],
)
async def test_offers_the_moments_best_article(catalogue, retriever, recorded, expected) -> None:
    executor = build_executor(catalogue, retriever, RecordingDeskClient())
    result = await executor.run(call(recorded))
    offered = next(e["value"] for e in result["events"]
                   if e["event"] == "slot" and e["name"] == "offered_articles")
    assert offered[-1] in expected
    assert "Did this solve it?" in result["responses"][0]["text"]


def test_customer_words_find_their_moments_articles(catalogue, retriever) -> None:
    """Unfiltered search: a moment's own examples find one of its articles in the top 3."""
    hits = 0
    for moment in catalogue.moments:
        found = {h.article.id for h in retriever.search(moment.examples[0], k=3)}
        hits += bool(found & set(moment.articles))
    assert hits / len(catalogue.moments) >= 0.8


def test_saved_real_snapshot_round_trips(tmp_path, articles, real_embedder) -> None:
    snapshot = build_snapshot(articles, real_embedder)
    save_snapshot(snapshot, tmp_path)
    loaded = load_current(tmp_path, snapshot.key, real_embedder.model_name)
    assert loaded.manifest["dimension"] == 384 and loaded.manifest["index_kind"] == "flat"
    query = real_embedder.encode(["I paid two times for one order"])[0]
    assert Retriever(loaded, real_embedder).search(query, k=1)[0].article.moments == (
        "charged_twice",)
