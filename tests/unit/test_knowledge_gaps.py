"""Knowledge gaps: recorded messages and knowledge-related handoffs, grouped by similarity."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from knowledge.articles import Article
from knowledge.embedder import HashingEmbedder
from knowledge.gaps import GapMessage, gap_messages, group_gaps, leader_clusters, record_gap
from knowledge.retriever import Retriever
from knowledge.snapshot import build_snapshot
from knowledge.store import ArticleStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[ArticleStore]:
    opened = await ArticleStore.open(f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}")
    yield opened
    await opened.close()


async def add_handoff(store: ArticleStore, reason: str, texts: list[str]) -> None:
    """A row shaped like the desk's ``handoffs`` table (only the columns gaps read)."""
    async with store.engine.begin() as connection:
        await connection.execute(sa.text(
            "CREATE TABLE IF NOT EXISTS handoffs (id TEXT, reason TEXT, moment TEXT, "
            "created_at FLOAT, packet TEXT)"))
        packet = {"transcript": [{"speaker": "customer", "text": t} for t in texts]}
        await connection.execute(sa.text(
            "INSERT INTO handoffs VALUES (:id, :reason, 'gift_cards', :at, :packet)"),
            {"id": str(time.time()), "reason": reason, "at": time.time(),
             "packet": json.dumps(packet)})


async def test_gaps_come_from_records_and_handoffs(store: ArticleStore) -> None:
    await record_gap(store, "can I pay with a gift card", "payment_declined", "no_article")
    await add_handoff(store, "no_article", ["/request_human", "do you sell gift cards"])
    await add_handoff(store, "customer_asked", ["let me talk to a person"])
    messages = await gap_messages(store)
    assert {(m.text, m.source) for m in messages} == {
        ("can I pay with a gift card", "turn"), ("do you sell gift cards", "handoff")}
    with pytest.raises(ValueError, match="reason"):
        await record_gap(store, "x", None, "bored")


async def test_a_message_recorded_twice_counts_once(store: ArticleStore) -> None:
    await record_gap(store, "do you sell gift cards", "gift_cards", "no_article")
    await add_handoff(store, "no_article", ["do you sell gift cards"])
    assert len(await gap_messages(store)) == 1


async def test_texts_are_redacted_when_asked(store: ArticleStore) -> None:
    await add_handoff(store, "no_article", ["gift card for jan@example.com, order NW-123456"])

    async def redact(texts: list[str]) -> list[str]:
        return [t.replace("jan@example.com", "[EMAIL]") for t in texts]

    [message] = await gap_messages(store, redact=redact)
    assert message.text == "gift card for [EMAIL], order NW-123456"
    assert message.source == "handoff" and message.reason == "no_article"


def test_groups_similar_messages_largest_first() -> None:
    now = time.time()
    texts = ["gift card balance", "check my gift card balance", "gift card balance please",
             "sofa colour fading", "my sofa colour is fading"]
    messages = [GapMessage(t, "m", "no_article", now - n) for n, t in enumerate(texts)]
    sofa = Article(id="sofa-care", title="Sofa care", body="Keep your sofa colour from fading.",
                   moments=("m",))
    embedder = HashingEmbedder(256)
    retriever = Retriever(build_snapshot([sofa], embedder), embedder)
    groups = group_gaps(messages, embedder, threshold=0.5, retriever=retriever)
    assert [g.count for g in groups] == [3, 2]
    assert groups[0].examples[0].text == "gift card balance"  # newest first
    assert groups[1].nearest_article is not None and groups[1].nearest_article[0] == "sofa-care"
    assert groups[0].to_json()["reasons"] == {"no_article": 3}


def test_leader_clusters_against_brute_force_definition() -> None:
    """Every row is in exactly one group; a row founding a group was below the threshold of
    every earlier centroid (recomputed here from scratch)."""
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(4, 16))
    rows = np.vstack([c + 0.2 * rng.normal(size=(10, 16)) for c in centres])
    rows = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
    order = rng.permutation(len(rows))
    rows = rows[order]
    groups = leader_clusters(rows, threshold=0.7)
    assert sorted(r for g in groups for r in g) == list(range(len(rows)))
    assert len(groups) == 4
    founders = sorted(g[0] for g in groups)
    for founder in founders:
        earlier = [[r for r in g if r < founder] for g in groups]
        for members in filter(None, earlier):
            centroid = rows[members].sum(axis=0)
            centroid /= np.linalg.norm(centroid)
            assert float(centroid @ rows[founder]) < 0.7


def test_a_groups_examples_show_each_text_once() -> None:
    from knowledge.gaps import GapGroup

    texts = ["gift card for [EMAIL]", "gift card for [EMAIL]", "gift card balance"]
    group = GapGroup(examples=[GapMessage(t, "m", "no_article", 1.0 + n)
                               for n, t in enumerate(texts)], count=3)
    assert group.to_json()["examples"] == ["gift card for [EMAIL]", "gift card balance"]
    assert group.to_json()["count"] == 3
