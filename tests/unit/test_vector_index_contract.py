"""One contract for every VectorIndex: FAISS exact, FAISS HNSW and the brute-force oracle.

Exact implementations must equal brute force (scores and rows, ties in insertion order);
HNSW must reach a recall bound against it on the same data.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from knowledge.brute_force_index import BruteForceIndex
from knowledge.faiss_index import APPROXIMATE, EXACT, FaissIndex
from knowledge.vector_index import VectorIndex

DIM = 32
Factory = Callable[[int], VectorIndex]
IMPLEMENTATIONS: dict[str, tuple[Factory, bool]] = {
    "faiss-flat": (lambda d: FaissIndex(d, EXACT), True),
    "faiss-hnsw": (lambda d: FaissIndex(d, APPROXIMATE, ef_search=128), False),
    "brute-force": (BruteForceIndex, True),
}
LOADERS = {"faiss-flat": FaissIndex.load, "faiss-hnsw": FaissIndex.load,
           "brute-force": BruteForceIndex.load}


def unit_rows(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def oracle(rows: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k by a full sort: the reference every index is held to."""
    scores = queries @ rows.T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, axis=1), order


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def implementation(request: pytest.FixtureRequest) -> tuple[str, Factory, bool]:
    factory, exact = IMPLEMENTATIONS[request.param]
    return request.param, factory, exact


def test_satisfies_the_protocol(implementation: tuple[str, Factory, bool]) -> None:
    _, factory, _ = implementation
    index = factory(DIM)
    assert isinstance(index, VectorIndex)
    assert index.dimension == DIM and len(index) == 0


def test_empty_index_returns_no_rows(implementation: tuple[str, Factory, bool]) -> None:
    _, factory, _ = implementation
    scores, rows = factory(DIM).search(unit_rows(2), 5)
    assert scores.shape == rows.shape == (2, 0)


def test_rows_are_numbered_in_insertion_order(implementation: tuple[str, Factory, bool]) -> None:
    _, factory, _ = implementation
    index = factory(DIM)
    data = unit_rows(40)
    index.add(data[:25])
    index.add(data[25:])
    assert len(index) == 40
    scores, rows = index.search(data[[3, 31]], 1)
    assert rows[:, 0].tolist() == [3, 31]
    assert np.allclose(scores[:, 0], 1.0, atol=1e-5)


def test_k_larger_than_the_index_is_clipped(implementation: tuple[str, Factory, bool]) -> None:
    _, factory, _ = implementation
    index = factory(DIM)
    index.add(unit_rows(4))
    scores, rows = index.search(unit_rows(3, seed=1), 10)
    assert scores.shape == rows.shape == (3, 4)
    assert scores.dtype == np.float32 and rows.dtype == np.int64
    assert np.all(np.diff(scores, axis=1) <= 1e-6)  # best first


def test_wrong_shapes_are_refused(implementation: tuple[str, Factory, bool]) -> None:
    _, factory, _ = implementation
    index = factory(DIM)
    with pytest.raises(ValueError, match="expected shape"):
        index.add(np.zeros((3, DIM + 1), dtype=np.float32))
    with pytest.raises(ValueError, match="expected shape"):
        index.search(np.zeros(DIM, dtype=np.float32), 1)


def test_matches_brute_force(implementation: tuple[str, Factory, bool]) -> None:
    """Exact indexes equal the oracle; HNSW finds >= 95 % of the true top-10."""
    _, factory, exact = implementation
    data, queries, k = unit_rows(3000), unit_rows(100, seed=7), 10
    index = factory(DIM)
    index.add(data)
    scores, rows = index.search(queries, k)
    true_scores, true_rows = oracle(data, queries, k)
    if exact:
        assert np.allclose(scores, true_scores, atol=1e-5)
        assert np.array_equal(rows, true_rows)
    else:
        found = sum(len(set(r) & set(t)) for r, t in zip(rows.tolist(), true_rows.tolist(),
                                                         strict=True))
        assert found / true_rows.size >= 0.95
        hit_scores = np.take_along_axis(queries @ data.T, rows, axis=1)
        assert np.allclose(scores, hit_scores, atol=1e-5)  # scores are the true ones


def test_ties_keep_insertion_order(implementation: tuple[str, Factory, bool]) -> None:
    name, factory, exact = implementation
    if not exact:
        pytest.skip(f"{name} is approximate; tie order is not part of its contract")
    index = factory(DIM)
    row = unit_rows(1)
    index.add(np.vstack([row, row, row]))
    assert index.search(row, 3)[1].tolist() == [[0, 1, 2]]


def test_saved_index_loads_back_the_same(implementation: tuple[str, Factory, bool],
                                         tmp_path: Path) -> None:
    name, factory, _ = implementation
    index = factory(DIM)
    index.add(unit_rows(200))
    path = tmp_path / "index.bin"
    index.save(path)
    saved = path if path.exists() else Path(f"{path}.npy")
    loaded = LOADERS[name](saved)
    queries = unit_rows(5, seed=3)
    assert len(loaded) == 200
    for before, after in zip(index.search(queries, 5), loaded.search(queries, 5), strict=True):
        assert np.allclose(before, after)


def test_for_size_switches_to_hnsw_above_the_threshold() -> None:
    assert FaissIndex.for_size(DIM, 1000, approximate_above=1000).kind == EXACT
    assert FaissIndex.for_size(DIM, 1001, approximate_above=1000).kind == APPROXIMATE
