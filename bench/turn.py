"""Turn cost: MoT Assist against a bare Rasa 3.6 bot, side by side in one run.

Starts both on loopback: the whole assistant (``mot up``) and the bot ``rasa init`` writes
(trained once and cached). Then sends the same number of REST turns to each, interleaved so
that both see the same machine load, and reports p50/p95 latency and the ratio, plus
throughput with a few concurrent customers. Bounded in count and time.

    python -m bench.turn            # writes bench/results/turn.json
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bot.build import rasa_env
from bot.settings import REPO
from bot.supervisor import free_port, stop_group

RESULTS = REPO / "bench" / "results"
TURNS = 300
CONCURRENT_TURNS = 400
CONCURRENCY = 8
MESSAGES = [
    "my parcel is late", "I was charged twice for my order", "I forgot my password",
    "how do I return a sofa", "my refund has not arrived yet", "cancel my plus membership",
    "the package arrived damaged", "I can't finish registration", "where is my invoice",
    "promo code does not work",
]


def turn(url: str, text: str) -> float:
    """One REST turn with a fresh customer; returns its latency in ms."""
    body = json.dumps({"sender": uuid.uuid4().hex, "message": text}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as reply:
        reply.read()
    return (time.perf_counter() - started) * 1000


def wait_for(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {process.returncode}")
        try:
            turn(url, "hello")
            return
        except OSError:
            time.sleep(1)
    raise RuntimeError(f"{url} not ready in {timeout} s")


def bare_rasa_model(cache: Path) -> Path:
    """The `rasa init` bot, trained once per Rasa version and kept in the cache."""
    folder = cache / "bench-rasa-init"
    model = folder / "models" / "init.tar.gz"
    if model.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "rasa", "init", "--no-prompt", "--init-dir",
                    str(folder)], env=rasa_env(), check=True, cwd=folder,
                   stdout=subprocess.DEVNULL)
    for old in (folder / "models").glob("*.tar.gz"):
        old.rename(model)
    return folder


def start(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(command, env=env, cwd=cwd, stdout=output,
                                stderr=subprocess.STDOUT, start_new_session=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(latencies: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(latencies), 2),
            "p95_ms": round(percentile(latencies, 0.95), 2),
            "mean_ms": round(statistics.fmean(latencies), 2), "turns": len(latencies)}


def throughput(url: str) -> float:
    """Turns per second with CONCURRENCY customers writing at once."""
    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(lambda n: turn(url, MESSAGES[n % len(MESSAGES)]), range(CONCURRENT_TURNS)))
    return round(CONCURRENT_TURNS / (time.perf_counter() - started), 1)


def measure(ours: str, bare: str) -> dict[str, Any]:
    for _ in range(20):  # warm both
        turn(ours, MESSAGES[0])
        turn(bare, "hello")
    ours_ms, bare_ms = [], []
    for n in range(TURNS):
        text = MESSAGES[n % len(MESSAGES)]
        ours_ms.append(turn(ours, text))
        bare_ms.append(turn(bare, text))
    result: dict[str, Any] = {"mot_assist": summary(ours_ms), "bare_rasa": summary(bare_ms)}
    result["ratio_p50"] = round(result["mot_assist"]["p50_ms"] / result["bare_rasa"]["p50_ms"], 2)
    result["ratio_p95"] = round(result["mot_assist"]["p95_ms"] / result["bare_rasa"]["p95_ms"], 2)
    result["mot_assist"]["turns_per_second"] = throughput(ours)
    result["bare_rasa"]["turns_per_second"] = throughput(bare)
    return result


def main() -> dict[str, Any]:
    cache = Path(os.environ.get("MOT_CACHE_DIR") or Path.home() / ".cache" / "mot-assist")
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"mot-bench-turn-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    ports = {"MOT_RASA_PORT": free_port(), "MOT_ACTIONS_PORT": free_port(),
             "MOT_DESK_PORT": free_port()}
    env = {**rasa_env(), "MOT_DATA_DIR": str(work / "data"),
           **{k: str(v) for k, v in ports.items()}}
    bare_dir, bare_port = bare_rasa_model(cache), free_port()
    ours = start([sys.executable, "-m", "bot", "up"], env, REPO, work / "mot.log")
    bare = start([sys.executable, "-m", "rasa", "run", "--model", "models/init.tar.gz",
                  "--port", str(bare_port), "--interface", "127.0.0.1"], rasa_env(), bare_dir,
                 work / "bare.log")
    try:
        ours_url = f"http://127.0.0.1:{ports['MOT_RASA_PORT']}/webhooks/rest/webhook"
        bare_url = f"http://127.0.0.1:{bare_port}/webhooks/rest/webhook"
        wait_for(bare_url, bare, 300)
        wait_for(ours_url, ours, 900)
        result = measure(ours_url, bare_url)
    finally:
        stop_group(ours)
        stop_group(bare)
    result.update({"command": "python -m bench.turn", "machine": f"{os.cpu_count()} cores",
                   "concurrency": CONCURRENCY, "measured_at": time.strftime("%Y-%m-%d %H:%M")})
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "turn.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
