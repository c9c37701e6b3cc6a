"""The catalogue: validation with clear errors, and generated Rasa files that never drift."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.build import generate, load_content
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
