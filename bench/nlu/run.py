"""One benchmark run: split, train through Rasa, serve, parse, score, write the result file."""

from __future__ import annotations

import datetime
import json
import logging
import os
import platform
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.nlu import metrics
from bench.nlu import rasa_runner as rasa
from bench.nlu.data import Example, Splits
from bot.components.finetune import FINISHED as FINE_TUNE_FINISHED
from bot.components.finetune import native_bfloat16
from bot.components.moment_model import OUT_OF_SCOPE_INTENTS

log = logging.getLogger(__name__)

REPO_RESULTS = rasa.REPO / "bench" / "results"


@dataclass
class RunSettings:
    """What to run and where; see ``python -m bench.nlu --help``."""

    pipeline: str                       # "project" or "baseline"
    options: dict[str, Any] = field(default_factory=dict)  # MomentClassifier overrides
    in_scope_target: float = 0.95
    evaluate: str = "test"              # "test", or "validation" while tuning
    work: Path = Path("/tmp/mot-bench-nlu")
    port: int = 5105
    # threads while training: None = the cores idle when training starts (idle_cores);
    # serving always parses on one
    threads: int | None = None


#: The harness's own outputs: changed by earlier runs, they do not make a run's code dirty.
OUTPUTS = ("README.md", "bench/results/")


