"""Insight, the managers' moments dashboard: facts from Rasa's event stream, the figures
per moment, early warnings, and the page and API with their roles."""

from __future__ import annotations

import math
import time

import pytest

from bot.catalogue import load_catalogue
from desk.insight import (
    DAY,
    NO_MOMENT,
    Fact,
    Facts,
    HandoffFact,
    Outcome,
    days_param,
    poisson_tail,
    summarise,
)
from desk.testing import (
    csrf_from,
    desk_client,
    desk_settings,
    make_packet,
    rasa_user_event,
    sign_in,
)
from tests.conftest import REPO

NOW = 1_800_000_000.0


@pytest.fixture(scope="module")
def catalogue():  # type: ignore[no-untyped-def]
    return load_catalogue(REPO / "bot" / "moments.yml")


def slot_event(conversation: str, value: str, at: float) -> dict:
    return {"event": "slot", "sender_id": conversation, "name": "last_outcome",
            "value": value, "timestamp": at}


def test_facts_are_read_from_user_and_outcome_events() -> None:
    message = Fact.parse(rasa_user_event("c1", "my parcel is late", 10.0))
    assert message is not None and message.kind == "message"
    assert (message.moment, message.confidence, message.channel) == ("parcel_late", 0.9,
                                                                      "socketio")
    offered = Fact.parse(slot_event("c1", "offered:parcel_late", 11.0))
    assert offered is not None and (offered.kind, offered.moment) == ("offered", "parcel_late")
    assert offered.key != Fact.parse(slot_event("c1", "resolved:parcel_late", 11.0)).key  # type: ignore[union-attr]
    rated = Fact.parse(slot_event("c1", "agent_helped:h-1", 13.0))
    assert rated is not None and (rated.kind, rated.moment) == ("agent_helped", "h-1")
    for ignored in (slot_event("c1", "handoff:low_confidence", 12.0),
                    slot_event("c1", "agent_asked:h-1", 12.0),
                    slot_event("c1", "resolved", 12.0), {"event": "bot", "text": "hi"},
                    {"event": "slot", "name": "moment", "value": "x", "sender_id": "c1",
                     "timestamp": 1.0},
                    {"event": "user", "sender_id": "c1", "timestamp": "yesterday"}, "junk"):
        assert Fact.parse(ignored) is None


def _report(catalogue, outcomes=(), handoffs=(), messages=None, days=7):  # type: ignore[no-untyped-def]
    return summarise(Facts(list(outcomes), list(handoffs), messages or {}), catalogue, NOW,
                     days)


