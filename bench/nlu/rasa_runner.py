"""Rasa for the NLU benchmark: write the data and config, `rasa train nlu`, `rasa run`, parse.

Everything goes through Rasa's own commands so that the benchmark measures the pipeline as
it runs in production: training by ``rasa train nlu`` (graph, fingerprinting, packaging) and
parsing by HTTP against a running ``rasa run --enable-api`` on loopback.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.nlu.data import Example
from bot.generate import examples_block, yaml_text

REPO = Path(__file__).resolve().parents[2]
BASELINE_CONFIG = Path(__file__).with_name("config-rasa-default.yml")
CLASSIFIER = "bot.components.moment_classifier.MomentClassifier"
FALLBACK_INTENT = "nlu_fallback"


def write_nlu(path: Path, train: Sequence[Example], calibration: Sequence[Example] = ()) -> None:
    """Rasa YAML NLU data, each intent's examples as one ``examples: |`` block; the
    ``calibration`` examples in a second block of their intent marked
    ``metadata: {calibration: true}``.

    The block form is what ``rasa init`` writes, and Rasa reads it some 60 times faster than
    one ``- text:`` mapping an example (CLINC150's 16,650 examples: 2.2 s against 136 s, all
    of it inside ``rasa train``'s time). Whitespace inside a message is collapsed to single
    spaces, so that every example is one line of its block.
    """
    nlu: list[dict[str, Any]] = []
    for examples, metadata in ((train, None), (calibration, {"calibration": True})):
        by_intent: dict[str, list[str]] = {}
        for text, intent in examples:
            by_intent.setdefault(intent, []).append(" ".join(text.split()))
        for intent, texts in by_intent.items():
            block = {"intent": intent, **({"metadata": metadata} if metadata else {}),
                     "examples": examples_block(text for text in texts if text)}
            nlu.append(block)
    path.write_text(yaml_text({"version": "3.1", "nlu": nlu}), encoding="utf-8")


def classifier_config(options: dict[str, Any]) -> dict[str, Any]:
    """The MomentClassifier's whole configuration in a run: its defaults, config.yml's
    entry, then ``options``."""
    from bot.components.moment_classifier import MomentClassifier

    config = yaml.safe_load((REPO / "config.yml").read_text(encoding="utf-8"))
    entry = next(c for c in config["pipeline"] if c["name"] == CLASSIFIER)
    return {**MomentClassifier.get_default_config(), **entry, **options}


def write_project_config(path: Path, options: dict[str, Any]) -> dict[str, Any]:
    """config.yml's pipeline with the MomentClassifier's options overridden; returns them."""
    config = yaml.safe_load((REPO / "config.yml").read_text(encoding="utf-8"))
    for component in config["pipeline"]:
        if component["name"] == CLASSIFIER:
            component.update(options)
            chosen = dict(component)
    config["policies"] = []
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return chosen


def rasa_env(threads: int, spin: bool = False) -> dict[str, str]:
    """The environment of a Rasa process on ``threads`` threads.

    Unless ``spin``, OpenMP threads sleep rather than spin while they wait: on a 2-core
    machine shared with other processes, spinning threads slowed training 2-4x (ADR 0007).
    On idle cores spinning is the faster (two float32 threads: 0.36 s a fine-tune step
    spinning, 0.49 s sleeping, 0.63 s on one thread).
    """
    env = dict(os.environ, PYTHONPATH=str(REPO), RASA_TELEMETRY_ENABLED="false",
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               TF_CPP_MIN_LOG_LEVEL="2", SQLALCHEMY_SILENCE_UBER_WARNING="1",
               OMP_NUM_THREADS=str(threads), TF_INTRA_OP_PARALLELISM_THREADS=str(threads),
               TF_INTER_OP_PARALLELISM_THREADS="1")
    if spin:
        env.pop("OMP_WAIT_POLICY", None)
    else:
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    return env


def train(config: Path, nlu: Path, out: Path, log: Path, threads: int = 2,
          spin: bool = False) -> tuple[Path, float]:
    """Runs ``rasa train nlu``; returns the model archive and the wall-clock seconds."""
    from bot.build import ensure_blank_spacy_model

    ensure_blank_spacy_model()  # config.yml's SpacyNLP model: a fresh clone has none yet
    name = "model"
    command = [sys.executable, "-m", "rasa", "train", "nlu", "--config", str(config),
               "--nlu", str(nlu), "--out", str(out), "--fixed-model-name", name]
    # Rasa's training cache is off: a run on data and config trained before would take the
    # cached components and report their loading time as the training time.
    env = {**rasa_env(threads, spin), "RASA_MAX_CACHE_SIZE": "0"}
    started = time.monotonic()
    with log.open("w") as handle:
        result = subprocess.run(command, cwd=REPO, env=env, stdout=handle,
                                stderr=subprocess.STDOUT, check=False)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"`rasa train nlu` failed ({result.returncode}); see {log}")
    return out / f"{name}.tar.gz", seconds


@contextmanager
def serve(model: Path, port: int, log: Path, threads: int = 2,
          timeout: float = 900.0) -> Iterator[None]:
    """A ``rasa run --enable-api`` on 127.0.0.1:port for the duration of the block."""
    from bot.build import ensure_blank_spacy_model

    ensure_blank_spacy_model()  # config.yml's SpacyNLP model: a fresh clone has none yet
    command = [sys.executable, "-m", "rasa", "run", "--enable-api", "--model", str(model),
               "--port", str(port), "--interface", "127.0.0.1"]
    with log.open("w") as handle:
        process = subprocess.Popen(command, cwd=REPO, env=rasa_env(threads), stdout=handle,
                                   stderr=subprocess.STDOUT)
    try:
        _wait_ready(port, process, timeout, log)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float,
                log: Path) -> None:
    """Until /status answers; fails at once if the server exits or cannot load the model."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"`rasa run` exited with code {process.returncode}; see {log}")
        failed = [line for line in log.read_text(errors="replace").splitlines()
                  if "Could not load model" in line]
        if failed:
            raise RuntimeError(f"`rasa run` could not load the model: "
                               f"{failed[0].split('Could not load model', 1)[1].strip()} "
                               f"(see {log})")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/status")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(1.0)
    raise TimeoutError(f"`rasa run` did not answer on port {port} within {timeout:.0f} s")


@dataclass
class Parsed:
    """The harness's view of one parse result."""

    intent: str
    confidence: float
    raw_confidence: float   # NaN when the pipeline reports none
    seconds: float          # round trip of the HTTP request
    payload: dict[str, Any] = field(default_factory=dict, repr=False)  # the whole result


def parse_all(port: int, texts: Sequence[str]) -> list[Parsed]:
    """POSTs each text to /model/parse over one keep-alive connection, one at a time."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    parsed = []
    for text in texts:
        body = json.dumps({"text": text})
        started = time.perf_counter()
        connection.request("POST", "/model/parse", body=body,
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        payload = json.loads(response.read())
        parsed.append(_read(payload, time.perf_counter() - started))
    connection.close()
    return parsed


def _read(payload: dict[str, Any], seconds: float) -> Parsed:
    """Top intent, skipping Rasa's ``nlu_fallback`` (the harness applies thresholds itself)."""
    ranking = [r for r in payload.get("intent_ranking") or [] if r["name"] != FALLBACK_INTENT]
    top: dict[str, Any] = ranking[0] if ranking else {"name": "", "confidence": 0.0}
    raw = payload.get("moment_raw_confidence")
    return Parsed(str(top["name"]), float(top["confidence"]),
                  float(raw) if raw is not None else float("nan"), seconds, payload)
