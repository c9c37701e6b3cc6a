"""``python -m bench.encoder``: one message's encode, PyTorch against ONNX Runtime.

A customer turn encodes one short message (the classifier, and the action server when the
classifier's encoder is fine-tuned). This times ``SentenceTransformerEmbedder.encode`` on
single BANKING77 messages (every 20th of train.csv, the order of the file) with one
thread, through the ONNX Runtime copy (the default, ``knowledge/onnx_encoder.py``) and
through PyTorch's forward pass (``onnx=False``), interleaved message by message so that
both see the same machine load, and checks that both give the same vectors. Writes
bench/results/encoder.json (with a Markdown table for the README).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.nlu.run import git_commit

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "encoder.json"


def messages(count: int) -> list[str]:
    from bench.nlu.__main__ import BUILT_IN

    with BUILT_IN["banking77"].open(newline="", encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    return texts[::20][:count]


def measure(count: int, warmup: int = 20) -> dict[str, Any]:
    from knowledge.embedder import SentenceTransformerEmbedder

    runtimes = {"onnx_runtime": SentenceTransformerEmbedder(threads=1),
                "pytorch": SentenceTransformerEmbedder(threads=1, onnx=False)}
    texts = messages(count + warmup)
    times: dict[str, list[float]] = {name: [] for name in runtimes}
    cosines = []
    for n, text in enumerate(texts):
        vectors = {}
        for name, embedder in runtimes.items():
            started = time.perf_counter()
            vectors[name] = embedder.encode([text])[0]
            if n >= warmup:
                times[name].append((time.perf_counter() - started) * 1000)
        cosines.append(float(vectors["onnx_runtime"] @ vectors["pytorch"]))
    summary = {name: {"p50_ms": round(float(np.percentile(t, 50)), 2),
                      "p95_ms": round(float(np.percentile(t, 95)), 2),
                      "mean_ms": round(float(np.mean(t)), 2)} for name, t in times.items()}
    return {"messages": count, **summary, "cosine_min": round(min(cosines), 7)}


def markdown(result: dict[str, Any]) -> str:
    onnx, torch = result["onnx_runtime"], result["pytorch"]
    return "\n".join([
        f"**Encoding one message** (`python -m bench.encoder`, {result['measured_at']}, "
        f"commit {result['commit'][:7]}, {result['machine']}; {result['messages']} BANKING77 "
        f"messages, one thread, load average {result['load_average']} at the start):",
        "",
        "| runtime | p50 ms | p95 ms | mean ms |",
        "|---|---|---|---|",
        f"| ONNX Runtime copy (default) | {onnx['p50_ms']} | {onnx['p95_ms']} | "
        f"{onnx['mean_ms']} |",
        f"| PyTorch forward pass | {torch['p50_ms']} | {torch['p95_ms']} | "
        f"{torch['mean_ms']} |",
        f"| same vectors: lowest cosine | {result['cosine_min']} | | |",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.encoder", description=__doc__)
    parser.add_argument("--messages", type=int, default=500)
    args = parser.parse_args(argv)
    load = round(os.getloadavg()[0], 2)
    result: dict[str, Any] = {
        "measured_at": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        **git_commit(), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_average": load, **measure(args.messages)}
    result["markdown"] = markdown(result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(result["markdown"])
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
