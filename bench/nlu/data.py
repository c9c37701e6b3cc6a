"""Intent data for the NLU benchmark: reading train/test files and cutting stratified splits.

Four formats, so that other data can be dropped in:

- CSV (``.csv``) or tab-separated (``.tsv``) with a header naming a text column (one of
  ``TEXT_COLUMNS``) and an intent column (one of ``INTENT_COLUMNS``); BANKING77's is
  ``text,category``;
- JSON with lists of ``[text, intent]`` under ``train`` / ``val`` / ``test`` and, optionally,
  ``oos_train`` / ``oos_val`` / ``oos_test`` (CLINC150's format; out-of-scope intent ``oos``),
  or one such list alone (training rows); an item may also be an object with a text and an
  intent key named as the CSV columns are;
- JSON Lines (``.jsonl``): one such object a line;
- Rasa NLU YAML: a file, or a folder whose NLU files are read (a Rasa project's ``data/``;
  the shipped catalogue's ``bot/data``), read by Rasa's own reader.

Whatever split a file lacks is cut from its training data, stratified, with a fixed seed, and
the cut is recorded in the results so that it can be reproduced.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

Example = tuple[str, str]  # (text, intent)
#: Intent names taken to mean out-of-scope when ``--out-of-scope`` does not name one.
OUT_OF_SCOPE_NAMES = ("oos", "out_of_scope", "out-of-scope", "nlu_fallback", "ood",
                      "out_of_domain", "none")
TEXT_COLUMNS = ("text", "utterance", "message", "sentence", "query", "question")
INTENT_COLUMNS = ("category", "intent", "label", "class")
#: The seed of the splits cut from training data (test; validation takes it + 1).
SPLIT_SEED = 20240607
#: The share of the training data cut as the validation split when a data set has none.
VALIDATION_FRACTION = 0.1


@dataclass
class Splits:
    """Train, validation (thresholds, calibration) and test (reported) examples."""

    name: str
    train: list[Example]
    validation: list[Example]
    test: list[Example]
    out_of_scope: str | None   # the intent naming out-of-scope messages, if any
    how: str                   # how the splits were made, for the results file
    test_cut: bool = False     # the test split was cut from the training data
    validation_cut: bool = False  # the validation split was cut from the training data


def read_examples(path: Path, part: str = "train") -> list[Example]:
    """Examples of one part of a file (CSV, TSV, JSON Lines and Rasa files, and a JSON file
    that is one list, have only one part, their rows)."""
    if path.is_dir() or path.suffix in (".yml", ".yaml"):
        return read_rasa_nlu(path) if part == "train" else []
    if path.suffix in (".csv", ".tsv"):
        return read_csv(path) if part == "train" else []
    if path.suffix == ".jsonl":
        if part != "train":
            return []
        lines = path.read_text(encoding="utf-8").splitlines()
        return [_example(path, number, _json(path, line, number))
                for number, line in enumerate(lines, start=1) if line.strip()]
    data = _json(path, path.read_text(encoding="utf-8"))
    if isinstance(data, list):
        rows = data if part == "train" else []
    elif isinstance(data, dict):
        rows = list(data.get(part, [])) + list(data.get(f"oos_{part}", []))
    else:
        raise ValueError(f"{path}: expected a JSON object of splits or a list of examples, "
                         f"not {type(data).__name__}")
    return [_example(path, number, row) for number, row in enumerate(rows, start=1)]


def _json(path: Path, text: str, line: int | None = None) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        where = f"{path}:{line}" if line else f"{path}:{error.lineno}"
        raise ValueError(f"{where}: not JSON ({error.msg})") from None


def _example(path: Path, number: int, row: object) -> Example:
    """One ``[text, intent]`` pair or ``{"text": ..., "intent": ...}`` object (``number``:
    its place in its list or file, for the error message)."""
    if isinstance(row, dict):
        keys = {str(key).strip().lower(): key for key in row}
        text = next((keys[k] for k in TEXT_COLUMNS if k in keys), None)
        intent = next((keys[k] for k in INTENT_COLUMNS if k in keys), None)
        pair = (row[text], row[intent]) if text is not None and intent is not None else None
    elif isinstance(row, list | tuple) and len(row) == 2:
        pair = (row[0], row[1])
    else:
        pair = None
    if pair is None or not all(isinstance(v, str) and v.strip() for v in pair):
        raise ValueError(f"{path}: example {number} is not a [text, intent] pair or an object "
                         f"with a text ({', '.join(TEXT_COLUMNS)}) and an intent "
                         f"({', '.join(INTENT_COLUMNS)}) key, each a non-empty string: "
                         f"{json.dumps(row)[:80]}")
    return pair[0].strip(), pair[1].strip()


def read_csv(path: Path) -> list[Example]:
    """Rows of a CSV (or, named ``.tsv``, tab-separated) file whose header names a text and
    an intent column."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle, delimiter="\t" if path.suffix == ".tsv" else ",")
        columns = {name.strip().lower(): name for name in reader.fieldnames or []}
        text = next((name for name in TEXT_COLUMNS if name in columns), None)
        intent = next((name for name in INTENT_COLUMNS if name in columns), None)
        if text is None or intent is None:
            raise ValueError(f"{path}: the header {','.join(columns) or '(none)'} names no "
                             f"{'text' if text is None else 'intent'} column (expected one of "
                             f"{', '.join(TEXT_COLUMNS if text is None else INTENT_COLUMNS)})")
        rows = []
        for number, row in enumerate(reader, start=2):
            value, label = row.get(columns[text]), row.get(columns[intent])
            if not value or not value.strip() or not label or not label.strip():
                raise ValueError(f"{path}:{number}: empty text or intent")
            rows.append((value.strip(), label.strip()))
        return rows


