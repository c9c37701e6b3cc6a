"""``python -m bench.nlu.live_protocol --out DIR``: a live bot's own data, cut from CLINC150.

Writes ``DIR/train.csv`` (8 training examples an intent, none out of scope, as a live bot's
own data has) and ``DIR/test.csv`` (10 messages an intent of CLINC150's official ``val``
and the 200 out-of-scope messages of ``oos_train`` and ``oos_val``, 12% of it), drawn with
Python's ``random.Random(7)``. Then:

    python -m bench.nlu --train DIR/train.csv --test DIR/test.csv --name live --misspell 0.2

``--intents K`` writes a small bot instead, as most live bots are (a few dozen moments, a
few hundred examples): K intents drawn at random (``--seed``), ``--train-per-intent``
examples each (default 12), and a test of 10 messages an intent of ``val`` for those, 4 of
each of 30 other intents and the 100 of ``oos_val``, all out of scope (``oos``): about
half of the test, near and far.

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
#: A small bot: its training examples an intent; its test holds messages of this many other
#: intents, this many each.
SMALL_BOT_TRAIN_PER_INTENT, OTHER_INTENTS, OTHER_PER_INTENT = 12, 30, 4


def by_intent(rows: list[list[str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for text, intent in rows:
        grouped.setdefault(intent, []).append(text)
    return grouped


def write(out: Path, source: Path = BUILT_IN["clinc150"], intents: int | None = None,
          train_per_intent: int | None = None, seed: int = SEED) -> tuple[Path, Path]:
    """Writes the live protocol, or with ``intents`` a small bot's (the module's doc)."""
    data = json.loads(source.read_text(encoding="utf-8"))
    rng = random.Random(seed)

    def drawn(rows: list[list[str]], per_intent: int,
              chosen: list[str] | None = None) -> list[list[str]]:
        grouped = by_intent(rows)
        return [[text, intent] for intent in (chosen or sorted(grouped))
                for text in rng.sample(grouped[intent], per_intent)]

    out.mkdir(parents=True, exist_ok=True)
    if intents is None:
        train = drawn(data["train"], train_per_intent or TRAIN_PER_INTENT)
        test = drawn(data["val"], TEST_PER_INTENT) + [
            [text, "oos"] for text, _ in data["oos_train"] + data["oos_val"]]
    else:
        names = rng.sample(sorted(by_intent(data["train"])), intents + OTHER_INTENTS)
        chosen, others = sorted(names[:intents]), sorted(names[intents:])
        train = drawn(data["train"], train_per_intent or SMALL_BOT_TRAIN_PER_INTENT, chosen)
        test = drawn(data["val"], TEST_PER_INTENT, chosen) + [
            [text, "oos"] for text, _ in drawn(data["val"], OTHER_PER_INTENT, others)
            + data["oos_val"]]
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
    parser.add_argument("--intents", type=int, help="a small bot of this many intents")
    parser.add_argument("--train-per-intent", type=int,
                        help=f"training examples an intent (default {TRAIN_PER_INTENT}, "
                             f"a small bot {SMALL_BOT_TRAIN_PER_INTENT})")
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the draw")
    args = parser.parse_args()
    for path in write(args.out, intents=args.intents, train_per_intent=args.train_per_intent,
                      seed=args.seed):
        print(path)


if __name__ == "__main__":
    main()
