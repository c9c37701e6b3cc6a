"""Calibration, confidence and neighbour maths, checked against brute force on small data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.components.calibration import (
    expected_calibration_error,
    linear_scores,
    out_of_fold_logits,
    softmax,
    temperature_for,
    temperature_matching,
)
from bot.components.confidence import ConfidenceModel, ScopeGate, confidence_features
from bot.components.moment_model import (
    MomentModel,
    calibrate,
    choose_knn_weight,
    class_similarities,
    combined_logits,
    energy,
    holdout_split,
    out_of_fold,
    train_frozen,
    unseen_energy,
)


def test_softmax_matches_the_definition() -> None:
    logits = np.random.default_rng(0).normal(size=(5, 4)) * 30
    expected = np.array([[np.exp(v - row.max()) / np.exp(row - row.max()).sum() for v in row]
                         for row in logits])
    assert np.allclose(softmax(logits), expected)


def test_temperature_is_recovered_from_labels_drawn_at_that_temperature() -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(4000, 6)) * 4
    probabilities = softmax(logits / 2.5)
    y = np.array([rng.choice(6, p=p) for p in probabilities])
    assert temperature_for(logits, y) == pytest.approx(2.5, rel=0.12)


def brute_force_ece(confidence: np.ndarray, correct: np.ndarray, bins: int) -> float:
    total = 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        rows = [i for i, c in enumerate(confidence) if low < c <= high]
        if rows:
            gap = abs(np.mean([correct[i] for i in rows]) - np.mean([confidence[i] for i in rows]))
            total += len(rows) / len(confidence) * gap
    return total


def test_expected_calibration_error_matches_brute_force() -> None:
    rng = np.random.default_rng(2)
    confidence = rng.uniform(size=300)
    correct = rng.uniform(size=300) < confidence ** 2
    assert expected_calibration_error(confidence, correct, bins=10) == pytest.approx(
        brute_force_ece(confidence, correct, 10))


def test_binary_logistic_regression_becomes_a_two_way_softmax() -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(60, 5)), np.repeat([0, 2], 30)  # class 1 never seen
    model = LogisticRegression().fit(x, y)
    weights, bias = linear_scores(model, classes=3)
    probabilities = softmax(x @ weights.T + bias)
    assert np.allclose(probabilities[:, [0, 2]], model.predict_proba(x), atol=1e-6)
    assert probabilities[:, 1].max() < 1e-6


def test_out_of_fold_logits_come_from_models_that_did_not_see_the_row() -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(40, 3)), np.tile([0, 1, 2, 3], 10)
    logits, fold = out_of_fold_logits(x, y, c=1.0, folds=5)
    held = fold == 0
    model = LogisticRegression(C=1.0, max_iter=2000).fit(x[~held], y[~held])
    assert np.allclose(logits[held], model.decision_function(x[held]), atol=1e-6)
    assert sorted(np.bincount(fold)) == [8] * 5


def test_class_similarities_match_brute_force_in_small_chunks() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(7, 4))
    bank = rng.normal(size=(11, 4))
    labels = rng.integers(0, 3, size=11)
    labels[labels == 2] = 3  # class 2 has no example
    nearest = class_similarities(x, bank, labels, classes=4, chunk=3)
    for i in range(len(x)):
        for label in range(4):
            sims = [float(x[i] @ b) for b, b_label in zip(bank, labels, strict=True)
                    if b_label == label]
            assert nearest[i, label] == pytest.approx(max(sims) if sims else -1.0, abs=1e-5)


def test_neighbour_weight_is_chosen_only_when_neighbours_help() -> None:
    rng = np.random.default_rng(8)
    y = np.tile(np.arange(4), 50)
    useless_head = rng.normal(size=(200, 4))
    telling_neighbours = np.eye(4)[y] * 0.5 + rng.normal(size=(200, 4)) * 0.05
    assert choose_knn_weight(useless_head, telling_neighbours, y) > 0
    telling_head = np.eye(4)[y] * 10 + rng.normal(size=(200, 4))
    noise = rng.normal(size=(200, 4))
    assert choose_knn_weight(telling_head, noise, y) == 0.0
    assert np.array_equal(combined_logits(telling_head, noise, 0.0), telling_head)


def test_identity_confidence_is_the_top_probability() -> None:
    probabilities = softmax(np.random.default_rng(6).normal(size=(5, 4)))
    features = confidence_features(probabilities, np.zeros(5), np.zeros(5))
    assert np.allclose(ConfidenceModel.identity().predict(features), probabilities.max(axis=1))


def test_confidence_model_learns_that_far_messages_are_wrong() -> None:
    rng = np.random.default_rng(7)
    similarity = rng.uniform(0.1, 0.9, size=400)
    correct = rng.uniform(size=400) < similarity
    probabilities = np.tile([0.7, 0.2, 0.1], (400, 1))
    model = ConfidenceModel.fit(confidence_features(probabilities, similarity, similarity),
                                correct)
    near, far = (confidence_features(probabilities[:1], np.array([s]), np.array([s]))
                 for s in (0.85, 0.15))
    assert model.predict(near)[0] > 0.7 > 0.3 > model.predict(far)[0]
    restored = ConfidenceModel.from_array(model.to_array())
    assert np.allclose(restored.predict(near), model.predict(near))


def test_holdout_split_is_stratified_and_spares_small_classes() -> None:
    y = np.array([0] * 20 + [1] * 10 + [2] * 3)
    kept, held = holdout_split(y, 0.1, seed=0)
    assert sorted(np.concatenate([kept, held]).tolist()) == list(range(len(y)))
    assert np.bincount(y[held], minlength=3).tolist() == [2, 1, 0]


def test_held_out_predictions_without_a_mistake_expect_the_rule_of_succession() -> None:
    rng = np.random.default_rng(0)
    y = np.arange(30) % 3
    head = rng.normal(size=(30, 3))
    head[np.arange(30), y] += 3.0  # every held-out prediction right
    model = MomentModel(["a", "b", "c"], np.zeros((3, 4), dtype=np.float32),
                        np.zeros(3, dtype=np.float32), np.zeros((0, 4), dtype=np.float32),
                        np.zeros(0, dtype=np.int64))
    calibrated = calibrate(model, head, y, np.zeros((30, 3)), choose_weight=False)
    # 30 right of 30: the next is right with probability 31/32, so the mean top probability
    # is that (a temperature fitted by NLL would shrink towards certainty)
    top = softmax(head / calibrated.temperature).max(axis=1)
    assert top.mean() == pytest.approx(31 / 32, abs=1e-4)
    assert (calibrated.confidence.to_array() == ConfidenceModel.identity().to_array()).all()


def test_temperature_matching_gives_the_mean_top_probability_asked_for() -> None:
    logits = np.random.default_rng(2).normal(scale=3.0, size=(50, 5))
    for accuracy in (0.5, 0.8, 0.95):
        temperature = temperature_matching(logits, accuracy)
        assert softmax(logits / temperature).max(axis=1).mean() == pytest.approx(accuracy,
                                                                                 abs=1e-4)


def test_out_of_fold_predictions_cover_every_moment_even_one_missing_here() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(12, 4)).astype(np.float32)
    y = np.array([0, 1] * 6)
    held_out = out_of_fold(x, y, 1.0, classes=3)
    assert held_out is not None
    logits, neighbours, held = held_out
    assert logits.shape == neighbours.shape == (12, 3) and (logits[:, 2] <= -1e4).all()
    assert held.all()
    assert out_of_fold(x[:3], np.array([0, 1, 1]), 1.0, classes=2) is None


def test_a_moments_only_example_is_trained_in_every_fold_and_never_held_out() -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(13, 3)), np.array([0, 1, 2] * 4 + [3])
    logits, fold = out_of_fold_logits(x, y, c=1.0, folds=5, always=y == 3)
    assert fold[-1] == -1 and (fold[:-1] >= 0).all() and (logits[-1] == 0).all()
    held = fold == 0
    model = LogisticRegression(C=1.0, max_iter=2000).fit(x[~held], y[~held])  # row 12 too
    assert np.allclose(logits[held], model.decision_function(x[held]), atol=1e-6)
    held_out = out_of_fold(x.astype(np.float32), y, 1.0, classes=4)
    assert held_out is not None and held_out[2].tolist() == [True] * 12 + [False]
    assert (held_out[1][-1] == -1).all()  # no fold held it, so no neighbours were sought


def test_a_moment_with_one_example_leaves_the_others_calibrated() -> None:
    """It used to leave the whole frozen classifier uncalibrated, without a scope gate."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(7, 16))
    y = np.array([c for c in range(6) for _ in range(3)] + [6])
    x = centres[y] + 0.8 * rng.normal(size=(len(y), 16))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    model = train_frozen(x, y, [f"m{i}" for i in range(7)], 10.0, unseen_share=0.35)
    assert model.temperature != 1.0 and model.confidence.gate is not None


