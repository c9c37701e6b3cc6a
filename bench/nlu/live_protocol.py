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
    train, val = by_intent(data["train"]), by_intent(data["val"])
    out.mkdir(parents=True, exist_ok=True)
    paths = out / "train.csv", out / "test.csv"
    with paths[0].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "intent"])
        for intent in sorted(train):
            writer.writerows([text, intent] for text in rng.sample(train[intent],
                                                                   TRAIN_PER_INTENT))
    with paths[1].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "intent"])
        for intent in sorted(val):
            writer.writerows([text, intent] for text in rng.sample(val[intent],
                                                                   TEST_PER_INTENT))
        writer.writerows([text, "oos"] for text, _ in data["oos_train"] + data["oos_val"])
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
