"""The numeric core of the moment classifier: linear scores, temperature, neighbours, confidence.

Kept apart from the Rasa component so that it can be trained, tested against brute force
and benchmarked on plain arrays. Two ways to fit it:

- :func:`train_frozen`: a logistic regression over frozen embeddings, calibrated on
  out-of-fold predictions (cheap: the shipped catalogue trains in seconds);
- :func:`calibrate`: for a fine-tuned encoder, whose head is given, calibrated on a held-out
  split (a fine-tuned encoder has seen its training rows, so they cannot calibrate it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bot.components.calibration import (
    linear_scores,
    out_of_fold_logits,
    softmax,
    temperature_for,
)
from bot.components.confidence import ConfidenceModel, confidence_features


@dataclass
class Prediction:
    """Scores of m messages over k moments."""

    probabilities: np.ndarray   # (m, k) calibrated softmax, scaled so that top = confidence
    confidence: np.ndarray      # (m,) P(top moment is right)
    raw_confidence: np.ndarray  # (m,) top softmax probability before any calibration
    similarity: np.ndarray      # (m,) cosine to the nearest training example


@dataclass
class MomentModel:
    """A linear classifier over L2-normalised embeddings, with calibrated confidence."""

    labels: list[str]
    weights: np.ndarray         # (k, d) float32
    bias: np.ndarray            # (k,) float32
    bank: np.ndarray            # (n, d) float32 training embeddings, L2-normalised
    bank_labels: np.ndarray     # (n,) int
    temperature: float = 1.0
    confidence: ConfidenceModel = field(default_factory=ConfidenceModel.identity)

    def logits(self, x: np.ndarray) -> np.ndarray:
        """(m, k) uncalibrated scores of (m, d) embeddings."""
        return x @ self.weights.T + self.bias

    def predict(self, x: np.ndarray) -> Prediction:
        """Calibrated prediction for (m, d) float32 L2-normalised embeddings."""
        logits = self.logits(x)
        probabilities = softmax(logits / self.temperature)
        top = np.argmax(probabilities, axis=1)
        similarity, class_similarity = nearest_similarities(x, self.bank, self.bank_labels, top)
        features = confidence_features(probabilities, similarity, class_similarity)
        confidence = self.confidence.predict(features)
        top_probability = probabilities[np.arange(len(top)), top]
        # Scaling the whole row keeps the ranking and makes the top entry the confidence; the
        # missing mass is "none of these moments".
        scaled = probabilities * (confidence / np.maximum(top_probability, 1e-12))[:, None]
        raw = softmax(logits).max(axis=1)
        return Prediction(scaled, confidence, raw, similarity)

    def save(self, directory: Path) -> None:
        np.savez(directory / "classifier.npz", labels=np.array(self.labels),
                 weights=self.weights, bias=self.bias, temperature=np.array(self.temperature),
                 bank=self.bank.astype(np.float16), bank_labels=self.bank_labels.astype(np.int32),
                 confidence=self.confidence.to_array())

    @classmethod
    def load(cls, directory: Path) -> MomentModel:
        data = np.load(directory / "classifier.npz")
        return cls(labels=[str(label) for label in data["labels"]],
                   weights=data["weights"].astype(np.float32),
                   bias=data["bias"].astype(np.float32),
                   bank=data["bank"].astype(np.float32),
                   bank_labels=data["bank_labels"].astype(np.int64),
                   temperature=float(data["temperature"]),
                   confidence=ConfidenceModel.from_array(data["confidence"]))


def nearest_similarities(x: np.ndarray, bank: np.ndarray, bank_labels: np.ndarray,
                         top: np.ndarray, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Cosine of each row to its nearest bank row, overall and within its top class.

    Args:
        x: (m, d) L2-normalised queries.
        bank: (n, d) L2-normalised examples.
        bank_labels: (n,) class of each example.
        top: (m,) predicted class of each query.
        chunk: queries per block, to bound memory at chunk * n floats.

    Returns:
        (m,) overall and (m,) within-class maxima; -1 where the class has no example.
    """
    overall = np.full(len(x), -1.0, dtype=np.float32)
    within = np.full(len(x), -1.0, dtype=np.float32)
    if len(bank) == 0:
        return overall, within
    for start in range(0, len(x), chunk):
        block = x[start:start + chunk] @ bank.T
        overall[start:start + chunk] = block.max(axis=1)
        same = bank_labels[None, :] == top[start:start + chunk, None]
        within[start:start + chunk] = np.where(same, block, -1.0).max(axis=1)
    return overall, within


