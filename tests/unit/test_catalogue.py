"""The catalogue: validation with clear errors, and generated Rasa files that never drift."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.build import ensure_blank_spacy_model, generate, load_content
from bot.catalogue import MIN_EXAMPLES, STAGES, CatalogueError, load_catalogue, parse_catalogue
from bot.settings import load_settings

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
    with pytest.raises(CatalogueError, match=f"{path}: broken YAML"):
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
