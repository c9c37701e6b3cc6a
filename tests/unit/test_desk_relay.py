"""The relay in one desk process, with a recording fake of Rasa: customer lines in (stored
once however often they arrive), agent lines out (stored, acknowledged, delivered once,
in order), hand-back, outbox."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import replace

import pytest

from actions.desk_client import DeskRejected, HandoffSaved, RecordingDeskClient
from actions.outbox import Outbox, OutboxDeskClient
from desk.rasa_client import Outgoing, hand_back
from desk.state import ASSIST, STORE
from desk.testing import desk_client, make_packet, rasa_user_event, sign_in


@pytest.fixture
async def desk(tmp_path, aiohttp_client):  # type: ignore[no-untyped-def]
    return await desk_client(aiohttp_client, tmp_path, {"ann": ("agent",), "bob": ("agent",)})


async def _handoff(desk) -> dict:  # type: ignore[no-untyped-def]
    reply = await desk.post("/api/handoffs", json=make_packet().to_json(), headers=desk.service)
    assert reply.status == 201
    return await reply.json()


async def _until(check, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_customer_lines_are_stored_once_and_reach_the_agent_socket(desk) -> None:  # type: ignore[no-untyped-def]
    created = await _handoff(desk)
    csrf = await sign_in(desk, "ann", "ann-pw-1")
    path = f"/api/desk/handoffs/{created['id']}"
    assert (await desk.post(f"{path}/claim", headers={"X-CSRF-Token": csrf})).status == 200
    ws = await desk.ws_connect(f"/desk/ws?handoff={created['id']}")
    event = rasa_user_event(make_packet().conversation_id, "x", time.time())
    conversation = (await (await desk.get(path)).json())["conversation_id"]
    event = rasa_user_event(conversation, "<script>alert(1)</script> still waiting", time.time())
    for _ in range(3):  # the broker retried; Pika re-delivered; reconciliation found it
        reply = await desk.post("/api/events", json=[event], headers=desk.service)
        assert reply.status == 200
    frames = []
    while not any(f.get("type") == "message" and f["message"]["speaker"] == "customer"
                  for f in frames):
        frames.append(await asyncio.wait_for(ws.receive_json(), 5))
    lines = await (await desk.get(f"{path}/messages")).json()
    assert [m["text"] for m in lines if m["speaker"] == "customer"] == [event["text"]]
    await ws.close()


async def test_agent_lines_are_acked_delivered_once_in_order_then_handed_back(desk) -> None:  # type: ignore[no-untyped-def]
    created = await _handoff(desk)
    csrf = await sign_in(desk, "ann", "ann-pw-1")
    path = f"/api/desk/handoffs/{created['id']}"
    await desk.post(f"{path}/claim", headers={"X-CSRF-Token": csrf})
    ws = await desk.ws_connect(f"/desk/ws?handoff={created['id']}")
    ids = [uuid.uuid4().hex for _ in range(3)]
    for n, client_id in enumerate(ids):
        await ws.send_json({"type": "send", "client_id": client_id, "text": f"reply {n}"})
    await ws.send_json({"type": "send", "client_id": ids[0], "text": "reply 0"})  # re-send
    acks = []
    while len(acks) < 4:
        frame = await asyncio.wait_for(ws.receive_json(), 5)
        if frame["type"] == "ack":
            acks.append(frame)
    assert len({a["message"]["seq"] for a in acks}) == 3
    await _until(lambda: len(desk.channel.sent) >= 4)
    texts = [line.text for line in desk.channel.sent]
    assert texts[1:] == ["reply 0", "reply 1", "reply 2"] and "joined" not in texts[0]
    closed = await desk.post(f"{path}/close", json={"outcome": "resolved"},
                             headers={"X-CSRF-Token": csrf})
    assert closed.status == 200
    await _until(lambda: any(line.hand_back_outcome == "resolved"
                             for line in desk.channel.sent))
    assert len(desk.channel.sent) == 5
    # solved, says the agent: the bot asks the customer whether it is, about this handoff
    assert hand_back(desk.channel.sent[-1]) == (f"agent_asked:{created['id']}",
                                                "utter_ask_agent_helped")
    await ws.close()


async def test_a_bad_after_is_refused_with_the_reason(desk) -> None:  # type: ignore[no-untyped-def]
    created = await _handoff(desk)
    csrf = await sign_in(desk, "ann", "ann-pw-1")
    path = f"/api/desk/handoffs/{created['id']}"
    await desk.post(f"{path}/claim", headers={"X-CSRF-Token": csrf})
    for bad in ("abc", "-1", "1.5", "٣", str(2**31), "9" * 30):
        reply = await desk.get(f"{path}/messages", params={"after": bad})
        assert reply.status == 422
        assert "'after' must be a whole number" in (await reply.json())["error"]
    assert (await desk.get(f"{path}/messages", params={"after": "0"})).status == 200
    refused = await desk.get(f"/desk/ws?handoff={created['id']}&after=abc")
    assert refused.status == 422
    ws = await desk.ws_connect(f"/desk/ws?handoff={created['id']}")
    await ws.send_json({"type": "sync", "after": "abc"})
    frames = [await asyncio.wait_for(ws.receive_json(), 5)]  # the replay, then the error
    while frames[-1]["type"] != "error":
        frames.append(await asyncio.wait_for(ws.receive_json(), 5))
    assert "'after' must be a whole number" in frames[-1]["error"]
    await ws.send_json({"type": "sync", "after": 10**6})  # still open: nothing newer
    assert (await asyncio.wait_for(ws.receive_json(), 5))["type"] == "synced"
    await ws.close()


async def test_a_closed_conversation_is_refused_as_closed(desk) -> None:  # type: ignore[no-untyped-def]
    created = await _handoff(desk)
    csrf = {"X-CSRF-Token": await sign_in(desk, "ann", "ann-pw-1")}
    path = f"/api/desk/handoffs/{created['id']}"
    await desk.post(f"{path}/claim", headers=csrf)
    assert (await desk.post(f"{path}/close", json={"outcome": "resolved"},
                            headers=csrf)).status == 200
    for tail, body in (("close", {"outcome": "resolved"}), ("transfer", {"skill": "billing"}),
                       ("messages", {"client_id": uuid.uuid4().hex, "text": "still there?"})):
        refused = await desk.post(f"{path}/{tail}", json=body, headers=csrf)
        assert refused.status == 409, tail
        assert "this conversation is closed (resolved)" in (await refused.json())["error"]
    note = await desk.post(f"{path}/messages", headers=csrf, json={
        "client_id": uuid.uuid4().hex, "text": "called back, all fine", "note": True})
    assert note.status in (200, 201)  # notes still go in


async def test_suggestions_before_any_new_line_read_the_customers_words(desk) -> None:  # type: ignore[no-untyped-def]
    packet = make_packet()
    first = packet.transcript[0]
    packet = replace(packet, transcript=[replace(first, text="/greet"), *packet.transcript,
                                         replace(first, text="/deny")])
    created = await desk.post("/api/handoffs", json=packet.to_json(), headers=desk.service)
    handoff = (await created.json())["id"]
    assist, asked = desk.server.app[ASSIST], []
    original = assist.suggest

    async def recording(text, *args, **kwargs):  # type: ignore[no-untyped-def]
        asked.append(text)
        return await original(text, *args, **kwargs)

    assist.suggest = recording
    await sign_in(desk, "ann", "ann-pw-1")
    reply = await desk.get(f"/api/desk/handoffs/{handoff}/suggestions")
    assert reply.status == 200 and (await reply.json())["for_seq"] is None
    assert asked == ["my parcel is late and I need it tomorrow"]  # no button payloads


@pytest.mark.parametrize(("outcome", "handoff", "expected"), [
    ("resolved_with_article", "h-1", ("agent_asked:h-1", "utter_ask_agent_helped")),
    ("handed_back", "h-1", ("agent:handed_back", "utter_back_to_bot")),
    ("escalated", "h-1", ("agent:escalated", "utter_back_to_bot")),
    ("resolved", None, ("agent:resolved", "utter_back_to_bot")),  # a line stored before
    ("withdrawn", "h-1", ("agent:withdrawn", "utter_handoff_withdrawn"))])
def test_only_a_solved_handoff_asks_the_customer_whether_it_is(
        outcome: str, handoff: str | None, expected: tuple[str, str]) -> None:
    assert hand_back(Outgoing("k", "c", "hand_back:" + outcome, "ann", outcome,
                              handoff)) == expected


async def test_rasa_down_then_back_delivers_everything_once(desk) -> None:  # type: ignore[no-untyped-def]
    created = await _handoff(desk)
    csrf = await sign_in(desk, "ann", "ann-pw-1")
    path = f"/api/desk/handoffs/{created['id']}"
    desk.channel.fail = True
    await desk.post(f"{path}/claim", headers={"X-CSRF-Token": csrf})
    sent = await desk.post(f"{path}/messages", headers={"X-CSRF-Token": csrf},
                           json={"client_id": uuid.uuid4().hex, "text": "are you there?"})
    assert sent.status == 201  # stored and acknowledged although Rasa is down
    await asyncio.sleep(1.5)
    desk.channel.fail = False
    await _until(lambda: len(desk.channel.sent) == 2, timeout=10)
    await asyncio.sleep(1.2)
    assert [line.text for line in desk.channel.sent][1] == "are you there?"


async def test_a_line_that_keeps_failing_is_shown_as_not_getting_through(desk) -> None:  # type: ignore[no-untyped-def]
    """The agent is told when the customer's channel keeps refusing a line (Rasa down, a
    REST operator's callback failing), live and on a page opened later, until it gets
    through."""
    from desk.messages import STRUGGLING_AFTER
    from desk.state import HUB

    created = await _handoff(desk)
    csrf = await sign_in(desk, "ann", "ann-pw-1")
    path = f"/api/desk/handoffs/{created['id']}"
    desk.channel.fail = True
    await desk.post(f"{path}/claim", headers={"X-CSRF-Token": csrf})
    subscription = desk.server.app[HUB].subscribe(f"handoff:{created['id']}")
    await desk.post(f"{path}/messages", headers={"X-CSRF-Token": csrf},
                    json={"client_id": uuid.uuid4().hex, "text": "are you there?"})
    deadline = time.monotonic() + 15
    while (note := await asyncio.wait_for(subscription.next(), 15)) is not None:
        assert time.monotonic() < deadline
        if note.get("type") == "undelivered":
            break
    assert note is not None and note["retry_in"] >= 0.5 * 2 ** (STRUGGLING_AFTER - 1)
    lines = await (await desk.get(f"{path}/messages")).json()
    struggling = [m for m in lines if m["struggling"]]
    assert [m["seq"] for m in struggling] == [note["seq"]]  # the first line not through
    desk.channel.fail = False
    await _until(lambda: any(line.text == "are you there?" for line in desk.channel.sent),
                 timeout=20)
    for _ in range(100):
        lines = await (await desk.get(f"{path}/messages")).json()
        if not any(m["struggling"] for m in lines):
            break
        await asyncio.sleep(0.2)
    assert not any(m["struggling"] for m in lines)


async def test_the_page_names_a_second_problem_the_bot_promised(desk) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace as changed

    packet = changed(make_packet(), metadata={"also_mentioned": ["charged_twice"]})
    created = await (await desk.post("/api/handoffs", json=packet.to_json(),
                                     headers=desk.service)).json()
    await sign_in(desk, "ann", "ann-pw-1")
    html = await (await desk.get(f"/desk/handoffs/{created['id']}")).text()
    assert 'id="also-mentioned">Charged twice' in html
    plain = await _handoff(desk)
    assert "also-mentioned" not in await (await desk.get(f"/desk/handoffs/{plain['id']}")).text()


async def test_a_lines_echo_marks_it_delivered_unless_a_rest_callback_must_take_it(desk) -> None:  # type: ignore[no-untyped-def]
    """A REST customer hears an agent's line only through the operator's callback: the
    line's event coming back from Rasa must not mark it delivered (✓) before the callback
    took it, or a failed callback is never retried. Any other echo marks it, with the ✓
    shown live."""
    import sqlalchemy as sa

    from desk.rasa_client import CALLBACK_KEY, DESK_KEY
    from desk.state import HUB, MESSAGES
    from desk.tables import messages

    created = await _handoff(desk)
    csrf = await sign_in(desk, "ann", "ann-pw-1")
    path = f"/api/desk/handoffs/{created['id']}"
    await desk.post(f"{path}/claim", headers={"X-CSRF-Token": csrf})
    desk.channel.fail = True  # the relay cannot deliver: only an echo could mark the line
    await desk.post(f"{path}/messages", headers={"X-CSRF-Token": csrf},
                    json={"client_id": uuid.uuid4().hex, "text": "are you there?"})
    log = desk.server.app[MESSAGES]
    async with log.engine.connect() as connection:
        key = (await connection.execute(sa.select(messages.c.key).where(
            messages.c.text == "are you there?"))).scalar_one()
    conversation = (await (await desk.get(path)).json())["conversation_id"]
    subscription = desk.server.app[HUB].subscribe(f"handoff:{created['id']}")

    def echo(**metadata: object) -> dict:
        return {"event": "bot", "sender_id": conversation, "text": "are you there?",
                "timestamp": time.time(), "metadata": {DESK_KEY: key, **metadata}}

    pending = await log.undelivered_count()  # the line, and the "ann joined" before it
    await desk.post("/api/events", json=[echo(**{CALLBACK_KEY: True})], headers=desk.service)
    assert await log.undelivered_count() == pending
    await desk.post("/api/events", json=[echo()], headers=desk.service)
    assert await log.undelivered_count() == pending - 1
    while (note := await asyncio.wait_for(subscription.next(), 5)) is not None:
        if note.get("type") == "delivered":
            break
    assert note is not None and note["type"] == "delivered"


async def test_a_line_said_before_the_close_and_stored_after_it_stays_the_agents(desk) -> None:  # type: ignore[no-untyped-def]
    """Whether the customer was talking to a person is judged by when they said the line,
    not when the desk stored it: a line said just before the agent closed belongs to that
    handoff, and is not counted as a message to the bot on the dashboard."""
    import sqlalchemy as sa

    from desk.dashboard import INSIGHT
    from desk.tables import insight

    created = await _handoff(desk)
    csrf = await sign_in(desk, "ann", "ann-pw-1")
    path = f"/api/desk/handoffs/{created['id']}"
    await desk.post(f"{path}/claim", headers={"X-CSRF-Token": csrf})
    conversation = (await (await desk.get(path)).json())["conversation_id"]
    said = time.time()
    await asyncio.sleep(0.05)
    await _until(lambda: len(desk.channel.sent) == 1)  # the "ann joined" line
    desk.channel.fail = True  # Rasa does not take the hand-back yet
    assert (await desk.post(f"{path}/close", json={"outcome": "resolved"},
                            headers={"X-CSRF-Token": csrf})).status == 200
    # Rasa holds the conversation paused until it takes the hand-back: a line said between
    # the click and then is the agent's too
    between = rasa_user_event(conversation, "oh and my email is bob@example.com", time.time())
    assert (await desk.post("/api/events", json=[between], headers=desk.service)).status == 200
    desk.channel.fail = False
    await _until(lambda: any(line.hand_back_outcome for line in desk.channel.sent), timeout=10)
    late = rasa_user_event(conversation, "great, can they come tomorrow morning?", said)
    after = rasa_user_event(conversation, "thanks, all sorted", time.time() + 1)
    assert (await desk.post("/api/events", json=[late, after],
                            headers=desk.service)).status == 200
    lines = await (await desk.get(f"{path}/messages")).json()
    assert "great, can they come tomorrow morning?" in [line["text"] for line in lines]
    assert "oh and my email is bob@example.com" in [line["text"] for line in lines]
    assert "thanks, all sorted" not in [line["text"] for line in lines]
    async with desk.server.app[INSIGHT].engine.connect() as connection:
        counted = (await connection.execute(sa.select(insight.c.text).where(
            insight.c.conversation_id == conversation))).scalars().all()
    assert "great, can they come tomorrow morning?" not in counted
    assert "thanks, all sorted" in counted  # to the bot again, after the close


async def test_contact_details_left_while_waiting_are_acknowledged_once(desk) -> None:  # type: ignore[no-untyped-def]
    """With nobody online the bot asks for an e-mail address or phone number; the first one
    the customer leaves gets one automatic line back, however often its event arrives."""
    created = await _handoff(desk)
    path = f"/api/desk/handoffs/{created['id']}"
    csrf = await sign_in(desk, "ann", "ann-pw-1")
    conversation = (await (await desk.get(path)).json())["conversation_id"]
    now = time.time()
    left = rasa_user_event(conversation, "ann.lee@example.com", now)
    for event in (left, left, rasa_user_event(conversation, "or 07700 900123", now + 1)):
        reply = await desk.post("/api/events", json=[event], headers=desk.service)
        assert reply.status == 200
    await _until(lambda: len(desk.channel.sent) == 1)
    assert "a•••@example.com" in desk.channel.sent[0].text
    lines = await (await desk.get(f"{path}/messages")).json()
    auto = [m for m in lines if m["speaker"] == "auto"]
    assert len(auto) == 1 and auto[0]["text"] == desk.channel.sent[0].text
    # once a person has the conversation, they answer for themselves
    await desk.post(f"{path}/claim", headers={"X-CSRF-Token": csrf})
    other = await _handoff(desk)
    await desk.post(f"/api/desk/handoffs/{other['id']}/claim", headers={"X-CSRF-Token": csrf})
    claimed = (await (await desk.get(f"/api/desk/handoffs/{other['id']}")).json())
    await desk.post("/api/events", json=[rasa_user_event(
        claimed["conversation_id"], "bob@example.com", time.time())], headers=desk.service)
    await asyncio.sleep(1.2)
    assert not any("bob" in line.text or "b•••" in line.text for line in desk.channel.sent)


async def test_a_request_withdrawn_while_queued_hands_the_customer_back_once(desk) -> None:  # type: ignore[no-untyped-def]
    """ "nvm it just arrived" before anyone took the conversation: closed as withdrawn, the
    bot back, however often the event arrives; once an agent has it, it is theirs."""
    created = await _handoff(desk)
    path = f"/api/desk/handoffs/{created['id']}"
    csrf = await sign_in(desk, "ann", "ann-pw-1")
    conversation = (await (await desk.get(path)).json())["conversation_id"]
    said = rasa_user_event(conversation, "nvm it just arrived", time.time())
    for _ in range(3):  # re-delivered, or on other replicas
        assert (await desk.post("/api/events", json=[said], headers=desk.service)).status == 200
    await _until(lambda: len(desk.channel.sent) == 1)
    assert desk.channel.sent[0].hand_back_outcome == "withdrawn"
    assert hand_back(desk.channel.sent[0]) == ("agent:withdrawn", "utter_handoff_withdrawn")
    record = await (await desk.get(path)).json()
    assert record["status"] == "closed" and record["outcome"] == "withdrawn"
    lines = await (await desk.get(f"{path}/messages")).json()
    assert [m["speaker"] for m in lines if m["speaker"] in ("note", "control")] == [
        "note", "control"]
    # taken by an agent first: the line waits in their chat, the handoff stays theirs
    other = await _handoff(desk)
    other_path = f"/api/desk/handoffs/{other['id']}"
    await desk.post(f"{other_path}/claim", headers={"X-CSRF-Token": csrf})
    claimed = await (await desk.get(other_path)).json()
    await desk.post("/api/events", json=[rasa_user_event(
        claimed["conversation_id"], "never mind", time.time())], headers=desk.service)
    await asyncio.sleep(1.2)
    assert (await (await desk.get(other_path)).json())["status"] == "assigned"
    # a withdrawal that goes on to ask for something is not one
    third = await _handoff(desk)
    third_path = f"/api/desk/handoffs/{third['id']}"
    queued = await (await desk.get(third_path)).json()
    await desk.post("/api/events", json=[rasa_user_event(
        queued["conversation_id"], "never mind, it arrived but its broken", time.time())],
        headers=desk.service)
    await asyncio.sleep(1.2)
    assert (await (await desk.get(third_path)).json())["status"] == "queued"


async def test_a_withdrawal_whose_hand_back_was_not_stored_is_handed_back_later(desk) -> None:  # type: ignore[no-untyped-def]
    """A replica closed the handoff and stopped before storing the hand-back: the event's
    next delivery stores it, and the customer is not left with a paused bot."""
    created = await _handoff(desk)
    path = f"/api/desk/handoffs/{created['id']}"
    await sign_in(desk, "ann", "ann-pw-1")
    conversation = (await (await desk.get(path)).json())["conversation_id"]
    said = rasa_user_event(conversation, "i dont need a person anymore", time.time())
    assert await desk.server.app[STORE].withdraw(created["id"]) is not None  # then it stopped
    assert (await desk.post("/api/events", json=[said], headers=desk.service)).status == 200
    await _until(lambda: len(desk.channel.sent) == 1)
    assert desk.channel.sent[0].hand_back_outcome == "withdrawn"


async def test_an_agent_whose_client_reads_the_queue_counts_as_online(desk) -> None:  # type: ignore[no-untyped-def]
    """An agent working through the JSON API alone (no desk page open) is someone the
    customer can wait for, not "nobody online"."""
    assert (await _handoff(desk))["agents_online"] == 0
    await sign_in(desk, "ann", "ann-pw-1")
    queue = await (await desk.get("/api/desk/queue")).json()
    assert queue["agents_online"] == 1
    assert (await _handoff(desk))["agents_online"] == 1


async def test_a_customer_being_talked_to_hears_of_a_transfer(desk) -> None:  # type: ignore[no-untyped-def]
    created = await _handoff(desk)
    csrf = await sign_in(desk, "ann", "ann-pw-1")
    path = f"/api/desk/handoffs/{created['id']}"
    await desk.post(f"{path}/claim", headers={"X-CSRF-Token": csrf})
    moved = await desk.post(f"{path}/transfer", json={"skill": "billing"},
                            headers={"X-CSRF-Token": csrf})
    assert moved.status == 200
    await _until(lambda: len(desk.channel.sent) == 2)
    assert desk.channel.sent[1].text.startswith("I'm passing you to a colleague")
    # nobody online takes billing: the customer is asked for a contact, not left waiting
    assert "Nobody from that team is available right now" in desk.channel.sent[1].text


async def test_every_transfer_and_every_claim_is_said(desk) -> None:  # type: ignore[no-untyped-def]
    created = await _handoff(desk)
    csrf = await sign_in(desk, "ann", "ann-pw-1")
    path = f"/api/desk/handoffs/{created['id']}"
    await desk.get("/api/desk/queue")  # ann is at work: someone takes the delivery queue
    for _ in range(2):  # to her own queue and back again, twice
        await desk.post(f"{path}/claim", headers={"X-CSRF-Token": csrf})
        await desk.post(f"{path}/transfer", json={"skill": "delivery"},
                        headers={"X-CSRF-Token": csrf})
    await _until(lambda: len(desk.channel.sent) == 4)
    texts = [line.text for line in desk.channel.sent]
    assert [t.startswith("Hi, this is ann") for t in texts] == [True, False, True, False]
    assert texts[1] == texts[3] and "they will reply here as soon as they can" in texts[3]


async def test_a_customer_is_promised_a_wait_only_by_agents_who_take_their_queue(desk) -> None:  # type: ignore[no-untyped-def]
    """ann takes the delivery queue only: a returns customer is told nobody is there (and
    asked for a contact) rather than given a wait nobody will honour; the place in the
    queue counts that queue alone."""
    await sign_in(desk, "ann", "ann-pw-1")
    await desk.get("/api/desk/queue")
    delivery = await _handoff(desk)
    reply = await desk.post("/api/handoffs", headers=desk.service, json=make_packet(
        skill="returns", moment="return_item").to_json())
    returns = await reply.json()
    assert delivery["agents_online"] == 1 and returns["agents_online"] == 0
    assert returns["position"] == 1  # the delivery handoff before it is not in its queue


async def test_second_agent_cannot_claim_or_write(desk) -> None:  # type: ignore[no-untyped-def]
    created = await _handoff(desk)
    csrf = await sign_in(desk, "ann", "ann-pw-1")
    await desk.post(f"/api/desk/handoffs/{created['id']}/claim", headers={"X-CSRF-Token": csrf})
    desk.session.cookie_jar.clear()
    csrf = await sign_in(desk, "bob", "bob-pw-1")
    path = f"/api/desk/handoffs/{created['id']}"
    assert (await desk.post(f"{path}/claim", headers={"X-CSRF-Token": csrf})).status == 409
    sent = await desk.post(f"{path}/messages", headers={"X-CSRF-Token": csrf},
                           json={"client_id": uuid.uuid4().hex, "text": "hi"})
    assert sent.status == 409
    assert "ann holds this conversation: write an internal note" in (await sent.json())["error"]


async def test_correction_is_kept_as_a_labelled_example(desk) -> None:  # type: ignore[no-untyped-def]
    from desk.corrections import CorrectionStore
    from desk.state import STORE

    created = await _handoff(desk)
    csrf = await sign_in(desk, "ann", "ann-pw-1")
    reply = await desk.post(f"/api/desk/handoffs/{created['id']}/correction",
                            headers={"X-CSRF-Token": csrf},
                            json={"moment": "charged_twice", "text": "they took money twice"})
    assert reply.status == 201
    examples = await CorrectionStore(desk.server.app[STORE].engine).list()
    assert [(e.text, e.predicted, e.corrected) for e in examples] == [
        ("they took money twice", "parcel_late", "charged_twice")]


async def test_outbox_keeps_and_retries_the_handoff(tmp_path) -> None:  # type: ignore[no-untyped-def]
    inner = RecordingDeskClient(fail=True)
    client = OutboxDeskClient(inner, Outbox(tmp_path / "outbox.db"))
    with pytest.raises(HandoffSaved):
        await client.submit(make_packet("conv-1"))
    assert await client.outbox.size() == 1
    assert await client.flush() == 0  # still down
    inner.fail = False
    await client.outbox._run("UPDATE outbox SET next_at = 0")
    assert await client.flush() == 1
    assert [p.conversation_id for p in inner.packets] == ["conv-1"]
    assert await client.outbox.size() == 0


async def test_outbox_does_not_keep_refused_packets(tmp_path) -> None:  # type: ignore[no-untyped-def]
    class Refusing(RecordingDeskClient):
        async def submit(self, packet):  # type: ignore[no-untyped-def]
            raise DeskRejected("422")

    client = OutboxDeskClient(Refusing(), Outbox(tmp_path / "outbox.db"))
    with pytest.raises(DeskRejected):
        await client.submit(make_packet())
    assert await client.outbox.size() == 0


async def test_a_supervisors_close_shows_the_outcome_and_who_held_it(tmp_path,
                                                                      aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    desk = await desk_client(aiohttp_client, tmp_path, {"ann": ("agent",),
                                                        "sue": ("supervisor",)})
    created = await _handoff(desk)
    path = f"/api/desk/handoffs/{created['id']}"
    await desk.post(f"{path}/claim", headers={"X-CSRF-Token": await sign_in(desk, "ann",
                                                                           "ann-pw-1")})
    csrf = {"X-CSRF-Token": await sign_in(desk, "sue", "sue-pw-1")}
    page = await (await desk.get(f"/desk/handoffs/{created['id']}")).text()
    assert '<dd id="handoff-status">assigned (ann)</dd>' in page
    ws = await desk.ws_connect(f"/desk/ws?handoff={created['id']}")
    assert (await desk.post(f"{path}/close", json={"outcome": "resolved"},
                            headers=csrf)).status == 200
    frame = await asyncio.wait_for(ws.receive_json(), 5)
    while frame["type"] != "handoff":
        frame = await asyncio.wait_for(ws.receive_json(), 5)
    assert frame["status_line"] == "closed: resolved, held by ann"
    page = await (await desk.get(f"/desk/handoffs/{created['id']}")).text()
    assert '<dd id="handoff-status">closed: resolved, held by ann</dd>' in page
    lines = await (await desk.get(f"{path}/messages")).json()
    assert [(m["speaker"], m["author"]) for m in lines][-1] == ("control", "sue")
    await ws.close()
