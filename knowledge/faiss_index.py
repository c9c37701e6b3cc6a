"""FAISS index: exact inner product by default, HNSW above a configurable size."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from knowledge.vector_index import check_vectors

EXACT = "flat"
APPROXIMATE = "hnsw"


class FaissIndex:
    """Wraps a ``faiss.Index`` over inner product (cosine on normalised rows)."""

    def __init__(self, dimension: int, kind: str = EXACT, hnsw_m: int = 32,
                 ef_search: int = 64) -> None:
        if kind == EXACT:
            index: faiss.Index = faiss.IndexFlatIP(dimension)
        elif kind == APPROXIMATE:
            index = faiss.IndexHNSWFlat(dimension, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efSearch = ef_search
        else:
            raise ValueError(f"unknown index kind {kind!r}; use {EXACT!r} or {APPROXIMATE!r}")
        self._index = index
        self.kind = kind

    @classmethod
    def for_size(cls, dimension: int, rows: int, approximate_above: int) -> FaissIndex:
        """Exact search for small corpora; HNSW once ``rows`` exceeds ``approximate_above``."""
        return cls(dimension, APPROXIMATE if rows > approximate_above else EXACT)

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, vectors: np.ndarray) -> None:
        self._index.add(check_vectors(vectors, self.dimension))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = check_vectors(queries, self.dimension)
        k = min(k, len(self))
        if k == 0:
            empty = np.zeros((queries.shape[0], 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        scores, ids = self._index.search(queries, k)
        # FAISS's heap returns equal scores in no fixed order; break ties by row, as the
        # brute-force oracle does, so both implementations give the same answer.
        order = np.lexsort((ids, -scores), axis=-1)
        return (np.take_along_axis(scores, order, axis=1),
                np.take_along_axis(ids, order, axis=1).astype(np.int64))

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path) -> FaissIndex:
        instance = cls.__new__(cls)
        instance._index = faiss.read_index(str(path))
        instance.kind = APPROXIMATE if "HNSW" in type(instance._index).__name__ else EXACT
        return instance
