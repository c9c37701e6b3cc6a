"""Moment classifier: a Rasa graph component over sentence-transformers embeddings.

Each message is encoded once with all-MiniLM-L6-v2 (the offline package); a multinomial
logistic regression over the L2-normalised embedding gives the moment ranking, with a
temperature fitted on held-out folds so that confidence means what it says. The message's
embedding is added to the parse result (``text_embedding``, base64 float16) so that the
action server retrieves articles without encoding the same text a second time.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.components.calibration import fit_temperature, softmax
from knowledge.embedder import DEFAULT_MODEL, SentenceTransformerEmbedder

log = logging.getLogger(__name__)

EMBEDDING_KEY = "text_embedding"
SIMILARITY_KEY = "moment_similarity"


def encode_embedding(vector: np.ndarray) -> str:
    """(d,) float32 → base64 of float16, about 1 KB for 384 dimensions."""
    return base64.b64encode(np.asarray(vector, dtype="<f2").tobytes()).decode("ascii")


def decode_embedding(text: str) -> np.ndarray:
    """Inverse of :func:`encode_embedding`, renormalised to unit length."""
    vector = np.frombuffer(base64.b64decode(text), dtype="<f2").astype(np.float32)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class MomentClassifier(GraphComponent):
    """Classifies messages into moments from sentence embeddings."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "model": DEFAULT_MODEL,   # a name the embedder resolves offline, or a local path
            "threads": 0,             # torch threads; 0 keeps torch's default
            "C": 10.0,                # inverse regularisation of the logistic regression
            "ranking_length": 10,
            "calibrate": True,        # fit a softmax temperature on cross-validated folds
        }

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 execution_context: ExecutionContext, weights: np.ndarray | None = None,
                 bias: np.ndarray | None = None, labels: list[str] | None = None,
                 temperature: float = 1.0, examples: np.ndarray | None = None) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._embedder: SentenceTransformerEmbedder | None = None
        self.weights, self.bias, self.labels = weights, bias, labels or []
        self.temperature = temperature
        self.examples = examples  # (n, d) training embeddings, for nearest-neighbour similarity

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> MomentClassifier:
        return cls(config, model_storage, resource, execution_context)

    @property
    def embedder(self) -> SentenceTransformerEmbedder:
        if self._embedder is None:
            self._embedder = SentenceTransformerEmbedder(
                self._config["model"], threads=self._config["threads"] or None)
        return self._embedder

    def train(self, training_data: TrainingData) -> Resource:
        from sklearn.linear_model import LogisticRegression

        examples = [m for m in training_data.intent_examples if m.get(TEXT)]
        texts = [m.get(TEXT) for m in examples]
        labels = sorted({m.get(INTENT) for m in examples})
        y = np.array([labels.index(m.get(INTENT)) for m in examples])
        x = self.embedder.encode(texts)
        log.info("training the moment classifier on %d examples of %d intents",
                 len(texts), len(labels))
        model = LogisticRegression(C=self._config["C"], max_iter=2000)
        model.fit(x, y)
        self.weights, self.bias, self.labels = model.coef_.astype(np.float32), \
            model.intercept_.astype(np.float32), labels
        self.examples = x
        if self._config["calibrate"] and len(labels) > 1:
            self.temperature = fit_temperature(x, y, self._config["C"])
        self.persist()
        return self._resource

    def persist(self) -> None:
        assert self.weights is not None and self.bias is not None and self.examples is not None
        with self._model_storage.write_to(self._resource) as directory:
            np.savez(directory / "classifier.npz", weights=self.weights, bias=self.bias,
                     labels=np.array(self.labels), temperature=np.array(self.temperature),
                     examples=self.examples.astype(np.float16))

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> MomentClassifier:
        try:
            with model_storage.read_from(resource) as directory:
                data = np.load(directory / "classifier.npz")
                component = cls(config, model_storage, resource, execution_context,
                                weights=data["weights"], bias=data["bias"],
                                labels=[str(label) for label in data["labels"]],
                                temperature=float(data["temperature"]),
                                examples=data["examples"].astype(np.float32))
        except ValueError:
            log.warning("no trained moment classifier found; every message will be unsure")
            return cls(config, model_storage, resource, execution_context)
        component.embedder.encode(["warm up"])  # the first call is slow; keep it off a turn
        return component

    def process(self, messages: list[Message]) -> list[Message]:
        texts = [m.get(TEXT) or "" for m in messages]
        if not texts:
            return messages
        vectors = self.embedder.encode(texts)
        for message, vector in zip(messages, vectors, strict=True):
            if message.get(TEXT):
                self._classify(message, vector)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def _classify(self, message: Message, vector: np.ndarray) -> None:
        message.set(EMBEDDING_KEY, encode_embedding(vector), add_to_output=True)
        if self.weights is None or self.bias is None or self.examples is None:
            return
        probabilities = softmax((self.weights @ vector + self.bias) / self.temperature)
        order = np.argsort(-probabilities)[: self._config["ranking_length"]]
        ranking = [{INTENT_NAME_KEY: self.labels[i],
                    PREDICTED_CONFIDENCE_KEY: float(probabilities[i])} for i in order]
        message.set(INTENT, ranking[0], add_to_output=True)
        message.set("intent_ranking", ranking, add_to_output=True)
        message.set(SIMILARITY_KEY, float(np.max(self.examples @ vector)), add_to_output=True)
