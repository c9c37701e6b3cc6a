"""The numeric core of the moment classifier: linear scores, temperature, neighbours, confidence.

Kept apart from the Rasa component so that it can be trained, tested against brute force
and benchmarked on plain arrays. A moment's score is the linear head's logit plus
``knn_weight`` times the cosine to the moment's nearest training example: the head
generalises, the neighbour remembers rare phrasings the head smoothed over, and the weight
between them is chosen on held-out predictions (0 when neighbours do not help). Two ways to
fit it:

- :func:`train_frozen`: a logistic regression over frozen embeddings, calibrated on
  out-of-fold predictions (cheap: the shipped catalogue trains in seconds);
- :func:`calibrate`: for a fine-tuned encoder, whose head is given, calibrated on a held-out
  split or on out-of-fold fine-tunes (a fine-tuned encoder has seen its training rows, so
  they cannot calibrate it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.special import logsumexp

from bot.components.calibration import (
    linear_scores,
    out_of_fold_logits,
    softmax,
    temperature_for,
    temperature_matching,
)
from bot.components.confidence import ConfidenceModel, ScopeGate, confidence_features

#: Where classifier.npz keeps the scope gate (fitted on energies), and where models trained
#: before 2026-11-28 kept theirs (fitted on similarities, which this code no longer reads).
SCOPE_GATE_KEY, OLD_SCOPE_GATE_KEY = "scope_gate", "confidence_gate"

#: Intents that name out-of-scope messages (Rasa's, the benchmark data's): no moment.
OUT_OF_SCOPE_INTENTS = ("out_of_scope", "oos", "out-of-scope", "nlu_fallback")


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
    knn_weight: float = 0.0     # logit units per unit of nearest-example cosine

    def __post_init__(self) -> None:
        # Grouped by moment once, so that each parse reads the bank in place (a per-call
        # sort copied all of BANKING77's bank, ~3 ms of a 30 ms parse).
        order = np.argsort(self.bank_labels, kind="stable")
        self.bank, self.bank_labels = self.bank[order], self.bank_labels[order]

    def head_logits(self, x: np.ndarray) -> np.ndarray:
        """(m, k) scores of the linear head alone."""
        return x @ self.weights.T + self.bias

    def neighbours(self, x: np.ndarray) -> np.ndarray:
        """(m, k) cosine of each row to each moment's nearest training example."""
        return class_similarities(x, self.bank, self.bank_labels, len(self.labels))

    def logits(self, x: np.ndarray) -> np.ndarray:
        """(m, k) uncalibrated scores of (m, d) embeddings: head plus neighbours."""
        return combined_logits(self.head_logits(x), self.neighbours(x), self.knn_weight)

    def predict(self, x: np.ndarray) -> Prediction:
        """Calibrated prediction for (m, d) float32 L2-normalised embeddings."""
        neighbours = self.neighbours(x)
        logits = combined_logits(self.head_logits(x), neighbours, self.knn_weight)
        probabilities = softmax(logits / self.temperature)
        top = np.argmax(probabilities, axis=1)
        similarity, class_similarity = neighbours.max(axis=1), neighbours[np.arange(len(top)), top]
        features = confidence_features(probabilities, similarity, class_similarity)
        confidence = self.confidence.predict(features, energy(logits, self.temperature))
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
                 confidence=self.confidence.to_array(), knn_weight=np.array(self.knn_weight),
                 **({SCOPE_GATE_KEY: self.confidence.gate.to_array()}
                    if self.confidence.gate is not None else {}))

    @classmethod
    def load(cls, directory: Path) -> MomentModel:
        data = np.load(directory / "classifier.npz")
        if OLD_SCOPE_GATE_KEY in data:
            raise ValueError(f"{directory}: this model's scope gate reads the nearest-example "
                             "similarity, as classifiers trained before 2026-11-28 did; "
                             "retrain it (`mot train`, or `rasa train`)")
        confidence = ConfidenceModel.from_array(data["confidence"])
        if SCOPE_GATE_KEY in data:
            confidence.gate = ScopeGate.from_array(data[SCOPE_GATE_KEY])
        return cls(labels=[str(label) for label in data["labels"]],
                   weights=data["weights"].astype(np.float32),
                   bias=data["bias"].astype(np.float32),
                   bank=data["bank"].astype(np.float32),
                   bank_labels=data["bank_labels"].astype(np.int64),
                   temperature=float(data["temperature"]),
                   confidence=confidence,
                 knn_weight=float(data["knn_weight"]) if "knn_weight" in data else 0.0)