def test_unseen_energy_leaves_the_own_moment_out_of_the_sum() -> None:
    logits = np.array([[4.0, 1.0, 1.0], [-1e4, 2.0, 0.0]])
    assert np.allclose(energy(logits, 2.0), np.log(np.exp(np.array([[2.0, 0.5, 0.5],
                                                                    [-5e3, 1.0, 0.0]])).sum(1)))
    assert np.allclose(unseen_energy(logits, np.array([0, 1]), 2.0), [np.log(2 * np.exp(0.5)), 0.0])
    # a moment's only rival never trained (-1e4) or none at all stays finite or -inf, never nan
    assert np.isneginf(unseen_energy(np.array([[3.0]]), np.array([0]), 1.0)).all()


def test_masked_moments_teach_the_confidence_that_unlike_messages_are_out_of_scope() -> None:
    """Held-out rows score high on their own moment and mostly right; with their own moment
    masked no moment claims them, as none claims an out-of-scope message near the moments."""
    rng = np.random.default_rng(3)
    n, k = 300, 4
    y = np.arange(n) % k
    head = rng.normal(size=(n, k))
    head[np.arange(n), y] += 2.5
    neighbours = rng.uniform(0.3, 0.6, size=(n, k))
    neighbours[np.arange(n), y] = rng.uniform(0.8, 0.95, size=n)

    def model() -> MomentModel:
        return MomentModel(["a", "b", "c", "d"], np.zeros((k, 4), dtype=np.float32),
                           np.zeros(k, dtype=np.float32), np.zeros((0, 4), dtype=np.float32),
                           np.zeros(0, dtype=np.int64))

    plain = calibrate(model(), head, y, neighbours, choose_weight=False)
    aware = calibrate(model(), head, y, neighbours, choose_weight=False, unseen_share=0.35)
    assert aware.temperature == plain.temperature  # the moments' own scores are unchanged
    assert plain.confidence.gate is None and aware.confidence.gate is not None

    def confidence(fitted: MomentModel, logits: list[float], similarity: float) -> float:
        row = np.array([logits])
        features = confidence_features(softmax(row / fitted.temperature),
                                       np.array([similarity]), np.array([similarity]))
        return float(fitted.confidence.predict(features, energy(row, fitted.temperature))[0])

    # every moment scores low, one a little less so: a softmax alone is sure of it
    unlike = [0.5, -2.0, -2.0, -2.0]
    assert confidence(aware, unlike, 0.45) < 0.5 < confidence(plain, unlike, 0.45)
    # a message its moment claims keeps its confidence
    alike = [3.0, 0.0, 0.0, 0.0]
    assert confidence(aware, alike, 0.9) > 0.85 * confidence(plain, alike, 0.9)
    with pytest.raises(ValueError, match="energies"):
        aware.confidence.predict(confidence_features(softmax(np.array([alike])),
                                                     np.array([0.9]), np.array([0.9])))


