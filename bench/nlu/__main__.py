"""``python -m bench.nlu``: train, serve and score NLU pipelines on intent data sets.

Examples:
    python -m bench.nlu                                   # BANKING77 and CLINC150, our pipeline
    python -m bench.nlu --dataset banking77 --pipeline baseline   # Rasa's default (~2 h)
    python -m bench.nlu --train my.csv --test my_test.csv --name mine
    python -m bench.nlu --dataset clinc150 --evaluate validation --option fine_tune_epochs=3
    python -m bench.nlu --dataset clinc150 --max-per-intent 10 --misspell 0.2   # live-like
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bench.nlu.data import SPLIT_SEED, Splits, cap_per_intent, load_splits, relabelled
from bench.nlu.misspell import misspell
from bench.nlu.rasa_runner import classifier_config
from bench.nlu.report import table, update_readme
from bench.nlu.run import REPO_RESULTS, RunSettings, run, write

DATASETS = Path(os.environ.get("MOT_DATASETS")
                or Path(__file__).resolve().parents[3] / "shared" / "datasets")
BUILT_IN = {"banking77": DATASETS / "banking77" / "train.csv",
            "clinc150": DATASETS / "clinc150" / "train_val.json",
            # the shipped catalogue's generated NLU data (not run by default)
            "catalogue": Path(__file__).resolve().parents[2] / "bot" / "data"}
#: A built-in data set's held-back test split, used whenever it is put beside the training
#: file (the evaluation's), the first found: BANKING77's official ``test.csv``; CLINC150's
#: ``data_full.json`` (its test part), or that test part in a ``test.json``.
BUILT_IN_TEST = {"banking77": (DATASETS / "banking77" / "test.csv",),
                 "clinc150": (DATASETS / "clinc150" / "test.json",
                              DATASETS / "clinc150" / "data_full.json")}
DEFAULT_DATASETS = ("banking77", "clinc150")
#: The share of the training data cut as the test split when a data set has no test part.
DEFAULT_TEST_FRACTION = 0.2
#: Overrides of config.yml's MomentClassifier for the benchmark: none. The benchmark runs
#: the shipped pipeline as it is; on ~100 examples a moment it fine-tunes (``fine_tune:
#: auto``), within config.yml's time budget (ADR 0007).
PROJECT_OPTIONS: dict[str, Any] = {}


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.nlu", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", action="append", choices=sorted(BUILT_IN),
                        help="a built-in data set (repeatable; default: banking77 and "
                             "clinc150)")
    parser.add_argument("--train", type=Path,
                        help="your own training file (CSV, JSON, or Rasa NLU YAML file/folder)")
    parser.add_argument("--test", type=Path, help="your own test file (else cut from train)")
    parser.add_argument("--name", default="custom", help="name of your own data set")
    parser.add_argument("--pipeline", choices=("project", "baseline"), default="project")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="override a MomentClassifier option (YAML value)")
    parser.add_argument("--evaluate", choices=("test", "validation"), default="test",
                        help="score on the validation split while tuning")
    parser.add_argument("--test-fraction", type=float, default=DEFAULT_TEST_FRACTION,
                        help="share of the training data cut as the test split when the data "
                             "has no test part (BANKING77; default %(default)s); another "
                             "value names the data set <name>-test-<PERCENT>pct")
    parser.add_argument("--validation-fraction", type=float,
                        help="share of the training data cut as the validation split "
                             "(calibration and threshold) when the data has no val part; 0 "
                             "trains on all of it, as a deployment does: the pipeline then "
                             "calibrates on its own held-out predictions and the threshold "
                             "is 0.5. Default: 0 below the classifier's "
                             "calibration_folds_below training examples (1,000) with none "
                             "out of scope, where it calibrates on out-of-fold predictions "
                             "of its own, else 0.1; a value given names the data set "
                             "<name>-validation-<PERCENT>pct")
    parser.add_argument("--split-seed", type=int, default=SPLIT_SEED,
                        help="seed of the test and validation splits cut from the training "
                             "data (default %(default)s); another value names the data set "
                             "<name>-split-<SEED>, so that several cuts can be averaged")
    parser.add_argument("--in-scope-target", type=float, default=0.95)
    parser.add_argument("--work", type=Path, default=Path("/tmp/mot-bench-nlu"))
    parser.add_argument("--results", type=Path, default=REPO_RESULTS)
    parser.add_argument("--port", type=int, default=5105)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch/TF threads while training (default: the cores idle when "
                             "training starts, measured over a second: both of a 2-core "
                             "machine for a run alone, one beside another run); parsing "
                             "always uses one")
    parser.add_argument("--max-per-intent", type=int, default=0,
                        help="cap every split at this many examples per intent (few-shot "
                             "runs, smoke tests; out-of-scope test and validation messages "
                             "are kept); the data set is named <name>-<N>-per-intent")
    parser.add_argument("--out-of-scope", metavar="INTENT",
                        help="the intent naming out-of-scope messages (default: the first of "
                             "oos, out_of_scope, out-of-scope found in the data)")
    parser.add_argument("--no-out-of-scope-training", action="store_true",
                        help="train without the out-of-scope examples (as when no one has "
                             "collected any); the data set is named <name>-no-oos-training")
    parser.add_argument("--no-out-of-scope-validation", action="store_true",
                        help="validate without the out-of-scope messages (as when the "
                             "validation split is cut from training data that has none): "
                             "the threshold is then chosen on in-scope messages alone; the "
                             "data set is named <name>-no-oos-validation")
    parser.add_argument("--unseen-intents", type=int, default=0, metavar="N",
                        help="N intents, drawn at random, are left out of training and "
                             "become out-of-scope in validation and test: near-domain "
                             "messages no moment covers (as BANKING77-OOS); the data set is "
                             "named <name>-<N>-unseen")
    parser.add_argument("--misspell", type=float, default=0.0, metavar="RATE",
                        help="put a keyboard typo in this share of the test messages' words "
                             "(robustness to live messages); the data set is named "
                             "<name>-misspelt-<RATE>")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    options = dict(PROJECT_OPTIONS)
    options.update({key: yaml.safe_load(value) for key, value in
                    (item.split("=", 1) for item in args.option)})
    settings = RunSettings(pipeline=args.pipeline, options=options, work=args.work,
                           in_scope_target=args.in_scope_target, evaluate=args.evaluate,
                           port=args.port, threads=args.threads)
    if args.train:
        jobs = [(args.name, args.train, args.test)]
    else:
        jobs = [(name, BUILT_IN[name], built_in_test(name))
                for name in args.dataset or DEFAULT_DATASETS]
    args.results.mkdir(parents=True, exist_ok=True)
    written = []
    for name, train_path, test_path in jobs:
        splits = load_splits(name, train_path, test_path, test_fraction=args.test_fraction,
                             validation_fraction=args.validation_fraction,
                             seed=args.split_seed, out_of_scope=args.out_of_scope,
                             self_calibrating_below=self_calibrating_below(args, options))
        if test_path is not None and not args.train:
            splits.name += "-official-test"
        if args.test_fraction != DEFAULT_TEST_FRACTION:
            name_test_fraction(splits, args.test_fraction)
        if args.validation_fraction is not None:
            name_validation_fraction(splits, args.validation_fraction)
        if args.split_seed != SPLIT_SEED:
            splits.name += f"-split-{args.split_seed}"
        if args.unseen_intents:
            unseen_intents(splits, args.unseen_intents)
        if args.max_per_intent:
            few_shot(splits, args.max_per_intent)
        if args.no_out_of_scope_training:
            without_out_of_scope(splits, "train")
        if args.no_out_of_scope_validation:
            without_out_of_scope(splits, "validation")
        if args.misspell:
            misspelt(splits, args.misspell)
        logging.info("%s: %d train, %d validation, %d test (%s)", name, len(splits.train),
                     len(splits.validation), len(splits.test), splits.how)
        result = run(splits, settings)
        written.append(write(result, args.results))
        logging.info("%s", json.dumps({k: result[k] for k in ("train_seconds", "scores")})[:800])
    print(table(written))
    if args.results == REPO_RESULTS:
        update_readme()
        logging.info("README.md's NLU table rewritten from %s", REPO_RESULTS)
    return 0


def self_calibrating_below(args: argparse.Namespace, options: dict[str, Any]) -> int:
    """Training examples below which the run's classifier calibrates on out-of-fold
    predictions of its own (``calibration_folds: auto``), so that a validation split cut
    from training data without out-of-scope examples is left out by default; 0 where one is
    needed all the same: Rasa's pipeline, scoring on validation, or unseen intents (their
    messages make the validation split's out-of-scope ones)."""
    if args.pipeline == "baseline" or args.evaluate == "validation" or args.unseen_intents:
        return 0
    config = classifier_config(options)
    if not config["calibrate"] or config["calibration_folds"] != "auto":
        return 0
    return int(config["calibration_folds_below"])


