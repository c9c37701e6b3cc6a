"""Keyboard typos for the NLU benchmark's robustness runs (``python -m bench.nlu --misspell``).

Public intent data is written carefully; live customer messages are typed fast on phones.
To see how a pipeline holds up, test messages get the typos people make: a letter dropped,
two swapped, doubled, or hit next to the right key (QWERTY), in a share of the words, plus
the habits of chat (no capitals, no apostrophes, no final punctuation) in half of the
messages. The first letter of a word is kept (people rarely miss it). Seeded, so a run can
be repeated exactly.
"""

from __future__ import annotations

import re

import numpy as np

KEYBOARD = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
WORD = re.compile(r"[A-Za-z]{3,}")


def _neighbours() -> dict[str, str]:
    """Each letter's adjacent keys on a QWERTY keyboard."""
    position = {key: (row, column) for row, keys in enumerate(KEYBOARD)
                for column, key in enumerate(keys)}
    return {key: "".join(sorted(other for other, (r, c) in position.items()
                                if other != key and abs(r - row) <= 1 and abs(c - column) <= 1))
            for key, (row, column) in position.items()}


NEIGHBOURS = _neighbours()


def typo(word: str, rng: np.random.Generator) -> str:
    """``word`` with one typo at a random position after its first letter."""
    i = int(rng.integers(1, len(word)))
    near = NEIGHBOURS.get(word[i].lower(), "")
    kind = int(rng.integers(5))
    if kind == 1 and i < len(word) - 1:                  # swap with the next letter
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == 2 and near:                               # hit the key next to it
        return word[:i] + near[int(rng.integers(len(near)))] + word[i + 1:]
    if kind == 3:                                        # double it
        return word[:i] + word[i] + word[i:]
    if kind == 4 and near:                               # hit a neighbour as well
        return word[:i] + near[int(rng.integers(len(near)))] + word[i:]
    return word[:i] + word[i + 1:]                       # drop it


def misspell(text: str, rng: np.random.Generator, rate: float) -> str:
    """``text`` with a typo in each word of 3+ letters with probability ``rate``, and in
    half of the messages each of: lower case, apostrophes dropped, final punctuation dropped.
    """
    text = WORD.sub(lambda m: typo(m.group(0), rng) if rng.random() < rate else m.group(0),
                    text)
    if rng.random() < 0.5:
        text = text.lower()
    if rng.random() < 0.5:
        text = text.replace("'", "")
    if rng.random() < 0.5:
        text = text.rstrip("?.!")
    return text