def read_rasa_nlu(path: Path) -> list[Example]:
    """Intent examples of a Rasa NLU YAML file, or of every NLU file in a folder."""
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    files = sorted(path.rglob("*.y*ml")) if path.is_dir() else [path]
    examples = []
    for file in files:
        if RasaYAMLReader.is_yaml_nlu_file(file):
            data = RasaYAMLReader().read(file)
            examples += [(str(m.get("text")).strip(), str(m.get("intent")))
                         for m in data.intent_examples]
    return examples


def stratified_cut(examples: list[Example], fraction: float,
                   seed: int) -> tuple[list[Example], list[Example]]:
    """(kept, cut): round(fraction * count) examples of each intent go to ``cut``."""
    rng = np.random.default_rng(seed)
    by_intent: dict[str, list[int]] = {}
    for index, (_, intent) in enumerate(examples):
        by_intent.setdefault(intent, []).append(index)
    cut: set[int] = set()
    for intent in sorted(by_intent):
        rows = by_intent[intent]
        take = round(fraction * len(rows))
        cut.update(int(i) for i in rng.choice(rows, size=take, replace=False))
    kept_rows = [e for i, e in enumerate(examples) if i not in cut]
    cut_rows = [e for i, e in enumerate(examples) if i in cut]
    return kept_rows, cut_rows


def cap_per_intent(examples: list[Example], cap: int) -> list[Example]:
    """The first ``cap`` examples of each intent (for quick smoke runs of the harness)."""
    seen: dict[str, int] = {}
    kept = []
    for text, intent in examples:
        seen[intent] = seen.get(intent, 0) + 1
        if seen[intent] <= cap:
            kept.append((text, intent))
    return kept