def built_in_test(name: str) -> Path | None:
    """The built-in data set's own test file, if one lies beside its training file."""
    return next((path for path in BUILT_IN_TEST.get(name, ()) if path.is_file()), None)


def name_test_fraction(splits: Splits, fraction: float) -> None:
    """Names a data set whose test split is another share of its training data; refuses a
    data set whose test split was not cut from its training data (the option did nothing)."""
    if not splits.test_cut:
        raise SystemExit(f"{splits.name}: --test-fraction applies only when the test split is "
                         f"cut from the training data ({splits.how})")
    splits.name += f"-test-{round(fraction * 100)}pct"


def name_validation_fraction(splits: Splits, fraction: float) -> None:
    """Names a data set whose validation split is another share of its training data;
    refuses one whose validation split is the file's own val part (the option did nothing)."""
    if not splits.validation_cut:
        raise SystemExit(f"{splits.name}: --validation-fraction applies only when the "
                         f"validation split is cut from the training data ({splits.how})")
    splits.name += f"-validation-{round(fraction * 100)}pct"


def few_shot(splits: Splits, cap: int) -> None:
    """At most ``cap`` examples per intent, but every out-of-scope test/validation message."""
    for part in ("train", "validation", "test"):
        kept_whole = splits.out_of_scope if part != "train" else None
        examples = getattr(splits, part)
        inside = [e for e in examples if e[1] != kept_whole]
        outside = [e for e in examples if e[1] == kept_whole]
        setattr(splits, part, cap_per_intent(inside, cap) + outside)
    splits.how += f"; at most {cap} per intent in every split (out-of-scope: all but train's)"
    splits.name += f"-{cap}-per-intent"


