"""The desk's client of Rasa's HTTP API against a fake Rasa: agents' lines and the hand-back,
and, for REST customers, the operator's callback."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from desk.rasa_client import (
    CALLBACK_KEY,
    DESK_KEY,
    SIGNATURE_HEADER,
    Outgoing,
    RasaCustomerChannel,
    RasaUnavailable,
    callback_signature,
)

QUESTION = {"recipient_id": "c-1", "text": "You're back with the assistant. Did we sort it out?",
            "buttons": [{"title": "Yes, sorted", "payload": "/affirm"}]}


@pytest.fixture
async def rasa(aiohttp_server):  # type: ignore[no-untyped-def]
    """A fake Rasa whose customers write over REST, and the operator's callback (failing
    when told); records what each was sent."""
    seen: dict[str, Any] = {"rasa": [], "callback": [], "callback_status": 200,
                            "callback_delay": 0.0}

    async def events(request: web.Request) -> web.Response:
        seen["rasa"].append(("events", await request.json()))
        return web.json_response({"latest_input_channel": "rest"})

    async def tracker(request: web.Request) -> web.Response:
        posted = [e for kind, body in seen["rasa"] if kind == "events" for e in body]
        return web.json_response({"latest_input_channel": "rest", "events": posted})

    async def execute(request: web.Request) -> web.Response:
        seen["rasa"].append(("execute", await request.json()))
        return web.json_response({"tracker": {"latest_input_channel": "rest"},
                                  "messages": [QUESTION]})

    async def callback(request: web.Request) -> web.Response:
        seen["callback"].append(await request.json())
        seen.setdefault("signed", []).append((request.headers.get(SIGNATURE_HEADER),
                                              await request.read()))
        await asyncio.sleep(seen["callback_delay"])
        return web.json_response({}, status=seen["callback_status"])

    app = web.Application()
    app.router.add_post("/conversations/{id}/tracker/events", events)
    app.router.add_post("/conversations/{id}/execute", execute)
    app.router.add_post("/callback", callback)
    app.router.add_get("/conversations/{id}/tracker", tracker)
    server = await aiohttp_server(app)
    async with aiohttp.ClientSession() as session:
        seen["channel"] = RasaCustomerChannel(session, str(server.make_url("")), "token",
                                              str(server.make_url("/callback")),
                                              timeout_seconds=1.0, callback_secret="s3cret")
        yield seen


async def test_an_agents_line_reaches_a_rest_customer_through_the_callback(rasa) -> None:  # type: ignore[no-untyped-def]
    await rasa["channel"].send(Outgoing("k-1", "c-1", "I've refunded it", "ann"))
    assert rasa["callback"] == [{"recipient_id": "c-1", "text": "I've refunded it",
                                 "metadata": {"agent": "ann", DESK_KEY: "k-1"}}]
    [(signature, body)] = rasa["signed"]  # the receiver can tell the desk's POSTs
    at = int(signature.split(",")[0].removeprefix("t="))
    assert signature == callback_signature("s3cret", body, at)
    assert signature != callback_signature("other", body, at)


async def test_a_rest_customer_handed_back_hears_the_bots_question_too(rasa) -> None:  # type: ignore[no-untyped-def]
    await rasa["channel"].send(Outgoing("k-2", "c-1", "hand_back:resolved", "ann", "resolved",
                                        "h-1"))
    kinds = [kind for kind, _ in rasa["rasa"]]
    assert kinds == ["events", "execute", "events"]
    resumed, executed, listened = (body for _, body in rasa["rasa"])
    assert resumed[0]["event"] == "resume"
    assert {"event": "slot", "name": "last_outcome", "value": "agent_asked:h-1"} in resumed
    assert executed == {"name": "utter_ask_agent_helped"}
    assert [e["name"] for e in listened] == ["action_listen"]  # the bot's turn ends listening
    assert rasa["callback"] == [{**QUESTION, "metadata": {DESK_KEY: "k-2"}}]


async def test_a_failing_callback_does_not_hand_back_twice(rasa, caplog) -> None:  # type: ignore[no-untyped-def]
    rasa["callback_status"] = 500
    await rasa["channel"].send(Outgoing("k-3", "c-1", "hand_back:handed_back", "ann",
                                        "handed_back", "h-1"))  # no retry: nothing raised
    assert len(rasa["callback"]) == 1 and "REST callback answered 500" in caplog.text


@pytest.mark.parametrize("failure", ["status", "timeout"])
async def test_a_line_the_callback_did_not_take_is_sent_again_not_marked_delivered(  # type: ignore[no-untyped-def]
        rasa, failure) -> None:
    channel, line = rasa["channel"], Outgoing("k-4", "c-1", "Still looking into it", "ann")
    if failure == "status":
        rasa["callback_status"] = 500
    else:
        rasa["callback_delay"] = 2.0  # longer than the channel's 1 s timeout
    with pytest.raises(RasaUnavailable, match="REST callback"):
        await channel.send(line)
    assert not await channel.delivered(line)  # in the tracker, but the customer has not got it
    rasa["callback_status"], rasa["callback_delay"] = 200, 0.0
    await channel.send(line)  # the relay's retry
    assert [c["text"] for c in rasa["callback"]] == ["Still looking into it"] * 2
    written = [body for kind, body in rasa["rasa"] if kind == "events"]
    assert len(written) == 1  # the tracker holds the line once
    # ... marked so that its echo does not count as delivered (the desk's ingestor)
    assert written[0][0]["metadata"][CALLBACK_KEY] is True
