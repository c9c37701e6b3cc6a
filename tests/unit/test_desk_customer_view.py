"""Single customer view in the desk: earlier conversations on every channel, hints, confirm."""

from __future__ import annotations

from dataclasses import replace

import pytest

from desk import audit
from desk import state as s
from desk.packet import CustomerIdentity, HandoffPacket, PacketInvalid
from desk.testing import desk_client, make_packet, sign_in

TYPED = [{"entity": "email", "value": "ann.customer@example.com"}]


def test_packets_without_identity_keep_their_old_wire_form() -> None:
    packet = make_packet()
    assert "identity" not in packet.to_json()
    assert HandoffPacket.from_json(packet.to_json()) == packet
    vouched = make_packet(identity=CustomerIdentity(verified_email="a@b.example"))
    assert HandoffPacket.from_json(vouched.to_json()) == vouched
    with pytest.raises(PacketInvalid, match=r"\$\.identity"):
        HandoffPacket.from_json({**packet.to_json(), "identity": {"email": "typed@x.y"}})


@pytest.fixture
async def desk(tmp_path, aiohttp_client):  # type: ignore[no-untyped-def]
    client = await desk_client(aiohttp_client, tmp_path, {
        "ann": ("agent",), "bob": ("agent",), "sue": ("supervisor",)})
    client.app_ = client.server.app
    return client


async def _handoff(desk, **packet) -> str:  # type: ignore[no-untyped-def]
    reply = await desk.post("/api/handoffs", json=make_packet(**packet).to_json(),
                            headers=desk.service)
    assert reply.status == 201, await reply.text()
    return str((await reply.json())["id"])


async def test_the_context_panel_joins_channels_and_hints_typed_email(desk) -> None:  # type: ignore[no-untyped-def]
    billing = await _handoff(desk, channel="socketio", skill="billing", moment="charged_twice",
                             identity=CustomerIdentity(customer_key="acct-1"))
    verified = await _handoff(desk, channel="socketio", identity=CustomerIdentity(
        verified_email="Ann.Customer@example.com"))
    today = await _handoff(desk, channel="telegram", entities=TYPED,
                           identity=CustomerIdentity(customer_key="acct-1"))
    csrf = await sign_in(desk, "ann", "ann-pw-1")
    assert (await desk.post(f"/api/desk/handoffs/{today}/claim",
                            headers={"X-CSRF-Token": csrf})).status == 200
    page = await (await desk.get(f"/desk/handoffs/{today}")).text()
    assert f'data-handoff="{billing}"' in page and f'href="/desk/handoffs/{billing}"' not in page
    assert "Possibly the same customer (e-mail typed in chat)" in page
    assert 'class="confirm-same-customer"' in page
    view = (await (await desk.get(f"/api/desk/handoffs/{today}")).json())["customer"]
    assert [(e["id"], e["channel"], e["readable"]) for e in view["earlier"]] == [
        (billing, "socketio", False)]
    assert [h["value"] for h in view["hints"]] == ["ann.customer@example.com"]
    path = f"/api/desk/handoffs/{today}/same-customer"
    body = {"kind": "email", "value": "ann.customer@example.com"}
    assert (await desk.post(path, json=body)).status == 403  # no CSRF token
    bad = await desk.post(path, json={"kind": "fax", "value": "1"},
                          headers={"X-CSRF-Token": csrf})
    assert bad.status == 422 and "'kind'" in (await bad.json())["error"]
    form = await desk.post(f"/desk/handoffs/{today}/same-customer",
                           data={**body, "csrf_token": csrf}, allow_redirects=False)
    assert form.status == 303
    view = (await (await desk.get(f"/api/desk/handoffs/{today}")).json())["customer"]
    assert {e["id"] for e in view["earlier"]} == {billing, verified} and view["hints"] == []
    engine = desk.app_[s.STORE].engine
    assert (await audit.entries(engine, f"handoff:{today}"))[0].action == "identity.confirm"


