"""The catalogue: validation with clear errors, and generated Rasa files that never drift."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.build import BuildError, ensure_blank_spacy_model, generate, load_content
from bot.catalogue import (
    MIN_EXAMPLES,
    STAGES,
    CatalogueError,
    CatalogueErrors,
    load_catalogue,
    parse_catalogue,
)
from bot.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[2]


def moment(**overrides: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "id": "parcel_late", "title": "Parcel is late", "stage": "delivery",
        "severity": "medium", "handoff": "bot_first", "threshold": 0.5, "skill": "delivery",
        "articles": ["parcel-late-track"],
        "examples": [f"my parcel is late {n}" for n in range(MIN_EXAMPLES)],
    }
    entry.update(overrides)
    return entry


def test_shipped_catalogue_covers_every_journey_stage(catalogue) -> None:
    assert len(catalogue.moments) >= 30
    assert {m.stage for m in catalogue.moments} == set(STAGES)
    assert all(len(m.examples) >= MIN_EXAMPLES for m in catalogue.moments)
    assert catalogue["request_human"].always_person


def test_shipped_content_links_only_existing_articles() -> None:
    catalogue, articles = load_content(load_settings({"MOT_DATA_DIR": "/tmp/mot-unit"}))
    ids = {a.id for a in articles}
    for entry in catalogue.moments:
        assert entry.articles and set(entry.articles) <= ids
        assert any(a.is_published and entry.id in a.moments for a in articles), entry.id


def test_generated_rasa_files_match_the_catalogue(catalogue) -> None:
    assert generate(catalogue, check=True) == [], "run `python -m bot generate`"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"id": "Parcel Late"}, "snake_case"),
        ({"stage": "space"}, "stage 'space' is not one of"),
        ({"severity": "huge"}, "severity"),
        ({"handoff": "never"}, "handoff"),
        ({"threshold": 1.5}, "threshold"),
        ({"threshold": "high"}, "threshold"),
        ({"examples": ["too few"]}, f"at least {MIN_EXAMPLES}"),
        ({"title": ""}, "title is missing"),
        ({"id": "greet"}, "reserved"),
    ],
)
def test_a_bad_moment_is_reported_with_file_moment_and_reason(overrides, message) -> None:
    with pytest.raises(CatalogueError) as error:
        parse_catalogue({"moments": [moment(**overrides)]}, "moments.yml")
    assert message in str(error.value)
    assert str(error.value).startswith("moments.yml")


def test_duplicate_examples_across_moments_are_refused() -> None:
    first = moment()
    second = moment(id="parcel_missing")
    with pytest.raises(CatalogueError, match="also belongs to 'parcel_late'"):
        parse_catalogue({"moments": [first, second]}, "moments.yml")


def test_broken_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "moments.yml"
    path.write_text("moments: [\n  - id: x\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match=f"{path}:2: broken YAML"):
        load_catalogue(path)


def test_generated_nlu_holds_every_example(catalogue) -> None:
    nlu = yaml.safe_load((REPO / "bot/data/nlu_moments.yml").read_text(encoding="utf-8"))
    written = {entry["intent"]: entry["examples"].count("\n- ") + 1 for entry in nlu["nlu"]}
    assert written == {m.id: len(m.examples) for m in catalogue.moments}


def test_blank_spacy_model_made_by_two_trainings_at_once(tmp_path: Path, monkeypatch) -> None:
    """Benchmarks trained side by side both made config.yml's spaCy model, and one failed on
    the other's directory. Here the other one finishes while this one builds its pipeline."""
    import spacy

    target = tmp_path / "spacy" / "en_blank"
    real_blank = spacy.blank

    def other_training_finishes_first(language: str):
        nlp = real_blank(language)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            nlp.to_disk(target)
        return nlp

    monkeypatch.setattr(spacy, "blank", other_training_finishes_first)
    assert ensure_blank_spacy_model(target) == target
    assert (target / "meta.json").exists()
    assert [p.name for p in target.parent.iterdir()] == ["en_blank"]  # no staging left


def test_blank_spacy_model_is_never_left_half_written(tmp_path: Path, monkeypatch) -> None:
    """A training stopped while writing the model leaves nothing at the path, so the next one
    (or one running beside it) never finds a directory that is not a model."""
    from spacy.language import Language

    def interrupted(self, path, **kwargs):
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / "config.cfg").write_text("half")
        raise KeyboardInterrupt

    monkeypatch.setattr(Language, "to_disk", interrupted)
    target = tmp_path / "spacy" / "en_blank"
    with pytest.raises(KeyboardInterrupt):
        ensure_blank_spacy_model(target)
    assert list(target.parent.iterdir()) == []
    monkeypatch.undo()
    assert (ensure_blank_spacy_model(target) / "meta.json").exists()


