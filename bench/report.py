"""Renders bench/results/*.json as Markdown into the README's benchmark section."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def turn_section(result: dict[str, Any]) -> str:
    ours, bare = result["mot_assist"], result["bare_rasa"]
    return "\n".join([
        f"**Turn cost** (`{result['command']}`, {result['measured_at']}, {result['machine']}; "
        f"{ours['turns']} REST turns each, interleaved):",
        "",
        "| | p50 ms | p95 ms | turns/s ({} concurrent) |".format(result["concurrency"]),
        "|---|---|---|---|",
        f"| MoT Assist (classify + retrieve + answer) | {ours['p50_ms']} | {ours['p95_ms']} | "
        f"{ours['turns_per_second']} |",
        f"| bare Rasa 3.6 (`rasa init`) | {bare['p50_ms']} | {bare['p95_ms']} | "
        f"{bare['turns_per_second']} |",
        f"| ratio | {result['ratio_p50']}x | {result['ratio_p95']}x | |",
    ])


def desk_section(result: dict[str, Any]) -> str:
    latency = result["customer_message_to_agent_screen"]
    replies = result["agent_replies"]
    return "\n".join([
        f"**Desk** (`python -m bench.desk`; {result['agents']} agents, "
        f"{result['open_conversations']} open conversations; {result['notes']}):",
        "",
        "| customer message to agent's screen p50 / p95 / max ms | messages/s | "
        "handoffs queued/s | agent replies acked/s / delivered/s |",
        "|---|---|---|---|",
        f"| {latency['p50_ms']} / {latency['p95_ms']} / {latency['max_ms']} | "
        f"{latency['delivered_per_second']} | {result['handoffs_queued_per_second']} | "
        f"{replies['acked_per_second']} / {replies['delivered_per_second']} |",
    ])


def generic_section(name: str, result: dict[str, Any]) -> str:
    """Suites that render themselves provide a "markdown" field; else a JSON summary."""
    if isinstance(result.get("markdown"), str):
        return str(result["markdown"])
    return f"**{name}**: see `bench/results/{name}.json` and its section above."


def first_turn_results() -> list[str]:
    """Every first-turn set's result, the team's set first, then by name."""
    names = sorted(path.stem for path in RESULTS.glob("first-turn-*.json"))
    return sorted(names, key=lambda name: name != "first-turn-first-turns")


def render() -> str:
    parts = []
    for name in ("turn", "encoder", "retrieval", "desk", "insight", *first_turn_results(),
                 "clarify-answers", "two-problems", "nlu"):
        result = _load(name)
        if result is None:
            continue
        renderer = {"turn": turn_section, "desk": desk_section}.get(name)
        parts.append(renderer(result) if renderer else generic_section(name, result))
    return "\n\n".join(parts) if parts else "_No benchmark has been run yet: `make bench`._"


def update_readme(readme: Path = REPO / "README.md") -> None:
    text = readme.read_text(encoding="utf-8")
    if START not in text or END not in text:
        return
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{render()}\n{END}{tail}", encoding="utf-8")
