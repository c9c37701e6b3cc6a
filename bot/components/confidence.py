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
from scipy.special import expit

#: Feature names, in column order (also the persisted coefficient order).
FEATURES = ("logit_top", "margin", "similarity", "class_similarity")
#: Share of live messages assumed out of scope where it cannot be measured: real traffic to
#: a customer-service bot has many (greetings aside, questions about anything). `mot
#: thresholds` weighs its out-of-scope messages to it (bot/thresholds.py), and a classifier
#: trained without out-of-scope examples expects it in its scope gate (ADR 0007).
OUT_OF_SCOPE_SHARE = 0.35


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
class ScopeGate:
    """P(the message is about one of the moments | its energy).

    The energy is the log-sum-exp of the message's temperature-scaled logits over the
    moments (:func:`~bot.components.moment_model.energy`; Liu et al. 2020, "Energy-based
    Out-of-distribution Detection"): high when some moment scores high, low when none does,
    and unlike the top softmax probability it does not rise when every moment scores low
    but one a little less so. Fitted where no out-of-scope example was trained: held-out
    examples are the messages about a moment; the same examples with their own moment masked
    (its logit left out of the sum) stand in for out-of-scope messages near the moments,
    weighted as the share of such messages expected. It multiplies the confidence fitted on
    the held-out examples alone: P(right) = P(about a moment) * P(right | about a moment).
    """

    coef: float
    intercept: float

    @classmethod
    def fit(cls, inside: np.ndarray, outside: np.ndarray, outside_share: float,
            c: float = 1.0) -> ScopeGate | None:
        """None with fewer than 20 rows in all, or none on either side.

        Args:
            inside: (n,) energies of held-out examples.
            outside: (m,) energies of messages standing in for out-of-scope ones.
            outside_share: the weight of ``outside`` in the fit (0-1).
            c: inverse L2 regularisation.
        """
        from sklearn.linear_model import LogisticRegression

        if len(inside) + len(outside) < 20 or not len(inside) or not len(outside):
            return None
        x = np.concatenate([inside, outside]).astype(np.float64)[:, None]
        about = np.concatenate([np.ones(len(inside), dtype=bool),
                                np.zeros(len(outside), dtype=bool)])
        weight = np.concatenate([np.full(len(inside), 1.0 - outside_share),
                                 np.full(len(outside), outside_share)])
        model = LogisticRegression(C=c, max_iter=1000).fit(x, about, sample_weight=weight)
        return cls(coef=float(model.coef_[0, 0]), intercept=float(model.intercept_[0]))

    def predict(self, energy: np.ndarray) -> np.ndarray:
        """(n,) probabilities that each message is about one of the moments."""
        return expit(np.asarray(energy, dtype=np.float64) * self.coef + self.intercept)

    def to_array(self) -> np.ndarray:
        return np.array([self.coef, self.intercept])

    @classmethod
    def from_array(cls, values: np.ndarray) -> ScopeGate:
        return cls(coef=float(values[0]), intercept=float(values[1]))


@dataclass
class ConfidenceModel:
    """P(top moment is right | features) = sigmoid(features @ coef + intercept), times the
    scope gate's P(about a moment | energy) where one was fitted."""

    coef: np.ndarray      # (4,) float64
    intercept: float
    gate: ScopeGate | None = None

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

    def predict(self, features: np.ndarray, energy: np.ndarray | None = None) -> np.ndarray:
        """(n,) probabilities that each prediction is right.

        Args:
            features: (n, 4) from :func:`confidence_features`.
            energy: (n,) the messages' energies, which the scope gate needs (if there is one).
        """
        features = np.asarray(features, dtype=np.float64)
        confidence = expit(features @ self.coef + self.intercept)
        if self.gate is not None:
            if energy is None:
                raise ValueError("a confidence with a scope gate needs the messages' energies")
            confidence = confidence * self.gate.predict(energy)
        return confidence

    def to_array(self) -> np.ndarray:
        """(5,) coefficients then intercept, for persistence (the gate is kept apart)."""
        return np.append(self.coef, self.intercept)

    @classmethod
    def from_array(cls, values: np.ndarray) -> ConfidenceModel:
        values = np.asarray(values, dtype=np.float64)
        return cls(coef=values[:-1], intercept=float(values[-1]))