def calibrate(model: MomentModel, logits: np.ndarray, y: np.ndarray, similarity: np.ndarray,
              class_similarity: np.ndarray) -> MomentModel:
    """Fits the temperature, then the confidence model, on held-out predictions.

    Args:
        model: the classifier to calibrate (modified and returned).
        logits: (h, k) held-out uncalibrated scores.
        y: (h,) true classes.
        similarity: (h,) nearest-example cosines (to examples that exclude each row).
        class_similarity: (h,) the same within each row's predicted class.
    """
    if len(y) < 2:
        return model
    model.temperature = temperature_for(logits, y)
    probabilities = softmax(logits / model.temperature)
    correct = probabilities.argmax(axis=1) == y
    features = confidence_features(probabilities, similarity, class_similarity)
    model.confidence = ConfidenceModel.fit(features, correct)
    return model


def train_frozen(x: np.ndarray, y: np.ndarray, labels: list[str], c: float,
                 calibrated: bool = True, folds: int = 5) -> MomentModel:
    """Logistic regression over frozen embeddings, calibrated out of fold.

    Args:
        x: (n, d) float32 L2-normalised embeddings.
        y: (n,) int classes in [0, len(labels)).
        labels: moment names.
        c: inverse L2 regularisation.
        calibrated: fit the temperature and the confidence model (5-fold out-of-fold).
        folds: cross-validation folds for calibration.
    """
    from sklearn.linear_model import LogisticRegression

    classifier = LogisticRegression(C=c, max_iter=2000).fit(x, y)
    weights, bias = linear_scores(classifier, len(labels))
    model = MomentModel(labels, weights, bias, x.astype(np.float32), y.astype(np.int64))
    if not calibrated or np.bincount(y)[np.bincount(y) > 0].min() < 2:
        return model
    logits, fold = out_of_fold_logits(x, y, c, folds=folds)
    similarity, class_similarity = out_of_fold_similarities(x, y, fold, logits.argmax(axis=1))
    return calibrate(model, logits, y, similarity, class_similarity)


def out_of_fold_similarities(x: np.ndarray, y: np.ndarray, fold: np.ndarray,
                             top: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-example cosines of each row to the rows outside its own fold."""
    similarity = np.full(len(x), -1.0, dtype=np.float32)
    class_similarity = np.full(len(x), -1.0, dtype=np.float32)
    for f in np.unique(fold):
        held, kept = fold == f, fold != f
        similarity[held], class_similarity[held] = nearest_similarities(
            x[held], x[kept], y[kept], top[held])
    return similarity, class_similarity


def holdout_split(y: np.ndarray, fraction: float, seed: int = 0,
                  minimum: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Stratified (kept, held-out) row indices; classes under ``minimum`` rows are all kept.

    Each class with enough rows gives round(fraction * count) rows, at least one, so that a
    calibration split covers every moment that can spare an example.
    """
    rng = np.random.default_rng(seed)
    held: list[np.ndarray] = []
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)
        if len(rows) >= minimum and fraction > 0:
            take = max(1, round(fraction * len(rows)))
            held.append(rng.choice(rows, size=take, replace=False))
    held_rows = np.sort(np.concatenate(held)) if held else np.zeros(0, dtype=np.int64)
    kept = np.setdiff1d(np.arange(len(y)), held_rows)
    return kept, held_rows


def per_class_sample(y: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """Sorted row indices: at most ``per_class`` random rows of each class."""
    rng = np.random.default_rng(seed)
    rows = [rng.permutation(np.flatnonzero(y == label))[:per_class] for label in np.unique(y)]
    return np.sort(np.concatenate(rows)) if rows else np.zeros(0, dtype=np.int64)
