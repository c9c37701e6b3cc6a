"""The MomentClassifier Rasa component, trained on a tiny catalogue with a fake embedder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.clauses import CLAUSES_KEY
from bot.components import finetune
from bot.components.confidence import OUT_OF_SCOPE_SHARE
from bot.components.moment_classifier import (
    EMBEDDING_ENCODER_KEY,
    EMBEDDING_KEY,
    RAW_CONFIDENCE_KEY,
    SIMILARITY_KEY,
    MomentClassifier,
    calibration_folds,
    decode_embedding,
    encode_embedding,
    name_examples,
)
from knowledge.embedder import HashingEmbedder

EXAMPLES = {
    "parcel_late": ["my parcel is late", "where is my parcel", "parcel has not arrived",
                    "the delivery of my parcel is late", "still waiting for my parcel",
                    "parcel delivery is very late", "late parcel again"],
    "charged_twice": ["I was charged twice", "double charge on my card", "charged two times",
                      "you took the payment twice", "my card was charged twice for one order",
                      "duplicate payment on my card", "twice charged"],
    "cancel": ["I want to cancel", "cancel my subscription", "please cancel my account",
               "how do I cancel", "cancel the contract", "I would like to cancel now",
               "stop and cancel my plan"],
}


def training_data(calibration: dict[str, list[str]] | None = None) -> TrainingData:
    messages = [Message(data={TEXT: t, INTENT: i}) for i, ts in EXAMPLES.items() for t in ts]
    for intent, texts in (calibration or {}).items():
        messages += [Message(data={TEXT: t, INTENT: intent,
                                   "metadata": {"example": {"calibration": True}}})
                     for t in texts]
    return TrainingData(training_examples=messages)


def component(tmp_path: Path, **config: object) -> tuple[MomentClassifier, LocalModelStorage]:
    """A classifier over the hashing embedder, which cannot be fine-tuned: frozen unless a
    test says otherwise."""
    config = {"fine_tune": False, **config}
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test")
    classifier = MomentClassifier.create({**MomentClassifier.get_default_config(), **config},
                                         storage, Resource("moments"), context,
                                         embedder=HashingEmbedder(128))
    return classifier, storage


def parse(classifier: MomentClassifier, text: str) -> Message:
    message = Message(data={TEXT: text})
    classifier.process([message])
    return message


def test_embedding_survives_the_round_trip() -> None:
    vector = np.random.default_rng(0).normal(size=384).astype(np.float32)
    vector /= np.linalg.norm(vector)
    assert np.allclose(decode_embedding(encode_embedding(vector)), vector, atol=2e-3)


def test_trained_component_ranks_the_right_moment_with_honest_outputs(tmp_path: Path) -> None:
    classifier, _ = component(tmp_path, debug_scores=True)
    classifier.train(training_data())
    message = parse(classifier, "my parcel is still late")
    ranking = message.get("intent_ranking")
    assert message.get(INTENT)["name"] == "parcel_late"
    assert message.get(INTENT) == ranking[0]
    confidences = [r["confidence"] for r in ranking]
    assert confidences == sorted(confidences, reverse=True)
    assert 0.0 < sum(confidences) <= 1.0 + 1e-6
    assert 0.0 <= message.get(RAW_CONFIDENCE_KEY) <= 1.0
    vector = decode_embedding(message.get(EMBEDDING_KEY))
    assert np.allclose(vector, HashingEmbedder(128).encode(["my parcel is still late"])[0],
                       atol=2e-3)
    assert message.get(SIMILARITY_KEY) == pytest.approx(
        float(np.max(classifier.model.bank @ vector)), abs=2e-3)
    assert message.get(EMBEDDING_ENCODER_KEY) == "hashing-128"  # whose vector it is


def test_each_part_of_a_message_of_several_gets_its_moment(tmp_path: Path) -> None:
    classifier, _ = component(tmp_path)
    classifier.train(training_data())
    message = parse(classifier, "my parcel is late, also I was charged twice")
    assert [(c["text"], c["name"]) for c in message.get(CLAUSES_KEY)] == [
        ("my parcel is late", "parcel_late"), ("I was charged twice", "charged_twice")]
    assert all(0.0 < c["confidence"] <= 1.0 for c in message.get(CLAUSES_KEY))
    whole = parse(classifier, "my parcel is late and I am annoyed")  # one part: none
    assert whole.get(CLAUSES_KEY) is None and whole.get(INTENT)["name"] == "parcel_late"
    vector = decode_embedding(message.get(EMBEDDING_KEY))  # the whole message's, still
    assert np.allclose(vector, HashingEmbedder(128).encode(
        ["my parcel is late, also I was charged twice"])[0], atol=2e-3)


class UnsavedEmbedder(HashingEmbedder):
    """Weights changed in memory (a fine-tune before it is saved): no identity yet."""

    @property
    def identity(self) -> None:
        return None


def test_an_embedding_whose_weights_have_no_identity_is_left_out(tmp_path: Path) -> None:
    classifier = MomentClassifier.create(
        {**MomentClassifier.get_default_config(), "fine_tune": False},
        LocalModelStorage(tmp_path), Resource("moments"),
        ExecutionContext(GraphSchema({}), "test"), embedder=UnsavedEmbedder(128))
    classifier.train(training_data())
    message = parse(classifier, "my parcel is still late")
    assert message.get(INTENT)["name"] == "parcel_late"
    assert message.get(EMBEDDING_KEY) is None and message.get(EMBEDDING_ENCODER_KEY) is None


def test_unrelated_message_gets_less_confidence_than_a_known_one(tmp_path: Path) -> None:
    classifier, _ = component(tmp_path)
    classifier.train(training_data())
    known = parse(classifier, "I was charged twice on my card").get(INTENT)["confidence"]
    unrelated = parse(classifier, "what is the weather in paris").get(INTENT)["confidence"]
    assert unrelated < known


def test_persisted_component_loads_and_predicts_the_same(tmp_path: Path) -> None:
    classifier, storage = component(tmp_path)
    classifier.train(training_data())
    loaded = MomentClassifier.load(MomentClassifier.get_default_config(), storage,
                                   Resource("moments"), ExecutionContext(GraphSchema({}), "test"),
                                   embedder=HashingEmbedder(128))
    before = parse(classifier, "cancel my plan").get("intent_ranking")
    after = parse(loaded, "cancel my plan").get("intent_ranking")
    assert [r["name"] for r in after] == [r["name"] for r in before]
    assert np.allclose([r["confidence"] for r in after], [r["confidence"] for r in before],
                       atol=1e-3)


def test_misspelt_message_is_classified_as_written_right_and_kept_as_written(
        tmp_path: Path) -> None:
    classifier, storage = component(tmp_path)
    classifier.train(training_data())
    loaded = MomentClassifier.load(MomentClassifier.get_default_config(), storage,
                                   Resource("moments"), ExecutionContext(GraphSchema({}), "test"),
                                   embedder=HashingEmbedder(128))
    right = parse(loaded, "my card was charged twice")
    misspelt = parse(loaded, "my card was chraged twcie")
    assert misspelt.get(TEXT) == "my card was chraged twcie"
    assert misspelt.get(EMBEDDING_KEY) == right.get(EMBEDDING_KEY)
    assert misspelt.get(INTENT) == right.get(INTENT)
    (tmp_path / "off").mkdir()
    unspelt, _ = component(tmp_path / "off", spelling=False)
    unspelt.train(training_data())
    assert parse(unspelt, "my card was chraged twcie").get(EMBEDDING_KEY) != \
        right.get(EMBEDDING_KEY)


def test_marked_calibration_examples_are_not_trained_on(tmp_path: Path) -> None:
    classifier, _ = component(tmp_path, intent_name_examples=False)
    held = {"cancel": ["end my membership please"] * 3, "parcel_late": ["courier is slow"] * 3}
    classifier.train(training_data(held))
    assert classifier.model is not None
    assert len(classifier.model.bank) == sum(len(v) for v in EXAMPLES.values())


@pytest.mark.parametrize(("setting", "per_moment", "expected"), [
    ("auto", 5, True), ("auto", 9, True), ("auto", 10, False), ("auto", 26, False),
    (True, 100, True), (False, 3, False)])
def test_intent_names_are_added_when_asked_or_when_examples_are_few(
        tmp_path: Path, setting: object, per_moment: int, expected: bool) -> None:
    classifier, _ = component(tmp_path, intent_name_examples=setting)
    assert classifier.should_add_names(np.repeat(np.arange(3), per_moment)) is expected


def test_each_intents_name_is_one_more_training_example(tmp_path: Path) -> None:
    classifier, _ = component(tmp_path)  # 7 examples a moment: "auto" adds them
    classifier.train(training_data())
    assert classifier.model is not None
    assert len(classifier.model.bank) == sum(len(v) for v in EXAMPLES.values()) + 3
    assert classifier.model.labels[classifier.model.predict(
        classifier.embedder.encode(["charged twice"])).probabilities.argmax()] == "charged_twice"


def test_intent_names_become_words_but_out_of_scope_and_existing_ones_do_not() -> None:
    labels = ["pto_request", "CANCEL_ORDER", "card-arrival", "oos", "out_of_scope", "twice"]
    names = name_examples(labels, ["Twice", "hello"], ["oos", "out_of_scope"])
    assert names == ["pto request", "cancel order", "card arrival", None, None, None]


@pytest.mark.parametrize(("setting", "labels", "expected"), [
    ("auto", ["late", "refund"], OUT_OF_SCOPE_SHARE),
    ("auto", ["late", "out_of_scope", "refund"], 0.0),  # the shipped catalogue's case
    ("auto", ["late", "NO_NODES", "refund"], 0.0),      # named by the benchmark
    (0, ["late", "refund"], 0.0),
    (0.2, ["late", "out_of_scope"], 0.2),
])
def test_masked_moments_stand_in_for_out_of_scope_examples_only_without_them(
        tmp_path: Path, setting: object, labels: list[str], expected: float) -> None:
    classifier, _ = component(tmp_path, unseen_calibration_share=setting,
                              intent_name_examples_skip=["out_of_scope", "NO_NODES"])
    assert classifier.unseen_share(labels) == expected


@pytest.mark.parametrize("share", [1, 1.5, -0.1, "half", True])
def test_a_bad_unseen_calibration_share_fails_with_its_name(tmp_path: Path,
                                                            share: object) -> None:
    with pytest.raises(ValueError, match="unseen_calibration_share must be"):
        component(tmp_path, unseen_calibration_share=share)


@pytest.mark.parametrize(("setting", "written", "expected"), [
    ({}, 999, 5), ({}, 1000, 0), ({"calibration_folds_below": 50}, 49, 5),
    ({"calibration_folds": 3}, 5000, 3), ({"calibration_folds": 0}, 10, 0),
    ({"calibrate": False}, 10, 0)])
def test_calibration_fine_tunes_are_for_few_examples(setting: dict[str, object], written: int,
                                                    expected: int) -> None:
    config = {**MomentClassifier.get_default_config(), **setting}
    assert calibration_folds(config, written) == expected


@pytest.mark.parametrize("folds", [1, -2, "five", 2.5, True])
def test_a_bad_calibration_folds_setting_fails_with_its_name(tmp_path: Path,
                                                             folds: object) -> None:
    with pytest.raises(ValueError, match="calibration_folds must be"):
        component(tmp_path, calibration_folds=folds)


def recorded_calibrations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The list that will hold how many held-out predictions each calibration is fitted on."""
    import bot.components.moment_classifier as module

    sizes: list[int] = []
    real = module.calibrate

    def recording(model, head, y, neighbours, **options):  # type: ignore[no-untyped-def]
        sizes.append(len(y))
        return real(model, head, y, neighbours, **options)

    monkeypatch.setattr(module, "calibrate", recording)
    return sizes