async def test_only_the_holder_or_a_supervisor_confirms(desk) -> None:  # type: ignore[no-untyped-def]
    await _handoff(desk, channel="socketio", entities=TYPED)
    today = await _handoff(desk, channel="telegram", entities=TYPED)
    csrf = await sign_in(desk, "bob", "bob-pw-1")  # sees the queue, holds nothing
    page = await (await desk.get(f"/desk/handoffs/{today}")).text()
    assert "Possibly the same customer" in page and "confirm-same-customer" not in page
    refused = await desk.post(f"/api/desk/handoffs/{today}/same-customer",
                              json={"kind": "email", "value": "ann.customer@example.com"},
                              headers={"X-CSRF-Token": csrf})
    assert refused.status == 409
    await desk.post("/logout", data={"csrf_token": csrf})
    csrf = await sign_in(desk, "sue", "sue-pw-1")
    done = await desk.post(f"/api/desk/handoffs/{today}/same-customer",
                           json={"kind": "email", "value": "ann.customer@example.com"},
                           headers={"X-CSRF-Token": csrf})
    assert done.status == 200 and len((await done.json())["earlier"]) == 1


async def test_lines_of_the_transcript_are_not_shown_again_as_earlier_ones(desk) -> None:  # type: ignore[no-untyped-def]
    import re
    import time

    from desk.testing import rasa_user_event

    packet = make_packet(text="human please")
    before = time.time() - 60
    for text in ("human please", "an older question about my sofa"):
        event = rasa_user_event(packet.conversation_id, text, before)
        assert (await desk.post("/api/events", json=[event], headers=desk.service)).status == 200
    reply = await desk.post("/api/handoffs", json=packet.to_json(), headers=desk.service)
    handoff = (await reply.json())["id"]
    await sign_in(desk, "ann", "ann-pw-1")
    page = await (await desk.get(f"/desk/handoffs/{handoff}")).text()
    history = re.search(r'<ul id="history">(.*?)</ul>', page, re.S)
    assert history is not None
    assert "an older question about my sofa" in history.group(1)
    assert "human please" not in history.group(1) and "none" not in history.group(1)


async def test_the_transcript_shows_what_the_customer_clicked(desk) -> None:  # type: ignore[no-untyped-def]
    import re

    packet = make_packet()
    first, bot = packet.transcript
    packet = replace(packet, transcript=[
        replace(first, text="/greet"), first, replace(bot, text="**Track a late parcel**\n1."),
        replace(first, text="/deny"), replace(first, text="/parcel_late"),
        replace(first, text="/not_a_button")])
    reply = await desk.post("/api/handoffs", json=packet.to_json(), headers=desk.service)
    await sign_in(desk, "ann", "ann-pw-1")
    page = await (await desk.get(f"/desk/handoffs/{(await reply.json())['id']}")).text()
    transcript = re.search(r'<ol id="transcript" class="lines">(.*?)</ol>', page, re.S)
    assert transcript is not None
    texts = re.findall(r'<span class="text">(.*?)</span>', transcript.group(1), re.S)
    assert texts == ["(opened the chat)", "my parcel is late and I need it tomorrow",
                     "Track a late parcel\n1.", "No, still stuck",
                     "Where is my order / parcel late", "/not_a_button"]
    assert transcript.group(1).count("customer clicked") == 3


async def test_agents_are_told_when_a_rest_customer_cannot_hear_them(desk) -> None:  # type: ignore[no-untyped-def]
    pages = {}
    for channel in ("rest", "socketio"):
        reply = await desk.post("/api/handoffs", json=make_packet(channel=channel).to_json(),
                                headers=desk.service)
        pages[channel] = f"/desk/handoffs/{(await reply.json())['id']}"
    await sign_in(desk, "ann", "ann-pw-1")
    assert 'id="unheard"' in await (await desk.get(pages["rest"])).text()
    assert 'id="unheard"' not in await (await desk.get(pages["socketio"])).text()
    settings = desk.app_[s.SETTINGS]
    desk.app_[s.SETTINGS] = replace(settings, rest_callback_url="http://127.0.0.1:9/hook")
    assert 'id="unheard"' not in await (await desk.get(pages["rest"])).text()