def test_figures_per_moment(catalogue) -> None:  # type: ignore[no-untyped-def]
    hour = 3600.0
    outcomes = [
        # c1: one article, solved after 2 minutes
        Outcome("c1", "offered", "parcel_late", NOW - hour),
        Outcome("c1", "resolved", "parcel_late", NOW - hour + 120),
        # c2: two articles, both rejected, then a person (resolved by the agent in 1 hour)
        Outcome("c2", "offered", "parcel_late", NOW - 2 * hour),
        Outcome("c2", "rejected", "parcel_late", NOW - 2 * hour + 60),
        Outcome("c2", "offered", "parcel_late", NOW - 2 * hour + 61),
        Outcome("c2", "rejected", "parcel_late", NOW - 2 * hour + 120),
        # c3: an article, no answer; c4 is before the window (the previous week)
        Outcome("c3", "offered", "parcel_late", NOW - 3 * hour),
        Outcome("c4", "offered", "parcel_late", NOW - 8 * DAY),
    ]
    handoffs = [
        HandoffFact("c2", "parcel_late", "article_rejected", NOW - 2 * hour + 121,
                    NOW - hour + 120, "resolved"),
        HandoffFact("c5", None, "low_confidence", NOW - hour),
        HandoffFact("c6", "formal_complaint", "policy", NOW - hour),
        # unsure: the classifier's guess is no moment, unless an agent corrected it
        HandoffFact("c7", "parcel_late", "low_confidence", NOW - hour),
        HandoffFact("c8", "formal_complaint", "low_confidence", NOW - hour, corrected=True),
    ]
    report = _report(catalogue, outcomes, handoffs,
                     {"parcel_late": 9, "out_of_scope": 2, None: 1, "product_faulty": 1})
    late = next(m for m in report.moments if m.moment == "parcel_late")
    assert (late.contacts, late.offered, late.solved_by_bot, late.handed_off) == (3, 3, 1, 1)
    assert late.containment == pytest.approx(2 / 3) and late.handoff_rate == pytest.approx(1 / 3)
    assert (late.yes, late.no, late.helped) == (1, 2, pytest.approx(1 / 3))
    assert late.reasons == {"article_rejected": 1}
    assert late.median_resolution_seconds == pytest.approx((120 + (hour + 120)) / 2)
    assert late.previous_contacts == 1 and late.messages == 9
    assert len(late.trend) == 14 and late.trend[-1] == 3 and late.trend[-9] == 1
    unknown = next(m for m in report.moments if m.moment == NO_MOMENT)
    assert (unknown.contacts, unknown.handed_off, unknown.reasons) == (2, 2, {"low_confidence": 2})
    assert unknown.title.startswith("Not recognised")
    complaint = next(m for m in report.moments if m.moment == "formal_complaint")
    assert complaint.containment == 0.0 and complaint.stage == "complaints"
    assert complaint.reasons == {"policy": 1, "low_confidence": 1}
    assert report.contacts == 7 and report.containment == pytest.approx(2 / 7)
    assert (report.messages, report.out_of_scope_messages) == (13, 2)
    stages = {total.moment: (total, rows) for total, rows in report.by_stage()}
    assert [m.moment for m in stages["delivery"][1]] == ["parcel_late"]  # the page: moments
    assert "returns" not in stages  # with contacts, by stage, each stage with its total
    other = stages["other"][0]
    assert (other.contacts, other.handed_off, other.reasons) == (2, 2, {"low_confidence": 2})
    delivery = stages["delivery"][0]
    assert delivery.median_resolution_seconds == late.median_resolution_seconds
    assert delivery.trend == late.trend and delivery.helped == late.helped
    json = report.to_json()  # the API: with messages too
    assert {m["moment"] for m in json["moments"]} == {"parcel_late", "formal_complaint",
                                                      NO_MOMENT, "product_faulty"}
    assert json["warnings"] == []
    assert {s["moment"]: s["contacts"] for s in json["stages"]} == {
        "delivery": 3, "complaints": 2, "other": 2}
    assert "resolutions" not in json["moments"][0]


def test_a_solution_taken_back_is_not_counted_as_solved(catalogue) -> None:  # type: ignore[no-untyped-def]
    hour = 3600.0
    outcomes = [
        # c1: "ok" taken as solved, then "no it didnt help": the next article, which solved it
        Outcome("c1", "offered", "parcel_late", NOW - hour),
        Outcome("c1", "resolved", "parcel_late", NOW - hour + 60),
        Outcome("c1", "rejected", "parcel_late", NOW - hour + 90),
        Outcome("c1", "offered", "parcel_late", NOW - hour + 91),
        Outcome("c1", "resolved", "parcel_late", NOW - hour + 300),
        # c2: taken as solved, then taken back, and no article left: a person
        Outcome("c2", "offered", "parcel_late", NOW - 2 * hour),
        Outcome("c2", "resolved", "parcel_late", NOW - 2 * hour + 60),
        Outcome("c2", "rejected", "parcel_late", NOW - 2 * hour + 90),
    ]
    handoffs = [HandoffFact("c2", "parcel_late", "article_rejected", NOW - 2 * hour + 91)]
    late = next(m for m in _report(catalogue, outcomes, handoffs).moments
                if m.moment == "parcel_late")
    assert (late.contacts, late.solved_by_bot, late.handed_off) == (2, 1, 1)
    assert (late.yes, late.no) == (1, 2)  # each taken-back "yes" is the "no" that followed it
    assert late.resolutions == [300.0]  # solved when the customer last said so


