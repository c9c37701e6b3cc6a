"""Confidence that a moment prediction is right, from the classifier and the neighbours.

A softmax, even temperature-scaled, only compares the known moments with each other: a
message about the weather can still be "80% parcel_late" because parcel_late is the least
unlikely. Nearest-neighbour similarity to the training examples says whether the message
looks like anything the assistant was taught. A small logistic regression over both signals,
fitted on held-out predictions (out-of-fold or a calibration split), turns them into the
probability that the top moment is right; out-of-scope messages then get low confidence and
go to the clarify-then-handoff flow rather than to a wrong solution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Feature names, in column order (also the persisted coefficient order).
FEATURES = ("logit_top", "margin", "similarity", "class_similarity")


def logit(p: np.ndarray) -> np.ndarray:
    """Log-odds, clipped away from 0 and 1."""
    p = np.clip(p, 1e-6, 1.0 - 1e-6)
    return np.log(p) - np.log1p(-p)


def confidence_features(probabilities: np.ndarray, similarity: np.ndarray,
                        class_similarity: np.ndarray) -> np.ndarray:
    """(n, 4) features of each prediction.

    Args:
        probabilities: (n, k) calibrated softmax over the moments.
        similarity: (n,) cosine to the nearest training example.
        class_similarity: (n,) cosine to the nearest training example of the top moment.
    """
    ordered = np.sort(probabilities, axis=1)
    top = ordered[:, -1]
    second = ordered[:, -2] if probabilities.shape[1] > 1 else np.zeros_like(top)
    return np.column_stack([logit(top), top - second, similarity, class_similarity])


@dataclass
class ConfidenceModel:
    """P(top moment is right | features) = sigmoid(features @ coef + intercept)."""

    coef: np.ndarray      # (4,) float64
    intercept: float

    @classmethod
    def identity(cls) -> ConfidenceModel:
        """Confidence = the calibrated top probability (used when nothing can be fitted)."""
        return cls(coef=np.array([1.0, 0.0, 0.0, 0.0]), intercept=0.0)

    @classmethod
    def fit(cls, features: np.ndarray, correct: np.ndarray, c: float = 1.0,
            sample_weight: np.ndarray | None = None) -> ConfidenceModel:
        """Fits on held-out predictions; falls back to identity if all are right (or wrong).

        Args:
            features: (n, 4) from :func:`confidence_features`.
            correct: (n,) bool, whether each held-out prediction was right.
            c: inverse L2 regularisation; four features need little.
            sample_weight: (n,) weight of each prediction (all 1 if None).
        """
        from sklearn.linear_model import LogisticRegression

        correct = np.asarray(correct, dtype=bool)
        if correct.all() or not correct.any() or len(correct) < 20:
            return cls.identity()
        model = LogisticRegression(C=c, max_iter=1000).fit(features, correct,
                                                            sample_weight=sample_weight)
        return cls(coef=model.coef_[0].astype(np.float64), intercept=float(model.intercept_[0]))

    def predict(self, features: np.ndarray) -> np.ndarray:
        """(n,) probabilities that each prediction is right."""
        z = np.asarray(features, dtype=np.float64) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0)))

    def to_array(self) -> np.ndarray:
        """(5,) coefficients then intercept, for persistence."""
        return np.append(self.coef, self.intercept)

    @classmethod
    def from_array(cls, values: np.ndarray) -> ConfidenceModel:
        values = np.asarray(values, dtype=np.float64)
        return cls(coef=values[:-1], intercept=float(values[-1]))
