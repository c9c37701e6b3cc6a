"""``python -m bench.nlu.two_problems``: whether the assistant hears a second problem.

A customer may state two problems in one message ("my parcel is late, also i was charged
twice"). When parts of the message are each about a moment with confidence
(``actions.dialogue.Dialogue.parts_heard`` over the classifier's parts, :mod:`bot.clauses`),
the assistant answers the one said first, says it heard the other and offers it once the
first is solved. Hearing a problem that was not there costs trust, so this measures both sides,
through the shipped model served by ``rasa run`` and the assistant's own turn logic:

* ``bench/data/two-problems.tsv`` (``text<TAB>two|one<TAB>moment[|moment]``): messages with
  two problems, and messages with one written so that a naive cut would find two (background,
  what was tried, a feeling): for the first, the share whose second problem was heard (and
  heard right), for the second the share wrongly given a second;
* every ``bench/data/first-turns*.tsv``: first messages of every kind, whose labels carry
  both moments where a message has two: the share wrongly given a second problem.

Writes ``bench/results/two-problems.json``.

    python -m bench.nlu.two_problems [--model M] [--port P]
"""

from __future__ import annotations

import argparse
import datetime
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from actions.dialogue import Answer, Dialogue, State, Turn
from bench.nlu import rasa_runner as rasa
from bench.nlu.first_turn import (
    DATA,
    outcome,
    parse_model_arguments,
    read_labelled,
    shipped_model,
)
from bench.nlu.run import git_commit
from bot.catalogue import load_catalogue
from bot.settings import REPO

DEFAULT_SET = DATA / "two-problems.tsv"
RESULT = "two-problems.json"
GROUPS = ("two", "one")


@dataclass(frozen=True)
class Message:
    text: str
    group: str  # "two" or "one"
    moments: tuple[str, ...]  # in the order the message states them


