"""``python -m bench.nlu.retrieval_weights``: knowledge retrieval with fine-tuned vs original
encoder weights (issue 7: "if the knowledge index shares the encoder, measure retrieval with
the fine-tuned and the original weights and keep what wins").

Fine-tunes the MomentClassifier's encoder on the shipped catalogue (``fine_tune: true``, the
recipe the benchmark uses on large data), then scores the shipped knowledge base's held-out
questions (``bench/data/kb_questions.yml``, as ``python -m bench.retrieval`` does) with an
index built by each encoder. Writes ``bench/results/retrieval-weights.json``.
"""

from __future__ import annotations

import datetime
import json
import sys
import time
from pathlib import Path

from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.training_data import TrainingData

from bench.retrieval import shipped_kb
from bot.components.moment_classifier import MomentClassifier
from bot.settings import REPO
from knowledge.embedder import SentenceTransformerEmbedder

RESULT = REPO / "bench" / "results" / "retrieval-weights.json"


def fine_tuned_embedder(work: Path) -> tuple[SentenceTransformerEmbedder, float]:
    """The encoder after fine-tuning the classifier on the catalogue, and the seconds taken."""
    data = load_data(str(REPO / "bot" / "data" / "nlu_moments.yml")).merge(
        load_data(str(REPO / "bot" / "data" / "conversation.yml")))
    examples = [m for m in data.intent_examples if m.get(TEXT)]
    embedder = SentenceTransformerEmbedder(threads=1)
    component = MomentClassifier.create(
        {**MomentClassifier.get_default_config(), "fine_tune": True},
        LocalModelStorage(work), Resource("moments"), ExecutionContext(GraphSchema({}), "b"),
        embedder=embedder)
    started = time.monotonic()
    component.train(TrainingData(training_examples=examples))
    return embedder, time.monotonic() - started


def main() -> int:
    import tempfile

    original = shipped_kb(SentenceTransformerEmbedder(threads=1))
    with tempfile.TemporaryDirectory() as work:
        embedder, seconds = fine_tuned_embedder(Path(work))
        tuned = shipped_kb(embedder)
    result = {"measured_at": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
              "command": "python -m bench.nlu.retrieval_weights",
              "fine_tune_seconds": round(seconds, 1),
              "original_weights": original["dense"], "fine_tuned_weights": tuned["dense"],
              "questions": "bench/data/kb_questions.yml (held out from the articles)",
              "kept": "original" if original["dense"]["mrr@10"] >= tuned["dense"]["mrr@10"]
              else "fine-tuned"}
    RESULT.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
