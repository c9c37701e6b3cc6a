"""The NLU benchmark's data handling: Rasa YAML input, few-shot caps, misspelt test messages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.nlu.__main__ import (
    arguments,
    few_shot,
    misspelt,
    name_test_fraction,
    name_validation_fraction,
    self_calibrating_below,
    unseen_intents,
    without_out_of_scope,
)
from bench.nlu.data import Splits, auto_validation_fraction, load_splits, read_examples
from bench.nlu.misspell import misspell

REPO = Path(__file__).resolve().parents[2]


def test_rasa_nlu_folders_are_read_with_entities_stripped(tmp_path: Path) -> None:
    (tmp_path / "nlu.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: parcel_late\n  examples: |\n'
        "    - where is order [12345](order_number)\n    - my parcel is late\n",
        encoding="utf-8")
    (tmp_path / "rules.yml").write_text('version: "3.1"\nrules: []\n', encoding="utf-8")
    assert read_examples(tmp_path) == [("where is order 12345", "parcel_late"),
                                       ("my parcel is late", "parcel_late")]
    assert read_examples(tmp_path, "test") == []
    catalogue = read_examples(REPO / "bot" / "data")
    assert len(catalogue) > 1000 and {"greet", "out_of_scope"} <= {i for _, i in catalogue}


def splits() -> Splits:
    def part(n: int) -> list[tuple[str, str]]:
        return [(f"{intent} message {i}", intent) for intent in ("a", "b", "oos")
                for i in range(n)]

    return Splits("toy", part(8), part(8), part(8), "oos", "toy")


def test_few_shot_caps_intents_but_keeps_every_out_of_scope_test_message() -> None:
    toy = splits()
    few_shot(toy, 2)
    assert len(toy.train) == 6  # oos is a trained intent like the others
    assert len(toy.test) == 2 + 2 + 8 and len(toy.validation) == 12
    assert toy.name == "toy-2-per-intent"


def test_unseen_intents_leave_training_and_become_out_of_scope_elsewhere() -> None:
    toy = splits()
    unseen_intents(toy, 1)
    gone = ({"a", "b"} - {i for _, i in toy.train}).pop()
    assert {i for _, i in toy.train} == {"a", "b", "oos"} - {gone} and len(toy.train) == 16
    for part in (toy.validation, toy.test):
        assert gone not in {i for _, i in part} and len(part) == 24
        assert sum(i == "oos" for _, i in part) == 16
    assert toy.name == "toy-1-unseen" and toy.out_of_scope == "oos" and gone in toy.how
    again = splits()
    unseen_intents(again, 1)
    assert again.train == toy.train  # seeded
    with pytest.raises(SystemExit, match="2 in-scope intents"):
        unseen_intents(splits(), 2)


def test_misspelt_test_messages_are_seeded_and_leave_training_alone() -> None:
    first, second = splits(), splits()
    misspelt(first, 0.5)
    misspelt(second, 0.5)
    assert first.test == second.test and first.test != splits().test
    assert first.train == splits().train and first.validation == splits().validation
    assert [i for _, i in first.test] == [i for _, i in splits().test]
    rng = np.random.default_rng(0)
    typos = [misspell("please refund my payment", rng, 1.0) for _ in range(20)]
    assert all(t.split()[0][0] == "p" and t != "please refund my payment" for t in typos)


def test_csv_columns_are_found_by_name_and_bad_rows_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("Label,Utterance\nparcel_late,where is my parcel\noos,tell me a joke\n",
                    encoding="utf-8")
    assert read_examples(path) == [("where is my parcel", "parcel_late"),
                                   ("tell me a joke", "oos")]
    path.write_text("text,when\nwhere is my parcel,today\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"mine\.csv: the header text,when names no intent"):
        read_examples(path)
    path.write_text("text,intent\nwhere is my parcel,\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"mine\.csv:2: empty text or intent"):
        read_examples(path)


def test_out_of_scope_found_in_test_data_that_training_lacks(tmp_path: Path) -> None:
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    train.write_text("text,intent\n" + "".join(f"late {i},late\nrefund {i},refund\n"
                                                for i in range(10)), encoding="utf-8")
    test.write_text("text,intent\nwhere is it,late\nweather?,out_of_scope\n",
                    encoding="utf-8")
    assert load_splits("mine", train, test).out_of_scope == "out_of_scope"
    assert load_splits("mine", train).out_of_scope is None
    with pytest.raises(ValueError, match="no example has the out-of-scope intent 'none'"):
        load_splits("mine", train, test, out_of_scope="none")


@pytest.mark.parametrize(("labels", "out_of_scope", "how"), [
    (("NO_NODES_DETECTED",), "NO_NODES_DETECTED",
     "the 1 intent(s) that training lacks (NO_NODES_DETECTED)"),
    (("chitchat", "greet"), "oos", "the 2 intent(s) that training lacks (chitchat, greet), "
                                   "relabelled 'oos'"),
    # a named out-of-scope intent takes in the intents that training lacks
    (("oos", "greet"), "oos", "the 1 intent(s) that training lacks (greet), relabelled 'oos'"),
])
def test_test_intents_that_training_lacks_are_out_of_scope(
        tmp_path: Path, labels: tuple[str, ...], out_of_scope: str, how: str) -> None:
    """Live bots' test sets name their out-of-scope messages as they like (HINT3:
    NO_NODES_DETECTED): nothing trained can recognise them, so they are out of scope."""
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    train.write_text("sentence,label\n" + "".join(f"late {i},late\nrefund {i},refund\n"
                                                    for i in range(10)), encoding="utf-8")
    texts = ("weather?", "hi")[:len(labels)]
    test.write_text("sentence,label\nwhere is it,late\n" + "".join(
        f"{text},{label}\n" for text, label in zip(texts, labels, strict=True)),
        encoding="utf-8")
    splits = load_splits("hint", train, test)
    assert splits.out_of_scope == out_of_scope
    assert splits.test == [("where is it", "late")] + [(t, out_of_scope) for t in texts]
    assert f"out of scope: {how}" in splits.how


@pytest.mark.parametrize(("part", "name"), [
    ("train", "toy-no-oos-training"),
    ("validation", "toy-no-oos-validation"),
])
def test_out_of_scope_examples_can_be_left_out_of_training_or_validation(
        part: str, name: str) -> None:
    toy = splits()
    without_out_of_scope(toy, part)
    assert {i for _, i in getattr(toy, part)} == {"a", "b"}
    kept = [p for p in ("train", "validation", "test") if p != part]
    assert all(len(getattr(toy, p)) == 24 for p in kept)
    assert toy.name == name


def test_a_smaller_test_split_is_named_and_refused_where_nothing_is_cut(tmp_path: Path) -> None:
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    train.write_text("text,intent\n" + "".join(f"late {i},late\nrefund {i},refund\n"
                                                for i in range(20)), encoding="utf-8")
    test.write_text("text,intent\nwhere is it,late\n", encoding="utf-8")
    splits = load_splits("mine", train, test_fraction=0.1)
    assert len(splits.test) == 4
    name_test_fraction(splits, 0.1)
    assert splits.name == "mine-test-10pct"
    with pytest.raises(SystemExit, match="applies only when the test split is cut"):
        name_test_fraction(load_splits("mine", train, test, test_fraction=0.1), 0.1)


def test_no_validation_split_trains_on_all_as_a_deployment_does(tmp_path: Path) -> None:
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    train.write_text("text,intent\n" + "".join(f"late {i},late\nrefund {i},refund\n"
                                                for i in range(20)), encoding="utf-8")
    test.write_text("text,intent\nwhere is it,late\n", encoding="utf-8")
    splits = load_splits("mine", train, test, validation_fraction=0.0)
    assert (len(splits.train), splits.validation) == (40, [])
    assert "validation: none" in splits.how
    name_validation_fraction(splits, 0.0)
    assert splits.name == "mine-validation-0pct"
    assert len(load_splits("mine", train, test).validation) == 4  # 10% by default
    clinc = tmp_path / "clinc.json"
    clinc.write_text(json.dumps({"train": [["late", "late"], ["refund", "refund"]] * 5,
                                 "val": [["late again", "late"]]}), encoding="utf-8")
    with pytest.raises(SystemExit, match="applies only when the validation split is cut"):
        name_validation_fraction(load_splits("c", clinc, test, validation_fraction=0.0), 0.0)


def test_by_default_a_small_bot_without_out_of_scope_examples_trains_on_all(
        tmp_path: Path) -> None:
    """Below the size where the classifier calibrates on out-of-fold predictions of its own,
    a validation split without out-of-scope messages would only calibrate: none is cut."""
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    rows = "".join(f"late {i},late\nrefund {i},refund\n" for i in range(20))
    train.write_text("text,intent\n" + rows, encoding="utf-8")
    test.write_text("text,intent\nwhere is it,late\nweather?,NO_NODES_DETECTED\n",
                    encoding="utf-8")
    small = load_splits("mine", train, test, validation_fraction=None, self_calibrating_below=41)
    assert (len(small.train), small.validation) == (40, [])
    assert "fewer than 41 training examples, none out of scope" in small.how
    large = load_splits("mine", train, test, validation_fraction=None, self_calibrating_below=40)
    assert (len(large.train), len(large.validation)) == (36, 4)
    train.write_text("text,intent\n" + rows + "a joke,oos\n", encoding="utf-8")
    with_oos = load_splits("mine", train, test, validation_fraction=None,
                           self_calibrating_below=1000)
    assert len(with_oos.validation) == 4  # the 10%: two of each moment (of one oos, none)
    assert auto_validation_fraction([("hi", "greet"), ("joke", "chitchat")], "chitchat", 10) == 0.1
    assert auto_validation_fraction([("hi", "greet")], "chitchat", 10) == 0.0


@pytest.mark.parametrize(("argv", "options", "below"), [
    ([], {}, 1000),  # config.yml's classifier: calibration_folds auto below 1,000
    ([], {"calibration_folds_below": 500}, 500),
    ([], {"calibration_folds": 0}, 0),
    ([], {"calibrate": False}, 0),
    (["--pipeline", "baseline"], {}, 0),
    (["--evaluate", "validation"], {}, 0),
    (["--unseen-intents", "5"], {}, 0),  # their messages are validation's out-of-scope ones
])
def test_the_validation_split_is_left_out_only_where_the_classifier_calibrates_itself(
        argv: list[str], options: dict, below: int) -> None:
    assert self_calibrating_below(arguments(["--train", "t.csv", *argv]), options) == below


def test_another_split_seed_cuts_another_test_split(tmp_path: Path) -> None:
    train = tmp_path / "train.csv"
    train.write_text("text,intent\n" + "".join(f"late {i},late\nrefund {i},refund\n"
                                                for i in range(20)), encoding="utf-8")
    default, other = load_splits("mine", train), load_splits("mine", train, seed=1)
    assert len(default.test) == len(other.test) == 8
    assert default.test != other.test
    assert "seed 1)" in other.how and "seed 2)" in other.how


@pytest.mark.parametrize(("out_of_scope", "expected"), [
    (None, 0.0),       # BANKING77: nothing to turn away, calibrated to in-scope answers
    ("oos", "auto"),   # out-of-scope messages somewhere: the classifier's own rule
])
def test_data_without_out_of_scope_messages_calibrates_without_masked_moments(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, out_of_scope: str | None,
        expected: object) -> None:
    from bench.nlu import run

    monkeypatch.setattr(run.rasa, "train", lambda *args, **kwargs: (tmp_path / "m", 1.0))
    toy = Splits("toy", [("late", "a"), ("refund", "b")], [("late!", "a")], [("late?", "a")],
                 out_of_scope, "toy")
    _, _, chosen = run.train_model(toy, run.RunSettings("project", threads=1), tmp_path)
    assert chosen.get("unseen_calibration_share", "auto") == expected


@pytest.mark.parametrize(("name", "content"), [
    ("mine.tsv", "utterance\tintent\nwhere is my parcel, please\tparcel_late\n"
                 "tell me a joke\toos\n"),
    ("mine.json", '[["where is my parcel, please", "parcel_late"], '
                  '{"Text": "tell me a joke", "label": "oos"}]'),
    ("mine.jsonl", '{"text": "where is my parcel, please", "intent": "parcel_late"}\n\n'
                   '{"sentence": "tell me a joke", "category": "oos"}\n'),
])
def test_tsv_json_lists_and_json_lines_are_read_too(tmp_path: Path, name: str,
                                                    content: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert read_examples(path) == [("where is my parcel, please", "parcel_late"),
                                   ("tell me a joke", "oos")]
    assert read_examples(path, "test") == []


@pytest.mark.parametrize(("name", "content", "error"), [
    ("bad.json", '{"train": [["hi", "greet"], ["no intent"]]}',
     r"bad\.json: example 2 is not a \[text, intent\] pair"),
    ("bad.json", '{"train": [["hi", "greet"]', r"bad\.json:1: not JSON"),
    ("bad.json", '"hi"', r"bad\.json: expected a JSON object of splits or a list"),
    ("bad.jsonl", '{"text": "hi", "intent": "greet"}\n{"text": "bye"}\n',
     r"bad\.jsonl: example 2 is not"),
    ("bad.jsonl", '{"text": "hi", "intent": "greet"}\nhi,greet\n', r"bad\.jsonl:2: not JSON"),
])
def test_malformed_json_names_the_file_and_the_example(tmp_path: Path, name: str, content: str,
                                                       error: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=error):
        read_examples(path)


def test_a_built_in_data_sets_own_test_file_is_used_when_it_lies_beside_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.nlu import __main__ as bench

    test = tmp_path / "banking77" / "test.csv"
    full = tmp_path / "clinc150" / "data_full.json"
    monkeypatch.setitem(bench.BUILT_IN_TEST, "banking77", (test,))
    monkeypatch.setitem(bench.BUILT_IN_TEST, "clinc150", (tmp_path / "test.json", full))
    assert bench.built_in_test("banking77") is None and bench.built_in_test("catalogue") is None
    test.parent.mkdir()
    test.write_text("text,category\nwhere is my card,card_arrival\n", encoding="utf-8")
    assert bench.built_in_test("banking77") == test
    full.parent.mkdir()
    full.write_text('{"test": [["wake me at 7", "alarm"]]}', encoding="utf-8")
    assert bench.built_in_test("clinc150") == full


def test_the_live_protocol_draws_few_examples_and_keeps_every_out_of_scope_message(
        tmp_path: Path) -> None:
    from bench.nlu import live_protocol

    source = tmp_path / "clinc.json"
    rows = {part: [[f"{intent} {part} {i}", intent] for intent in ("late", "refund")
                   for i in range(12)] for part in ("train", "val")}
    rows.update(oos_train=[["weather?", "oos"]], oos_val=[["a joke", "oos"]])
    source.write_text(json.dumps(rows), encoding="utf-8")
    train, test = live_protocol.write(tmp_path / "out", source)
    assert [len(read_examples(train)), len(read_examples(test))] == [16, 22]
    assert {i for _, i in read_examples(train)} == {"late", "refund"}
    assert live_protocol.write(tmp_path / "again", source)[1].read_text() == test.read_text()


def test_a_small_bot_is_drawn_with_other_intents_out_of_scope(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.nlu import live_protocol

    monkeypatch.setattr(live_protocol, "OTHER_INTENTS", 2)
    names = [f"intent{n}" for n in range(5)]
    source = tmp_path / "clinc.json"
    rows = {part: [[f"{intent} {part} {i}", intent] for intent in names for i in range(12)]
            for part in ("train", "val")}
    rows.update(oos_train=[["weather?", "oos"]], oos_val=[["a joke", "oos"]])
    source.write_text(json.dumps(rows), encoding="utf-8")
    train, test = live_protocol.write(tmp_path / "out", source, intents=3, train_per_intent=5)
    trained = {i for _, i in read_examples(train)}
    assert len(read_examples(train)) == 15 and len(trained) == 3
    tested = read_examples(test)
    assert len(tested) == 3 * 10 + 2 * 4 + 1
    assert {i for _, i in tested} == trained | {"oos"}
    # the other intents' messages, out of scope, are none of the trained intents'
    assert not any(t.split()[0] in trained for t, i in tested if i == "oos")


def test_a_test_file_of_splits_is_tested_on_its_test_part(tmp_path: Path) -> None:
    """CLINC150's data_full.json, given as the test file, holds its training rows too."""
    train, test = tmp_path / "train.csv", tmp_path / "data_full.json"
    train.write_text("text,intent\n" + "".join(f"late {i},late\n" for i in range(10)),
                     encoding="utf-8")
    test.write_text(json.dumps({"train": [["late 1", "late"]], "test": [["late?", "late"]],
                                "oos_test": [["a joke", "oos"]]}), encoding="utf-8")
    assert load_splits("mine", train, test).test == [("late?", "late"), ("a joke", "oos")]
