"""The managers' moments dashboard in a real browser (Debian's Chromium, Playwright): a
customer is helped over REST, a manager signs in and finds the conversation counted under
its moment, with its journey stage, and changes the window and the channel."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.conftest import RunningAssistant, browser_sign_in, http_json
from tests.e2e.desk_customer import add_user

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_manager_sees_the_conversation_counted_under_its_moment(
        assistant: RunningAssistant, page) -> None:  # type: ignore[no-untyped-def]
    sender = f"insight-{uuid.uuid4().hex[:8]}"
    for text in ("you charged my card twice for the same order", "/affirm"):
        status, replies = http_json(assistant.rest_url, {"sender": sender, "message": text})
        assert status == 200 and replies, replies
    assert "Glad that sorted it" in replies[0]["text"]  # type: ignore[index]
    name, password = f"manager-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    add_user(assistant.env, name, password, "manager")

    browser_sign_in(page, assistant.desk_url, name, password, home="/insight")
    row = page.locator('tr[data-moment="charged_twice"]')
    deadline = time.monotonic() + 15  # the event stream reaches the desk asynchronously
    while not row.count():
        assert time.monotonic() < deadline, page.inner_text("main")
        time.sleep(0.5)
        page.reload()
    assert "Charged twice" in row.inner_text()
    assert "Billing" in page.inner_text("#moments")  # its journey stage
    assert page.locator("#totals").inner_text().startswith(tuple("123456789"))

    page.select_option('select[name="days"]', "28")
    page.wait_for_url(f"{assistant.desk_url}/insight?days=28&channel=")
    assert page.locator('tr[data-moment="charged_twice"]').count() == 1
    page.select_option('select[name="channel"]', "rest")  # the customer wrote over REST
    page.wait_for_url(f"{assistant.desk_url}/insight?days=28&channel=rest")
    assert page.locator('tr[data-moment="charged_twice"]').count() == 1
    assert "on REST" in page.inner_text("h1")
    # from the keyboard the arrows only move the choice (each would reload); Enter shows it
    page.focus('select[name="days"]')
    page.keyboard.press("ArrowUp")
    page.wait_for_timeout(500)
    assert page.url.endswith("?days=28&channel=rest")
    assert page.input_value('select[name="days"]') == "7"
    page.keyboard.press("Enter")
    page.wait_for_url(f"{assistant.desk_url}/insight?days=7&channel=rest")
    # a manager sees no conversations
    assert page.goto(f"{assistant.desk_url}/desk").status == 403  # type: ignore[union-attr]
