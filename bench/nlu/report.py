"""The results table for the README, from bench/results/nlu-*.json."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HEADER = ("| data set | pipeline | accuracy | macro-F1 | in-scope acc @ thr | OOS recall @ thr "
          "| OOS AUROC | ECE before → after | train | parse p50 / p95 | commit |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|")


def _pct(value: Any) -> str:
    return f"{100 * value:.2f}%" if isinstance(value, float) else "n/a"


def row(result: dict[str, Any]) -> str:
    """One table row for one result file."""
    scores = result["scores"]
    threshold = scores.get("at_threshold", {})
    ece = f"{scores['ece']:.3f}"
    if "ece_before_calibration" in scores:
        ece = f"{scores['ece_before_calibration']:.3f} → {ece}"
    latency = result["parse_latency"]
    thr = f" (thr {threshold['threshold']:.2f})" if threshold else ""
    auroc = f"{scores['auroc']:.3f}" if "auroc" in scores else "n/a"
    return (f"| {result['dataset']} | {result['pipeline']} | {_pct(scores['accuracy'])} "
            f"| {_pct(scores['macro_f1'])} | {_pct(threshold.get('in_scope_accuracy'))}{thr} "
            f"| {_pct(threshold.get('out_of_scope_recall'))} | {auroc} | {ece} "
            f"| {result['train_seconds'] / 60:.1f} min "
            f"| {latency['p50_ms']:.1f} / {latency['p95_ms']:.1f} ms "
            f"| {result['commit'][:8]}{'+' if result.get('dirty') else ''} "
            f"({result['started'][:10]}) |")


def table(paths: Sequence[Path]) -> str:
    """A Markdown table of the given result files."""
    rows = [row(json.loads(Path(p).read_text(encoding="utf-8"))) for p in paths]
    return "\n".join([HEADER, *rows])


RESULTS = Path(__file__).resolve().parents[1] / "results"
README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- nlu:start -->", "<!-- nlu:end -->"


def update_readme(readme: Path = README, results: Path = RESULTS) -> None:
    """Rewrites the README's table between the nlu markers from every kept result file."""
    text = readme.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    rows = table(sorted(results.glob("nlu-*.json")))
    readme.write_text(f"{head}{START}\n{rows}\n{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    import sys

    if "--readme" in sys.argv[1:]:
        update_readme()
    else:
        print(table(sorted(RESULTS.glob("nlu-*.json"))))
