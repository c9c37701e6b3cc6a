"""The fine-tuned encoder unpacked from a trained model for the index, actions and desk."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from bot import cli
from bot.build import trained_encoder
from bot.settings import load_settings

PREFIX = "components/train_bot.components.moment_classifier.MomentClassifier3"


def archive(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as out:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    return path


def test_fine_tuned_encoder_is_unpacked_once_beside_the_model(tmp_path: Path) -> None:
    model = archive(tmp_path / "abc.tar.gz", {
        f"{PREFIX}/encoder/modules.json": b"[]",
        f"{PREFIX}/encoder/1_Pooling/config.json": b"{}",
        f"{PREFIX}/moment_model.npz": b"not the encoder",
        "metadata.json": b"{}"})
    encoder = trained_encoder(model)
    assert encoder == tmp_path / "abc-encoder"
    assert sorted(str(p.relative_to(encoder)) for p in encoder.rglob("*") if p.is_file()) == [
        "1_Pooling/config.json", "modules.json"]
    (encoder / "modules.json").write_text("kept")
    assert trained_encoder(model) == encoder
    assert (encoder / "modules.json").read_text() == "kept"  # not unpacked again
    assert sorted(p.name for p in tmp_path.iterdir()) == ["abc-encoder", "abc.tar.gz"]


def test_a_frozen_classifier_has_no_encoder_to_unpack(tmp_path: Path) -> None:
    model = archive(tmp_path / "abc.tar.gz", {f"{PREFIX}/moment_model.npz": b"x"})
    assert trained_encoder(model) is None
    assert not (tmp_path / "abc-encoder").exists()


def test_an_archive_path_leaving_the_encoder_directory_is_refused(tmp_path: Path) -> None:
    model = archive(tmp_path / "abc.tar.gz", {f"{PREFIX}/encoder/../../../evil": b"x"})
    with pytest.raises(cli.BuildError, match="unsafe path"):
        trained_encoder(model)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["abc.tar.gz"]


def test_mot_up_uses_the_fine_tuned_encoder_unless_one_is_configured(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = archive(tmp_path / "abc.tar.gz", {f"{PREFIX}/encoder/modules.json": b"[]"})
    monkeypatch.setenv("MOT_EMBEDDING_MODEL", "set so that teardown restores the original")
    monkeypatch.delenv("MOT_EMBEDDING_MODEL")
    settings = load_settings({"MOT_DATA_DIR": str(tmp_path / "data")})
    chosen = cli.with_trained_encoder(settings, model)
    assert chosen.embedding_model == str(tmp_path / "abc-encoder")
    assert cli.os.environ["MOT_EMBEDDING_MODEL"] == chosen.embedding_model  # for its children
    monkeypatch.setenv("MOT_EMBEDDING_MODEL", "/models/ours")
    assert cli.with_trained_encoder(settings, model) is settings


def test_config_problems_are_named_with_their_lines_before_rasa_starts(tmp_path: Path) -> None:
    from bot import build

    assert build.config_problems() == []  # the shipped config.yml
    names = tmp_path / "names.yml"
    names.write_text("others: [Netflix, {name: Disney+}]")
    config = tmp_path / "config.yml"
    config.write_text((build.REPO / "config.yml").read_text()
                      .replace('"bot/company_names.yml"', f'"{names}"')
                      .replace("fine_tune_time_budget: 660",
                               "fine_tune_time_budget: soon\n    fine_tune_epoch: 3"))
    text = config.read_text().splitlines()
    entities, classifier = (text.index(f"  - name: bot.components.{name}") + 1 for name in
                            ("rule_entities.RuleEntityExtractor",
                             "moment_classifier.MomentClassifier"))
    problems = build.config_problems(config)
    assert problems[0].startswith(f"{config}:{entities}: RuleEntityExtractor company_names: "
                                  f"{names}: others entry 2")
    assert problems[1:] == [
        f"{config}:{classifier}: MomentClassifier: unknown option fine_tune_epoch (did you "
        "mean fine_tune_epochs?)",
        f"{config}:{classifier}: MomentClassifier: fine_tune_time_budget must be a number "
        "from 0, got 'soon'"]
    config.write_text("pipeline:\n  - name: [broken\n")
    assert build.config_problems(config) == [
        f"{config}:3: broken YAML: while parsing a flow sequence (from line 2), expected ',' "
        "or ']', but got '<stream end>' (column 1)"]


def test_components_and_policies_rasa_would_not_find_are_named(tmp_path: Path) -> None:
    from bot import build

    config = tmp_path / "config.yml"
    config.write_text((build.REPO / "config.yml").read_text()
                      .replace("name: SpacyTokenizer", "name: SpacyTokenizr")
                      .replace("rule_entities.RuleEntityExtractor",
                               "rule_entity.RuleEntityExtractor")
                      .replace("moment_classifier.MomentClassifier",
                               "moment_classifier.MomentClasifier")
                      .replace("name: RulePolicy", "name: RulesPolicy"))
    text = config.read_text().splitlines()
    line = {name: text.index(f"  - name: {name}") + 1 for name in (
        "SpacyTokenizr", "bot.components.rule_entity.RuleEntityExtractor",
        "bot.components.moment_classifier.MomentClasifier", "RulesPolicy")}
    assert build.config_problems(config) == [
        f"{config}:{line['SpacyTokenizr']}: unknown component 'SpacyTokenizr'; did you mean "
        "'SpacyTokenizer'?",
        f"{config}:{line['bot.components.rule_entity.RuleEntityExtractor']}: component "
        "'bot.components.rule_entity.RuleEntityExtractor': there is no module "
        "'bot.components.rule_entity' in this project",
        f"{config}:{line['bot.components.moment_classifier.MomentClasifier']}: component "
        "'bot.components.moment_classifier.MomentClasifier': bot.components.moment_classifier "
        "has no class 'MomentClasifier'; did you mean "
        "'bot.components.moment_classifier.MomentClassifier'?",
        f"{config}:{line['RulesPolicy']}: unknown component 'RulesPolicy'; did you mean "
        "'RulePolicy'?"]
    assert build.component_problem("Blorp") == (
        "unknown component 'Blorp'; give one of Rasa's components or a dotted path to a class")
    assert build.component_problem("no_such_package.Thing") == (
        "component 'no_such_package.Thing': no module 'no_such_package' can be imported")
    assert build.component_problem("collections.OrderedDict") is None  # outside the project


def test_weights_identity_follows_the_weights_and_how_they_are_pooled(tmp_path: Path) -> None:
    from knowledge.embedder import weights_identity

    assert weights_identity(tmp_path) is None  # no weights file
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text('{"pooling_mode_mean_tokens": true}')
    first = weights_identity(tmp_path)
    assert first is not None and len(first) == 16 and weights_identity(tmp_path) == first
    (tmp_path / "1_Pooling" / "config.json").write_text('{"pooling_mode_cls_token": true}')
    pooled_otherwise = weights_identity(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"other weights")
    assert len({first, pooled_otherwise, weights_identity(tmp_path)}) == 3


def test_a_process_started_alone_encodes_as_mot_up_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.build import embedding_settings, model_key

    monkeypatch.setenv("MOT_EMBEDDING_MODEL", "set so that teardown restores the original")
    monkeypatch.delenv("MOT_EMBEDDING_MODEL")
    settings = load_settings({"MOT_DATA_DIR": str(tmp_path / "data"),
                              "MOT_CACHE_DIR": str(tmp_path / "cache")})
    assert embedding_settings(settings) is settings  # nothing trained yet: the base model
    settings.models_dir.mkdir(parents=True)
    archive(settings.models_dir / f"{model_key()}.tar.gz",
            {f"{PREFIX}/encoder/modules.json": b"[]"})
    chosen = embedding_settings(settings)  # the model trained for the current inputs
    assert chosen.embedding_model == str(settings.models_dir / f"{model_key()}-encoder")
    monkeypatch.setenv("MOT_EMBEDDING_MODEL", "/models/ours")
    assert embedding_settings(settings) is settings