def test_broken_yaml_says_the_line_without_pyyaml_stream_names(tmp_path: Path) -> None:
    path = tmp_path / "moments.yml"
    path.write_text("company: x\nmoments:\n  - id: a\n    title: [b\n  - id: c\n", encoding="utf-8")
    with pytest.raises(CatalogueError) as error:
        load_catalogue(path)
    assert str(error.value).startswith(f"{path}:5: broken YAML: ")
    assert "<unicode string>" not in str(error.value)


def test_every_problem_is_reported_with_its_line(tmp_path: Path) -> None:
    entries = [moment(), moment(id="parcel_lost", severity="huge", threshold=2,
                                examples=[f"lost {n}" for n in range(MIN_EXAMPLES)]),
               moment(examples=[f"late again {n}" for n in range(MIN_EXAMPLES)])]
    path = tmp_path / "moments.yml"
    path.write_text(yaml.safe_dump({"company": "x", "moments": entries}, sort_keys=False),
                    encoding="utf-8")
    lines = [n for n, text in enumerate(path.read_text().splitlines(), 1) if text.startswith("- ")]
    with pytest.raises(CatalogueErrors) as error:
        load_catalogue(path)
    told = [str(e) for e in error.value.errors]
    assert told == [
        f"{path}:{lines[1]}: moment 'parcel_lost': severity 'huge' is not one of "
        f"['low', 'medium', 'high', 'critical']",
        f"{path}:{lines[1]}: moment 'parcel_lost': threshold 2 must be a number in 0..1",
        f"{path}:{lines[2]}: moment 'parcel_late': defined twice (first at line {lines[0]})",
    ]
    assert str(error.value).startswith(f"{path}: 3 problems:\n  {told[0]}")


def broken_content(tmp_path: Path, entry: dict[str, object], articles: str = "articles"
                   ) -> tuple[Path, Settings]:
    """A catalogue of one moment and an articles folder whose one file is broken; the
    catalogue's path and settings naming both."""
    catalogue = tmp_path / "moments.yml"
    catalogue.write_text(yaml.safe_dump({"moments": [entry]}), encoding="utf-8")
    (tmp_path / "articles").mkdir(exist_ok=True)
    (tmp_path / "articles" / "parcel-late-track.md").write_text("no front matter",
                                                               encoding="utf-8")
    return catalogue, load_settings({"MOT_DATA_DIR": str(tmp_path / "data"),
                                     "MOT_CATALOGUE": str(catalogue),
                                     "MOT_ARTICLES_DIR": str(tmp_path / articles)})


def test_validation_reports_catalogue_and_article_problems_together(tmp_path: Path) -> None:
    _, settings = broken_content(tmp_path, moment(title=""))
    with pytest.raises(BuildError) as error:
        load_content(settings)
    assert str(error.value).startswith("2 problems:\n")
    assert "title is missing" in str(error.value) and "no front matter" in str(error.value)


def test_misspelt_keys_are_named_not_ignored() -> None:
    entry = moment()
    entry["thresold"] = entry.pop("threshold")
    with pytest.raises(CatalogueError) as error:
        parse_catalogue({"moments": [entry], "compnay": "x"}, "moments.yml")
    told = str(error.value)
    assert "unknown key 'compnay' (did you mean company?)" in told
    assert "unknown key 'thresold' (did you mean threshold?)" in told


def test_links_are_checked_with_the_other_problems_and_a_missing_folder_named_once(
        tmp_path: Path) -> None:
    entry = moment(severity="huge", articles=["parcel-late-track", "no-such-article"])
    _, settings = broken_content(tmp_path, entry)
    with pytest.raises(BuildError) as error:
        load_content(settings)
    told = str(error.value)
    assert told.startswith("3 problems:\n") and "severity 'huge'" in told
    assert "links unknown article(s) ['no-such-article']" in told and "no front matter" in told
    _, settings = broken_content(tmp_path, entry, articles="nowhere")
    with pytest.raises(BuildError) as error:
        load_content(settings)
    assert "nowhere: no such directory (the articles' folder)" in str(error.value)
    assert "links unknown" not in str(error.value)


def test_a_key_given_twice_is_named_with_the_other_problems(tmp_path: Path) -> None:
    path = tmp_path / "moments.yml"
    entry = yaml.safe_dump({"moments": [moment(severity="huge")]}).replace(
        "  stage: delivery\n", "  stage: delivery\n  stage: ordering\n")
    path.write_text(entry, encoding="utf-8")
    with pytest.raises(CatalogueErrors) as error:
        load_catalogue(path)
    told = [str(e) for e in error.value.errors]
    assert any("severity 'huge'" in t for t in told)
    assert any(t.startswith(f"{path}:") and "'stage' is given twice" in t for t in told)
