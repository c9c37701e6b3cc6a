"""The first-turn benchmark's labels and scores (no model: decisions are given)."""

from __future__ import annotations

from pathlib import Path

import pytest

from actions.dialogue import Answer, Clarify, Handoff, HandoffReason, SmallTalk
from bench.nlu.first_turn import DATA, Labelled, outcome, read_labelled, score
from bot.catalogue import load_catalogue
from bot.settings import REPO

CATALOGUE = load_catalogue(REPO / "bot" / "moments.yml")
MOMENTS = {m.id: m for m in CATALOGUE.moments}


@pytest.mark.parametrize("name", sorted(path.name for path in DATA.glob("first-turns*.tsv")))
def test_the_shipped_messages_are_labelled_with_known_moments(name: str) -> None:
    rows = read_labelled(DATA / name, set(MOMENTS))
    assert len(rows) > 100
    assert len({r.text.lower() for r in rows}) == len(rows)


def test_a_bad_line_is_reported_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "m.tsv"
    path.write_text("# comment\nmy parcel is late\tparcel_late\nrefund please\trefunds\n")
    with pytest.raises(ValueError, match=r"m\.tsv:3: unknown label\(s\) refunds"):
        read_labelled(path, set(MOMENTS))
    path.write_text("no tab here\n")
    with pytest.raises(ValueError, match=r"m\.tsv:1: expected 'text<TAB>labels'"):
        read_labelled(path, set(MOMENTS))


def test_outcome_is_the_moment_acted_on_or_none() -> None:
    late, hacked = MOMENTS["parcel_late"], MOMENTS["account_hacked"]
    assert outcome(Answer(late)) == "parcel_late"
    assert outcome(Handoff(HandoffReason.POLICY, hacked)) == "account_hacked"
    assert outcome(Handoff(HandoffReason.CUSTOMER_ASKED, late)) == "request_human"
    assert outcome(Handoff(HandoffReason.LOW_CONFIDENCE, late)) == "none"
    assert outcome(Clarify((late,))) == "none"
    assert outcome(SmallTalk("utter_greet")) == "none"


def test_scores_split_messages_with_a_moment_from_those_where_no_article_is_right() -> None:
    rows = [Labelled("late", frozenset({"parcel_late"})),
            Labelled("late?", frozenset({"parcel_late"})),
            Labelled("refund", frozenset({"refund_not_received"})),
            Labelled("weather", frozenset({"none"})),
            Labelled("cancel", frozenset({"cancel_order", "none"}))]
    scores = score(rows, ["parcel_late", "none", "parcel_late", "unexpected_fee", "none"],
                   seen={"late", "weather"})
    assert scores["right"] == 0.4
    assert scores["not_in_training"] == {"messages": 3, "right": 0.3333}
    assert scores["acted_on"] == {"messages": 3, "right": 0.3333}
    assert scores["with_a_moment"] == {"messages": 3, "answered_right": 0.3333,
                                       "answered_wrong": 0.3333, "unsure": 0.3333}
    assert scores["no_article_right"] == {"messages": 2, "given_a_wrong_article": 0.5,
                                          "out_of_scope_only": 1,
                                          "out_of_scope_given_an_article": 1.0}


def test_a_seeded_model_trains_config_ymls_classifier_with_its_seeds_set(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    from bench.nlu import first_turn
    from bench.nlu.rasa_runner import CLASSIFIER

    trained: list[tuple[Path, Path]] = []

    def train(config: Path, nlu: Path, out: Path, log: Path) -> tuple[Path, float]:
        trained.append((config, nlu))
        return out / "model.tar.gz", 0.0

    monkeypatch.setattr(first_turn.rasa, "train", train)
    model = first_turn.seeded_model(3, tmp_path / "work")
    assert model == tmp_path / "work" / "seed-3" / "model.tar.gz"
    (config, nlu), = trained
    pipeline = yaml.safe_load(config.read_text())["pipeline"]
    classifier, = (part for part in pipeline if part["name"] == CLASSIFIER)
    assert classifier["seed"] == 3 and classifier["fine_tune_seed"] == 3
    assert classifier["fine_tune"] == "auto"  # config.yml's other options are kept
    assert nlu == REPO / "bot" / "data"


def test_seeds_and_a_given_model_are_refused_together(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.nlu.first_turn import main

    with pytest.raises(SystemExit) as stopped:
        main(["--seed", "1", "--model", "some.tar.gz"])
    assert stopped.value.code == 2
    assert "--seed trains its own models" in capsys.readouterr().err
