"""``python -m bench.nlu.first_turn``: what the shipped assistant does with first messages.

Each message of a labelled file is parsed by the assistant's trained model through ``rasa
run`` and then decided by the assistant's own turn logic (``actions.dialogue.Dialogue``
with the catalogue's thresholds and handoff policies), as the first turn of a conversation.
The outcome is the moment answered or routed to a person, ``request_human`` for a handoff
the customer asked for, or ``none`` for everything that gives no article (small talk, a
clarifying question, a low-confidence handoff). A message is right when its outcome is one
of its labels; ``none`` among the labels means that no article is right too (out-of-scope,
vague or ambiguous messages).

    python -m bench.nlu.first_turn                       # every bench/data/first-turns*.tsv
    python -m bench.nlu.first_turn --messages my.tsv     # text<TAB>label|label...
    python -m bench.nlu.first_turn --seed 0 --seed 1 --seed 2   # the spread over seeds

``first-turns.tsv`` was written by the team while probing the model; the independent sets
``first-turns-independent.tsv``, ``first-turns-fresh.tsv`` and, on 2026-11-27,
``first-turns-live.tsv`` (short live-chat messages, a third out of scope) and
``first-turns-brands.tsv`` (messages about other companies' services, and messages about
ours that name another company in passing) and ``first-turns-orders.tsv`` (orders,
deliveries and the questions near them: where is my order, delivery questions before
buying, other shops' deliveries), ``first-turns-heldout.tsv`` (240 of every kind: clear,
vague, out of scope, other companies', ours naming another company in passing) and
``first-turns-heldout-2.tsv`` (220 of the same kinds, with banks and payment apps) and, on
2026-11-28, ``first-turns-heldout-3.tsv`` (250 in the style of live bots' traffic: short,
misspelt, many out of scope), ``first-turns-heldout-4.tsv`` (269 of the same style, with
more out-of-scope messages near the shop's business) and ``first-turns-heldout-5.tsv`` (266:
long messages with backstory, other languages, spam and prompt injections too) were
written from the moments' titles and descriptions only, without seeing the training
examples or the earlier sets. ``first-turns-heldout-6.tsv`` (364, 2026-11-29) holds the
first messages of two exploratory customer's-eye passes over the running assistant, none a
training example; their findings changed the turn logic the same day, so it is held out
for the classifier, not for those rules. Each set has guided changes once it had been
measured (ADR 0007 says which). Writes
``bench/results/first-turn-<file name>.json``: the share right (also without messages that
are word for word a training example), for messages with a moment to find the share
answered right, answered wrongly (an article or person for another moment) and left
unsure, the share given an article among those where none is right, and the share of
articles and routings that were right.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
from collections.abc import Collection
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from actions.dialogue import Answer, Decision, Dialogue, Handoff, HandoffReason, State, Turn
from bench.nlu import rasa_runner as rasa
from bench.nlu.run import git_commit
from bot.catalogue import PERSON_MOMENT, load_catalogue
from bot.settings import REPO

NONE = "none"
DATA = REPO / "bench" / "data"
DEFAULT_MESSAGES = DATA / "first-turns.tsv"
RESULTS = REPO / "bench" / "results"
#: ``--seed``'s result (not named first-turn-*: the README's block shows those one by one)
SEEDS_RESULT = "seeds-first-turn.json"


@dataclass(frozen=True)
class Labelled:
    text: str
    labels: frozenset[str]


def read_labelled(path: Path, moments: set[str]) -> list[Labelled]:
    """``text<TAB>label|label`` lines; ``#`` comments and blank lines are skipped."""
    known = moments | {NONE}
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        text, tab, labels = line.rpartition("\t")
        if not tab or not text.strip():
            raise ValueError(f"{path}:{number}: expected 'text<TAB>labels', got {line!r}")
        label_set = frozenset(label.strip() for label in labels.split("|"))
        unknown = sorted(label_set - known)
        if unknown:
            raise ValueError(f"{path}:{number}: unknown label(s) {', '.join(unknown)} "
                             "(a moment id of bot/moments.yml or 'none')")
        rows.append(Labelled(text.strip(), label_set))
    if not rows:
        raise ValueError(f"{path}: no labelled messages")
    return rows


def outcome(decision: Decision) -> str:
    """The moment the first turn acts on, or ``none`` when it gives no article."""
    if isinstance(decision, Answer):
        return decision.moment.id
    if isinstance(decision, Handoff):
        if decision.reason is HandoffReason.CUSTOMER_ASKED:
            return PERSON_MOMENT
        if decision.reason is HandoffReason.POLICY and decision.moment is not None:
            return decision.moment.id
    return NONE


def training_texts(data: Path = REPO / "bot" / "data") -> set[str]:
    """The lower-cased training examples of the shipped model (moments and conversation)."""
    from bench.nlu.data import read_rasa_nlu

    return {text.lower() for text, _ in read_rasa_nlu(data)}


