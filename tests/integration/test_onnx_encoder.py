"""Single messages through the ONNX Runtime copy of the real encoder (all-MiniLM-L6-v2)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from knowledge import onnx_encoder
from knowledge.embedder import SentenceTransformerEmbedder

pytestmark = pytest.mark.integration

MESSAGES = ["where is my parcel", "I was charged twice for order #A1234!!", "", "   ",
            "refund " * 400]  # the last one is longer than the model's 256 tokens


@pytest.fixture(scope="module")
def embedders() -> tuple[SentenceTransformerEmbedder, SentenceTransformerEmbedder]:
    return SentenceTransformerEmbedder(threads=1), SentenceTransformerEmbedder(onnx=False)


@pytest.mark.parametrize("text", MESSAGES)
def test_one_message_gives_pytorchs_vector(embedders, text: str) -> None:
    onnx, torch = embedders
    exported, original = onnx.encode([text]), torch.encode([text])
    assert exported.shape == original.shape == (1, 384)
    assert exported.dtype == np.float32
    assert float(exported[0] @ original[0]) > 0.99999
    assert abs(float(np.linalg.norm(exported[0])) - 1.0) < 1e-5


def test_the_copy_follows_changed_weights() -> None:
    """Taking the model (to fine-tune it) drops the copy made from the old weights."""
    import torch

    embedder = SentenceTransformerEmbedder(threads=1)
    before = embedder.encode(["my card was declined"])[0]
    model = embedder.model
    torch.manual_seed(0)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "layer.0." in name:
                parameter.add_(0.05 * torch.randn_like(parameter))
    after = embedder.encode(["my card was declined"])[0]
    expected = embedder.encode(["my card was declined", "x"])[0]  # a batch: PyTorch
    assert float(after @ before) < 0.9999
    assert float(after @ expected) > 0.99999


def test_a_copy_that_disagrees_is_not_used(monkeypatch, caplog) -> None:
    monkeypatch.setattr(onnx_encoder, "MIN_AGREEMENT", 1.5)
    embedder = SentenceTransformerEmbedder(threads=1)
    with caplog.at_level(logging.WARNING, logger="knowledge.embedder"):
        vector = embedder.encode(["where is my parcel"])
    assert "disagrees with PyTorch" in caplog.text
    assert vector.shape == (1, 384)
    reference = SentenceTransformerEmbedder(onnx=False).encode(["where is my parcel"])
    assert float(vector[0] @ reference[0]) > 0.99999


def test_a_failed_export_leaves_pytorch(monkeypatch, caplog) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("no exporter here")

    monkeypatch.setattr(onnx_encoder, "_export", broken)
    embedder = SentenceTransformerEmbedder(threads=1)
    with caplog.at_level(logging.WARNING, logger="knowledge.embedder"):
        first = embedder.encode(["where is my parcel"])
        embedder.encode(["and again"])
    assert caplog.text.count("export to ONNX failed: no exporter here") == 1  # tried once
    reference = SentenceTransformerEmbedder(onnx=False).encode(["where is my parcel"])
    assert float(first[0] @ reference[0]) > 0.99999