def test_customers_say_whether_the_agent_helped_under_the_handoffs_moment(catalogue) -> None:  # type: ignore[no-untyped-def]
    hour = 3600.0
    handoffs = [
        HandoffFact("c1", "parcel_late", "customer_asked", NOW - 3 * hour, NOW - 2 * hour,
                    "resolved", id="h1"),
        HandoffFact("c2", "parcel_late", "article_rejected", NOW - 3 * hour, NOW - 2 * hour,
                    "resolved", id="h2"),
        # an unsure handoff an agent corrected counts under the corrected moment
        HandoffFact("c3", "parcel_late", "low_confidence", NOW - 3 * hour, NOW - 2 * hour,
                    "resolved_with_article", corrected=True, id="h3"),
        HandoffFact("c4", "parcel_late", "policy", NOW - 3 * hour, id="h4"),  # not asked
    ]
    ratings = [Outcome("c1", "agent_helped", "h1", NOW - hour),
               Outcome("c2", "agent_helped", "h2", NOW - hour),
               Outcome("c2", "agent_unhelped", "h2", NOW - hour + 5),  # changed their mind
               Outcome("c3", "agent_helped", "h3", NOW - hour)]
    report = _report(catalogue, ratings, handoffs)
    late = next(m for m in report.moments if m.moment == "parcel_late")
    assert (late.agent_yes, late.agent_no, late.agent_helped) == (2, 1, pytest.approx(2 / 3))
    assert (late.yes, late.no, late.helped) == (0, 0, None)  # about articles only
    assert late.contacts == 4 and late.trend[-1] == 4  # ratings are no contacts of their own
    assert report.to_json()["stages"][0]["agent_helped"] == pytest.approx(2 / 3)


def test_a_conversation_counts_once_per_moment_however_many_articles(catalogue) -> None:  # type: ignore[no-untyped-def]
    outcomes = [Outcome("c1", "offered", "charged_twice", NOW - n) for n in range(1, 6)]
    figures = next(m for m in _report(catalogue, outcomes).moments
                   if m.moment == "charged_twice")
    assert figures.contacts == 1 and figures.helped is None and figures.containment == 1.0


def test_a_spike_raises_an_early_warning(catalogue) -> None:  # type: ignore[no-untyped-def]
    usual = [Outcome(f"u{day}", "offered", "charged_twice", NOW - day * DAY - 60)
             for day in range(1, 15)]  # one a day for two weeks
    today = [Outcome(f"t{n}", "offered", "charged_twice", NOW - 60 * n) for n in range(1, 13)]
    report = _report(catalogue, usual + today)
    assert [(w.moment, w.last_day, w.expected) for w in report.warnings] == [
        ("charged_twice", 12, 1.0)]
    assert report.warnings[0].p_value < 1e-6
    # the same day at its usual volume, or a handful of contacts: no warning
    assert not _report(catalogue, usual + today[:3]).warnings
    assert not _report(catalogue, [Outcome(f"t{n}", "offered", "parcel_late", NOW - n)
                                   for n in range(4)]).warnings


def test_no_early_warning_before_the_log_has_days_of_history(catalogue) -> None:  # type: ignore[no-untyped-def]
    today = [Outcome(f"t{n}", "offered", "charged_twice", NOW - 60 * n) for n in range(1, 13)]

    def warned(first_at: float) -> list[tuple[str, int, float]]:
        report = summarise(Facts(today, [], {}, first_at=first_at), catalogue, NOW, 7)
        return [(w.moment, w.last_day, w.expected) for w in report.warnings]

    assert not warned(NOW - 600)  # installed ten minutes ago: "none before" means nothing
    assert not warned(NOW - 3.9 * DAY)  # two whole days before the last 24 hours
    assert warned(NOW - 4 * DAY) == [("charged_twice", 12, 0.1)]  # three: a quiet moment
    assert summarise(Facts(today, [], {}, first_at=NOW - 600), catalogue, NOW,
                     7).baseline_days == 0
    usual = [Outcome(f"u{day}", "offered", "charged_twice", NOW - day * DAY - 60)
             for day in range(1, 4)]  # one a day since the install, 4.5 days ago
    report = summarise(Facts(usual + today, [], {}, first_at=NOW - 4.5 * DAY), catalogue, NOW, 7)
    assert [(w.last_day, w.expected) for w in report.warnings] == [(12, 1.0)]
    assert report.baseline_days == 3 and report.to_json()["baseline_days"] == 3


