"""Knowledge gaps: customer messages no good article answered, grouped into a worklist.

Two sources: gaps the action server records with :func:`record_gap` (table ``kb_gaps``)
and the desk's handoffs whose reason says the knowledge base failed (``no_article``,
``article_rejected``, ``low_confidence``; their packets carry the customer's words).
Messages are grouped by embedding similarity (leader clustering: a message joins the
most similar group whose centroid is within ``threshold``, else starts its own), and
groups are ranked by how many customers hit them. Content staff never see conversations,
so the messages' personal data is redacted before anyone reads or groups them.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import sqlalchemy as sa

from knowledge.embedder import Embedder
from knowledge.retriever import Retriever
from knowledge.store import ArticleStore
from knowledge.store_schema import gaps

GAP_REASONS = ("no_article", "article_rejected", "low_confidence")
#: Cosine similarity to a group's centroid needed to join it (all-MiniLM-L6-v2).
GROUP_THRESHOLD = 0.6
_handoffs = sa.table("handoffs", sa.column("reason"), sa.column("created_at"),
                     sa.column("moment"), sa.column("packet"))


@dataclass(frozen=True)
class GapMessage:
    text: str
    moment: str | None
    reason: str
    at: float
    source: str = "turn"  # turn (recorded by the action server) | handoff


@dataclass
class GapGroup:
    """Similar gap messages; ``examples`` newest first."""

    examples: list[GapMessage]
    count: int = 0
    moments: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    nearest_article: tuple[str, float] | None = None

    def to_json(self) -> dict[str, Any]:
        # each text once (redacted ones often coincide), in the order first seen
        return {"count": self.count, "examples": list(dict.fromkeys(m.text for m in self.examples)),
                "moments": dict(self.moments.most_common()),
                "reasons": dict(self.reasons.most_common()),
                "last_seen": max(m.at for m in self.examples),
                "nearest_article": None if self.nearest_article is None else
                {"id": self.nearest_article[0], "score": round(self.nearest_article[1], 3)}}


async def record_gap(store: ArticleStore, text: str, moment: str | None, reason: str,
                     channel: str = "", article_id: str | None = None) -> None:
    """Records one customer message the knowledge base did not answer.

    Args:
        reason: one of :data:`GAP_REASONS`.
        article_id: the rejected article, for ``article_rejected``.
    """
    if reason not in GAP_REASONS:
        raise ValueError(f"reason {reason!r} is not one of {GAP_REASONS}")
    async with store.engine.begin() as connection:
        await connection.execute(gaps.insert().values(
            at=time.time(), text=text[:2000], moment=moment, reason=reason, channel=channel,
            article_id=article_id))


async def gap_messages(store: ArticleStore, since: float = 0.0, limit: int = 5000,
                       redact: Callable[[list[str]], Awaitable[list[str]]] | None = None
                       ) -> list[GapMessage]:
    """Recorded gaps and knowledge-related handoffs since ``since`` (epoch s), newest first;
    with ``redact`` (:meth:`bot.pii.LazyRedactor.redact`), their texts redacted."""
    async with store.engine.connect() as connection:
        found = (await connection.execute(sa.select(gaps).where(gaps.c.at >= since)
                                          .order_by(gaps.c.at.desc()).limit(limit))).all()
        messages = [GapMessage(r.text, r.moment, r.reason, r.at) for r in found]
        has_handoffs = await connection.run_sync(
            lambda sync: sa.inspect(sync).has_table("handoffs"))
        if has_handoffs:
            rows = (await connection.execute(sa.select(_handoffs).where(
                _handoffs.c.reason.in_(GAP_REASONS), _handoffs.c.created_at >= since)
                .order_by(_handoffs.c.created_at.desc()).limit(limit))).all()
            messages += [m for m in map(_from_handoff, rows) if m is not None]
    messages = _deduplicate(sorted(messages, key=lambda m: -m.at))[:limit]
    if redact is None:
        return messages
    texts = await redact([m.text for m in messages])
    return [replace(m, text=text) for m, text in zip(messages, texts, strict=True)]


def _from_handoff(row: Any) -> GapMessage | None:
    """The customer's first own words in a handoff packet (button payloads skipped)."""
    try:
        transcript = json.loads(row.packet).get("transcript", [])
    except (ValueError, AttributeError):
        return None
    for line in transcript:
        text = str(line.get("text") or "").strip()
        if line.get("speaker") == "customer" and text and not text.startswith("/"):
            return GapMessage(text, row.moment, row.reason, float(row.created_at), "handoff")
    return None


def _deduplicate(messages: Sequence[GapMessage], window: float = 120.0) -> list[GapMessage]:
    """Drops a handoff's copy of a message the action server also recorded."""
    kept: list[GapMessage] = []
    seen: dict[tuple[str, str | None], float] = {}
    for message in messages:
        key = (message.text.lower(), message.moment)
        if key in seen and abs(seen[key] - message.at) <= window:
            continue
        seen[key] = message.at
        kept.append(message)
    return kept


def group_gaps(messages: Sequence[GapMessage], embedder: Embedder,
               threshold: float = GROUP_THRESHOLD, retriever: Retriever | None = None,
               examples: int = 5) -> list[GapGroup]:
    """Groups similar messages, largest group first; ``retriever`` adds each group's
    nearest published article (to show what customers were offered instead)."""
    if not messages:
        return []
    vectors = embedder.encode([m.text for m in messages])
    members = leader_clusters(vectors, threshold)
    groups = []
    for rows in members:
        group = GapGroup(examples=[messages[r] for r in rows[:examples]], count=len(rows))
        group.moments.update(messages[r].moment or "unknown" for r in rows)
        group.reasons.update(messages[r].reason for r in rows)
        if retriever is not None:
            centroid = vectors[rows].mean(axis=0)
            centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
            hits = retriever.search(centroid.astype(np.float32), k=1)
            group.nearest_article = (hits[0].article.id, hits[0].score) if hits else None
        groups.append(group)
    return sorted(groups, key=lambda g: (-g.count, -max(m.at for m in g.examples)))


def leader_clusters(vectors: np.ndarray, threshold: float) -> list[list[int]]:
    """Assigns (n, d) L2-normalised rows to groups in order; returns each group's rows.

    A row joins the group whose (normalised) centroid is most similar, if that similarity
    is at least ``threshold``; otherwise it founds a new group.
    """
    sums = np.zeros((0, vectors.shape[1]), dtype=np.float64)
    members: list[list[int]] = []
    for row, vector in enumerate(vectors):
        if members:
            centroids = sums / np.linalg.norm(sums, axis=1, keepdims=True).clip(1e-12)
            scores = centroids @ vector
            best = int(np.argmax(scores))
            if scores[best] >= threshold:
                sums[best] += vector
                members[best].append(row)
                continue
        sums = np.vstack([sums, vector[None, :].astype(np.float64)])
        members.append([row])
    return members
