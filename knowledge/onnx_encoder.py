"""One message at a time through ONNX Runtime: the same vector as PyTorch, 2.4x sooner.

A customer turn encodes one short message. PyTorch's eager forward pass of all-MiniLM-L6-v2
on one thread took 14.0 ms (p50) for such a message; the same network exported to ONNX and
run by ONNX Runtime took 5.9 ms, with the same vectors (lowest cosine 0.9999999 over 500
BANKING77 messages: ``python -m bench.encoder``, ADR 0007). So a loaded encoder is exported
in memory, from its current weights (the fine-tuned ones too), and single messages go
through the exported copy. Batches (training, index builds) stay with PyTorch.

Export is checked: the copy must give the PyTorch vector for a probe message, or it is not
used (``OnnxUnavailable``) and the caller keeps PyTorch.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np

PROBE = "My card payment was declined twice, order #A1234 - what now?"
# cosine between the exported copy's and PyTorch's vector of PROBE below which it is not used
MIN_AGREEMENT = 0.9999


class OnnxUnavailable(RuntimeError):
    """ONNX Runtime is missing, the export failed, or the copy disagrees with PyTorch."""


class OnnxEncoder:
    """An exported copy of a SentenceTransformer's forward pass, for one text at a time."""

    def __init__(self, model: Any, threads: int = 1) -> None:
        """Exports ``model`` (a SentenceTransformer in eval mode) and checks the copy.

        Raises:
            OnnxUnavailable: onnxruntime/onnx are not installed, the export failed, or the
                exported copy's vector of a probe message differs from PyTorch's.
        """
        try:
            import onnxruntime
        except ImportError as error:
            raise OnnxUnavailable("onnxruntime is not installed") from error
        self._model = model
        features = self._features(PROBE)
        self._inputs = sorted(features)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        # threads sleep while they wait: spinning takes the other core from Rasa (ADR 0007)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        try:
            self._session = onnxruntime.InferenceSession(
                _export(model, self._inputs, features), options,
                providers=["CPUExecutionProvider"])
            agreement = float(self.encode(PROBE) @ _torch_vector(model, PROBE))
        except Exception as error:  # any exporter or runtime failure means "use PyTorch"
            raise OnnxUnavailable(f"export to ONNX failed: {error}") from error
        if agreement < MIN_AGREEMENT:
            raise OnnxUnavailable(f"the exported encoder disagrees with PyTorch "
                                  f"(cosine {agreement:.6f} < {MIN_AGREEMENT})")

    def encode(self, text: str) -> np.ndarray:
        """The L2-normalised (dimension,) float32 vector of ``text``."""
        features = self._features(text)
        (vector,) = self._session.run(None, {name: features[name] for name in self._inputs})
        vector = np.asarray(vector[0], dtype=np.float32)
        return vector / max(float(np.linalg.norm(vector)), 1e-12)

    def _features(self, text: str) -> dict[str, np.ndarray]:
        """The model's own preprocessing (tokenizer, truncation), as int64 arrays."""
        features = self._model.preprocess([text])
        return {name: value.numpy().astype(np.int64) for name, value in features.items()
                if hasattr(value, "numpy")}


def _export(model: Any, inputs: list[str], features: dict[str, np.ndarray]) -> bytes:
    import torch

    class Forward(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: Any) -> Any:
            return self.model(dict(zip(inputs, tensors, strict=True)))["sentence_embedding"]

    dynamic = {name: {0: "batch", 1: "tokens"} for name in inputs}
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(Forward().eval(), tuple(torch.from_numpy(features[n]) for n in inputs),
                          buffer,  # type: ignore[arg-type]  # a file object: in memory
                          input_names=inputs, output_names=["embedding"],
                          dynamic_axes={**dynamic, "embedding": {0: "batch"}},
                          opset_version=17, dynamo=False)
    return buffer.getvalue()


def _torch_vector(model: Any, text: str) -> np.ndarray:
    vector = model.encode([text], normalize_embeddings=True, convert_to_numpy=True,
                          show_progress_bar=False)[0]
    return np.asarray(vector, dtype=np.float32)