def score(rows: list[Labelled], outcomes: list[str],
          seen: Collection[str] = ()) -> dict[str, Any]:
    """Right / wrong / unsure for messages with a moment to find; articles where none is.

    ``seen`` are the training examples: short live messages ("help", "order") are often
    word for word one of them, so the share right is also given without those.
    """
    pairs = list(zip(rows, outcomes, strict=True))
    unseen = [(r, o) for r, o in pairs if r.text.lower() not in seen]
    acted = [(r, o) for r, o in pairs if o != NONE]
    seeking = [(r, o) for r, o in pairs if NONE not in r.labels]
    optional = [(r, o) for r, o in pairs if NONE in r.labels]
    only_none = [(r, o) for r, o in optional if r.labels == {NONE}]

    def share(pairs: list[tuple[Labelled, str]], test: Any) -> float:
        return round(sum(1 for r, o in pairs if test(r, o)) / len(pairs), 4) if pairs else 0.0

    return {
        "messages": len(rows),
        "right": share(pairs, lambda r, o: o in r.labels),
        "not_in_training": {"messages": len(unseen),
                            "right": share(unseen, lambda r, o: o in r.labels)},
        # How far an article (or a routing) can be trusted: the share of them that were right.
        "acted_on": {"messages": len(acted), "right": share(acted, lambda r, o: o in r.labels)},
        "with_a_moment": {
            "messages": len(seeking),
            "answered_right": share(seeking, lambda r, o: o in r.labels),
            "answered_wrong": share(seeking, lambda r, o: o != NONE and o not in r.labels),
            "unsure": share(seeking, lambda r, o: o == NONE),
        },
        "no_article_right": {
            "messages": len(optional),
            "given_a_wrong_article": share(optional, lambda r, o: o not in r.labels),
            "out_of_scope_only": len(only_none),
            "out_of_scope_given_an_article": share(only_none, lambda r, o: o != NONE),
        },
    }


def markdown(result: dict[str, Any]) -> str:
    """The README's summary of one run."""
    scores = result["scores"]
    found, none = scores["with_a_moment"], scores["no_article_right"]
    unseen, acted = scores["not_in_training"], scores["acted_on"]
    return "\n".join([
        f"**First turns** (`python -m bench.nlu.first_turn`, {result['started'][:10]}, commit "
        f"{result['commit'][:7]}; {scores['messages']} live-chat-style messages in "
        f"`{result['messages_file']}`, decided by the assistant's model and turn logic):",
        "",
        "| right outcome | the same, messages not word for word in training | "
        "with a moment: answered right / wrong / unsure | "
        "no article right: given one | out of scope: given an article | "
        "articles and routings: right |",
        "|---|---|---|---|---|---|",
        f"| {scores['right']:.1%} | {unseen['right']:.1%} ({unseen['messages']}) | "
        f"{found['answered_right']:.1%} / "
        f"{found['answered_wrong']:.1%} / {found['unsure']:.1%} ({found['messages']}) | "
        f"{none['given_a_wrong_article']:.1%} ({none['messages']}) | "
        f"{none['out_of_scope_given_an_article']:.1%} ({none['out_of_scope_only']}) | "
        f"{acted['right']:.1%} ({acted['messages']}) |",
    ])


def decide_all(rows: list[Labelled], parsed: list[rasa.Parsed], dialogue: Dialogue) -> list[str]:
    """Each parsed message's outcome as the first turn of a conversation."""
    return [outcome(dialogue.decide(
        replace(Turn.from_parse(p.payload), text=r.text, intent=p.intent,
                confidence=p.confidence), State()))
        for r, p in zip(rows, parsed, strict=True)]


def report(messages: Path, rows: list[Labelled], parsed: list[rasa.Parsed],
           dialogue: Dialogue, model: Path, results: Path, seen: Collection[str]) -> None:
    """Decides each parsed message as a first turn; writes and prints the scores."""
    outcomes = decide_all(rows, parsed, dialogue)
    source = messages.resolve()
    result = {"messages_file": str(source.relative_to(REPO) if source.is_relative_to(REPO)
                                   else source),
              "started": datetime.datetime.now(datetime.timezone.utc).isoformat(
                  timespec="seconds"),
              **git_commit(), "model": model.name, "scores": score(rows, outcomes, seen),
              "outcomes": [{"text": r.text, "labels": sorted(r.labels), "outcome": o,
                            "intent": p.intent, "confidence": round(p.confidence, 3)}
                           for r, o, p in zip(rows, outcomes, parsed, strict=True)]}
    result["markdown"] = markdown(result)
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"first-turn-{messages.stem}.json"
    path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"{messages}:", json.dumps(result["scores"], indent=1))
    for row in result["outcomes"]:
        if row["outcome"] not in row["labels"]:
            print(f"  {row['outcome']:28s} for {row['text']!r} "
                  f"({row['intent']} {row['confidence']:.2f}; right: {'|'.join(row['labels'])})")
    logging.info("written %s", path)


