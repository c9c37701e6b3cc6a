"""Choosing the catalogue's per-moment thresholds on validation data (``mot thresholds``).

The classifier's confidence is the calibrated probability that its top moment is right
(ADR 0007), so a moment's threshold is a policy: how sure must we be before answering with
an article? The policy is a precision target per severity (a wrong answer to a critical
moment costs more than one to a low one); this module measures, on messages the classifier
did not train on, the lowest threshold that meets each target, and writes it to every moment
of that severity in ``bot/moments.yml``.

Validation messages:

- in scope: every catalogue example, predicted by a model trained on the other folds
  (stratified 5-fold, the shipped recipe with config.yml's options: spelling correction,
  the encoder fine-tuned or frozen as it chooses, calibration inside each fold);
- out of scope: messages about nothing the company handles (by default CLINC150's public
  out-of-scope queries in ``../shared/datasets``, read from there), predicted by the model
  trained on all examples. A moment predicted for one of them counts as a wrong answer,
  weighed so that out-of-scope messages are ``OUT_OF_SCOPE_SHARE`` of all (live traffic
  has many more than the validation set).

Severities are pooled (a moment has ~26 examples, too few to set its own threshold); the
report lists each moment's precision at its threshold so that weak moments stand out.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.catalogue import Catalogue
from bot.components.confidence import OUT_OF_SCOPE_SHARE

#: Required share of right answers among the answers given, per severity.
PRECISION_TARGETS = {"low": 0.85, "medium": 0.90, "high": 0.93, "critical": 0.96}
#: Thresholds are written to two decimals, never below this (a floor for tiny pools).
MINIMUM_THRESHOLD = 0.30
#: Out-of-scope messages are weighed so that together they are OUT_OF_SCOPE_SHARE of all
#: messages when weighing precision: more than a validation set's 200 in 1,350.
DEFAULT_OUT_OF_SCOPE = (Path(__file__).resolve().parents[2] / "shared" / "datasets" /
                        "clinc150" / "train_val.json")


@dataclass
class Scored:
    """Validation predictions: the true intent ('' for out of scope), top intent, confidence."""

    truth: list[str]
    predicted: list[str]
    confidence: np.ndarray

    def weights(self, out_of_scope_share: float) -> np.ndarray:
        """(n,) weights making out-of-scope messages ``out_of_scope_share`` of the total."""
        outside = np.array(self.truth) == ""
        weights = np.ones(len(self.truth))
        if outside.any() and (~outside).any() and 0 < out_of_scope_share < 1:
            weights[outside] = (out_of_scope_share / (1 - out_of_scope_share)
                                * (~outside).sum() / outside.sum())
        return weights


def read_out_of_scope(path: Path) -> list[str]:
    """Out-of-scope texts: CLINC150-style JSON (every ``oos`` item), else one text a line."""
    if path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        return [str(text) for part in data.values() if isinstance(part, list)
                for text, intent in part if intent == "oos"]
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def choose(scored: Scored, moments: Sequence[str], target: float,
           floor: float = MINIMUM_THRESHOLD,
           out_of_scope_share: float = OUT_OF_SCOPE_SHARE) -> tuple[float, dict]:
    """Lowest threshold (at least ``floor``) at which answers for ``moments`` are right at
    least ``target`` often, out-of-scope messages weighed as ``out_of_scope_share`` of all.

    Returns the threshold and its figures: precision and the coverage of the in-scope
    messages of these moments (the share answered right, not handed on).
    """
    truth, predicted = np.array(scored.truth), np.array(scored.predicted)
    weight = scored.weights(out_of_scope_share)
    answered_as = np.isin(predicted, list(moments))
    own = np.isin(truth, list(moments))
    candidates = np.unique(np.round(scored.confidence[answered_as], 2))
    for threshold in [floor, *candidates[candidates > floor]]:
        answered = answered_as & (scored.confidence >= threshold)
        if not answered.any():
            break
        precision = float(np.average(truth[answered] == predicted[answered],
                                     weights=weight[answered]))
        if precision >= target:
            coverage = float(np.mean((truth == predicted)[own] & answered[own]))
            return float(threshold), {"precision": round(precision, 4),
                                      "coverage": round(coverage, 4),
                                      "answered": int(answered.sum())}
    return 1.0, {"precision": None, "coverage": 0.0, "answered": 0}


def per_moment(scored: Scored, thresholds: dict[str, float]) -> dict[str, dict]:
    """Each moment's precision and coverage at its own threshold."""
    truth, predicted = np.array(scored.truth), np.array(scored.predicted)
    report = {}
    for moment, threshold in thresholds.items():
        answered = (predicted == moment) & (scored.confidence >= threshold)
        own = truth == moment
        report[moment] = {
            "threshold": threshold, "examples": int(own.sum()),
            "precision": round(float(np.mean(truth[answered] == moment)), 4)
            if answered.any() else None,
            "coverage": round(float(np.mean(answered[own])), 4) if own.any() else None}
    return report


#: Trains the shipped classifier on (texts, intents) and returns its predictor: texts in,
#: (top intents, calibrated confidences) out.
Predictor = Callable[[list[str]], tuple[list[str], np.ndarray]]
Fit = Callable[[list[str], list[str]], Predictor]


