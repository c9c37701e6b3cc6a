"""The NLU benchmark's training data as Rasa reads it, and what its training log tells."""

from __future__ import annotations

from pathlib import Path

from rasa.shared.nlu.training_data.loading import load_data

from bench.nlu.rasa_runner import write_nlu
from bench.nlu.run import _cpus, fine_tune_run, idle_cores
from bot.components.moment_classifier import is_calibration_example


def test_written_nlu_data_reads_back_with_the_calibration_examples_marked(
        tmp_path: Path) -> None:
    train = [("where is my parcel", "late"), ("card charged twice: #2 [refund] \"now\"", "twice"),
             ("- starts with a dash", "late"), ("two\nlines\tand  spaces ", "twice")]
    calibration = [("parcel still not here", "late"), ("charged 2x", "twice")]
    path = tmp_path / "nlu.yml"
    write_nlu(path, train, calibration)

    assert "examples: |" in path.read_text(encoding="utf-8")  # the form Rasa reads fast
    read = [(m.get("text"), m.get("intent"), is_calibration_example(m))
            for m in load_data(str(path)).training_examples]
    assert sorted(read) == sorted(
        [("where is my parcel", "late", False),
         ("card charged twice: #2 [refund] \"now\"", "twice", False),
         ("- starts with a dash", "late", False), ("two lines and spaces", "twice", False),
         ("parcel still not here", "late", True), ("charged 2x", "twice", True)])


def test_the_result_says_how_much_of_its_schedule_the_fine_tune_ran(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    assert fine_tune_run(log) is None  # no log: nothing to say
    log.write_text("INFO bot.components.moment_classifier - training (frozen)\n")
    assert fine_tune_run(log) is None  # the pipeline did not fine-tune
    log.write_text("2026-11-27 14:34:12 INFO     bot.components.finetune  - fine-tune finished: "
                   "1398 of 3776 steps in 660 s, float32, the time budget ended the schedule\n")
    assert fine_tune_run(log) == {"steps": 1398, "of": 3776, "seconds": 660,
                                  "precision": "float32"}


def test_a_run_trains_on_the_cores_that_are_idle() -> None:
    assert 1 <= idle_cores(sample=0.2) <= _cpus()