def unseen_intents(splits: Splits, count: int, seed: int = 20240610) -> None:
    """``count`` intents, drawn at random (seed), become out of scope: their examples leave
    training, and their validation and test messages are relabelled out-of-scope. These are
    the hardest out-of-scope messages, close to the moments and with nothing like them to
    learn from (the protocol of BANKING77-OOS, Zhang et al. 2022)."""
    label = splits.out_of_scope or "oos"
    intents = sorted({intent for _, intent in splits.train} - {label})
    if not 0 < count < len(intents):
        raise SystemExit(f"{splits.name}: --unseen-intents {count}, but the data set has "
                         f"{len(intents)} in-scope intents")
    rng = np.random.default_rng(seed)
    unseen = {str(i) for i in rng.choice(intents, size=count, replace=False)}
    splits.train = [e for e in splits.train if e[1] not in unseen]
    for part in ("validation", "test"):
        setattr(splits, part, relabelled(getattr(splits, part), unseen, label))
    splits.out_of_scope = label
    splits.how += (f"; {count} intents unseen in training, out of scope in validation and "
                   f"test (seed {seed}): {', '.join(sorted(unseen))}")
    splits.name += f"-{count}-unseen"


def without_out_of_scope(splits: Splits, part: str) -> None:
    """Drops the out-of-scope examples of the ``part`` split, "train" or "validation" (as when
    no one has collected any); the other splits keep theirs."""
    name = {"train": "training", "validation": "validation"}[part]
    if splits.out_of_scope is None:
        raise SystemExit(f"{splits.name}: --no-out-of-scope-{name}, but the data set has "
                         "no out-of-scope intent (see --out-of-scope)")
    setattr(splits, part, [e for e in getattr(splits, part) if e[1] != splits.out_of_scope])
    splits.how += f"; out-of-scope examples left out of {name}"
    splits.name += f"-no-oos-{name}"


def misspelt(splits: Splits, rate: float, seed: int = 20240609) -> None:
    """Typos in the test messages only (training and thresholds see what was written)."""
    rng = np.random.default_rng(seed)
    splits.test = [(misspell(text, rng, rate), intent) for text, intent in splits.test]
    splits.how += f"; test messages misspelt (typos in {rate:.0%} of words, seed {seed})"
    splits.name += f"-misspelt-{rate:g}"


if __name__ == "__main__":
    sys.exit(main())