def calibration_sizes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                      held: dict[str, list[str]]) -> list[int]:
    """How many held-out predictions each calibration of a training run was fitted on."""
    sizes = recorded_calibrations(monkeypatch)
    classifier, _ = component(tmp_path)
    classifier.train(training_data(held))
    return sizes


def test_marked_examples_are_calibrated_on_together_with_out_of_fold_predictions(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # one marked example a moment can hold no mistake to learn from; the training
    # examples' out-of-fold predictions are pooled with them
    held = {"cancel": ["cancel my plan"], "parcel_late": ["my parcel is late again"],
            "charged_twice": ["charged twice on my card"]}
    sizes = calibration_sizes(tmp_path, monkeypatch, held)
    assert sizes == [3 + sum(len(v) for v in EXAMPLES.values())]


def test_enough_marked_examples_with_mistakes_calibrate_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # collected like live messages (here 12 of 52 are parcel messages marked as cancel, as
    # out-of-scope ones are unlike any training example): they alone fit the confidence
    held = {"cancel": [f"my parcel is late again {n}" for n in range(12)],
            "parcel_late": [f"courier is slow {n}" for n in range(20)],
            "charged_twice": [f"charged twice on my card {n}" for n in range(20)]}
    assert calibration_sizes(tmp_path, monkeypatch, held) == [52]


def test_untrained_component_still_adds_the_embedding(tmp_path: Path) -> None:
    classifier, _ = component(tmp_path)
    message = parse(classifier, "hello")
    assert message.get(EMBEDDING_KEY) and message.get(INTENT) is None


@pytest.mark.parametrize(("setting", "per_moment", "expected"), [
    ("auto", 7, False), ("auto", 60, True), (True, 7, True), (False, 60, False)])
def test_fine_tuning_is_chosen_by_the_examples_a_moment_has(
        tmp_path: Path, setting: object, per_moment: int, expected: bool) -> None:
    classifier, _ = component(tmp_path, fine_tune=setting, fine_tune_min_examples=50)
    assert classifier.should_fine_tune(np.repeat(np.arange(3), per_moment)) is expected


@pytest.mark.parametrize(("option", "message"), [
    ({"fine_tune_precision": "half"}, "fine_tune_precision must be one of auto, bfloat16"),
    ({"fine_tune_epoch": 6}, "unknown option fine_tune_epoch"),
    ({"fine_tune_time_budget": "soon"}, "fine_tune_time_budget must be a number from 0"),
    ({"spelling": "yes", "fine_tune": "sometimes"},
     "spelling must be true or false, got 'yes'; fine_tune must be true, false or \"auto\""),
])
def test_a_bad_fine_tune_option_is_named_when_the_component_is_built(
        tmp_path: Path, option: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        component(tmp_path, **option)


@pytest.mark.parametrize(("precision", "native", "expected"), [
    ("auto", True, True), ("auto", False, False), ("bfloat16", False, True),
    ("float32", True, False)])
def test_fine_tune_runs_in_bfloat16_only_where_asked_or_native(
        monkeypatch: pytest.MonkeyPatch, precision: str, native: bool, expected: bool) -> None:
    monkeypatch.setattr(finetune, "native_bfloat16", lambda: native)
    assert finetune.uses_bfloat16(precision) is expected


def test_r_drop_adds_the_two_passes_disagreement_to_their_cross_entropy() -> None:
    import torch

    cross_entropy = torch.nn.CrossEntropyLoss()
    targets = torch.tensor([0, 1])
    first = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    plain = finetune._loss(cross_entropy, first, targets, rdrop=0.0)
    agreeing = finetune._loss(cross_entropy, torch.cat([first, first]), targets, rdrop=1.0)
    assert torch.isclose(agreeing, plain)
    second = torch.tensor([[0.0, 2.0], [1.0, 0.0]])
    disagreeing = finetune._loss(cross_entropy, torch.cat([first, second]), targets, rdrop=1.0)
    mean = (cross_entropy(first, targets) + cross_entropy(second, targets)) / 2
    assert disagreeing > mean


def test_token_dropout_hides_words_but_never_the_special_tokens_or_every_word() -> None:
    import torch

    mask = torch.tensor([[1, 1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0, 0, 0]])
    generator = torch.Generator().manual_seed(0)
    everything = finetune.drop_tokens(mask, 1.0, generator)
    # [CLS], [SEP] and padding as they were; of the words only the first stays
    assert everything.tolist() == [[1, 1, 0, 0, 0, 1, 0, 0], [1, 1, 1, 0, 0, 0, 0, 0]]
    assert torch.equal(finetune.drop_tokens(mask, 0.0, generator), mask)
    some = finetune.drop_tokens(mask.repeat(200, 1), 0.5, generator)
    hidden = 1 - some[::2, 1:5].float().mean()
    assert 0.35 < float(hidden) < 0.65


def test_layer_decay_slows_each_layer_below_the_top_by_one_more_factor() -> None:
    names = ["0.auto_model.embeddings.position_embeddings.weight",
             "0.auto_model.encoder.layer.0.attention.self.query.weight",
             "0.auto_model.encoder.layer.1.output.dense.bias",
             "0.auto_model.pooler.dense.weight"]
    assert finetune.layer_factors(names, 0.5) == [0.25, 0.5, 1.0, 1.0]
    assert finetune.layer_factors(names, 1.0) == [1.0] * 4


class FakeEncoder:
    """Stands in for the SentenceTransformer a fine-tune changes: records which weights each
    fine-tune started from."""

    def __init__(self) -> None:
        import torch

        self.weights = {"layer": torch.zeros(2)}
        self.started_from: list[float] = []

    def state_dict(self) -> dict[str, object]:
        return dict(self.weights)

    def load_state_dict(self, weights: dict[str, object]) -> None:
        self.weights = {key: value.clone() for key, value in weights.items()}  # type: ignore[attr-defined]


class FineTunableEmbedder(HashingEmbedder):
    def __init__(self, dimension: int) -> None:
        super().__init__(dimension)
        self.model = FakeEncoder()


def fine_tunes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, held: dict[str, list[str]],
               **config: object) -> tuple[list[list[str]], list[int], FakeEncoder]:
    """Trains a fine-tuned classifier with a fake fine-tune; returns the texts each fine-tune
    trained on, the sizes of the calibrations and the encoder."""
    trained: list[list[str]] = []
    embedder = FineTunableEmbedder(128)

    def fake_fine_tune(model, texts, y, classes, initial, settings, rows=None):  # type: ignore[no-untyped-def]
        model.started_from.append(float(model.weights["layer"].sum()))
        model.weights["layer"] += 1.0  # the fine-tune changes the weights
        trained.append(list(texts))
        x = embedder.encode(texts)
        centroids = np.stack([x[np.asarray(y) == c].mean(axis=0) for c in range(classes)])
        return centroids / np.linalg.norm(centroids, axis=1, keepdims=True)

    sizes = recorded_calibrations(monkeypatch)
    monkeypatch.setattr(finetune, "fine_tune", fake_fine_tune)
    monkeypatch.setattr(MomentClassifier, "persist", lambda self: None)
    classifier = MomentClassifier.create(
        {**MomentClassifier.get_default_config(), "fine_tune": True,
         "intent_name_examples": False, **config},
        LocalModelStorage(tmp_path), Resource("moments"),
        ExecutionContext(GraphSchema({}), "test"), embedder=embedder)
    classifier.train(training_data(held))
    assert classifier.fine_tuned and classifier.model is not None
    return trained, sizes, embedder.model


def test_few_examples_calibrate_a_fine_tune_on_out_of_fold_fine_tunes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trained, sizes, encoder = fine_tunes(tmp_path, monkeypatch, {})
    written = [t for ts in EXAMPLES.values() for t in ts]
    # five fine-tunes each leave out their fold (a fifth of every moment's examples); then
    # the model trains on every example; each starts from the original weights
    assert len(trained) == 6 and sorted(trained[-1]) == sorted(written)
    left_out = [set(written) - set(texts) for texts in trained[:-1]]
    assert [len(texts) for texts in trained[:-1]] == [21 - len(fold) for fold in left_out]
    assert set().union(*left_out) == set(written)
    assert sum(len(fold) for fold in left_out) == len(written)  # each held out once
    assert all(1 <= sum(t in EXAMPLES[moment] for t in fold) <= 2
               for fold in left_out for moment in EXAMPLES)
    assert encoder.started_from == [0.0] * 6
    assert sizes == [len(written)]  # calibrated on every example's out-of-fold prediction


def test_enough_examples_calibrate_a_fine_tune_on_one_held_out_split(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trained, sizes, _ = fine_tunes(tmp_path, monkeypatch, {}, calibration_folds_below=21)
    assert [len(texts) for texts in trained] == [18]  # one example a moment held out
    assert sizes == [3]


def test_marked_examples_join_the_out_of_fold_fine_tunes_predictions(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    held = {"cancel": ["cancel my plan"], "parcel_late": ["my parcel is late again"],
            "charged_twice": ["charged twice on my card"]}
    trained, sizes, _ = fine_tunes(tmp_path, monkeypatch, held)
    assert len(trained) == 6 and not {"cancel my plan"} & set().union(*map(set, trained))
    assert sizes == [3 + 21]  # too few marked ones to calibrate alone: pooled
