"""Knowledge snapshots: the published articles, their passages, vectors and FAISS index.

A snapshot is built once, saved to ``<dir>/snapshots/<key>/`` with a manifest, and named
live by the ``<dir>/CURRENT`` file (replaced atomically), so readers never see a half-built
index. The manifest records what the snapshot was built from (model, dimension, article
ids, versions and content hashes, library versions); :func:`load_current` refuses a
snapshot whose inputs differ from what it is asked for, so a stale index is never used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.articles import Article
from knowledge.embedder import Embedder
from knowledge.faiss_index import FaissIndex

log = logging.getLogger(__name__)

SCHEMA = 1
PASSAGE_WORDS = 120
DEFAULT_APPROXIMATE_ABOVE = 50_000


class StaleIndex(RuntimeError):
    """A saved snapshot was built from other inputs than the ones asked for."""


class KnowledgeIndexUnavailable(RuntimeError):
    """No usable snapshot exists in the knowledge directory."""


@dataclass(frozen=True)
class Passage:
    """A searchable piece of an article; results are reported per article."""

    article_id: str
    position: int
    text: str


@dataclass
class Snapshot:
    """Everything a retriever needs, immutable once built."""

    articles: dict[str, Article]
    passages: list[Passage]
    vectors: np.ndarray  # (n_passages, dimension) float32, L2-normalised
    index: FaissIndex
    manifest: dict[str, Any]

    @property
    def key(self) -> str:
        return str(self.manifest["key"])


def split_passages(article: Article, max_words: int = PASSAGE_WORDS) -> list[Passage]:
    """Title and summary first, then the body in chunks of at most ``max_words`` words.

    Each body chunk starts with the title, so a passage keeps its article's topic.
    """
    head = f"{article.title}. {article.summary}".strip()
    passages = [Passage(article.id, 0, head)]
    words: list[str] = []
    for paragraph in re.split(r"\n\s*\n|\n(?=\s*\d+[.)]\s)", article.body):
        paragraph_words = paragraph.split()
        if words and len(words) + len(paragraph_words) > max_words:
            passages.append(Passage(article.id, len(passages), _chunk(article, words)))
            words = []
        words.extend(paragraph_words)
        while len(words) > max_words:
            passages.append(Passage(article.id, len(passages), _chunk(article, words[:max_words])))
            words = words[max_words:]
    if words:
        passages.append(Passage(article.id, len(passages), _chunk(article, words)))
    return passages


def _chunk(article: Article, words: list[str]) -> str:
    return f"{article.title}: {' '.join(words)}"


def snapshot_key(articles: Sequence[Article], model_name: str) -> str:
    """Identifies a snapshot's inputs: published articles' content and the model."""
    digest = hashlib.sha256(f"schema={SCHEMA};passage_words={PASSAGE_WORDS};{model_name}".encode())
    for article in sorted(articles, key=lambda a: a.id):
        if article.is_published:
            digest.update(f"|{article.id}:{article.content_hash()}".encode())
    return digest.hexdigest()[:20]


def build_snapshot(
    articles: Sequence[Article],
    embedder: Embedder,
    approximate_above: int = DEFAULT_APPROXIMATE_ABOVE,
    progress: Callable[[str], None] | None = None,
    previous: Snapshot | None = None,
) -> Snapshot:
    """Embeds the published articles' passages and indexes them.

    Args:
        previous: a snapshot built with the same model; passages whose text it already
            holds reuse its vectors, so publishing one article encodes only that article.
    """
    started = time.perf_counter()
    published = {a.id: a for a in sorted(articles, key=lambda a: a.id) if a.is_published}
    passages = [p for article in published.values() for p in split_passages(article)]
    vectors = _embed(passages, embedder, previous, progress)
    return assemble_snapshot(published, passages, vectors, embedder.model_name,
                             approximate_above, started)


def assemble_snapshot(published: dict[str, Article], passages: list[Passage],
                      vectors: np.ndarray, model_name: str,
                      approximate_above: int = DEFAULT_APPROXIMATE_ABOVE,
                      started: float | None = None) -> Snapshot:
    """Indexes already embedded passages ((n, dimension) float32, L2-normalised).

    :func:`build_snapshot` splits and embeds articles first; benchmarks that bring their
    own passages (one per BANKING77 message) call this directly: the same index choice,
    manifest and retriever as the bot.
    """
    started = time.perf_counter() if started is None else started
    dimension = int(vectors.shape[1])
    index = FaissIndex.for_size(dimension, len(passages), approximate_above)
    index.add(vectors)
    manifest = {
        "schema": SCHEMA,
        "key": snapshot_key(list(published.values()), model_name),
        "model": model_name,
        "dimension": dimension,
        "index_kind": index.kind,
        "passages": len(passages),
        "articles": {a.id: {"version": a.version, "hash": a.content_hash()}
                     for a in published.values()},
        "libraries": _library_versions(),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "build_seconds": round(time.perf_counter() - started, 3),
    }
    return Snapshot(published, passages, vectors, index, manifest)


def _embed(passages: Sequence[Passage], embedder: Embedder, previous: Snapshot | None,
           progress: Callable[[str], None] | None) -> np.ndarray:
    """(len(passages), dimension) float32: known texts copied from ``previous``, others encoded."""
    known: dict[str, int] = {}
    if previous is not None and previous.manifest.get("model") == embedder.model_name:
        known = {p.text: row for row, p in enumerate(previous.passages)}
    missing = [n for n, p in enumerate(passages) if p.text not in known]
    if progress:
        progress(f"embedding {len(missing)} of {len(passages)} passages with "
                 f"{embedder.model_name}")
    vectors = np.zeros((len(passages), embedder.dimension), dtype=np.float32)
    for n, passage in enumerate(passages):
        if passage.text in known and previous is not None:
            vectors[n] = previous.vectors[known[passage.text]]
    if missing:
        vectors[missing] = embedder.encode([passages[n].text for n in missing])
    return vectors


def save_snapshot(snapshot: Snapshot, directory: Path) -> Path:
    """Writes the snapshot and makes it current in one atomic rename."""
    target = directory / "snapshots" / snapshot.key
    staging = directory / "snapshots" / f".{snapshot.key}.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    snapshot.index.save(staging / "index.faiss")
    np.save(staging / "vectors.npy", snapshot.vectors)
    (staging / "passages.json").write_text(json.dumps(
        [[p.article_id, p.position, p.text] for p in snapshot.passages]), encoding="utf-8")
    (staging / "articles.json").write_text(json.dumps(
        [_article_record(a) for a in snapshot.articles.values()]), encoding="utf-8")
    (staging / "manifest.json").write_text(json.dumps(snapshot.manifest, indent=2),
                                           encoding="utf-8")
    if target.exists():
        shutil.rmtree(staging)
    else:
        os.replace(staging, target)
    pointer = directory / f".CURRENT.{os.getpid()}.tmp"
    pointer.write_text(snapshot.key, encoding="utf-8")
    os.replace(pointer, directory / "CURRENT")
    return target


def current_key(directory: Path) -> str | None:
    """The key named by ``CURRENT``, or None when nothing was published yet."""
    try:
        return (directory / "CURRENT").read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def load_snapshot(directory: Path, key: str) -> Snapshot:
    """Loads one saved snapshot by key."""
    folder = directory / "snapshots" / key
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        passages = [Passage(a, int(p), t) for a, p, t in
                    json.loads((folder / "passages.json").read_text(encoding="utf-8"))]
        articles = [Article(**{**record, "moments": tuple(record["moments"]),
                               "channels": tuple(record["channels"])})
                    for record in json.loads((folder / "articles.json").read_text("utf-8"))]
        vectors = np.load(folder / "vectors.npy")
        index = FaissIndex.load(folder / "index.faiss")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise KnowledgeIndexUnavailable(f"snapshot {folder} is unreadable: {error}") from error
    if manifest.get("schema") != SCHEMA or len(index) != len(passages):
        raise StaleIndex(f"snapshot {folder} has schema {manifest.get('schema')} "
                         f"and {len(index)} rows for {len(passages)} passages")
    return Snapshot({a.id: a for a in articles}, passages, vectors, index, manifest)


def load_current(directory: Path, expected_key: str | None = None,
                 model_name: str | None = None) -> Snapshot:
    """Loads the live snapshot, checking it against the expected inputs.

    Raises:
        KnowledgeIndexUnavailable: nothing published yet or unreadable files.
        StaleIndex: built from other articles or another model than expected.
    """
    key = current_key(directory)
    if key is None:
        raise KnowledgeIndexUnavailable(f"no snapshot in {directory}; run `mot index`")
    snapshot = load_snapshot(directory, key)
    if expected_key is not None and snapshot.key != expected_key:
        raise StaleIndex(f"snapshot {key} does not match the articles (expected {expected_key})")
    if model_name is not None and snapshot.manifest.get("model") != model_name:
        raise StaleIndex(f"snapshot {key} was built with {snapshot.manifest.get('model')}, "
                         f"not {model_name}")
    return snapshot


def ensure_snapshot(directory: Path, articles: Sequence[Article], embedder_factory:
                    Callable[[], Embedder], model_name: str,
                    progress: Callable[[str], None] | None = None) -> Snapshot:
    """Loads the current snapshot if it matches ``articles``; otherwise rebuilds it."""
    expected = snapshot_key(articles, model_name)
    try:
        return load_current(directory, expected, model_name)
    except (KnowledgeIndexUnavailable, StaleIndex) as reason:
        if progress:
            progress(f"knowledge index needs a build: {reason}")
    snapshot = build_snapshot(articles, embedder_factory(), progress=progress)
    save_snapshot(snapshot, directory)
    return snapshot


def _article_record(article: Article) -> dict[str, Any]:
    return {"id": article.id, "title": article.title, "body": article.body,
            "moments": list(article.moments), "channels": list(article.channels),
            "status": article.status, "version": article.version, "owner": article.owner,
            "summary": article.summary}


def _library_versions() -> dict[str, str]:
    versions = {}
    for name in ("faiss-cpu", "sentence-transformers", "numpy"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return versions
