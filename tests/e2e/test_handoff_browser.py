"""The handoff of issue 4 in a real browser (Debian's Chromium, Playwright).

A customer over socket.io asks for a person; an agent signs in, claims, chats both ways,
uses a suggested article, resolves; the customer says the agent sorted it out, which a
manager then finds on the moments dashboard; the bot answers the customer's next message
again.
Customer text is shown inert. Everything stays on loopback.
"""

from __future__ import annotations

import re
import time
import uuid

import pytest

from tests.conftest import RunningAssistant, browser_sign_in, http_json
from tests.e2e.desk_customer import Customer, add_agent, add_user

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

HOSTILE = '<b>bold</b><img src=x onerror="window.pwned=1"> my order is NW123456'


def _handoff_id(assistant: RunningAssistant, conversation_id: str) -> str:
    status, queued = http_json(f"{assistant.desk_url}/api/handoffs", token=assistant.desk_token)
    assert status == 200
    return next(h["id"] for h in queued if h["conversation_id"] == conversation_id)


def test_customer_and_agent_chat_through_the_desk(assistant: RunningAssistant, page) -> None:  # type: ignore[no-untyped-def]
    name, password = f"agent-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    add_agent(assistant.env, name, password)
    # The queue page: signed in there, the agent is online.
    browser_sign_in(page, assistant.desk_url, name, password, home="/desk")
    customer = Customer(assistant.rasa_url)
    try:
        customer.say("my parcel is late, let me speak to a real person")
        told = customer.wait_for("passed your conversation to a person")[-1]
        # Other tests of the session may have queued handoffs before this one.
        assert re.search(r"number \d+ in the queue", told) and "expected wait" in told

        handoff = _handoff_id(assistant, customer.session_id)
        row = page.locator(f'tr[data-handoff="{handoff}"]')
        row.wait_for(timeout=15_000)  # arrived live (WebSocket) or by the 5 s refresh
        row.locator("button.claim").click()
        page.wait_for_url(f"**/desk/handoffs/{handoff}")
        assert page.locator("#reason").inner_text() == "customer_asked"
        assert "real person" in page.locator("#transcript").inner_text()
        customer.wait_for(f"this is {name}")
        page.click("#transfer")  # no queue picked: nothing happens but a word why
        assert page.inner_text("#error") == "Pick the queue to transfer to first."
        assert page.locator("#handoff-status").inner_text() != "queued"
        # Articles for what the customer said before the handoff, before they write again.
        page.locator(".insert-suggestion").first.wait_for(timeout=90_000)  # model warming up

        customer.say(HOSTILE)  # the bot is paused: only the agent may answer
        page.locator("#log .line.customer", has_text="NW123456").wait_for(timeout=15_000)
        assert page.locator("#log b, #log img").count() == 0
        assert page.evaluate("window.pwned") is None
        assert customer.replies.empty()

        insert = page.locator(".insert-suggestion").first
        insert.wait_for(timeout=15_000)
        insert.click()
        suggested = page.input_value("#compose")
        assert suggested.strip()
        page.fill("#compose", suggested + "\nTell me if that helps.")
        page.click("#send")
        got = customer.wait_for("Tell me if that helps.")
        assert got == [suggested + "\nTell me if that helps."]  # nothing from the bot between
        page.locator("#log .line.agent .tick", has_text="✓").last.wait_for(timeout=15_000)

        customer.say("Thanks, that works")
        page.locator("#log .line.customer", has_text="that works").wait_for(timeout=15_000)
        # Lines stored out of order (a desk replica that stalled stores a customer's earlier
        # line after a later one) are shown in the order they were said.
        said = time.time()
        for text, at in (("said third", said + 0.2), ("said second", said + 0.1)):
            status, _ = http_json(f"{assistant.desk_url}/api/events", [{
                "event": "user", "sender_id": customer.session_id, "text": text,
                "timestamp": at, "input_channel": "socketio",
                "message_id": uuid.uuid4().hex}], token=assistant.desk_token)
            assert status == 200
        page.locator("#log .line.customer", has_text="said second").wait_for(timeout=15_000)
        lines = page.locator("#log .line.customer .text").all_inner_texts()
        assert lines.index("said second") < lines.index("said third")
        customer.close()  # the tab is closed: the agent's line waits for the customer
        page.fill("#compose", "Glad to hear it!")
        page.click("#send")
        page.locator("#log .line.agent", has_text="Glad to hear it!").locator(
            ".tick", has_text="✓").wait_for(timeout=15_000)
        customer = Customer(assistant.rasa_url, customer.session_id)  # back, same session
        customer.wait_for("Glad to hear it!")

        page.select_option("#outcome", "resolved")
        page.click("#close")
        try:
            page.locator("#handoff-status", has_text="closed").wait_for(timeout=10_000)
        except Exception as error:  # say why the desk refused, if it did
            raise AssertionError(f"not closed: {page.inner_text('#error')!r}") from error
        asked = customer.wait_for("Did we sort it out for you?")  # solved, said the agent
        assert "back with the assistant" in asked[-1]
        customer.say("yes")
        customer.wait_for("Thank you for telling us")
        time.sleep(2)
        assert customer.replies.empty()  # one answer: the turn ran once

        customer.say("I got charged twice for the same order!!")
        assert "Did this solve it?" in customer.wait_for("Did this solve it?")[-1]
        time.sleep(2)
        assert customer.replies.empty()  # one article, not one per run of a looping turn

        # The review of corrected examples is for supervisors and content staff only.
        refused = page.goto(f"{assistant.desk_url}/content/corrections")
        assert refused is not None and refused.status == 403

        # A manager finds the customer's answer on the moments dashboard.
        page.goto(f"{assistant.desk_url}/desk")
        page.click("#logout")
        page.wait_for_url("**/login**")
        manager = f"manager-{uuid.uuid4().hex[:6]}"
        add_user(assistant.env, manager, password, "manager")
        browser_sign_in(page, assistant.desk_url, manager, password, home="/insight")
        rated = page.locator("tr[data-moment] td.agent-helped", has_text="of 1")
        deadline = time.monotonic() + 15  # the event stream reaches the desk asynchronously
        while not rated.count():
            assert time.monotonic() < deadline, page.inner_text("main")
            time.sleep(0.5)
            page.reload()
        assert rated.first.inner_text().startswith("100%")
    finally:
        customer.close()