def validation_predictions(texts: Sequence[str], intents: Sequence[str],
                           out_of_scope: Sequence[str], fit: Fit,
                           folds: int = 5, seed: int = 0) -> Scored:
    """Out-of-fold predictions of the shipped recipe, plus predictions of out-of-scope texts.

    ``fit`` trains what ``rasa train`` trains (``classifier_fit``), so a held-out fold goes
    through everything a live message does: spelling correction into the other folds' words,
    the encoder (fine-tuned on those folds, or frozen), calibration inside the fold.
    """
    from sklearn.model_selection import StratifiedKFold

    texts = list(texts)
    labels = {intent: number for number, intent in enumerate(sorted(set(intents)))}
    y = np.array([labels[i] for i in intents])
    predicted = np.empty(len(y), dtype=object)
    confidence = np.zeros(len(y))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for kept, held in splitter.split(np.zeros(len(y)), y):
        predict = fit([texts[i] for i in kept], [intents[i] for i in kept])
        predicted[held], confidence[held] = predict([texts[i] for i in held])
    truth, top = list(intents), list(predicted)
    if out_of_scope:
        outside_top, outside_confidence = fit(texts, list(intents))(list(out_of_scope))
        truth += [""] * len(out_of_scope)
        top += outside_top
        confidence = np.concatenate([confidence, outside_confidence])
    return Scored(truth, top, confidence)


def classifier_fit(options: dict[str, Any],
                   embedder_factory: Callable[[str, int | None], Any] | None = None) -> Fit:
    """``Fit`` with config.yml's MomentClassifier ``options``; each fit loads its own encoder
    (a fine-tune changes the weights in place)."""
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.components.moment_classifier import MomentClassifier

    def fit(texts: list[str], intents: list[str]) -> Predictor:
        injected = {"embedder_factory": embedder_factory} if embedder_factory else {}
        with tempfile.TemporaryDirectory(prefix="mot-thresholds-") as storage:
            classifier = MomentClassifier.create(
                {**MomentClassifier.get_default_config(), **options},
                LocalModelStorage(Path(storage)), Resource("thresholds"),
                ExecutionContext(GraphSchema({}), "thresholds"), **injected)
            classifier.train(TrainingData(training_examples=[
                Message(data={TEXT: t, INTENT: i}) for t, i in zip(texts, intents,
                                                                    strict=True)]))

        def predict(batch: list[str]) -> tuple[list[str], np.ndarray]:
            messages = [Message(data={TEXT: t}) for t in batch]
            classifier.process(messages)
            return ([str(m.get(INTENT)[INTENT_NAME_KEY]) for m in messages],
                    np.array([float(m.get(INTENT)[PREDICTED_CONFIDENCE_KEY])
                              for m in messages]))

        return predict

    return fit


def choose_all(scored: Scored, catalogue: Catalogue,
               targets: dict[str, float] = PRECISION_TARGETS) -> dict:
    """Thresholds per severity, applied to its moments, with the figures behind them.

    A more severe moment never gets a lower threshold than a less severe one: severities are
    taken in ``targets``' order and each starts from the previous one's threshold.
    """
    severities: dict[str, list[str]] = {}
    for moment in catalogue.moments:
        severities.setdefault(moment.severity, []).append(moment.id)
    chosen, figures = {}, {}
    floor = MINIMUM_THRESHOLD
    for severity in [s for s in targets if s in severities]:
        moments = severities[severity]
        threshold, figure = choose(scored, moments, targets[severity], floor)
        floor = max(floor, threshold)
        figures[severity] = {"target_precision": targets[severity], "threshold": threshold,
                             "moments": len(moments), **figure}
        chosen.update({moment: threshold for moment in moments})
    outside = np.array(scored.truth) == ""
    answered_outside = [p in chosen and c >= chosen[p] for p, c in
                        zip(np.array(scored.predicted)[outside],
                            scored.confidence[outside], strict=True)]
    return {"severities": figures, "thresholds": chosen,
            "out_of_scope_share": OUT_OF_SCOPE_SHARE,
            "out_of_scope_answered": round(float(np.mean(answered_outside)), 4)
            if answered_outside else None,
            "moments": per_moment(scored, chosen)}


def write_thresholds(path: Path, thresholds: dict[str, float]) -> bool:
    """Rewrites each moment's ``threshold:`` line in the catalogue file, keeping the rest.

    Returns whether anything changed. The file keeps its comments and layout: only the
    number after ``threshold:`` in the block of each listed moment is replaced.
    """
    text = path.read_text(encoding="utf-8")
    current: list[str | None] = [None]

    def replace(line: str) -> str:
        moment = re.match(r"\s*- id:\s*(\S+)", line)
        if moment:
            current[0] = moment.group(1)
        number = re.match(r"(\s+threshold:\s*)[0-9.]+(\s*(#.*)?)$", line)
        if number and current[0] in thresholds:
            return f"{number.group(1)}{thresholds[current[0]]:.2f}{number.group(2)}"
        return line

    updated = "\n".join(replace(line) for line in text.split("\n"))
    if updated != text:
        path.write_text(updated, encoding="utf-8")
    return updated != text