def class_similarities(x: np.ndarray, bank: np.ndarray, bank_labels: np.ndarray,
                       classes: int, chunk: int = 1024) -> np.ndarray:
    """Cosine of each row to the nearest bank row of every class.

    Args:
        x: (m, d) L2-normalised queries.
        bank: (n, d) L2-normalised examples.
        bank_labels: (n,) class of each example, in [0, classes).
        classes: number of classes.
        chunk: queries per block, to bound memory at chunk * n floats.

    Returns:
        (m, classes) float32 maxima; -1 where a class has no example.
    """
    result = np.full((len(x), classes), -1.0, dtype=np.float32)
    if len(bank) == 0 or len(x) == 0:
        return result
    if np.any(bank_labels[1:] < bank_labels[:-1]):
        order = np.argsort(bank_labels, kind="stable")
        bank, bank_labels = bank[order], bank_labels[order]
    present, starts = np.unique(bank_labels, return_index=True)
    for start in range(0, len(x), chunk):
        block = x[start:start + chunk] @ bank.T
        result[start:start + chunk, present] = np.maximum.reduceat(block, starts, axis=1)
    return result


def combined_logits(head: np.ndarray, neighbours: np.ndarray, weight: float) -> np.ndarray:
    """Head logits plus ``weight`` times the per-class nearest-example cosines."""
    return head + weight * neighbours if weight else head


#: Neighbour weights tried on held-out predictions, in logit units per unit of cosine.
KNN_WEIGHTS = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)


def choose_knn_weight(head: np.ndarray, neighbours: np.ndarray, y: np.ndarray,
                      weights: tuple[float, ...] = KNN_WEIGHTS, minimum: int = 20) -> float:
    """The smallest neighbour weight whose held-out accuracy is within one example of the best.

    Preferring the smallest keeps the plain head unless neighbours win by more than noise;
    with fewer than ``minimum`` held-out rows nothing can be told, and the weight stays 0.
    """
    if len(y) < minimum:
        return 0.0
    accuracy = [float(np.mean(combined_logits(head, neighbours, w).argmax(axis=1) == y))
                for w in weights]
    best = max(accuracy)
    return min(w for w, a in zip(weights, accuracy, strict=True) if a >= best - 1.0 / len(y))


def energy(logits: np.ndarray, temperature: float) -> np.ndarray:
    """(m,) log-sum-exp of each row's temperature-scaled logits: how strongly any moment
    claims the message (the scope gate's input, confidence.ScopeGate)."""
    return np.asarray(logsumexp(np.asarray(logits, dtype=np.float64) / temperature, axis=-1))


def unseen_energy(logits: np.ndarray, y: np.ndarray, temperature: float) -> np.ndarray:
    """(h,) energy of each held-out row with its own moment's logit left out: its energy had
    its moment never been trained. Such rows stand in for out-of-scope messages near the
    moments when no out-of-scope example was trained."""
    masked = np.array(logits, dtype=np.float64)
    masked[np.arange(len(y)), y] = -np.inf
    return energy(masked, temperature)


