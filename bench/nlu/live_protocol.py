"""``python -m bench.nlu.live_protocol --out DIR``: a live bot's own data, cut from CLINC150.

Writes ``DIR/train.csv`` (8 training examples an intent, none out of scope, as a live bot's
own data has) and ``DIR/test.csv`` (10 messages an intent of CLINC150's official ``val``
and the 200 out-of-scope messages of ``oos_train`` and ``oos_val``, 12% of it), drawn with
Python's ``random.Random(7)``. Then:

    python -m bench.nlu --train DIR/train.csv --test DIR/test.csv --name live --misspell 0.2

The files are written outside the project: the data stays in ``../shared/datasets``.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from pathlib import Path

from bench.nlu.__main__ import BUILT_IN

TRAIN_PER_INTENT, TEST_PER_INTENT, SEED = 8, 10, 7


def by_intent(rows: list[list[str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for text, intent in rows:
        grouped.setdefault(intent, []).append(text)
    return grouped


def write(out: Path, source: Path = BUILT_IN["clinc150"]) -> tuple[Path, Path]:
    data = json.loads(source.read_text(encoding="utf-8"))
    rng = random.Random(SEED)

    def drawn(rows: list[list[str]], per_intent: int) -> list[list[str]]:
        grouped = by_intent(rows)
        return [[text, intent] for intent in sorted(grouped)
                for text in rng.sample(grouped[intent], per_intent)]

    out.mkdir(parents=True, exist_ok=True)
    train = drawn(data["train"], TRAIN_PER_INTENT)
    test = drawn(data["val"], TEST_PER_INTENT) + [
        [text, "oos"] for text, _ in data["oos_train"] + data["oos_val"]]
    paths = out / "train.csv", out / "test.csv"
    for path, rows in zip(paths, (train, test), strict=True):
        with path.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows([["text", "intent"], *rows])
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.nlu.live_protocol",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder for the two files")
    for path in write(parser.parse_args().out):
        print(path)


if __name__ == "__main__":
    main()
