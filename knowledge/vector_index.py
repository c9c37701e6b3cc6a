"""The vector index seam: inner-product search over L2-normalised vectors.

Two implementations pass one contract test suite: :class:`~knowledge.faiss_index.FaissIndex`
(the real one) and :class:`~knowledge.brute_force_index.BruteForceIndex` (the exact oracle).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class VectorIndex(Protocol):
    """Rows are numbered 0..n-1 in the order they were added."""

    @property
    def dimension(self) -> int: ...

    def __len__(self) -> int: ...

    def add(self, vectors: np.ndarray) -> None:
        """Appends (n, dimension) float32 rows."""
        ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k rows by inner product.

        Args:
            queries: (m, dimension) float32.
            k: how many rows per query; fewer come back when the index is smaller.

        Returns:
            scores (m, k') float32 descending, and row ids (m, k') int64, k' = min(k, len).
        """
        ...

    def save(self, path: Path) -> None: ...


def check_vectors(vectors: np.ndarray, dimension: int) -> np.ndarray:
    """Returns ``vectors`` as a C-contiguous (n, dimension) float32 array or raises ValueError."""
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim != 2 or array.shape[1] != dimension:
        raise ValueError(f"expected shape (n, {dimension}), got {array.shape}")
    return np.ascontiguousarray(array)
