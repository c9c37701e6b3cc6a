"""The NLU benchmark's scoring (rejection, threshold choice) and its Rasa server start."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.nlu.metrics import (
    NO_VALIDATION_THRESHOLD,
    Predictions,
    at_threshold,
    choose_threshold,
    threshold_and_rule,
)
from bench.nlu.rasa_runner import _wait_ready

OOS = "out_of_scope"


def predictions(rows: list[tuple[str, str, float]]) -> Predictions:
    """(truth, predicted intent, confidence) rows."""
    return Predictions(truth=[r[0] for r in rows], intent=[r[1] for r in rows],
                       confidence=np.array([r[2] for r in rows]),
                       raw_confidence=np.full(len(rows), np.nan))


def test_low_confidence_and_predicted_out_of_scope_are_rejected() -> None:
    p = predictions([("a", "a", 0.9), ("a", "a", 0.4), ("b", "a", 0.8),
                     (OOS, OOS, 0.9), (OOS, "a", 0.3)])
    point = at_threshold(p, OOS, 0.5)
    assert point["in_scope_accuracy"] == 1 / 3  # the 0.4 one is rejected, the 0.8 one wrong
    assert point["out_of_scope_recall"] == 1.0
    assert point["accuracy"] == 3 / 5  # two in-scope answered wrong or not at all


@pytest.mark.parametrize("rows", [[], [(OOS, "a", 0.4), (OOS, OOS, 0.9)]])
def test_without_in_scope_validation_messages_the_threshold_is_one_half(rows) -> None:
    """Four examples a moment leave a 10% validation cut empty; that run used to crash after
    training and parsing everything."""
    threshold, rule = threshold_and_rule(predictions(rows), OOS, in_scope_target=0.95)
    assert threshold == NO_VALIDATION_THRESHOLD == 0.5
    assert "no in-scope validation message" in rule
    empty = at_threshold(predictions([]), OOS, threshold)
    assert empty == {"threshold": 0.5, "in_scope_accuracy": 0.0, "out_of_scope_recall": 0.0,
                     "accuracy": 0.0}


def test_threshold_is_the_highest_that_keeps_the_in_scope_target() -> None:
    rows = [("a", "a", 0.95)] * 18 + [("a", "a", 0.6), ("a", "b", 0.5), (OOS, "a", 0.55)]
    threshold = choose_threshold(predictions(rows), OOS, in_scope_target=0.92)
    assert threshold == 0.6  # 19 of 20 right; rejecting the 0.6 one would leave 18


def test_unreachable_target_still_turns_out_of_scope_messages_away() -> None:
    # few examples a moment: 70% right even when everything is accepted, target 95%;
    # the out-of-scope messages are less confident than the right answers
    rows = ([("a", "a", 0.9)] * 7 + [("a", "b", 0.4)] * 3
            + [(OOS, "a", 0.3)] * 4 + [(OOS, OOS, 0.8)])
    threshold = choose_threshold(predictions(rows), OOS, in_scope_target=0.95)
    point = at_threshold(predictions(rows), OOS, threshold)
    assert (point["in_scope_accuracy"], point["out_of_scope_recall"]) == (0.7, 1.0)
    assert threshold == 0.9  # the highest with that balance: wrong answers turned away too


@pytest.mark.parametrize(("rows", "said"), [
    # 41 of 50 right with no threshold (82%): the target is out of reach
    ([("a", "a", 0.9)] * 40 + [("a", "a", 0.5)] + [("a", "b", 0.4)] * 9,
     "the in-scope target is out of reach"),
    # many confusable moments and few examples: most answers accepted at 0.2 are wrong, and
    # every out-of-scope message would get one
    ([("a", "a", 0.9)] * 30 + [("a", "a", 0.45)] * 10 + [("a", "a", 0.2)] * 16
     + [("a", "b", 0.45)] * 14 + [("a", "b", 0.2)] * 30, "the in-scope target is out of reach"),
    # a split cut from the training data meets the target easily, here at any threshold up
    # to 0.9, turning away right answers it cannot weigh against any out-of-scope message
    ([("a", "a", 0.95)] * 99 + [("a", "b", 0.6)], "the in-scope target would take 0.95"),
    ([("a", "a", 0.9)] * 90 + [("a", "a", 0.3)] * 9 + [("a", "b", 0.2)],
     "the in-scope target would take 0.30"),
])
def test_without_out_of_scope_validation_messages_the_threshold_is_one_half(
        rows: list[tuple[str, str, float]], said: str) -> None:
    """The confidence is P(right), the out-of-scope share expected counted in: 0.5 answers
    where right is the likelier, whatever in-scope messages alone would choose."""
    threshold, rule = threshold_and_rule(predictions(rows), OOS, in_scope_target=0.95)
    assert threshold == NO_VALIDATION_THRESHOLD == 0.5
    assert said in rule


def test_out_of_scope_validation_messages_bring_back_the_targets_rule() -> None:
    rows = [("a", "a", 0.9)] * 90 + [("a", "a", 0.3)] * 9 + [("a", "b", 0.2)]
    with_out_of_scope = [*rows, (OOS, "a", 0.25)]
    assert choose_threshold(predictions(with_out_of_scope), OOS, in_scope_target=0.95) == 0.3


def test_a_server_that_cannot_load_its_model_fails_at_once(tmp_path: Path) -> None:
    class Running:
        returncode = None

        def poll(self) -> None:
            return None

    log = tmp_path / "serve.log"
    log.write_text("ERROR    rasa.core.agent  - Could not load model due to Please confirm "
                   "that bot/spacy/en_blank is an available spaCy model.\n")
    with pytest.raises(RuntimeError, match="could not load the model: due to Please confirm"):
        _wait_ready(1, Running(), timeout=60, log=log)  # type: ignore[arg-type]