def test_poisson_tail() -> None:
    assert poisson_tail(0, 3.0) == 1.0
    assert poisson_tail(1, 1.0) == pytest.approx(1 - math.exp(-1))
    assert poisson_tail(3, 2.0) == pytest.approx(1 - math.exp(-2) * (1 + 2 + 2))
    assert 0 < poisson_tail(400, 100.0) < 1e-60


def test_the_window_is_checked() -> None:
    assert days_param(None) == 7 and days_param("28") == 28
    for bad in ("0", "91", "-1", "7.5", "week"):
        with pytest.raises(ValueError, match="days must be a whole number from 1 to 90"):
            days_param(bad)


@pytest.fixture
async def desk(tmp_path, aiohttp_client):  # type: ignore[no-untyped-def]
    return await desk_client(aiohttp_client, tmp_path, {
        "ann": ("agent",), "mia": ("manager",), "sue": ("supervisor",)})


async def _manager(desk) -> None:  # type: ignore[no-untyped-def]
    token = csrf_from(await (await desk.get("/login")).text())
    reply = await desk.post("/login", data={"name": "mia", "password": "mia-pw-1",
                                            "csrf_token": token, "next": "/"},
                            allow_redirects=False)
    assert reply.status == 302


async def test_the_event_stream_feeds_the_dashboard_once_with_personal_data_redacted(desk) -> None:  # type: ignore[no-untyped-def]
    now = time.time()
    words = "charged twice, mail me at ann.customer@example.com"
    events = [rasa_user_event("c1", words, now - 30),
              slot_event("c1", "offered:charged_twice", now - 29),
              slot_event("c1", "resolved:charged_twice", now - 10)]
    events[0]["parse_data"]["intent"]["name"] = "charged_twice"
    for _ in range(3):  # the broker retried; RabbitMQ re-delivered; reconciliation found it
        assert (await desk.post("/api/events", json=events, headers=desk.service)).status == 200
    # a handoff: the customer's lines to the agent are not messages to the bot
    packet = make_packet(conversation_id="c2")
    assert (await desk.post("/api/handoffs", json=packet.to_json(),
                            headers=desk.service)).status == 201
    await desk.post("/api/events", json=[rasa_user_event("c2", "still here?", time.time() + 1)],
                    headers=desk.service)

    reply = await desk.get("/api/insight?days=7", headers=desk.service)
    assert reply.status == 200
    found = await reply.json()
    moments = {m["moment"]: m for m in found["moments"]}
    charged = moments["charged_twice"]
    assert (charged["contacts"], charged["solved_by_bot"], charged["messages"]) == (1, 1, 1)
    assert charged["containment"] == 1.0 and charged["helped"] == 1.0
    late = moments["parcel_late"]
    assert (late["contacts"], late["handed_off"], late["reasons"]) == (1, 1,
                                                                       {"customer_asked": 1})
    assert late["messages"] == 0 and found["messages"] == 1

    app = desk.server.app
    from desk.dashboard import INSIGHT

    examples = await app[INSIGHT].examples("charged_twice", now - DAY)
    assert examples == ["charged twice, mail me at [EMAIL]"]


async def test_button_clicks_are_not_counted_as_messages(desk) -> None:  # type: ignore[no-untyped-def]
    """A press of "Yes" or of a moment's button arrives as a user event with its payload;
    it is a click, not a message the NLU read."""
    now = time.time()
    clicked = rasa_user_event("c1", "/affirm", now - 20)
    assert Fact.parse(clicked).kind == "click"  # type: ignore[union-attr]
    events = [rasa_user_event("c1", "charged twice", now - 30, channel="rest"),
              slot_event("c1", "offered:charged_twice", now - 29), clicked,
              slot_event("c1", "resolved:charged_twice", now - 19)]
    events[0]["parse_data"]["intent"]["name"] = "charged_twice"
    clicked["parse_data"]["intent"]["name"] = "charged_twice"
    clicked["input_channel"] = "rest"
    assert (await desk.post("/api/events", json=events, headers=desk.service)).status == 200
    for query in ("", "&channel=rest"):  # the click does not count; the channel still holds
        found = await (await desk.get(f"/api/insight?days=7{query}", headers=desk.service)).json()
        charged = {m["moment"]: m for m in found["moments"]}["charged_twice"]
        assert (found["messages"], charged["messages"], charged["solved_by_bot"]) == (1, 1, 1)


