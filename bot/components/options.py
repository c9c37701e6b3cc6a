"""The moment classifier's options: their defaults, and every problem of a configuration.

Light to import (no Rasa, no TensorFlow), so ``mot validate`` checks config.yml's options
in a moment, as :class:`~bot.components.moment_classifier.MomentClassifier` does when its
graph is built.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from bot.components.finetune import PRECISIONS, FineTuneSettings
from bot.components.moment_model import OUT_OF_SCOPE_INTENTS
from bot.yaml_errors import closest
from knowledge.embedder import DEFAULT_MODEL

FINE_TUNE = "fine_tune_"


def default_options() -> dict[str, Any]:
    """The classifier's options with their defaults (a fresh copy each call)."""
    return {
        "model": DEFAULT_MODEL,   # a name the embedder resolves offline, or a local path
        "threads": 0,             # torch threads while training; 0 keeps torch's default
        # torch threads while parsing: one short message gains nothing from a second
        # thread, and on a busy 2-core machine two threads wait on each other (measured:
        # 2 threads 10x slower than 1 under load; ADR 0007)
        "inference_threads": 1,
        "C": 10.0,                # inverse regularisation of the logistic regression
        "ranking_length": 10,
        # correct misspelt words into the training examples' words before encoding
        # (bot/components/spelling.py; the message itself is never changed)
        "spelling": True,
        "calibrate": True,        # temperature + confidence model on held-out predictions
        # add nearest-example cosines to the head's scores, weighted as chosen on held-out
        # predictions (moment_model.choose_knn_weight; 0 when they do not help)
        "knn": True,
        # fine-tune the encoder (bot/components/finetune.py): true, false, or "auto": when
        # the moments have at least fine_tune_min_examples examples each (median), where
        # it was measured to pay off (CLINC150 at 3, 5 and 10 a moment, the catalogue at
        # ~26, BANKING77 and CLINC150 at ~100; ADR 0007). Not below 5: a moment needs 5
        # examples to spare one for the held-out split that calibrates the fine-tune.
        "fine_tune": "auto",
        "fine_tune_min_examples": 5,
        "holdout": 0.1,           # fraction held out to calibrate a fine-tuned encoder
        # a fine-tuned encoder with few examples calibrates on out-of-fold predictions of
        # this many more fine-tunes (each on the other folds) instead of one held-out
        # split, and the model itself trains on every example: "auto" = 5 below
        # calibration_folds_below examples written (a held-out split of under 100, often
        # without a mistake to learn from), else 0 (one held-out split; ADR 0007)
        "calibration_folds": "auto",
        "calibration_folds_below": 1000,
        # each intent's name as one more training example ("parcel_late" -> "parcel
        # late"), never held out: true, false, or "auto": when the moments have fewer
        # than intent_name_examples_below examples each (median). At 5 a moment CLINC150's
        # validation accuracy rose from 74.9% to 81.1%; at 10 to 100, and on the
        # catalogue's ~26, it changed little or made the confidence a little less sharp
        # (ADR 0007). Out-of-scope intents have none.
        "intent_name_examples": "auto",
        "intent_name_examples_below": 10,
        "intent_name_examples_skip": list(OUT_OF_SCOPE_INTENTS),
        # share (0-1) of out-of-scope messages expected by the confidence's scope gate,
        # fitted against held-out examples with their own moment masked (0: no gate);
        # "auto": confidence.OUT_OF_SCOPE_SHARE, the live share `mot thresholds` weighs
        # too, set a priori (ADR 0007), when no out-of-scope intent is trained, else 0
        "unseen_calibration_share": "auto",
        "seed": 0,
        "debug_scores": False,    # add the uncalibrated confidence to the parse result
        # fine_tune_<setting>: any field of finetune.FineTuneSettings, e.g. fine_tune_epochs
    }


#: Options that are a number or "auto"; what the number must be.
_AUTO_OR = ("fine_tune", "intent_name_examples", "calibration_folds",
            "unseen_calibration_share")
#: Whole numbers of at least 1 (the rest of the whole-number options may be 0).
_POSITIVE = {"ranking_length", "fine_tune_min_examples", "calibration_folds_below",
             "intent_name_examples_below", "fine_tune_batch_size", "fine_tune_max_seq_length"}
#: Numbers above 0 (the rest of the number options may be 0).
_ABOVE_ZERO = {"C", "fine_tune_epochs", "fine_tune_scale"}


def option_problems(config: dict[str, Any], unknown: str | None = "") -> list[str]:
    """Every problem of the classifier's options in ``config``, each naming the option.

    Args:
        unknown: options whose name starts with this and that the classifier does not know
            are problems too ("" for every option, as config.yml is checked; None for none).
            The component itself checks only ``fine_tune_`` names, in case Rasa passes an
            option of its own.
    """
    defaults = {**default_options(),
                **{FINE_TUNE + f.name: f.default for f in fields(FineTuneSettings)}}
    problems: list[str] = []
    if unknown is not None:
        for key in sorted(k for k in config if k.startswith(unknown) and k not in defaults):
            close = closest(key, defaults)
            hint = f" (did you mean {close}?)" if close else ""
            problems.append(f"unknown option {key}{hint}")
    for key, value in config.items():
        if key in defaults and key not in _AUTO_OR:
            problem = _type_problem(key, value, defaults[key])
            if problem:
                problems.append(f"{key} {problem}, got {value!r}")
    problems += _auto_problems(config)
    return problems


def _type_problem(key: str, value: Any, default: Any) -> str | None:
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "must be true or false"
    if isinstance(default, int):
        least = 1 if key in _POSITIVE else 0
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            return f"must be a whole number from {least}"
    elif isinstance(default, float):
        above = key in _ABOVE_ZERO
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 \
                or (above and value == 0):
            return f"must be a number {'above' if above else 'from'} 0"
        if key == "holdout" and not value < 1:
            return "must be a fraction below 1"
    elif key == FINE_TUNE + "precision":
        if value not in PRECISIONS:
            return f"must be one of {', '.join(PRECISIONS)}"
    elif isinstance(default, str):
        if not isinstance(value, str) or not value.strip():
            return "must be a non-empty text"
    elif isinstance(default, list) and not (isinstance(value, list)
                                            and all(isinstance(v, str) for v in value)):
        return "must be a list of names"
    return None


def _auto_problems(config: dict[str, Any]) -> list[str]:
    problems = []
    for key in ("fine_tune", "intent_name_examples"):
        value = config.get(key, "auto")
        if value != "auto" and not isinstance(value, bool):
            problems.append(f"{key} must be true, false or \"auto\", got {value!r}")
    share = config.get("unseen_calibration_share", "auto")
    if share != "auto" and (isinstance(share, bool) or not isinstance(share, int | float)
                            or not 0 <= share < 1):
        problems.append("unseen_calibration_share must be \"auto\" or a number from 0 up to "
                        f"(not including) 1, got {share!r}")
    folds = config.get("calibration_folds", "auto")
    if folds != "auto" and (isinstance(folds, bool) or not isinstance(folds, int)
                            or folds == 1 or folds < 0):
        problems.append("calibration_folds must be \"auto\", 0 (one held-out split) or a "
                        f"number of folds from 2, got {folds!r}")
    return problems