def git_commit() -> dict[str, Any]:
    """The commit the code ran at, and whether the working tree had other changes than the
    harness's own outputs (an earlier run's result file and README table)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=rasa.REPO, capture_output=True, text=True,
                               check=False).stdout

    changed = [line[3:] for line in git("status", "--porcelain").splitlines()]
    return {"commit": git("rev-parse", "HEAD").strip(),
            "dirty": any(not path.startswith(OUTPUTS) for path in changed)}


def train_model(splits: Splits, settings: RunSettings, work: Path) -> tuple[Path, float, dict]:
    """Writes data and config, trains; our pipeline calibrates on the validation split."""
    nlu = work / "nlu.yml"
    config = work / "config.yml"
    threads = settings.threads or idle_cores()
    if settings.pipeline == "baseline":
        rasa.write_nlu(nlu, splits.train)
        config.write_text(rasa.BASELINE_CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
        chosen: dict[str, Any] = {"config": rasa.BASELINE_CONFIG.name}
    else:
        rasa.write_nlu(nlu, splits.train, calibration=splits.validation)
        options = {"threads": threads, "debug_scores": True, **settings.options}
        if splits.out_of_scope not in (None, *OUT_OF_SCOPE_INTENTS):
            # out-of-scope messages teach no intent name, whatever their intent is called
            options.setdefault("intent_name_examples_skip",
                               [*OUT_OF_SCOPE_INTENTS, splits.out_of_scope])
        if splits.out_of_scope is None:
            # No out-of-scope message in any split (BANKING77): nothing to turn away, so the
            # confidence is fitted to in-scope answers alone, as its test data will score it.
            # Masked moments there raised BANKING77's ECE from 0.012 to 0.086 (ADR 0007).
            options.setdefault("unseen_calibration_share", 0.0)
        chosen = rasa.write_project_config(config, options)
    log.info("%s: training on %d thread%s", splits.name, threads, "s" * (threads > 1))
    # threads that were idle spin while they wait (faster); threads asked for may share
    # their cores with other work, so they sleep
    model, seconds = rasa.train(config, nlu, work / "models", work / "train.log", threads,
                                spin=settings.threads is None and threads > 1)
    return model, seconds, chosen


def idle_cores(sample: float = 1.0) -> int:
    """How many of this process's cores are idle, from /proc/stat over ``sample`` seconds
    (at least 1; 1 where /proc/stat is missing). A benchmark alone on a 2-core machine
    trains on both, one started beside another run on the one left."""
    def times() -> tuple[int, int]:
        # the "cpu" line: user nice system idle iowait irq softirq steal (guest time, after
        # them, is counted in user and nice already)
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        return sum(fields), fields[3] + fields[4]

    try:
        total, idle = times()
        time.sleep(sample)
        total2, idle2 = times()
    except (OSError, ValueError, IndexError):
        return 1
    share = (idle2 - idle) / max(1, total2 - total)
    return max(1, min(_cpus(), round(share * (os.cpu_count() or 1))))


def predictions(examples: list[Example], parsed: list[rasa.Parsed]) -> metrics.Predictions:
    return metrics.Predictions(
        truth=[intent for _, intent in examples], intent=[p.intent for p in parsed],
        confidence=np.array([p.confidence for p in parsed]),
        raw_confidence=np.array([p.raw_confidence for p in parsed]))


def latency(parsed: list[rasa.Parsed]) -> dict[str, float]:
    """Per-message round trip through the running server, milliseconds (first 20 dropped)."""
    ms = np.array([p.seconds for p in parsed[20:] or parsed]) * 1000.0
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "mean_ms": float(ms.mean()), "messages": len(ms)}


def score(splits: Splits, validation: metrics.Predictions, test: metrics.Predictions,
          target: float) -> dict[str, Any]:
    """Test scores; the threshold is chosen on validation predictions only."""
    result: dict[str, Any] = metrics.classification_scores(test, splits.out_of_scope)
    if splits.out_of_scope is not None:
        threshold, rule = metrics.threshold_and_rule(validation, splits.out_of_scope, target)
        if not validation.truth:
            log.warning("no validation split (a small bot without out-of-scope training "
                        "examples, --validation-fraction 0, or too few examples a moment for "
                        "its cut): the out-of-scope threshold is %.2f", threshold)
        result["threshold_rule"] = rule
        result["at_threshold"] = metrics.at_threshold(test, splits.out_of_scope, threshold)
        result["at_threshold_validation"] = metrics.at_threshold(
            validation, splits.out_of_scope, threshold)
        result.update(metrics.trade_off_curve(test, splits.out_of_scope))
    return result


def run(splits: Splits, settings: RunSettings) -> dict[str, Any]:
    """Trains, serves and scores one pipeline on one data set; returns the result record."""
    work = settings.work / f"{splits.name}-{settings.pipeline}"
    (work / "models").mkdir(parents=True, exist_ok=True)
    started = datetime.datetime.now(datetime.timezone.utc)
    model, train_seconds, chosen = train_model(splits, settings, work)
    test = splits.validation if settings.evaluate == "validation" else splits.test
    with rasa.serve(model, settings.port, work / "serve.log", threads=1):
        parsed_validation = rasa.parse_all(settings.port, [t for t, _ in splits.validation])
        parsed_test = rasa.parse_all(settings.port, [t for t, _ in test])
    scores = score(splits, predictions(splits.validation, parsed_validation),
                   predictions(test, parsed_test), settings.in_scope_target)
    return {"dataset": splits.name, "pipeline": settings.pipeline, "evaluated_on":
            settings.evaluate, "started": started.isoformat(timespec="seconds"),
            **git_commit(), "machine": {"cpus": _cpus(), "python": platform.python_version(),
                                        "native_bfloat16": native_bfloat16()},
            "splits": {"how": splits.how, "train": len(splits.train),
                       "validation": len(splits.validation), "test": len(test)},
            "classifier_options": chosen, "train_seconds": round(train_seconds, 1),
            "fine_tune": fine_tune_run(work / "train.log"),
            "in_scope_target": settings.in_scope_target, "scores": scores,
            "parse_latency": latency(parsed_test)}


def fine_tune_run(train_log: Path) -> dict[str, Any] | None:
    """How much of its schedule the encoder's fine-tune ran, from the training log (None
    when the pipeline did not fine-tune): the time budget ends it early on a slow or busy
    machine, which a result should say."""
    text = train_log.read_text(encoding="utf-8", errors="replace") if train_log.exists() else ""
    found = FINE_TUNE_FINISHED.findall(text)
    if not found:
        return None
    steps, of, seconds, precision = found[-1]
    return {"steps": int(steps), "of": int(of), "seconds": int(seconds), "precision": precision}


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


def write(result: dict[str, Any], results_dir: Path) -> Path:
    """bench/results/nlu-<dataset>-<pipeline>[-validation].json"""
    suffix = "-validation" if result["evaluated_on"] == "validation" else ""
    path = results_dir / f"nlu-{result['dataset']}-{result['pipeline']}{suffix}.json"
    path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return path
