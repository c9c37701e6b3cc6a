"""Publish-to-live latency and the real model's costs, for ``bench.retrieval``."""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
POLL_SECONDS = 0.5  # actions.server.RELOAD_SECONDS


def percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 3)


def query_latency(embedder: Any, texts: list[str]) -> dict[str, Any]:
    """encode + search on the shipped KB, as a turn without a pre-computed vector costs."""
    from bot.catalogue import load_catalogue
    from knowledge.articles import load_articles
    from knowledge.retriever import Retriever
    from knowledge.snapshot import build_snapshot

    catalogue = load_catalogue(REPO / "bot" / "moments.yml")
    articles = load_articles(REPO / "knowledge" / "articles", catalogue.ids)
    retriever = Retriever(build_snapshot(articles, embedder), embedder)
    encode_ms, search_ms = [], []
    for text in texts:
        started = time.perf_counter()
        vector = retriever.encode(text)
        encoded = time.perf_counter()
        retriever.search(vector, k=3, moment=articles[0].moments[0])
        retriever.search(vector, k=3)
        search_ms.append((time.perf_counter() - encoded) * 1000 / 2)
        encode_ms.append((encoded - started) * 1000)
    return {"queries": len(texts), "encode_ms_p50": percentile(encode_ms, 50),
            "encode_ms_p95": percentile(encode_ms, 95),
            "search_ms_p50": percentile(search_ms, 50), "search_ms_p95": percentile(search_ms, 95)}


def publish_to_live(embedder: Any, rounds: int = 6) -> dict[str, Any]:
    return asyncio.run(_publish_rounds(embedder, rounds))


async def _publish_rounds(embedder: Any, rounds: int) -> dict[str, Any]:
    from knowledge.articles import Article
    from knowledge.publish import Publisher, ensure_live_snapshot
    from knowledge.retriever import Retriever
    from knowledge.service import open_store

    with tempfile.TemporaryDirectory() as folder:
        store = await open_store(f"sqlite+aiosqlite:///{folder}/desk.db",
                                 REPO / "knowledge" / "articles")
        knowledge = Path(folder) / "knowledge"
        follower = Retriever(await ensure_live_snapshot(store, knowledge, lambda: embedder,
                                                        embedder.model_name), embedder)
        seen: dict[str, float] = {}
        stop = threading.Event()

        def follow() -> None:  # the action server's loop, in a thread
            while not stop.wait(POLL_SECONDS):
                if follower.reload_if_changed(knowledge):
                    seen[follower.snapshot.key] = time.perf_counter()

        thread = threading.Thread(target=follow, daemon=True)
        thread.start()
        publisher = Publisher(store, embedder, knowledge)
        live_s, rebuild_s = [], []
        try:
            await store.create(Article(
                id="bench-fittings", title="Missing screws or fittings in flat-pack furniture",
                body="Order a free replacement fittings bag with your order number.",
                moments=("item_missing_from_order",)), "bench")
            for n in range(rounds):
                seen.clear()  # publish/retire cycles repeat snapshot keys
                started = time.perf_counter()
                action = publisher.publish if n % 2 == 0 else publisher.retire
                _, snapshot = await action("bench-fittings", "bench")
                rebuild_s.append(time.perf_counter() - started)
                while snapshot.key not in seen:
                    await asyncio.sleep(0.01)
                live_s.append(seen[snapshot.key] - started)
        finally:
            stop.set()
            thread.join()
            await store.close()
    return {"rounds": rounds, "poll_seconds": POLL_SECONDS,
            "commit_and_rebuild_s_p50": percentile(rebuild_s, 50),
            "publish_to_live_s_p50": percentile(live_s, 50),
            "publish_to_live_s_max": round(max(live_s), 3)}