def calibrate(model: MomentModel, head: np.ndarray, y: np.ndarray,
              neighbours: np.ndarray, choose_weight: bool = True,
              unseen_share: float = 0.0) -> MomentModel:
    """Chooses the neighbour weight, then fits the temperature and the confidence model, all
    on held-out predictions.

    Args:
        model: the classifier to calibrate (modified and returned).
        head: (h, k) held-out scores of the linear head.
        y: (h,) true classes.
        neighbours: (h, k) per-class nearest-example cosines (to examples that exclude each
            row: another fold, or the training rows of a held-out split).
        choose_weight: choose ``knn_weight`` here (else keep the model's).
        unseen_share: above 0, the share of out-of-scope messages expected: the confidence
            gets a :class:`~bot.components.confidence.ScopeGate` fitted on the held-out rows'
            energies against the same rows' with their own moment masked
            (:func:`unseen_energy`).
    """
    if len(y) < 2:
        return model
    if choose_weight:
        model.knn_weight = choose_knn_weight(head, neighbours, y)
    logits = combined_logits(head, neighbours, model.knn_weight)
    if (logits.argmax(axis=1) == y).all():
        # Not one mistake to learn from: the NLL only falls as the temperature shrinks, so a
        # fitted one would sharpen every answer to certainty; the softmax as it is, with a
        # small bot's few moments and its cosine scale, was far below the share right (a
        # confidence of 0.77 for answers right 94% of the time). So the temperature makes
        # the held-out predictions' mean top probability what n right of n promise of the
        # next answer: (n + 1) / (n + 2), Laplace's rule of succession.
        model.temperature = temperature_matching(logits, (len(y) + 1) / (len(y) + 2))
        model.confidence = ConfidenceModel.identity()
    else:
        model.temperature = temperature_for(logits, y)
        probabilities = softmax(logits / model.temperature)
        top = probabilities.argmax(axis=1)
        features = confidence_features(probabilities, neighbours.max(axis=1),
                                       neighbours[np.arange(len(y)), top])
        model.confidence = ConfidenceModel.fit(features, top == y)
    if unseen_share > 0 and head.shape[1] > 1:
        model.confidence.gate = ScopeGate.fit(energy(logits, model.temperature),
                                              unseen_energy(logits, y, model.temperature),
                                              unseen_share)
    return model


def train_frozen(x: np.ndarray, y: np.ndarray, labels: list[str], c: float,
                 calibrated: bool = True, folds: int = 5, knn: bool = True,
                 unseen_share: float = 0.0) -> MomentModel:
    """Logistic regression over frozen embeddings, calibrated out of fold.

    Args:
        x: (n, d) float32 L2-normalised embeddings.
        y: (n,) int classes in [0, len(labels)).
        labels: moment names.
        c: inverse L2 regularisation.
        calibrated: fit the temperature and the confidence model (5-fold out-of-fold).
        folds: cross-validation folds for calibration.
        knn: choose a neighbour weight on the out-of-fold predictions (else 0).
        unseen_share: see :func:`calibrate`.
    """
    from sklearn.linear_model import LogisticRegression

    classifier = LogisticRegression(C=c, max_iter=2000).fit(x, y)
    weights, bias = linear_scores(classifier, len(labels))
    model = MomentModel(labels, weights, bias, x.astype(np.float32), y.astype(np.int64))
    held_out = out_of_fold(x, y, c, len(labels), folds) if calibrated else None
    if held_out is None:
        return model
    logits, neighbours, held = held_out
    return calibrate(model, logits[held], y[held], neighbours[held], choose_weight=knn,
                     unseen_share=unseen_share)


def out_of_fold(x: np.ndarray, y: np.ndarray, c: float, classes: int,
                folds: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(n, classes) head logits and per-class nearest-example cosines of each row, both from
    the folds that did not hold it, and (n,) whether each row was held out at all: a
    moment's only example is not (its moment would have none left), but every fold trains
    on it. None when fewer than two moments have two examples."""
    counts = np.bincount(y, minlength=classes)
    single = counts[y] < 2
    if len(np.unique(y[~single])) < 2:
        return None
    logits, fold = out_of_fold_logits(x, y, c, folds=folds, always=single)
    padded = np.full((len(y), classes), -1e4, dtype=np.float64)
    padded[:, :logits.shape[1]] = logits
    return padded, out_of_fold_neighbours(x, y, fold, classes), ~single


def out_of_fold_neighbours(x: np.ndarray, y: np.ndarray, fold: np.ndarray,
                           classes: int) -> np.ndarray:
    """(n, classes) per-class nearest-example cosines of each row to rows outside its fold
    (fold -1: rows never held out, left at -1)."""
    neighbours = np.full((len(x), classes), -1.0, dtype=np.float32)
    for f in np.unique(fold[fold >= 0]):
        held, kept = fold == f, fold != f
        neighbours[held] = class_similarities(x[held], x[kept], y[kept], classes)
    return neighbours


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
