"""Exact search with numpy: the oracle the FAISS index is checked against."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from knowledge.vector_index import check_vectors


class BruteForceIndex:
    """Scores every row; O(n) per query, exact."""

    def __init__(self, dimension: int) -> None:
        self._dimension = dimension
        self._rows = np.zeros((0, dimension), dtype=np.float32)

    @property
    def dimension(self) -> int:
        return self._dimension

    def __len__(self) -> int:
        return int(self._rows.shape[0])

    def add(self, vectors: np.ndarray) -> None:
        self._rows = np.vstack([self._rows, check_vectors(vectors, self._dimension)])

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = check_vectors(queries, self._dimension)
        k = min(k, len(self))
        if k == 0:
            empty = np.zeros((queries.shape[0], 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        scores = queries @ self._rows.T
        # Stable sort on the negated scores: ties keep insertion order (FaissIndex does the same).
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(scores, order, axis=1), order.astype(np.int64)

    def save(self, path: Path) -> None:
        np.save(path, self._rows)

    @classmethod
    def load(cls, path: Path) -> BruteForceIndex:
        rows = np.load(path)
        index = cls(int(rows.shape[1]))
        index.add(rows)
        return index