def read_messages(path: Path, moments: set[str]) -> list[Message]:
    """``text<TAB>group<TAB>moment[|moment]`` lines; ``#`` comments and blank lines skipped."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 3 or fields[1] not in GROUPS:
            raise ValueError(f"{path}:{number}: expected 'text<TAB>two|one<TAB>moments', "
                             f"got {line!r}")
        labels = tuple(fields[2].split("|"))
        if unknown := sorted(set(labels) - moments):
            raise ValueError(f"{path}:{number}: unknown moment(s) {', '.join(unknown)}")
        if len(labels) != (2 if fields[1] == "two" else 1):
            raise ValueError(f"{path}:{number}: group {fields[1]} needs "
                             f"{'two moments' if fields[1] == 'two' else 'one moment'}")
        rows.append(Message(fields[0].strip(), fields[1], labels))
    return rows


def heard(dialogue: Dialogue, text: str, parsed: rasa.Parsed) -> tuple[str, tuple[str, ...]]:
    """The first turn's outcome (as ``bench.nlu.first_turn`` counts it) and the other
    moments it said it heard."""
    decision = dialogue.decide(replace(Turn.from_parse(parsed.payload), text=text), State())
    also = tuple(m.id for m in decision.also) if isinstance(decision, Answer) else ()
    return outcome(decision), also


def share(count: int, total: int) -> float:
    return round(count / total, 4) if total else 0.0


def score_set(rows: list[Message], decided: list[tuple[str, tuple[str, ...]]]) -> dict[str, Any]:
    scores: dict[str, Any] = {}
    for group in GROUPS:
        pairs = [(r, d) for r, d in zip(rows, decided, strict=True) if r.group == group]
        answered = [(r, d) for r, d in pairs if d[0] in r.moments]
        wrongly = sum(any(a not in r.moments for a in d[1]) for r, d in pairs)
        scores[group] = {"messages": len(pairs),
                         "first_turn_right": share(len(answered), len(pairs)),
                         "a_wrong_second_heard": share(wrongly, len(pairs))}
        if group == "two":
            scores[group]["second_heard_right"] = share(
                sum(bool(d[1]) and set(d[1]) | {d[0]} == set(r.moments) for r, d in answered),
                len(pairs))
    return scores


def markdown(result: dict[str, Any]) -> str:
    two, one = result["set"]["two"], result["set"]["one"]
    others = result["first_turn_sets"]
    return "\n".join([
        f"**Two problems in one message** (`python -m bench.nlu.two_problems`, "
        f"{result['started'][:10]}, commit {result['commit'][:7]}; `{result['messages_file']}` "
        "and every first-turn set, decided by the assistant's model and turn logic; \"second "
        "problem heard right\": the first turn answers one of the two and says it heard the "
        "other):",
        "",
        "| messages | first turn right | second problem heard right | a wrong second heard |",
        "|---|---|---|---|",
        f"| two problems ({two['messages']}) | {two['first_turn_right']:.1%} | "
        f"{two['second_heard_right']:.1%} | {two['a_wrong_second_heard']:.1%} |",
        f"| one problem, written to look like two ({one['messages']}) | "
        f"{one['first_turn_right']:.1%} | | {one['a_wrong_second_heard']:.1%} |",
        f"| the first-turn sets ({others['messages']}) | | {others['heard_right']} messages | "
        f"{others['a_wrong_second_heard']:.1%} ({others['wrongly']} messages) |",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.nlu.two_problems", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=Path, default=DEFAULT_SET)
    args = parse_model_arguments(parser, argv, port=5112)
    catalogue = load_catalogue(REPO / "bot" / "moments.yml")
    ids = {m.id for m in catalogue.moments}
    rows = read_messages(args.messages, ids)
    first_turns = {path: read_labelled(path, ids) for path in sorted(DATA.glob("first-turns*.tsv"))}
    dialogue = Dialogue(catalogue)
    model = args.model or shipped_model()
    with rasa.serve(model, args.port, Path("/tmp") / f"two-problems-{args.port}.log", threads=1):
        decided = [heard(dialogue, r.text, p)
                   for r, p in zip(rows, rasa.parse_all(args.port, [r.text for r in rows]),
                                   strict=True)]
        wrong_examples, right, wrongly, total = [], 0, 0, 0
        for labelled in first_turns.values():
            texts = [r.text for r in labelled]
            for message, parsed in zip(labelled, rasa.parse_all(args.port, texts), strict=True):
                _, also = heard(dialogue, message.text, parsed)
                total += 1
                if also and all(a in message.labels for a in also):
                    right += 1
                elif also:
                    wrongly += 1
                    wrong_examples.append({"text": message.text, "heard": list(also),
                                           "labels": sorted(message.labels)})
    result = {"messages_file": str(args.messages.resolve().relative_to(REPO)
                                   if args.messages.resolve().is_relative_to(REPO)
                                   else args.messages),
              "started": datetime.datetime.now(datetime.timezone.utc).isoformat(
                  timespec="seconds"),
              **git_commit(), "model": model.name, "set": score_set(rows, decided),
              "first_turn_sets": {"messages": total, "heard_right": right, "wrongly": wrongly,
                                  "a_wrong_second_heard": share(wrongly, total),
                                  "wrong": wrong_examples},
              "outcomes": [{"text": r.text, "group": r.group, "moments": list(r.moments),
                            "outcome": d[0], "heard": list(d[1])}
                           for r, d in zip(rows, decided, strict=True)]}
    result["markdown"] = markdown(result)
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / RESULT
    path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(result["markdown"])
    for row in result["outcomes"]:
        if (row["group"] == "two" and not row["heard"]) or any(
                m not in row["moments"] for m in row["heard"]):
            print(f"  {row['group']}: {row['text']!r} -> {row['outcome']} + {row['heard']} "
                  f"(right: {'|'.join(row['moments'])})")
    for wrong in wrong_examples:
        print(f"  first-turn set: {wrong['text']!r} -> + {wrong['heard']} (right: "
              f"{'|'.join(wrong['labels'])})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
