"""The clarify-answer benchmark's data and decisions (no model: parses are given)."""

from __future__ import annotations

from pathlib import Path

import pytest

from actions.dialogue import Dialogue
from bench.nlu import clarify_answers
from bench.nlu.clarify_answers import MESSAGES, decide, read_exchanges
from bench.nlu.rasa_runner import Parsed
from bot.catalogue import load_catalogue
from bot.settings import REPO

CATALOGUE = load_catalogue(REPO / "bot" / "moments.yml")
MOMENTS = {m.id for m in CATALOGUE.moments}


def test_the_shipped_exchanges_are_labelled_with_known_moments() -> None:
    rows = read_exchanges(MESSAGES, MOMENTS)
    assert len(rows) > 100
    assert len({(r.first.lower(), r.answer.text.lower()) for r in rows}) == len(rows)


def test_a_bad_line_is_reported_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "a.tsv"
    path.write_text("# comment\nmy order\tit never came\tparcel_late\nmy order\tidk\tnothing\n")
    with pytest.raises(ValueError, match=r"a\.tsv:3: unknown label\(s\) nothing"):
        read_exchanges(path, MOMENTS)
    path.write_text("my order\tit never came\n")
    with pytest.raises(ValueError, match=r"a\.tsv:1: expected 'first<TAB>answer<TAB>labels'"):
        read_exchanges(path, MOMENTS)


def parsed(intent: str, confidence: float, *ranking: tuple[str, float]) -> Parsed:
    ranked = [{"name": intent, "confidence": confidence}]
    ranked += [{"name": n, "confidence": c} for n, c in ranking]
    return Parsed(intent, confidence, float("nan"), 0.0,
                  {"intent": ranked[0], "intent_ranking": ranked})


def test_answers_are_decided_with_the_questions_choices_and_without(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.tsv"
    path.write_text("my order\tit never came\tparcel_late\n"
                    "my parcel is 5 days late\tok\tnone\n")
    parses = {"my order": parsed("vague", 0.99, ("parcel_late", 0.004),
                                 ("wrong_item", 0.003), ("item_missing_from_order", 0.002)),
              "it never came": parsed("parcel_late", 0.63),
              "my parcel is 5 days late": parsed("parcel_late", 0.97),
              "ok": parsed("affirm", 0.9)}
    monkeypatch.setattr(clarify_answers.rasa, "parse_all",
                        lambda port, texts: [parses[t] for t in texts])
    result = decide(read_exchanges(path, MOMENTS), 0, Dialogue(CATALOGUE))
    assert (result["exchanges"], result["asked"]) == (2, 1)  # the second was answered at once
    [row] = result["outcomes"]
    assert row["choices"] == ["parcel_late", "wrong_item", "item_missing_from_order"]
    assert (row["outcome"], row["outcome_before"]) == ("parcel_late", "none")
    assert result["scores"]["right"] == 1.0 and result["scores_before"]["right"] == 0.0
