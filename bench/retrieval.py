"""Retrieval benchmark: quality (shipped KB, BANKING77) with a BM25 baseline, index speed,
and publish-to-live latency. Writes ``bench/results/retrieval.json``.

    python -m bench.retrieval [--quick]

(a) Shipped knowledge base: the 43 published articles, searched (no moment filter) with the
    held-out questions of ``bench/data/kb_questions.yml`` (5 per article, written apart from
    the articles and never used to tune anything): recall@1, recall@5, MRR@10.
(b) BANKING77 (``../shared/datasets/banking77/train.csv``, read in place): a stratified
    held-out split (10 % of each category, numpy seed 77) is searched against an index of
    the other messages, one passage per message, through the bot's Retriever: kNN by
    moment, accuracy@1 (the nearest message's category) and recall@5 (the category among
    the first 5 distinct categories of the ranked neighbours).
(c) Index speed at 1k, 10k, 100k passages: synthetic clustered unit vectors (384-d, the
    model's dimension) because embedding 100k passages on 2 cores would take ~10 minutes;
    the real embedding rate is measured separately. Exact (flat) and HNSW build rate,
    query latency p50/p95 through Retriever.search, and HNSW recall@10 against exact.
(d) Publish-to-live: a store change until a follower polling ``CURRENT`` every 0.5 s (as
    the action server does) serves the new snapshot.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import yaml

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "retrieval.json"
BANKING = REPO.parent / "shared" / "datasets" / "banking77" / "train.csv"
SEED = 77
HELD_OUT = 0.10


def tokens(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def ranking_metrics(ranks: list[int | None]) -> dict[str, float]:
    """recall@1, recall@5 and MRR@10 from 1-based ranks (None: not in the top 10)."""
    n = len(ranks)
    return {"recall@1": round(sum(r == 1 for r in ranks) / n, 4),
            "recall@5": round(sum(r is not None and r <= 5 for r in ranks) / n, 4),
            "mrr@10": round(sum(1 / r for r in ranks if r is not None and r <= 10) / n, 4),
            "questions": n}


def rank_of(target: str, ranked: list[str]) -> int | None:
    return ranked.index(target) + 1 if target in ranked[:10] else None


def shipped_kb(embedder: Any) -> dict[str, Any]:
    from rank_bm25 import BM25Okapi

    from bot.catalogue import load_catalogue
    from knowledge.articles import load_articles
    from knowledge.retriever import Retriever
    from knowledge.snapshot import build_snapshot

    catalogue = load_catalogue(REPO / "bot" / "moments.yml")
    articles = load_articles(REPO / "knowledge" / "articles", catalogue.ids)
    snapshot = build_snapshot(articles, embedder)
    retriever = Retriever(snapshot, embedder)
    questions = yaml.safe_load((REPO / "bench" / "data" / "kb_questions.yml").read_text())
    pairs = [(q, a) for a, qs in questions["questions"].items() for q in qs]
    bm25 = BM25Okapi([tokens(p.text) for p in snapshot.passages])
    dense_ranks, bm25_ranks = [], []
    for question, article_id in pairs:
        dense = [h.article.id for h in retriever.search(question, k=10)]
        dense_ranks.append(rank_of(article_id, dense))
        best: dict[str, float] = defaultdict(lambda: -1e9)
        for passage, score in zip(snapshot.passages, bm25.get_scores(tokens(question)),
                                  strict=True):
            best[passage.article_id] = max(best[passage.article_id], float(score))
        bm25_ranks.append(rank_of(article_id, sorted(best, key=lambda a: -best[a])))
    return {"articles": len(snapshot.articles), "passages": len(snapshot.passages),
            "dense": ranking_metrics(dense_ranks), "bm25": ranking_metrics(bm25_ranks)}


def banking_split() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Stratified: 10 % of each category held out, chosen by a seeded permutation."""
    with BANKING.open(encoding="utf-8") as file:
        rows = [(r["text"], r["category"]) for r in csv.DictReader(file)]
    by_category: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in rows:
        by_category[row[1]].append(row)
    rng = np.random.default_rng(SEED)
    train, held = [], []
    for category in sorted(by_category):
        members = by_category[category]
        order = rng.permutation(len(members))
        cut = max(1, round(HELD_OUT * len(members)))
        held += [members[i] for i in order[:cut]]
        train += [members[i] for i in order[cut:]]
    return train, held