def test_the_scope_gate_is_saved_with_the_model(tmp_path: Path) -> None:
    gate = ScopeGate.fit(np.linspace(2.0, 4.0, 30), np.linspace(-1.0, 2.5, 30), 0.35)
    assert gate is not None and gate.coef > 0
    assert ScopeGate.fit(np.ones(5), np.zeros(5), 0.35) is None  # too few rows to fit
    model = MomentModel(["a", "b"], np.eye(2, 4, dtype=np.float32), np.zeros(2, np.float32),
                        np.eye(2, 4, dtype=np.float32), np.array([0, 1]),
                        confidence=ConfidenceModel(np.array([1.0, 0, 0, 0]), 0.0, gate))
    model.save(tmp_path)
    loaded = MomentModel.load(tmp_path)
    assert loaded.confidence.gate == gate
    x = np.eye(2, 4, dtype=np.float32)
    assert np.allclose(loaded.predict(x).confidence, model.predict(x).confidence)


def test_a_model_whose_gate_read_similarities_asks_to_be_retrained(tmp_path: Path) -> None:
    model = MomentModel(["a", "b"], np.eye(2, 4, dtype=np.float32), np.zeros(2, np.float32),
                        np.eye(2, 4, dtype=np.float32), np.array([0, 1]))
    model.save(tmp_path)
    arrays = dict(np.load(tmp_path / "classifier.npz"))
    np.savez(tmp_path / "classifier.npz", **arrays, confidence_gate=np.array([4.0, -2.0]))
    with pytest.raises(ValueError, match="retrain"):
        MomentModel.load(tmp_path)
