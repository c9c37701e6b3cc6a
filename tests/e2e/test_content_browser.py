"""Issue 3 in a real browser (Debian's Chromium, Playwright): a content staff member signs
in, creates an article, previews it, publishes it, and the assistant answers a customer
with it over REST within seconds, with no restart. Then retires it the same way.
"""

from __future__ import annotations

import time
import uuid

import pytest

from tests.conftest import RunningAssistant, browser_sign_in, http_json
from tests.e2e.desk_customer import add_user

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

QUESTION = "the bag of screws and dowels for my new wardrobe was not in the box"
TITLE = "Screws or fittings missing from flat-pack furniture? Order a free fittings bag"
BODY = ("If the bag of screws, dowels or Allen keys is missing:\n\n"
        "1. Look inside the hollow legs and under the cardboard corner guards.\n"
        "2. Order the free fittings bag at northwind.example/fittings with your order number.\n"
        "3. It arrives by post within 3 working days.")


def ask(assistant: RunningAssistant, text: str) -> str:
    status, replies = http_json(assistant.rest_url, {"sender": f"kb-{uuid.uuid4().hex[:8]}",
                                                     "message": text})
    assert status == 200 and isinstance(replies, list) and replies, replies
    return str(replies[0].get("text", ""))


def answered_within(assistant: RunningAssistant, seconds: float, wanted: bool) -> float:
    """Seconds until the assistant's answer does (or no longer does) carry the article."""
    started = time.perf_counter()
    while (TITLE in ask(assistant, QUESTION)) != wanted:
        assert time.perf_counter() - started < seconds, f"not live after {seconds} s"
        time.sleep(0.2)
    return time.perf_counter() - started


def test_content_staff_publish_and_the_assistant_answers(assistant: RunningAssistant,
                                                         page) -> None:  # type: ignore[no-untyped-def]
    name, password = f"content-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    article_id = f"fittings-bag-{uuid.uuid4().hex[:6]}"
    add_user(assistant.env, name, password, "content")
    desk = assistant.desk_url
    assert TITLE not in ask(assistant, QUESTION)

    browser_sign_in(page, desk, name, password, home="/content")

    page.click("#nav-new")
    page.fill("#article-id", article_id)
    page.fill("#article-title", TITLE)
    page.fill("#article-summary", "Check the hollow legs first, then order a free bag.")
    page.fill("#article-moments", "item_missing_from_order")
    page.fill("#article-body", BODY)
    page.click("#save-article")
    page.wait_for_url(f"{desk}/content/articles/{article_id}?done=created")
    assert page.inner_text("#article-status") == "draft"

    page.fill("#preview-question", QUESTION)
    page.click("#preview-run")
    first = page.locator("#preview-hits > li").first
    assert first.get_attribute("data-article") == article_id
    assert "(this draft)" in first.inner_text() and "why:" in first.inner_text()

    page.goto(f"{desk}/content/articles/{article_id}")
    page.click("#publish-article")
    page.wait_for_url(f"{desk}/content/articles/{article_id}?done=publish")
    assert page.inner_text("#article-status") == "published"
    assert answered_within(assistant, 5.0, wanted=True) < 5.0

    page.click("#retire-article")  # asks first
    assert page.inner_text("#article-status") == "published"
    page.click("#confirm-retire")
    page.wait_for_url(f"{desk}/content/articles/{article_id}?done=retire")
    assert page.inner_text("#article-status") == "retired"
    answered_within(assistant, 5.0, wanted=False)
    assert "retire" in page.inner_text("#history") and name in page.inner_text("#history")