def load_splits(name: str, train_path: Path, test_path: Path | None = None,
                test_fraction: float = 0.2, validation_fraction: float | None = 0.1,
                seed: int = SPLIT_SEED, out_of_scope: str | None = None,
                self_calibrating_below: int = 0) -> Splits:
    """Train/validation/test from the files, cutting what they lack.

    Test, in order: ``test_path`` (its ``test`` part, else its rows), the file's ``test`` part,
    else half of the file's ``val`` part (CLINC150's public test is held back), else a
    stratified ``test_fraction`` of the training data (seed).

    Validation (calibration and thresholds), in order: the file's ``val`` part (the rest of
    it, if half became the test), else a stratified ``validation_fraction`` of the training
    data (seed + 1), never the test data. A ``val`` part is collected like the test data, so
    a threshold chosen on it holds on the test data; one cut from the training data is
    easier (same writers, same templates) and chose too strict a threshold (ADR 0007).
    ``validation_fraction`` None: none where there are fewer than ``self_calibrating_below``
    training examples and none of them out of scope (:func:`auto_validation_fraction`),
    else :data:`VALIDATION_FRACTION`.

    Out-of-scope: the intent ``out_of_scope`` names, else the first of OUT_OF_SCOPE_NAMES
    found in any split (test data often has out-of-scope messages that training lacks). The
    intents of validation and test messages that training lacks join it; without one, they
    are the out-of-scope messages (several are relabelled ``oos``).
    """
    train = read_examples(train_path, "train")
    notes, test_cut = [f"train: {train_path.name}"], False
    validation = read_examples(train_path, "val")
    validation_cut, halved = not validation, False
    if test_path is not None:
        # a JSON file of splits (CLINC150's data_full.json) is tested on its test part
        test = read_examples(test_path, "test") or read_examples(test_path, "train")
        notes.append(f"test: {test_path.name}")
    elif test := read_examples(train_path, "test"):
        notes.append("test: the file's own test part")
    elif validation:
        validation, test = stratified_cut(validation, 0.5, seed)
        notes.append(f"test: stratified half of the file's val part (seed {seed})")
        halved = True
    else:
        train, test = stratified_cut(train, test_fraction, seed)
        notes.append(f"test: stratified {test_fraction:.0%} of train (seed {seed})")
        test_cut = True
    if validation:
        notes.append("validation: the file's val part" + (" (the other half)" if halved
                                                          else ""))
    elif (fraction := auto_validation_fraction(train, out_of_scope, self_calibrating_below)
          if validation_fraction is None else validation_fraction) > 0:
        train, validation = stratified_cut(train, fraction, seed + 1)
        notes.append(f"validation: stratified {fraction:.0%} of the rest (seed {seed + 1})")
    else:
        notes.append("validation: none (the pipeline calibrates on its own held-out "
                     "predictions, as a deployment's does; threshold 0.5"
                     + ("" if validation_fraction is not None else
                        f"; fewer than {self_calibrating_below:,} training examples, none "
                        f"out of scope") + ")")
    intents = {intent for _, intent in train + validation + test}
    if out_of_scope is None:
        out_of_scope = next((n for n in OUT_OF_SCOPE_NAMES if n in intents), None)
    elif out_of_scope not in intents:
        raise ValueError(f"{name}: no example has the out-of-scope intent {out_of_scope!r}")
    unseen = sorted(intents - {i for _, i in train} - {out_of_scope})
    if unseen:
        named = out_of_scope
        validation, test, out_of_scope = _unseen_as_out_of_scope(validation, test, unseen,
                                                                 out_of_scope)
        notes.append(f"out of scope: the {len(unseen)} intent(s) that training lacks "
                     f"({', '.join(unseen[:5])}{', ...' if len(unseen) > 5 else ''})"
                     + (f", relabelled {out_of_scope!r}" if named or len(unseen) > 1
                        else ""))
    return Splits(name, train, validation, test, out_of_scope, "; ".join(notes), test_cut,
                  validation_cut)


def auto_validation_fraction(train: list[Example], out_of_scope: str | None,
                             self_calibrating_below: int) -> float:
    """0 where the pipeline calibrates itself on out-of-fold predictions (fewer than
    ``self_calibrating_below`` training examples) and a validation split cut from them would
    hold no out-of-scope message to choose a threshold on: it would only calibrate, as those
    predictions do better, and take a tenth of the examples from training (small bots,
    ADR 0007). Else :data:`VALIDATION_FRACTION`."""
    names = {out_of_scope} if out_of_scope else set(OUT_OF_SCOPE_NAMES)
    if len(train) < self_calibrating_below and not any(i in names for _, i in train):
        return 0.0
    return VALIDATION_FRACTION


def relabelled(examples: list[Example], intents: set[str], label: str) -> list[Example]:
    """``examples`` with every intent in ``intents`` renamed ``label``."""
    return [(text, label if intent in intents else intent) for text, intent in examples]


def _unseen_as_out_of_scope(validation: list[Example], test: list[Example],
                            unseen: list[str], out_of_scope: str | None,
                            ) -> tuple[list[Example], list[Example], str]:
    """Messages whose intent training lacks are out of scope: nothing can recognise them, so
    the assistant must turn them away (live bots' test sets name them as they like, e.g.
    HINT3's ``NO_NODES_DETECTED``; a few-shot cut may leave an intent with no training
    example). They join the data's out-of-scope intent; without one, one such intent keeps
    its name and several become ``oos``."""
    if out_of_scope is None and len(unseen) == 1:
        return validation, test, unseen[0]
    label, names = out_of_scope or "oos", set(unseen)
    return relabelled(validation, names, label), relabelled(test, names, label), label