async def test_clicks_stored_as_messages_before_are_upgraded_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    from desk.insight import InsightLog
    from desk.nlu_export import LazyRedactor
    from desk.tables import insight, open_engine, upgrades

    url = f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}"
    engine = await open_engine(url)
    async with engine.begin() as connection:  # as a desk before the click kind stored them
        await connection.execute(sa.delete(upgrades))
    await InsightLog(engine, LazyRedactor()).record([
        Fact("k1", "c1", "message", "affirm", NOW, text="/affirm"),
        Fact("k2", "c1", "message", "charged_twice", NOW, text="charged twice")])
    await engine.dispose()
    for _ in range(2):
        engine = await open_engine(url)
        async with engine.connect() as connection:
            kinds = dict((await connection.execute(sa.select(insight.c.key, insight.c.kind))).all())
            done = (await connection.execute(sa.select(upgrades.c.name))).scalars().all()
        await engine.dispose()
        assert kinds == {"k1": "click", "k2": "message"} and done == ["insight-clicks"]


async def test_figures_narrow_to_one_channel(desk) -> None:  # type: ignore[no-untyped-def]
    now = time.time()
    events = []
    for conversation, channel in (("w1", "socketio"), ("w2", "socketio"), ("r1", "rest")):
        events += [rasa_user_event(conversation, "charged twice", now - 30, channel=channel),
                   slot_event(conversation, "offered:charged_twice", now - 29)]
        events[-2]["parse_data"]["intent"]["name"] = "charged_twice"
    events.append(slot_event("r1", "resolved:charged_twice", now - 10))
    assert (await desk.post("/api/events", json=events, headers=desk.service)).status == 200
    packet = make_packet(conversation_id="r2", channel="rest")
    assert (await desk.post("/api/handoffs", json=packet.to_json(),
                            headers=desk.service)).status == 201

    async def moments(query: str) -> tuple[dict, dict[str, dict]]:
        reply = await desk.get(f"/api/insight?days=7{query}", headers=desk.service)
        assert reply.status == 200, await reply.text()
        found = await reply.json()
        return found, {m["moment"]: m for m in found["moments"]}

    found, every = await moments("")
    assert found["channel"] is None and found["channels"] == {"socketio": 2, "rest": 1}
    assert every["charged_twice"]["contacts"] == 3 and every["parcel_late"]["handed_off"] == 1
    found, web_chat = await moments("&channel=socketio")
    assert found["channel"] == "socketio" and found["messages"] == 2
    charged = web_chat["charged_twice"]
    assert (charged["contacts"], charged["solved_by_bot"], charged["messages"]) == (2, 0, 2)
    assert "parcel_late" not in web_chat  # handed off from REST
    found, rest = await moments("&channel=rest")
    assert (rest["charged_twice"]["contacts"], rest["charged_twice"]["solved_by_bot"]) == (1, 1)
    assert rest["parcel_late"]["handed_off"] == 1 and found["messages"] == 1
    assert (await moments("&channel=telegram"))[0]["contacts"] == 0

    bad = await desk.get("/api/insight?channel=<script>", headers=desk.service)
    assert bad.status == 400 and "channel must be" in await bad.text()
    await _manager(desk)
    html = await (await desk.get("/insight?days=7&channel=rest")).text()
    assert '<option value="rest" selected>REST (1 message)</option>' in html
    assert '<option value="socketio">web chat (2 messages)</option>' in html
    assert 'href="/api/insight?days=7&amp;channel=rest"' in html and "on REST" in html


async def test_managers_and_supervisors_see_the_page_agents_do_not(desk) -> None:  # type: ignore[no-untyped-def]
    assert (await desk.get("/api/insight", allow_redirects=False)).status == 401
    await sign_in(desk, "ann", "ann-pw-1")
    assert (await desk.get("/insight")).status == 403
    assert (await desk.get("/api/insight")).status == 403
    token = csrf_from(await (await desk.get("/desk")).text())
    await desk.post("/logout", data={"csrf_token": token})
    await _manager(desk)
    home = await desk.get("/", allow_redirects=False)
    assert home.headers["Location"] == "/insight"
    page = await desk.get("/insight?days=28")
    assert page.status == 200
    html = await page.text()
    assert "Moments of truth" in html and "Nothing yet in this window" in html
    assert '<meta http-equiv="refresh" content="300">' in html  # a wall screen stays current
    assert (await desk.get("/insight?days=365")).status == 400
    refused = await desk.get("/api/insight?days=x")
    assert refused.status == 400 and "days must be" in (await refused.json())["error"]