def seeded_model(seed: int, work: Path) -> Path:
    """An NLU model of the shipped data, config.yml's classifier with its seeds set to ``seed``
    (the held-out split, the head's initial sample and the fine-tune)."""
    work.mkdir(parents=True, exist_ok=True)
    config = work / f"config-seed-{seed}.yml"
    rasa.write_project_config(config, {"seed": seed, "fine_tune_seed": seed})
    logging.info("training the seed-%d model (about 2 minutes)", seed)
    model, _ = rasa.train(config, REPO / "bot" / "data", work / f"seed-{seed}",
                          work / f"train-seed-{seed}.log")
    return model


def seed_spread(sets: dict[Path, list[Labelled]], dialogue: Dialogue, seen: Collection[str],
                seeds: list[int], port: int, work: Path, results: Path) -> dict[str, Any]:
    """Each set's share right under models that differ only in their seeds.

    A single fine-tune's outcomes on borderline messages move with its seed (ADR 0007):
    compare two versions of the catalogue by the spread over seeds, not by one run.
    """
    right: dict[str, dict[int, float]] = {path.name: {} for path in sets}
    for seed in seeds:
        model = seeded_model(seed, work)
        with rasa.serve(model, port, work / f"serve-seed-{seed}.log", threads=1):
            for path, rows in sets.items():
                outcomes = decide_all(rows, rasa.parse_all(port, [r.text for r in rows]),
                                      dialogue)
                right[path.name][seed] = score(rows, outcomes, seen)["right"]
    summary: dict[str, dict[str, Any]] = {}
    for name, by_seed in right.items():
        shares = list(by_seed.values())
        summary[name] = {"right_by_seed": by_seed, "mean": round(sum(shares) / len(shares), 4),
                         "min": min(shares), "max": max(shares)}
    result = {"started": datetime.datetime.now(datetime.timezone.utc).isoformat(
                  timespec="seconds"), **git_commit(), "seeds": seeds, "sets": summary}
    results.mkdir(parents=True, exist_ok=True)
    path = results / SEEDS_RESULT
    path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    for name, row in summary.items():
        runs = " ".join(f"{row['right_by_seed'][seed]:.1%}" for seed in seeds)
        print(f"{name:34s} right {row['mean']:.1%} (seeds {runs})")
    logging.info("written %s", path)
    return result


def parse_model_arguments(parser: argparse.ArgumentParser, argv: list[str] | None, port: int,
                          seed_help: str | None = None) -> argparse.Namespace:
    """Adds the options of a benchmark of the shipped model (``--model``, ``--port``,
    ``--results``, and with a ``seed_help`` ``--seed`` and ``--work``), parses ``argv`` and
    starts logging."""
    parser.add_argument("--model", type=Path, help="a trained model (default: `mot train`'s)")
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--results", type=Path, default=RESULTS)
    if seed_help is not None:
        parser.add_argument("--seed", type=int, action="append", default=[], help=seed_help)
        parser.add_argument("--work", type=Path, default=Path("/tmp/mot-first-turn-seeds"),
                            help="where --seed keeps its models and logs")
    args = parser.parse_args(argv)
    if getattr(args, "seed", None) and args.model:
        parser.error("--seed trains its own models; leave out --model")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    return args


def shipped_model() -> Path:
    """`mot train`'s model, trained first if its inputs changed."""
    from bot.build import train
    from bot.settings import load_settings

    return train(load_settings(), lambda line: logging.info("mot: %s", line))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.nlu.first_turn", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=Path, action="append",
                        help="labelled messages (repeatable; default: every "
                             "bench/data/first-turns*.tsv)")
    args = parse_model_arguments(
        parser, argv, port=5108,
        seed_help="train an NLU model with the classifier's seeds set to this (repeatable) and "
                  "report each set's share right by seed, its mean and range "
                  f"(bench/results/{SEEDS_RESULT}), instead of one run of `mot train`'s model")

    catalogue = load_catalogue(REPO / "bot" / "moments.yml")
    files = args.messages or sorted(DATA.glob("first-turns*.tsv"))
    sets = {path: read_labelled(path, {m.id for m in catalogue.moments}) for path in files}
    dialogue, seen = Dialogue(catalogue), training_texts()
    if args.seed:
        seed_spread(sets, dialogue, seen, args.seed, args.port, args.work, args.results)
        return 0
    model = args.model or shipped_model()
    with rasa.serve(model, args.port, Path("/tmp") / f"first-turn-{args.port}.log", threads=1):
        for path, rows in sets.items():
            parsed = rasa.parse_all(args.port, [r.text for r in rows])
            report(path, rows, parsed, dialogue, model, args.results, seen)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
