"""The managers' dashboard at volume: storing facts, and the report's latency.

``python -m bench.insight [--per-day N] [--days D] [--database-url URL]`` fills a fresh
desk database (SQLite in a temporary directory by default) with D days of synthetic
traffic, N contacts a day spread over the catalogue's moments (a few moments carry most),
each a customer message, an article, and then "yes", "no" and a second article, or a
handoff. It measures

* how many customer messages a second :class:`desk.insight.InsightLog` stores, redaction
  included, in batches of 500 (the embedded broker's batch size);
* the latency of :func:`desk.insight.report` for the 1-, 7-, 28- and 90-day windows (each
  also reads the same number of days before it, for the comparison).

Writes ``bench/results/insight.json`` (with its Markdown for the README).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa

from bench.nlu.run import git_commit
from bot.catalogue import load_catalogue
from desk.insight import Fact, InsightLog, report
from desk.nlu_export import LazyRedactor
from desk.tables import handoffs, insert_ignoring_duplicates, insight, open_engine

REPO = Path(__file__).resolve().parent.parent
RESULT = REPO / "bench" / "results" / "insight.json"
DAY = 86_400.0
BATCH = 500
TEXTS = ("my parcel was due 3 days ago, order NW-{n}", "charged twice, mail me at a{n}@x.org",
         "cant log in to my account, call 07700 900{n:03d}", "where is my refund for {n}")


def traffic(moments: list[str], per_day: int, days: int, now: float,
            rng: random.Random) -> tuple[list[dict], list[dict]]:
    """Insight rows and handoff rows for ``days`` of ``per_day`` contacts."""
    weights = [1 / (rank + 1) for rank in range(len(moments))]  # Zipf: a few moments lead
    facts, handed = [], []
    for n in range(per_day * days):
        at = now - rng.random() * days * DAY
        moment = rng.choices(moments, weights)[0]
        conversation = f"c{n}"
        channel = "socketio" if n % 10 < 7 else "telegram"  # web chat 70%, an app 30%

        def fact(kind: str, offset: float, text: str = "", c: str = conversation,
                 moment: str = moment, at: float = at, channel: str = channel) -> dict:
            return {"key": f"{c}:{kind}:{offset}", "conversation_id": c, "kind": kind,
                    "moment": moment, "confidence": 0.9 if kind == "message" else None,
                    "channel": channel, "text": text, "at": at + offset}

        facts += [fact("message", 0, TEXTS[n % len(TEXTS)].format(n=n % 1000)),
                  fact("offered", 1)]
        roll = rng.random()
        if roll < 0.6:
            facts.append(fact("resolved", 60))
        elif roll < 0.85:
            facts += [fact("rejected", 60), fact("offered", 61),
                      fact("resolved" if roll < 0.75 else "rejected", 120)]
        if roll >= 0.75:
            handed.append({
                "id": f"h{n}", "conversation_id": conversation, "customer_id": conversation,
                "channel": channel, "reason": "article_rejected" if roll < 0.85 else "no_article",
                "moment": moment, "skill": "general", "priority": 3, "status": "closed",
                "created_at": at + 121, "packet": "{}", "closed_at": at + 121 + 900,
                "outcome": "resolved"})
    return facts, handed


async def run(per_day: int, days: int, database_url: str | None) -> dict:
    catalogue = load_catalogue(REPO / "bot" / "moments.yml")
    with tempfile.TemporaryDirectory() as folder:
        url = database_url or f"sqlite+aiosqlite:///{folder}/desk.db"
        engine = await open_engine(url)
        log = InsightLog(engine, LazyRedactor())
        await log.record([])
        now = time.time()
        rng = random.Random(0)

        # Storing: customer messages through the real log (redaction included).
        messages = [Fact(f"m{n}", f"live{n}", "message", "parcel_late", now - n, 0.9, "rest",
                         TEXTS[n % len(TEXTS)].format(n=n % 1000)) for n in range(20 * BATCH)]
        await log.record(messages[:BATCH])  # loads the redactor
        started = time.perf_counter()
        for start in range(BATCH, len(messages), BATCH):
            await log.record(messages[start:start + BATCH])
        stored_per_second = (len(messages) - BATCH) / (time.perf_counter() - started)

        facts, handed = traffic([m.id for m in catalogue.moments], per_day, days, now, rng)
        async with engine.begin() as connection:
            for start in range(0, len(facts), 5000):
                await connection.execute(insert_ignoring_duplicates(engine, insight),
                                         facts[start:start + 5000])
            for start in range(0, len(handed), 5000):
                await connection.execute(sa.insert(handoffs), handed[start:start + 5000])

        windows = {}
        for window, channel in ((1, None), (7, None), (28, None), (90, None),
                                (28, "telegram")):
            timings = []
            for _ in range(3):
                began = time.perf_counter()
                found = await report(log, catalogue, now, window, channel)
                timings.append(time.perf_counter() - began)
            windows[f"{window}, {channel}" if channel else str(window)] = {
                "median_seconds": round(statistics.median(timings), 3),
                "contacts": found.contacts}
        await engine.dispose()
    return {"per_day": per_day, "days": days, "rows": len(facts) + len(messages),
            "handoffs": len(handed), "database": url.split(":")[0],
            "messages_stored_per_second": round(stored_per_second),
            "report": windows}


def window_title(key: str) -> str:
    """"28" -> "report, 28-day window"; "28, telegram" -> "..., telegram only"."""
    days, _, channel = key.partition(", ")
    return f"report, {days}-day window" + (f", {channel} only" if channel else "")


def markdown(result: dict) -> str:
    windows = result["report"]
    return "\n".join([
        f"**Moments dashboard** (`{result['command']}`, {result['measured_at']}, "
        f"{result['machine']}; {result['database']}, {result['per_day']:,} contacts a day "
        f"for {result['days']} days: {result['rows']:,} insight rows, "
        f"{result['handoffs']:,} handoffs; report latency is the median of 3):",
        "",
        "| customer messages stored/s (redacted, batches of 500) | "
        + " | ".join(window_title(w) for w in windows) + " |",
        "|---|" + "---|" * len(windows),
        f"| {result['messages_stored_per_second']:,} | "
        + " | ".join(f"{v['median_seconds'] * 1000:.0f} ms ({v['contacts']:,} contacts)"
                     for v in windows.values()) + " |",
    ])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-day", type=int, default=2000)
    parser.add_argument("--days", type=int, default=180,
                        help="days of traffic (180: a 90-day window and the 90 before it)")
    parser.add_argument("--database-url", help="a desk database URL (default: a new SQLite)")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.per_day, args.days, args.database_url))
    command = "python -m bench.insight" + (f" {' '.join(argv)}" if argv else "")
    result.update(command=command, machine=f"{platform.machine()}, {os.cpu_count()} cores",
                  measured_at=datetime.now(timezone.utc).strftime("%Y-%m-%d"), **git_commit())
    result["markdown"] = markdown(result)
    RESULT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(result["markdown"])


if __name__ == "__main__":
    main()
