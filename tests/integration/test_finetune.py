"""Fine-tuning the real encoder (all-MiniLM-L6-v2) in each precision: it must learn the
moments, not collapse (bfloat16 autocast over the loss and backward pass once put every
BANKING77 message into two classes)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from bench.nlu.run import FINE_TUNE_FINISHED
from bot.components.finetune import FineTuneSettings, fine_tune
from knowledge.embedder import SentenceTransformerEmbedder, installed_model_path, weights_identity

pytestmark = pytest.mark.integration

EXAMPLES = {
    "parcel_late": ["my parcel is late", "where is my parcel", "parcel has not arrived yet",
                    "still waiting for my delivery", "the courier never came",
                    "order says shipped but nothing came"],
    "charged_twice": ["I was charged twice", "double charge on my card",
                      "you took the payment two times", "duplicate payment for one order",
                      "two identical transactions on my statement", "billed twice"],
    "password_reset": ["I forgot my password", "reset my password please",
                       "can't log in, password wrong", "the reset link does not work",
                       "locked out of my account", "how do I change my password"],
    "cancel": ["cancel my subscription", "I want to cancel my plan", "stop my membership",
               "please end my contract", "how do I unsubscribe", "terminate my account"],
}


@pytest.mark.parametrize("precision", ["bfloat16", "float32"])
def test_fine_tuned_encoder_learns_the_moments(precision: str,
                                               caplog: pytest.LogCaptureFixture) -> None:
    texts = [t for ts in EXAMPLES.values() for t in ts]
    y = np.repeat(np.arange(len(EXAMPLES)), [len(ts) for ts in EXAMPLES.values()])
    embedder = SentenceTransformerEmbedder(onnx=False)
    assert embedder.identity == weights_identity(installed_model_path())
    initial = embedder.encode(texts)
    settings = FineTuneSettings(epochs=6, batch_size=8, precision=precision)
    with caplog.at_level(logging.INFO, logger="bot.components.finetune"):
        prototypes = fine_tune(embedder.model, texts, y, len(EXAMPLES), initial, settings)
    # the line the benchmark reads: the whole schedule ran (no time budget), in this precision
    finished = FINE_TUNE_FINISHED.findall(caplog.text)
    assert [(steps, of, ran) for steps, of, _, ran in finished] == [("18", "18", precision)]
    after = embedder.encode(texts)
    assert np.isfinite(after).all() and np.isfinite(prototypes).all()
    assert float(np.mean((after @ prototypes.T).argmax(axis=1) == y)) == 1.0
    off_diagonal = (after @ after.T)[~np.eye(len(texts), dtype=bool)]
    assert float(off_diagonal.mean()) < 0.8  # the messages did not collapse onto one point


def test_saved_fine_tuned_weights_have_an_identity_of_their_own(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The classifier and the action server load the same saved weights and must agree on
    their identity (then the parse's embedding stands in for the action server's); the
    original weights, or weights changed in memory, must not pass for them."""
    texts = [t for ts in EXAMPLES.values() for t in ts]
    y = np.repeat(np.arange(len(EXAMPLES)), [len(ts) for ts in EXAMPLES.values()])
    embedder = SentenceTransformerEmbedder(onnx=False)
    original = embedder.identity
    fine_tune(embedder.model, texts, y, len(EXAMPLES), embedder.encode(texts),
              FineTuneSettings(epochs=1, batch_size=8))
    assert embedder.identity is None  # changed in memory, not yet saved
    embedder.model.save(str(tmp_path / "encoder"))
    first, second = (SentenceTransformerEmbedder(str(tmp_path / "encoder")) for _ in range(2))
    assert first.identity == second.identity == weights_identity(tmp_path / "encoder")
    assert first.identity not in (None, original)
    message = ["my parcel is late"]
    assert np.allclose(first.encode(message), second.encode(message), atol=1e-5)
