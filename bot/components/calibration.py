"""Confidence calibration: a softmax temperature fitted on out-of-fold predictions.

A logistic regression trained to convergence on a few hundred examples is over-confident
on new text. Fitting one temperature on cross-validated logits (minimising the negative
log-likelihood) makes "0.8 confident" right about 80% of the time, which is what the
per-moment thresholds assume.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, numerically stable."""
    shifted = logits - np.max(logits, axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / np.sum(exp, axis=-1, keepdims=True)


def linear_scores(classifier: Any, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(classes, d) weights and (classes,) biases of a fitted sklearn LogisticRegression.

    Classes the model never saw get a bias of -1e4 (probability ~0). A binary model's single
    decision function d becomes the pair (-d/2, d/2), whose softmax is its sigmoid.
    """
    coef = np.asarray(classifier.coef_, dtype=np.float64)
    intercept = np.asarray(classifier.intercept_, dtype=np.float64)
    if len(classifier.classes_) == 2:
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    weights = np.zeros((classes, coef.shape[1]), dtype=np.float32)
    bias = np.full(classes, -1e4, dtype=np.float32)
    weights[classifier.classes_] = coef
    bias[classifier.classes_] = intercept
    return weights, bias


def out_of_fold_logits(x: np.ndarray, y: np.ndarray, c: float, folds: int = 5,
                       seed: int = 0, always: np.ndarray | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Logits of each row from a model that did not see it.

    Args:
        x: (n, d) features.
        y: (n,) int classes; every class needs at least two rows outside ``always``.
        c: inverse L2 regularisation of the logistic regression.
        folds: at most this many stratified folds (fewer if a class is smaller).
        seed: of the fold assignment.
        always: (n,) bool, rows that every fold trains on and none holds out (a class's
            only example: held out, its class would have none); their logits stay 0.

    Returns:
        (n, classes) float64 logits and (n,) int fold of each row (-1 for ``always``).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    classes = int(y.max()) + 1
    always = np.zeros(len(y), dtype=bool) if always is None else np.asarray(always, dtype=bool)
    spare, kept = np.flatnonzero(~always), np.flatnonzero(always)
    counts = np.bincount(y[spare])
    folds = max(2, min(folds, int(counts[counts > 0].min())))
    logits = np.zeros((len(y), classes), dtype=np.float64)
    fold = np.full(len(y), -1, dtype=np.int64)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for number, (train, held_out) in enumerate(splitter.split(x[spare], y[spare])):
        rows, held = np.concatenate([spare[train], kept]), spare[held_out]
        model = LogisticRegression(C=c, max_iter=2000).fit(x[rows], y[rows])
        weights, bias = linear_scores(model, classes)
        logits[held] = x[held] @ weights.T + bias
        fold[held] = number
    return logits, fold


def temperature_for(logits: np.ndarray, y: np.ndarray) -> float:
    """Grid then golden-section search of the NLL over log-temperature."""
    def nll(log_t: float) -> float:
        p = softmax(logits / np.exp(log_t))
        return float(-np.mean(np.log(p[np.arange(len(y)), y] + 1e-12)))

    grid = np.linspace(-3.0, 3.0, 61)
    best = float(grid[int(np.argmin([nll(t) for t in grid]))])
    low, high = best - 0.1, best + 0.1
    ratio = (np.sqrt(5) - 1) / 2
    for _ in range(30):
        a, b = high - ratio * (high - low), low + ratio * (high - low)
        low, high = (low, b) if nll(a) < nll(b) else (a, high)
    return float(np.exp((low + high) / 2))


def temperature_matching(logits: np.ndarray, accuracy: float) -> float:
    """The temperature at which the mean top softmax probability of ``logits`` is
    ``accuracy`` (bisection over log-temperature in [-3, 3], as :func:`temperature_for`
    searches; the mean falls as the temperature rises)."""
    low, high = -3.0, 3.0
    for _ in range(40):
        middle = (low + high) / 2
        if softmax(logits / np.exp(middle)).max(axis=1).mean() > accuracy:
            low = middle
        else:
            high = middle
    return float(np.exp((low + high) / 2))


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray,
                               bins: int = 15) -> float:
    """ECE: the gap between confidence and accuracy, weighted over equal-width bins."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    error = 0.0
    for low, high in itertools.pairwise(edges):
        mask = (confidence > low) & (confidence <= high)
        if mask.any():
            error += mask.mean() * abs(float(correct[mask].mean()) - float(confidence[mask].mean()))
    return float(error)
