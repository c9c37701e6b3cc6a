"""Live index: publish, retire and rollback reach a running action server within 2 s, with
customer turns running throughout and never a failed or half-built answer.

The action server is the real one (``actions.server.create_app``: its start-up from the
article store and its CURRENT follower), with the real model; the publisher is the one the
desk runs, in another "process" (its own store connection and Publisher).
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest

from actions.desk_client import RecordingDeskClient
from actions.server import RETRIEVER, create_app
from bot.settings import load_settings
from knowledge.articles import Article
from knowledge.publish import Publisher
from knowledge.service import open_store

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TRACKER = Path(__file__).resolve().parents[1] / "data" / "trackers" / "answer-1.json"
MOMENT = "item_missing_from_order"
QUESTION = "the bag of screws and dowels for my new wardrobe was not in the box"
NEW = Article(id="fittings-bag-missing", title="Screws or fittings missing from flat-pack "
              "furniture? Order a free fittings bag",
              summary="Check the hollow legs first, then order a free fittings bag.",
              body="1. Look inside the hollow legs and under the corner guards.\n"
                   "2. Order the free fittings bag at northwind.example/fittings.\n"
                   "3. It arrives by post within 3 working days.", moments=(MOMENT,))


def action_call(text: str) -> dict[str, Any]:
    """A recorded action call, re-aimed at our moment; the action encodes the text itself."""
    call = copy.deepcopy(json.loads(TRACKER.read_text(encoding="utf-8")))
    parse = {"intent": {"name": MOMENT, "confidence": 0.99}, "entities": [], "text": text,
             "intent_ranking": [{"name": MOMENT, "confidence": 0.99}]}
    call["tracker"]["latest_message"] = parse
    for event in call["tracker"]["events"]:
        if event.get("event") == "user":
            event.update(text=text, parse_data=parse)
    return call


@pytest.fixture
async def running(tmp_path, aiohttp_client, real_embedder):  # type: ignore[no-untyped-def]
    settings = load_settings({"MOT_DATA_DIR": str(tmp_path)})
    client = await aiohttp_client(create_app(settings, embedder=real_embedder,
                                             desk=RecordingDeskClient()))
    store = await open_store(settings.desk_database_url, settings.articles_dir)
    publisher = Publisher(store, real_embedder, settings.knowledge_dir)
    yield client, publisher
    await store.close()


async def offered(client: Any) -> str | None:
    reply = await client.post("/webhook", json=action_call(QUESTION))
    assert reply.status == 200, await reply.text()
    result = await reply.json()
    slots = {e["name"]: e["value"] for e in result["events"] if e["event"] == "slot"}
    assert result["responses"], "every turn answers"
    return (slots.get("offered_articles") or [None])[0]


async def until_live(client: Any, key: str, started: float) -> float:
    while (await (await client.get("/health")).json())["knowledge"] != key:
        assert time.perf_counter() - started < 5, "not live after 5 s"
        await asyncio.sleep(0.02)
    return time.perf_counter() - started


async def test_publish_retire_rollback_live_under_load(running) -> None:  # type: ignore[no-untyped-def]
    client, publisher = running
    retriever = client.server.app[RETRIEVER]
    answers: list[str | None] = []
    failures: list[str] = []
    stop = asyncio.Event()

    async def customers() -> None:
        while not stop.is_set():
            try:
                answers.append(await offered(client))
                hits = await asyncio.get_running_loop().run_in_executor(
                    None, lambda: retriever.search(QUESTION, k=3, moment=MOMENT))
                assert hits and all(h.article.moments and h.passage for h in hits)
            except Exception as error:  # any failure is the finding
                failures.append(repr(error))

    load = [asyncio.create_task(customers()) for _ in range(2)]
    before = await offered(client)
    await publisher.store.create(NEW, "cat")
    started = time.perf_counter()
    _, snapshot = await publisher.publish(NEW.id, "cat")
    published_after = await until_live(client, snapshot.key, started)
    assert await offered(client) == NEW.id

    await publisher.store.edit(Article(id=NEW.id, title="Lamps", body="Lamp bulbs.",
                                       moments=(MOMENT,)), "cat")
    await publisher.publish(NEW.id, "cat")
    started = time.perf_counter()
    _, snapshot = await publisher.rollback(NEW.id, 1, "cat")
    rolled_after = await until_live(client, snapshot.key, started)
    assert retriever.snapshot.articles[NEW.id].title == NEW.title

    started = time.perf_counter()
    _, snapshot = await publisher.retire(NEW.id, "cat")
    retired_after = await until_live(client, snapshot.key, started)
    assert await offered(client) == before
    stop.set()
    await asyncio.gather(*load)

    assert failures == []
    assert len(answers) >= 10 and set(answers) <= {before, NEW.id}
    assert max(published_after, rolled_after, retired_after) < 2.0, (
        published_after, rolled_after, retired_after)
