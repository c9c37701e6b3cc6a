"""Early warnings pushed to a webhook: once per moment and day across replicas, and tried
again when the webhook fails."""

from __future__ import annotations

import time

import aiohttp
import pytest
from aiohttp import web

from bot.catalogue import load_catalogue
from desk.alerts import Alerts
from desk.insight import DAY, Fact, InsightLog
from desk.nlu_export import LazyRedactor
from desk.tables import open_engine
from tests.conftest import REPO


@pytest.fixture
async def spike(tmp_path):  # type: ignore[no-untyped-def]
    engine = await open_engine(f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}")
    log = InsightLog(engine, LazyRedactor())
    now = time.time()
    facts = [Fact("m-old", "c-old", "message", "parcel_late", now - 20 * DAY, 0.9, "rest",
                  "where is my parcel")]  # the log's history
    for n in range(9):  # nine customers in the last hour, none in the two weeks before
        facts += [Fact(f"m{n}", f"c{n}", "message", "charged_twice", now - 60 - n, 0.9, "rest",
                       f"charged twice, write to me{n}@example.com"),
                  Fact(f"o{n}", f"c{n}", "offered", "charged_twice", now - 59 - n)]
    await log.record(facts)
    yield log
    await engine.dispose()


@pytest.fixture
async def webhook(aiohttp_server):  # type: ignore[no-untyped-def]
    received: list[dict] = []
    status = {"code": 200}

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=status["code"])

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = await aiohttp_server(app)
    return str(server.make_url("/hook")), received, status


async def test_a_spike_is_sent_once_whatever_the_replicas(spike, webhook) -> None:  # type: ignore[no-untyped-def]
    url, received, _ = webhook
    catalogue = load_catalogue(REPO / "bot" / "moments.yml")
    async with aiohttp.ClientSession() as session:
        first = Alerts(spike, catalogue, session, url, "http://desk/insight?days=1")
        second = Alerts(spike, catalogue, session, url, "http://desk/insight?days=1")
        assert [w.moment for w in await first.check()] == ["charged_twice"]
        assert await first.check() == [] and await second.check() == []
    assert len(received) == 1
    sent = received[0]
    assert sent["moment"] == "charged_twice" and sent["contacts"] == 9
    assert sent["text"].startswith("Early warning, Charged twice: 9 contacts in the last 24")
    assert sent["examples"] == ["charged twice, write to [EMAIL]"]  # redacted, each once


async def test_a_failing_webhook_is_tried_again(spike, webhook) -> None:  # type: ignore[no-untyped-def]
    url, received, status = webhook
    catalogue = load_catalogue(REPO / "bot" / "moments.yml")
    async with aiohttp.ClientSession() as session:
        alerts = Alerts(spike, catalogue, session, url, "http://desk/insight?days=1")
        status["code"] = 503
        assert await alerts.check() == []
        status["code"] = 200
        assert [w.moment for w in await alerts.check()] == ["charged_twice"]
        unreachable = Alerts(spike, catalogue, session, "http://127.0.0.1:9/hook", "x")
        assert await unreachable.check() == []  # sent already today
    assert len(received) == 2