def first_distinct(labels: list[str], n: int) -> list[str]:
    seen: list[str] = []
    for label in labels:
        if label not in seen:
            seen.append(label)
        if len(seen) == n:
            break
    return seen


def banking77(embedder: Any, limit: int | None) -> dict[str, Any]:
    from rank_bm25 import BM25Okapi

    from knowledge.articles import Article
    from knowledge.retriever import Retriever
    from knowledge.snapshot import Passage, assemble_snapshot

    train, held = banking_split()
    if limit:
        held = held[::max(1, len(held) // limit)]
    started = time.perf_counter()
    vectors = embedder.encode([t for t, _ in train])
    embed_seconds = time.perf_counter() - started
    articles = {f"m{n}": Article(id=f"m{n}", title=t, body=t, moments=(c,))
                for n, (t, c) in enumerate(train)}
    passages = [Passage(f"m{n}", 0, t) for n, (t, _) in enumerate(train)]
    snapshot = assemble_snapshot(articles, passages, vectors, embedder.model_name)
    retriever = Retriever(snapshot, embedder)
    bm25 = BM25Okapi([tokens(t) for t, _ in train])
    labels = np.array([c for _, c in train])
    dense_top1 = dense_top5 = bm25_top1 = bm25_top5 = 0
    for text, category in held:
        hits = retriever.search(text, k=50)
        dense = first_distinct([h.article.moments[0] for h in hits], 5)
        dense_top1 += dense[:1] == [category]
        dense_top5 += category in dense
        order = np.argsort(-bm25.get_scores(tokens(text)), kind="stable")[:50]
        lexical = first_distinct(labels[order].tolist(), 5)
        bm25_top1 += lexical[:1] == [category]
        bm25_top5 += category in lexical
    n = len(held)
    hnsw_recall = _hnsw_recall(vectors, embedder.encode([t for t, _ in held]))
    return {"split": f"stratified: {HELD_OUT:.0%} of each of the 77 categories held out "
                     f"(numpy default_rng({SEED}) permutation per category, categories sorted)",
            "indexed_messages": len(train), "held_out_messages": n,
            "dense": {"accuracy@1": round(dense_top1 / n, 4), "recall@5": round(dense_top5 / n, 4)},
            "bm25": {"accuracy@1": round(bm25_top1 / n, 4), "recall@5": round(bm25_top5 / n, 4)},
            "embedding_rate_per_s": round(len(train) / embed_seconds, 1),
            "hnsw_recall@10_vs_exact_real_vectors": hnsw_recall}


def _hnsw_recall(vectors: np.ndarray, queries: np.ndarray) -> float:
    """HNSW (the index used above the size threshold) against exact, on real embeddings."""
    from knowledge.faiss_index import APPROXIMATE, EXACT, FaissIndex

    found = {}
    for kind in (EXACT, APPROXIMATE):
        index = FaissIndex(vectors.shape[1], kind)
        index.add(vectors)
        found[kind] = index.search(queries, 10)[1]
    overlap = sum(len(set(a) & set(b)) for a, b in zip(found[APPROXIMATE].tolist(),
                                                       found[EXACT].tolist(), strict=True))
    return round(overlap / found[EXACT].size, 4)


def clustered_unit_vectors(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors around 500 random topics: closer to text embeddings than pure noise."""
    centres = rng.normal(size=(500, dim)).astype(np.float32)
    rows = centres[rng.integers(0, 500, n)] + 0.9 * rng.normal(size=(n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def index_speed(sizes: list[int], dim: int = 384, queries: int = 300) -> list[dict[str, Any]]:
    from knowledge.articles import Article
    from knowledge.faiss_index import APPROXIMATE, EXACT, FaissIndex
    from knowledge.retriever import Retriever
    from knowledge.snapshot import Passage, Snapshot

    class VectorOnly:  # Retriever.search(vector) never encodes; it only checks the dimension
        model_name, dimension = "synthetic", dim

    rng = np.random.default_rng(SEED)
    results = []
    for size in sizes:
        vectors = clustered_unit_vectors(size, dim, rng)
        probes = clustered_unit_vectors(queries, dim, rng)
        articles = {f"a{n}": Article(id=f"a{n}", title="t", body="b", moments=(f"m{n % 30}",))
                    for n in range(0, size, 4)}
        passages = [Passage(f"a{n - n % 4}", n % 4, "") for n in range(size)]
        row: dict[str, Any] = {"passages": size}
        found: dict[str, np.ndarray] = {}
        for kind in (EXACT, APPROXIMATE):
            index = FaissIndex(dim, kind)
            started = time.perf_counter()
            index.add(vectors)
            build = time.perf_counter() - started
            snapshot = Snapshot(articles, passages, vectors, index,
                                {"key": kind, "dimension": dim, "model": "synthetic"})
            retriever = Retriever(snapshot, VectorOnly())  # type: ignore[arg-type]
            latencies = []
            for probe in probes:
                started = time.perf_counter()
                retriever.search(probe, k=5)
                latencies.append((time.perf_counter() - started) * 1000)
            found[kind] = index.search(probes, 10)[1]
            row[kind] = {"build_rows_per_s": round(size / build),
                         "build_s": round(build, 3),
                         "query_ms_p50": round(float(np.percentile(latencies, 50)), 3),
                         "query_ms_p95": round(float(np.percentile(latencies, 95)), 3)}
        overlap = sum(len(set(a) & set(b)) for a, b in zip(found[APPROXIMATE].tolist(),
                                                           found[EXACT].tolist(), strict=True))
        row[APPROXIMATE]["recall@10_vs_exact"] = round(overlap / found[EXACT].size, 4)
        results.append(row)
    return results


def run(quick: bool) -> dict[str, Any]:
    import torch

    from bench.retrieval_live import publish_to_live, query_latency
    from knowledge.embedder import SentenceTransformerEmbedder

    torch.set_num_threads(2)
    embedder = SentenceTransformerEmbedder()
    started = time.perf_counter()
    kb = shipped_kb(embedder)
    banking = banking77(embedder, limit=200 if quick else None)
    sizes = [1000, 10_000] if quick else [1000, 10_000, 100_000]
    _, held = banking_split()
    return {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch threads 2",
        "model": embedder.model_name,
        "shipped_kb": kb,
        "banking77": banking,
        "index_speed": {"data": "synthetic clustered unit vectors, 384-d (see docstring)",
                        "sizes": index_speed(sizes)},
        "query_latency_real_model": query_latency(embedder, [t for t, _ in held[:300]]),
        "publish_to_live": publish_to_live(embedder),
        "seconds": round(time.perf_counter() - started, 1),
    }


def table(results: dict[str, Any]) -> str:
    kb, b77 = results["shipped_kb"], results["banking77"]
    lines = ["| benchmark | method | metric | value |", "|---|---|---|---|"]
    for method in ("dense", "bm25"):
        for metric in ("recall@1", "recall@5", "mrr@10"):
            lines.append(f"| shipped KB ({kb['dense']['questions']} questions) | {method} | "
                         f"{metric} | {kb[method][metric]:.3f} |")
    for method in ("dense", "bm25"):
        for metric in ("accuracy@1", "recall@5"):
            lines.append(f"| BANKING77 kNN ({b77['held_out_messages']} held out) | {method} | "
                         f"{metric} | {b77[method][metric]:.3f} |")
    for row in results["index_speed"]["sizes"]:
        for kind in ("flat", "hnsw"):
            data = row[kind]
            extra = f", recall@10 {data['recall@10_vs_exact']:.3f}" if kind == "hnsw" else ""
            lines.append(f"| {row['passages']:,} passages | {kind} | build rows/s; query p50 / "
                         f"p95 ms | {data['build_rows_per_s']:,}; {data['query_ms_p50']} / "
                         f"{data['query_ms_p95']}{extra} |")
    live = results["publish_to_live"]
    lines.append(f"| publish to live ({live['rounds']} rounds) | poll {live['poll_seconds']} s | "
                 f"p50 / max s | {live['publish_to_live_s_p50']} / "
                 f"{live['publish_to_live_s_max']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.retrieval")
    parser.add_argument("--quick", action="store_true", help="200 BANKING77 queries, no 100k")
    args = parser.parse_args(argv)
    results = run(args.quick)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(table(results))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
