"""Moment classifier: a Rasa graph component over sentence-transformers embeddings.

Each message is encoded once with all-MiniLM-L6-v2 (the offline package). Two recipes,
chosen in config.yml (ADR 0007):

- fine-tuned encoder (the shipped default from 5 examples a moment): the encoder is
  fine-tuned under a cosine-softmax head and calibrated on a held-out split, or, with
  fewer than 1,000 examples, on out-of-fold predictions of five more fine-tunes;
- frozen encoder (fewer examples, or ``fine_tune: false``): a logistic regression over the
  embeddings, calibrated on out-of-fold predictions; trains in seconds.

The message's embedding goes into the parse result (``text_embedding``, base64 float16) with
the fingerprint of the weights that made it (``text_embedding_encoder``). The action server
retrieves articles with it when its knowledge index was built by the same weights (under
``mot up`` by default: the fine-tuned encoder is unpacked from the model for the index, as
it retrieves better), and encodes the text itself otherwise.

Either way the top moment's confidence is the calibrated probability that it is right, from
the softmax and the nearest training examples (:mod:`bot.components.confidence`), so that
out-of-scope messages fall below the catalogue's thresholds; ``moment_similarity`` is the
cosine to the nearest training example.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    METADATA,
    METADATA_EXAMPLE,
    METADATA_INTENT,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.clauses import CLAUSES_KEY, split_clauses
from bot.components.confidence import OUT_OF_SCOPE_SHARE
from bot.components.finetune import FineTuneSettings
from bot.components.moment_model import (
    OUT_OF_SCOPE_INTENTS,
    MomentModel,
    calibrate,
    choose_knn_weight,
    combined_logits,
    holdout_split,
    out_of_fold,
    per_class_sample,
    train_frozen,
)
from bot.components.options import default_options, option_problems
from bot.components.spelling import SpellingCorrector
from knowledge.embedder import Embedder, SentenceTransformerEmbedder

log = logging.getLogger(__name__)

#: Held-out examples that calibrate alone, without the training examples' out-of-fold
#: predictions: at least this many, holding at least this many mistakes (ADR 0007).
MIN_HELD_OUT, MIN_HELD_OUT_MISTAKES = 50, 10
#: Folds of the calibration fine-tunes of a small catalogue (``calibration_folds: auto``).
CALIBRATION_FOLDS = 5

EMBEDDING_KEY = "text_embedding"
#: The identity (``Embedder.identity``) of the weights that made ``text_embedding``.
EMBEDDING_ENCODER_KEY = "text_embedding_encoder"
SIMILARITY_KEY = "moment_similarity"
#: Only with ``debug_scores``: the top softmax probability before calibration (benchmarks).
RAW_CONFIDENCE_KEY = "moment_raw_confidence"
ENCODER_DIRECTORY = "encoder"
#: Modules whose code shapes a trained classifier (see ``fingerprint_addon``).
SOURCE_MODULES = ("moment_classifier.py", "moment_model.py", "confidence.py", "calibration.py",
                  "finetune.py", "spelling.py")

EmbedderFactory = Callable[[str, int | None], Embedder]


def encode_embedding(vector: np.ndarray) -> str:
    """(d,) float32 → base64 of float16, about 1 KB for 384 dimensions."""
    return base64.b64encode(np.asarray(vector, dtype="<f2").tobytes()).decode("ascii")


def decode_embedding(text: str) -> np.ndarray:
    """Inverse of :func:`encode_embedding`, renormalised to unit length."""
    vector = np.frombuffer(base64.b64decode(text), dtype="<f2").astype(np.float32)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


def is_calibration_example(message: Message) -> bool:
    """Whether an example is marked ``metadata: {calibration: true}`` in the NLU data, on the
    example itself or on its intent's block (``- intent: x`` / ``metadata: ...`` /
    ``examples: |``).

    Marked examples are never trained on: they calibrate the confidence (a benchmark marks its
    validation split this way, so that thresholds and calibration use the same unseen data).
    """
    metadata = message.get(METADATA) or {}
    if not isinstance(metadata, dict):
        return False
    return any(isinstance(marks, dict) and bool(marks.get("calibration"))
               for marks in (metadata.get(METADATA_EXAMPLE), metadata.get(METADATA_INTENT)))


def name_examples(labels: list[str], texts: list[str], skip: list[str]) -> list[str | None]:
    """Each intent's name as words ("pto_request" -> "pto request", "CardArrival" stays one
    word), or None for an out-of-scope intent (``skip``) or a name already an example."""
    have = {t.strip().lower() for t in texts}
    skipped = {name.lower() for name in skip}
    names: list[str | None] = []
    for label in labels:
        words = " ".join(label.replace("_", " ").replace("-", " ").split()).lower()
        names.append(None if label.lower() in skipped or not words or words in have
                     else words)
    return names


def calibration_folds(config: dict[str, Any], written: int) -> int:
    """How many calibration fine-tunes a fine-tuned encoder gets with ``written`` examples
    (not counting the intents' names or marked examples): ``calibration_folds``, or for
    "auto" :data:`CALIBRATION_FOLDS` below ``calibration_folds_below`` examples, else 0 (one
    held-out split)."""
    if not config["calibrate"]:
        return 0
    setting = config["calibration_folds"]
    if setting == "auto":
        return CALIBRATION_FOLDS if written < config["calibration_folds_below"] else 0
    return int(setting)


def median_examples(y: np.ndarray) -> float:
    """The median number of examples of the moments that have any."""
    counts = np.bincount(y)
    return float(np.median(counts[counts > 0])) if len(y) else 0.0


def default_embedder(model: str, threads: int | None) -> Embedder:
    """The real encoder: a model name the embedder resolves offline, or a local path."""
    return SentenceTransformerEmbedder(model, threads=threads)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class MomentClassifier(GraphComponent):
    """Classifies messages into moments from sentence embeddings, with honest confidence."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return default_options()

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 execution_context: ExecutionContext, model: MomentModel | None = None,
                 embedder: Embedder | None = None, fine_tuned: bool = False,
                 embedder_factory: EmbedderFactory = default_embedder) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._embedder = embedder
        self._embedder_factory = embedder_factory
        self.model = model
        self.fine_tuned = fine_tuned  # the encoder differs from the original weights
        self.speller: SpellingCorrector | None = None
        self._threads: int | None = self._config["threads"] or None
        self._check_fine_tune_settings()

    def _check_fine_tune_settings(self) -> None:
        """A misspelt or bad option fails when the graph is built, not minutes into training
        (or never, silently ignored); every problem at once."""
        problems = option_problems(self._config, unknown="fine_tune_")
        if problems:
            raise ValueError(f"{type(self).__name__} in config.yml: " + "; ".join(problems))

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """The classifier's own code, so that Rasa's training cache never restores a model
        trained (and persisted in another format) by an older version of it."""
        digest = hashlib.sha256()
        for module in SOURCE_MODULES:
            digest.update((Path(__file__).with_name(module)).read_bytes())
        return digest.hexdigest()

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext, **kwargs: Any) -> MomentClassifier:
        injected = {k: v for k, v in kwargs.items() if k in ("embedder", "embedder_factory")}
        return cls(config, model_storage, resource, execution_context, **injected)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = self._embedder_factory(self._config["model"], self._threads)
        return self._embedder

    def train(self, training_data: TrainingData) -> Resource:
        examples = [m for m in training_data.intent_examples if m.get(TEXT)]
        texts = [str(m.get(TEXT)) for m in examples]
        labels = sorted({str(m.get(INTENT)) for m in examples})
        y = np.array([labels.index(str(m.get(INTENT))) for m in examples], dtype=np.int64)
        started = time.monotonic()
        marked = np.array([is_calibration_example(m) for m in examples], dtype=bool)
        counted = y[~marked]  # whether to fine-tune goes by the examples written
        if self.should_add_names(counted):
            names = name_examples(labels, texts, self._config["intent_name_examples_skip"])
            added = [(name, row) for row, name in enumerate(names) if name is not None]
            texts += [name for name, _ in added]
            y = np.concatenate([y, np.array([row for _, row in added], dtype=np.int64)])
            marked = np.concatenate([marked, np.zeros(len(added), dtype=bool)])
        named = np.arange(len(y)) >= len(examples)
        if self._config["spelling"]:
            trained = (text for text, held in zip(texts, marked, strict=True) if not held)
            self.speller = SpellingCorrector.from_texts(trained)
        fine_tune = self.should_fine_tune(counted)
        log.info("training the moment classifier on %d examples of %d moments (%s)",
                 len(texts), len(labels), "fine-tuned" if fine_tune else "frozen")
        if fine_tune:
            self.model = self._train_fine_tuned(texts, y, labels, marked, named)
        elif marked.any():
            self.model = self._train_frozen_marked(texts, y, labels, marked, named)
        else:
            self.model = train_frozen(self.embedder.encode(texts), y, labels, self._config["C"],
                                      calibrated=self._config["calibrate"],
                                      knn=self._config["knn"],
                                      unseen_share=self.unseen_share(labels))
        log.info("moment classifier trained in %.1f s (temperature %.2f, neighbour weight %g)",
                 time.monotonic() - started, self.model.temperature, self.model.knn_weight)
        self.persist()
        return self._resource

    def should_fine_tune(self, y: np.ndarray) -> bool:
        """``fine_tune``, or for "auto" whether a median moment has enough examples."""
        setting = self._config["fine_tune"]
        if setting != "auto":
            return bool(setting)
        return median_examples(y) >= self._config["fine_tune_min_examples"]

    def should_add_names(self, y: np.ndarray) -> bool:
        """``intent_name_examples``, or for "auto" whether a median moment has few examples."""
        setting = self._config["intent_name_examples"]
        if setting != "auto":
            return bool(setting)
        return median_examples(y) < self._config["intent_name_examples_below"]

    def unseen_share(self, labels: list[str]) -> float:
        """``unseen_calibration_share``, or for "auto" ``OUT_OF_SCOPE_SHARE`` (the confidence
        module's) when no out-of-scope intent is trained (``OUT_OF_SCOPE_INTENTS`` and
        ``intent_name_examples_skip``) and 0 when one is: its examples teach the confidence
        what out-of-scope messages look like."""
        setting = self._config["unseen_calibration_share"]
        if setting != "auto":
            return float(setting)
        out_of_scope = {*OUT_OF_SCOPE_INTENTS, *self._config["intent_name_examples_skip"]}
        return 0.0 if out_of_scope & set(labels) else OUT_OF_SCOPE_SHARE

    def _train_frozen_marked(self, texts: list[str], y: np.ndarray, labels: list[str],
                             marked: np.ndarray, named: np.ndarray) -> MomentModel:
        """Logistic regression on the unmarked examples, calibrated on the marked ones and on
        out-of-fold predictions of the unmarked ones written as messages (not the intents'
        names).

        The marked examples alone can hold too few mistakes to learn from: 20 of them (one a
        moment), all answered right, made every confidence 1.0, out-of-scope messages too.
        """
        x = self.embedder.encode(self._corrected(texts, marked))
        kept = ~marked
        model = train_frozen(x[kept], y[kept], labels, self._config["C"], calibrated=False)
        if not self._config["calibrate"]:
            return model
        held_out = out_of_fold(x[kept], y[kept], self._config["C"], len(labels))
        more = None
        if held_out is not None:
            logits, neighbours, held = held_out
            written = held & ~named[kept]
            more = (logits[written], neighbours[written], y[kept][written])
        return self._calibrate_on(model, x[marked], y[marked], more)

    def _calibrate_on(self, model: MomentModel, x_held: np.ndarray, y_held: np.ndarray,
                      more: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
                      ) -> MomentModel:
        """Calibrates on the held-out examples and, if given, on more held-out (head logits,
        neighbour cosines, classes) predictions.

        The neighbour weight is chosen on all of them: it is about the classifier, and more
        predictions choose it better. The temperature and the confidence model are fitted on
        the held-out examples alone when they hold enough mistakes to learn from
        (:data:`MIN_HELD_OUT` rows, :data:`MIN_HELD_OUT_MISTAKES` mistakes): marked examples
        are collected like the messages to come, and pooling them with the training
        examples' predictions, which hold no out-of-scope message when none was trained,
        made the confidence of BANKING77 with 27 unseen intents overconfident (ECE 0.216
        against 0.119). Fewer than that, and they are pooled.
        """
        if not self._config["calibrate"] or len(y_held) == 0:
            return model
        held = (model.head_logits(x_held), model.neighbours(x_held), y_held)
        pooled = held if more is None else tuple(
            np.concatenate(pair) for pair in zip(held, more, strict=True))
        head, neighbours, y = pooled
        if self._config["knn"] and len(y) >= 2:
            model.knn_weight = choose_knn_weight(head, neighbours, y)
        mistakes = int(np.sum(combined_logits(held[0], held[1], model.knn_weight)
                              .argmax(axis=1) != y_held))
        if len(y_held) >= MIN_HELD_OUT and mistakes >= MIN_HELD_OUT_MISTAKES:
            head, neighbours, y = held
        return calibrate(model, head, y, neighbours, choose_weight=False,
                         unseen_share=self.unseen_share(model.labels))

    def _train_fine_tuned(self, texts: list[str], y: np.ndarray, labels: list[str],
                          marked: np.ndarray, named: np.ndarray) -> MomentModel:
        """Fine-tunes the encoder, then calibrates it on predictions of examples it did not
        train on: the marked ones; with few examples, out-of-fold predictions of further
        fine-tunes (:func:`calibration_folds`), the model itself training on all; else a
        held-out split."""
        settings = FineTuneSettings.from_config(self._config)
        written = np.flatnonzero(~named & ~marked)  # the intents' names are not messages
        folds = calibration_folds(self._config, len(written))
        if folds:
            kept = np.flatnonzero(~marked)
            original = {key: value.detach().clone() for key, value in
                        self.embedder.model.state_dict().items()}  # type: ignore[attr-defined]
            more = self._out_of_fold_fine_tuned(texts, y, labels, kept, written, folds,
                                                settings, original)
            model = self._fine_tune_on(texts, y, labels, kept, settings, original)
            if marked.any():
                held = np.flatnonzero(marked)
                x_held = self.embedder.encode(self._corrected([texts[i] for i in held]))
                return self._calibrate_on(model, x_held, y[held], more)
            head, neighbours, y_held = more
            return calibrate(model, head, y_held, neighbours, choose_weight=self._config["knn"],
                             unseen_share=self.unseen_share(labels))
        if marked.any():
            kept, held = np.flatnonzero(~marked), np.flatnonzero(marked)
        else:
            fraction = self._config["holdout"] if self._config["calibrate"] else 0.0
            kept, held = holdout_split(y[written], fraction, seed=self._config["seed"])
            kept, held = (np.sort(np.concatenate([written[kept], np.flatnonzero(named)])),
                          written[held])
        model = self._fine_tune_on(texts, y, labels, kept, settings)
        if len(held) == 0:
            return model
        held_texts = self._corrected([texts[i] for i in held])
        return self._calibrate_on(model, self.embedder.encode(held_texts), y[held])

    def _fine_tune_on(self, texts: list[str], y: np.ndarray, labels: list[str],
                      rows: np.ndarray, settings: FineTuneSettings,
                      weights: dict[str, Any] | None = None) -> MomentModel:
        """The model of the encoder fine-tuned on ``rows``, starting from ``weights`` if
        given (else from the encoder as it is)."""
        from bot.components.finetune import fine_tune

        encoder = self.embedder.model  # type: ignore[attr-defined]
        if weights is not None:
            encoder.load_state_dict(weights)
        trained = [texts[i] for i in rows]
        # The head starts at class centroids of the frozen embeddings; 16 examples a class
        # place them well enough, and encoding all of CLINC150 for it cost minutes.
        sample = per_class_sample(y[rows], 16, seed=self._config["seed"])
        initial = np.zeros((len(rows), self.embedder.dimension), dtype=np.float32)
        initial[sample] = self.embedder.encode([trained[i] for i in sample])
        prototypes = fine_tune(encoder, trained, y[rows], len(labels), initial, settings,
                               rows=sample)
        self.fine_tuned = True
        return MomentModel(labels, prototypes * settings.scale,
                           np.zeros(len(labels), dtype=np.float32),
                           self.embedder.encode(trained), y[rows])

    def _out_of_fold_fine_tuned(self, texts: list[str], y: np.ndarray, labels: list[str],
                                kept: np.ndarray, spare: np.ndarray, folds: int,
                                settings: FineTuneSettings, weights: dict[str, Any]
                                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(h, k) head scores, (h, k) nearest-example cosines and (h,) classes of the
        ``spare`` rows, each row's from a fine-tune (starting from ``weights``) on the
        ``kept`` rows outside its fold. A moment with fewer than ``folds`` examples to spare
        is never held out (its own fold could leave it none)."""
        from sklearn.model_selection import StratifiedKFold

        counts = np.bincount(y[spare], minlength=len(labels))
        spare = spare[counts[y[spare]] >= folds]
        head = np.zeros((len(spare), len(labels)), dtype=np.float64)
        neighbours = np.zeros((len(spare), len(labels)), dtype=np.float32)
        if len(np.unique(y[spare])) < 2:
            return head, neighbours, y[spare]
        splitter = StratifiedKFold(n_splits=folds, shuffle=True,
                                   random_state=self._config["seed"])
        for number, (_, held) in enumerate(splitter.split(spare, y[spare]), start=1):
            log.info("calibration fine-tune %d of %d (%d examples held out)", number, folds,
                     len(held))
            model = self._fine_tune_on(texts, y, labels, np.setdiff1d(kept, spare[held]),
                                       settings, weights)
            x_held = self.embedder.encode(self._corrected([texts[i] for i in spare[held]]))
            head[held] = model.head_logits(x_held)
            neighbours[held] = model.neighbours(x_held)
        return head, neighbours, y[spare]

    def _corrected(self, texts: list[str], which: np.ndarray | None = None) -> list[str]:
        """``texts`` with their misspellings corrected (only the rows ``which`` says)."""
        if self.speller is None:
            return texts
        return [self.speller.correct(t) if which is None or which[i] else t
                for i, t in enumerate(texts)]

    def persist(self) -> None:
        assert self.model is not None
        with self._model_storage.write_to(self._resource) as directory:
            self.model.save(directory)
            if self.speller is not None:
                self.speller.save(directory)
            if self.fine_tuned:
                self.embedder.model.save(str(directory / ENCODER_DIRECTORY))  # type: ignore

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> MomentClassifier:
        # Rasa may pass graph inputs as keyword arguments; only injected collaborators are ours.
        injected = {k: v for k, v in kwargs.items() if k in ("embedder", "embedder_factory")}
        component = cls(config, model_storage, resource, execution_context, **injected)
        component._threads = component._config["inference_threads"] or None
        if component._threads:
            # NumPy's BLAS too: waking a second BLAS thread for one message's (1, n) product
            # cost more than the product (3 ms against 1 ms for BANKING77's bank, measured)
            from threadpoolctl import threadpool_limits

            threadpool_limits(limits=component._threads, user_api="blas")
        try:
            with model_storage.read_from(resource) as directory:
                component.model = MomentModel.load(directory)
                component.speller = SpellingCorrector.load(directory)
                component._load_encoder(directory)
        except (ValueError, FileNotFoundError, KeyError):
            log.warning("no usable trained moment classifier; every message will be unsure")
            return component
        component.embedder.encode(["warm up"])  # the first call is slow; keep it off a turn
        return component

    def _load_encoder(self, directory: Path) -> None:
        """Loads a fine-tuned encoder while the stored files are still readable."""
        if (directory / ENCODER_DIRECTORY).exists() and self._embedder is None:
            self._embedder = self._embedder_factory(str(directory / ENCODER_DIRECTORY),
                                                    self._threads)
            self.fine_tuned = True

    def process(self, messages: list[Message]) -> list[Message]:
        with_text = [m for m in messages if m.get(TEXT)]
        if not with_text:
            return messages
        texts = [str(m.get(TEXT)) for m in with_text]
        parts = [split_clauses(t) if self.model is not None else [] for t in texts]
        # the parts in the same batch as the messages: one pass through the encoder
        vectors = self.embedder.encode(self._corrected(texts + [c for p in parts for c in p]))
        identity = self.embedder.identity  # None while fine-tuned weights are unsaved
        for row, message in enumerate(with_text if identity else ()):
            message.set(EMBEDDING_KEY, encode_embedding(vectors[row]), add_to_output=True)
            message.set(EMBEDDING_ENCODER_KEY, identity, add_to_output=True)
        if self.model is not None:
            self._classify(with_text, vectors[:len(texts)])
            self._classify_clauses(with_text, parts, vectors[len(texts):])
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def _classify(self, messages: list[Message], vectors: np.ndarray) -> None:
        assert self.model is not None
        prediction = self.model.predict(vectors)
        length = self._config["ranking_length"]
        for row, message in enumerate(messages):
            order = np.argsort(-prediction.probabilities[row])[:length]
            ranking = [{INTENT_NAME_KEY: self.model.labels[i],
                        PREDICTED_CONFIDENCE_KEY: float(prediction.probabilities[row, i])}
                       for i in order]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
            message.set(SIMILARITY_KEY, float(prediction.similarity[row]), add_to_output=True)
            if self._config["debug_scores"]:
                message.set(RAW_CONFIDENCE_KEY, float(prediction.raw_confidence[row]),
                            add_to_output=True)

    def _classify_clauses(self, messages: list[Message], parts: list[list[str]],
                          vectors: np.ndarray) -> None:
        """Each part's most likely moment and its confidence, on messages with parts."""
        assert self.model is not None
        if not len(vectors):
            return
        prediction = self.model.predict(vectors)
        row = 0
        for message, clauses in zip(messages, parts, strict=True):
            found = []
            for clause in clauses:
                best = int(np.argmax(prediction.probabilities[row]))
                found.append({"text": clause, INTENT_NAME_KEY: self.model.labels[best],
                              PREDICTED_CONFIDENCE_KEY:
                                  float(prediction.probabilities[row, best])})
                row += 1
            if found:
                message.set(CLAUSES_KEY, found, add_to_output=True)