async def test_the_page_shows_moments_by_stage_and_warnings(desk) -> None:  # type: ignore[no-untyped-def]
    now = time.time()
    events = [rasa_user_event("old", "where is my parcel", now - 20 * DAY)]  # history
    for n in range(8):  # eight customers in the last hour, none before: a spike
        events.append(rasa_user_event(f"s{n}", f"<b>charged</b> twice #{n}", now - 60 - n))
        events[-1]["parse_data"]["intent"]["name"] = "charged_twice"
        events.append(slot_event(f"s{n}", "offered:charged_twice", now - 59 - n))
    assert (await desk.post("/api/events", json=events, headers=desk.service)).status == 200
    await sign_in(desk, "sue", "sue-pw-1")
    html = await (await desk.get("/insight")).text()
    assert 'data-moment="charged_twice"' in html and "Charged twice" in html
    assert '<tr class="stage" data-stage="billing"><th>billing</th><td class="num">8\n' in html
    assert 'class="warning"' in html and "8 contacts in the last" in html
    assert "&lt;b&gt;charged&lt;/b&gt;" in html and "<b>charged" not in html  # inert text
    assert "over the two weeks before" in html


async def test_a_new_deployment_says_warnings_need_history(desk) -> None:  # type: ignore[no-untyped-def]
    now = time.time()
    events = []
    for n in range(8):  # eight customers in its first hour
        events.append(rasa_user_event(f"s{n}", "charged twice", now - 60 - n))
        events[-1]["parse_data"]["intent"]["name"] = "charged_twice"
        events.append(slot_event(f"s{n}", "offered:charged_twice", now - 59 - n))
    assert (await desk.post("/api/events", json=events, headers=desk.service)).status == 200
    await sign_in(desk, "sue", "sue-pw-1")
    html = await (await desk.get("/insight")).text()
    assert 'class="warning"' not in html and "early warnings start once there are 3 days" in html
    assert (await (await desk.get("/api/insight")).json())["baseline_days"] == 0


async def test_facts_older_than_the_retention_are_deleted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bot.settings import ConfigError
    from desk.insight import InsightLog
    from desk.nlu_export import LazyRedactor
    from desk.tables import open_engine

    engine = await open_engine(f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}")
    log = InsightLog(engine, LazyRedactor())
    await log.record([Fact("old", "c1", "offered", "parcel_late", NOW - 401 * DAY),
                      Fact("new", "c1", "resolved", "parcel_late", NOW - 399 * DAY)])
    assert await log.prune(NOW - 400 * DAY) == 1
    assert [o.kind for o in (await log.load(0, 0)).outcomes] == ["resolved"]
    await engine.dispose()
    assert desk_settings(tmp_path).insight_retention_days == 400
    with pytest.raises(ConfigError, match="MOT_INSIGHT_RETENTION_DAYS"):
        desk_settings(tmp_path, MOT_INSIGHT_RETENTION_DAYS="1")


async def test_an_event_time_that_is_no_time_is_refused(desk) -> None:  # type: ignore[no-untyped-def]
    """1e300 or Infinity as a timestamp sat in every window and never aged out."""
    for body in ('[{"event": "user", "sender_id": "c9", "text": "hi", "timestamp": 1e300}]',
                 '[{"event": "user", "sender_id": "c9", "text": "hi", "timestamp": Infinity}]'):
        reply = await desk.post("/api/events", data=body.encode(), headers={
            **desk.service, "Content-Type": "application/json"})
        assert reply.status in (400, 422)
        assert "timestamp" in (await reply.json())["error"] or "Infinity" in (
            await reply.json())["error"]
    assert Fact.parse(rasa_user_event("c9", "hi", 1e300)) is None  # RabbitMQ's way in too
