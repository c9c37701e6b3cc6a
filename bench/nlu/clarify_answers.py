"""``python -m bench.nlu.clarify_answers``: what the assistant does with an answer typed, not
clicked, to its clarifying question.

Each line of ``bench/data/clarify-answers.tsv`` is ``first message<TAB>typed answer<TAB>
label|label``. Both are parsed by the assistant's trained model through ``rasa run``; the
first is decided by the turn logic as the first turn of a conversation, and where it gets the
clarifying question, the answer is decided as the next turn, with the question's choices
(``State(clarified=True, choices=...)``). Outcomes and scores are those of
:mod:`bench.nlu.first_turn`, over the answers that followed a question. The same answers
are also decided as before the choices were kept (``choices=()``: under the moment's
threshold, a person), so one run shows both.

    python -m bench.nlu.clarify_answers                  # `mot train`'s model
    python -m bench.nlu.clarify_answers --seed 0 --seed 1 --seed 2

Writes ``bench/results/clarify-answers.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from actions.dialogue import Clarify, Dialogue, State, Turn
from bench.nlu import rasa_runner as rasa
from bench.nlu.first_turn import (
    NONE,
    Labelled,
    outcome,
    parse_model_arguments,
    score,
    seeded_model,
    shipped_model,
)
from bench.nlu.run import git_commit
from bot.catalogue import load_catalogue
from bot.settings import REPO

MESSAGES = REPO / "bench" / "data" / "clarify-answers.tsv"
RESULT = "clarify-answers.json"


@dataclass(frozen=True)
class Exchange:
    first: str
    answer: Labelled


def read_exchanges(path: Path, moments: set[str]) -> list[Exchange]:
    """``first<TAB>answer<TAB>label|label`` lines; ``#`` comments and blank lines skipped."""
    known = moments | {NONE}
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 3 or not fields[0].strip() or not fields[1].strip():
            raise ValueError(f"{path}:{number}: expected 'first<TAB>answer<TAB>labels', "
                             f"got {line!r}")
        labels = frozenset(label.strip() for label in fields[2].split("|"))
        unknown = sorted(labels - known)
        if unknown:
            raise ValueError(f"{path}:{number}: unknown label(s) {', '.join(unknown)} "
                             "(a moment id of bot/moments.yml or 'none')")
        rows.append(Exchange(fields[0].strip(), Labelled(fields[1].strip(), labels)))
    if not rows:
        raise ValueError(f"{path}: no exchanges")
    return rows


def turn(text: str, parsed: rasa.Parsed) -> Turn:
    return replace(Turn.from_parse(parsed.payload), text=text, intent=parsed.intent,
                   confidence=parsed.confidence)


def decide(rows: list[Exchange], port: int, dialogue: Dialogue) -> dict[str, Any]:
    """Scores of the answers that followed a clarifying question, with and without its
    choices kept, and each such answer's outcome."""
    firsts = rasa.parse_all(port, [r.first for r in rows])
    answers = rasa.parse_all(port, [r.answer.text for r in rows])
    asked, now, before, details = [], [], [], []
    for row, first, answer in zip(rows, firsts, answers, strict=True):
        question = dialogue.decide(turn(row.first, first), State())
        if not isinstance(question, Clarify):
            continue
        choices = tuple(m.id for m in question.choices)
        reply = turn(row.answer.text, answer)
        asked.append(row.answer)
        now.append(outcome(dialogue.decide(reply, State(clarified=True, choices=choices))))
        before.append(outcome(dialogue.decide(reply, State(clarified=True))))
        details.append({"first": row.first, "answer": row.answer.text,
                        "labels": sorted(row.answer.labels), "choices": list(choices),
                        "intent": answer.intent, "confidence": round(answer.confidence, 3),
                        "outcome": now[-1], "outcome_before": before[-1]})
    return {"exchanges": len(rows), "asked": len(asked),
            "scores": score(asked, now), "scores_before": score(asked, before),
            "outcomes": details}


def markdown(result: dict[str, Any]) -> str:
    """The README's summary: one row a model, now and before the choices were kept."""
    rows = []
    for name, run in result["runs"].items():
        cells = []
        for scores in (run["scores"], run["scores_before"]):
            found, none = scores["with_a_moment"], scores["no_article_right"]
            cells.append(f"{scores['right']:.1%} | {found['answered_right']:.1%} / "
                         f"{found['answered_wrong']:.1%} / {found['unsure']:.1%} | "
                         f"{none['given_a_wrong_article']:.1%}")
        rows.append(f"| {name} | {run['asked']} of {run['exchanges']} | {cells[0]} | "
                    f"{cells[1]} |")
    return "\n".join([
        f"**Typed answers to the clarifying question** (`python -m bench.nlu.clarify_answers`, "
        f"{result['started'][:10]}, commit {result['commit'][:7]}; `{result['messages_file']}`:"
        " a first message, then the answer the customer typed instead of clicking a choice; "
        "\"before\": the same answers as decided before the question's choices were kept):",
        "",
        "| model | got the question | right | with a moment: right / wrong / unsure | "
        "no article right: given one | before: right | before: right / wrong / unsure | "
        "before: given one |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.nlu.clarify_answers",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=Path, default=MESSAGES)
    args = parse_model_arguments(
        parser, argv, port=5109,
        seed_help="train an NLU model with the classifier's seeds set to this (repeatable) "
                  "instead of using `mot train`'s")

    catalogue = load_catalogue(REPO / "bot" / "moments.yml")
    rows = read_exchanges(args.messages, {m.id for m in catalogue.moments})
    dialogue = Dialogue(catalogue)
    runs: dict[str, dict[str, Any]] = {}
    for seed in args.seed or [None]:
        model = (seeded_model(seed, args.work) if seed is not None
                 else args.model or shipped_model())
        with rasa.serve(model, args.port, Path("/tmp") / f"clarify-answers-{args.port}.log",
                        threads=1):
            runs[model.name if seed is None else f"seed {seed}"] = decide(
                rows, args.port, dialogue)
    source = args.messages.resolve()
    result = {"messages_file": str(source.relative_to(REPO) if source.is_relative_to(REPO)
                                   else source),
              "started": datetime.datetime.now(datetime.timezone.utc).isoformat(
                  timespec="seconds"), **git_commit(), "runs": runs}
    result["markdown"] = markdown(result)
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / RESULT
    path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    for name, run in runs.items():
        now, before = run["scores"], run["scores_before"]
        print(f"{name}: {run['asked']} of {run['exchanges']} first messages got the question; "
              f"answers right {now['right']:.1%} (before: {before['right']:.1%}); with a "
              f"moment answered right / wrong / unsure "
              f"{now['with_a_moment']['answered_right']:.1%} / "
              f"{now['with_a_moment']['answered_wrong']:.1%} / "
              f"{now['with_a_moment']['unsure']:.1%} (before: "
              f"{before['with_a_moment']['answered_right']:.1%} / "
              f"{before['with_a_moment']['answered_wrong']:.1%} / "
              f"{before['with_a_moment']['unsure']:.1%}); no article right, given one "
              f"{now['no_article_right']['given_a_wrong_article']:.1%} (before: "
              f"{before['no_article_right']['given_a_wrong_article']:.1%})")
        for row in run["outcomes"]:
            if row["outcome"] not in row["labels"]:
                print(f"  {row['outcome']:26s} for {row['first']!r} -> {row['answer']!r} "
                      f"({row['intent']} {row['confidence']:.2f}; choices "
                      f"{', '.join(row['choices'])}; right: {'|'.join(row['labels'])})")
    logging.info("written %s", path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
