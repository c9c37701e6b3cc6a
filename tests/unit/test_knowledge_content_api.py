"""The content app inside the desk (in-process, SQLite, hashing embedder): JSON API, pages,
roles, validation errors and the live index after publish / retire / rollback."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from desk.app import init_app
from desk.rasa_client import RecordingCustomerChannel
from desk.testing import csrf_from, desk_settings, make_packet, sign_in
from desk.users import create_user
from knowledge.embedder import HashingEmbedder

ARTICLE = {"id": "fittings-missing", "title": "Screws or fittings missing from furniture",
           "summary": "Order a free fittings bag.", "moments": ["item_missing_from_order"],
           "body": "1. Look in the hollow legs.\n2. Order the fittings bag online."}


@pytest.fixture
async def desk(tmp_path, aiohttp_client):  # type: ignore[no-untyped-def]
    settings = desk_settings(tmp_path)
    await create_user(settings.desk_database_url, "cat", "cat-pw-1", ("content",), rounds=4)
    await create_user(settings.desk_database_url, "ann", "ann-pw-1", ("agent",), rounds=4)
    app = init_app(settings, channel=RecordingCustomerChannel(),
                   embedder_factory=HashingEmbedder)
    client = await aiohttp_client(app)
    client.settings = settings
    return client


async def content(desk) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Signs the content user in (desk.testing.sign_in lands on /desk, which is for agents)."""
    token = csrf_from(await (await desk.get("/login")).text())
    reply = await desk.post("/login", data={"name": "cat", "password": "cat-pw-1",
                                            "csrf_token": token, "next": "/content"})
    assert reply.status == 200
    return {"X-CSRF-Token": csrf_from(await reply.text())}


async def test_only_content_staff_may_change_articles(desk) -> None:  # type: ignore[no-untyped-def]
    assert (await desk.post("/api/articles", json=ARTICLE)).status == 401
    service = {"Authorization": f"Bearer {desk.settings.desk_token}"}
    assert (await desk.get("/api/articles", headers=service)).status == 200
    assert (await desk.post("/api/articles", json=ARTICLE, headers=service)).status == 403
    csrf = await sign_in(desk, "ann", "ann-pw-1")
    refused = await desk.post("/api/articles", json=ARTICLE, headers={"X-CSRF-Token": csrf})
    assert refused.status == 403
    page = await desk.get("/content")
    assert page.status == 403


async def test_create_preview_publish_history(desk) -> None:  # type: ignore[no-untyped-def]
    headers = await content(desk)
    created = await desk.post("/api/articles", json=ARTICLE, headers=headers)
    assert created.status == 201, await created.text()
    assert (await created.json())["article"]["status"] == "draft"
    question = {"question": "fittings bag screws missing", "k": 3}
    live = await (await desk.post("/api/knowledge/preview", json=question,
                                  headers=headers)).json()
    assert "fittings-missing" not in [h["id"] for h in live["hits"]]
    with_draft = await (await desk.post("/api/knowledge/preview", headers=headers, json={
        **question, "draft": ARTICLE})).json()
    top = with_draft["hits"][0]
    assert top["id"] == "fittings-missing" and top["draft"] and top["passage"]
    published = await desk.post("/api/articles/fittings-missing/publish", json={},
                                headers=headers)
    assert published.status == 200
    status = await (await desk.get("/api/knowledge/status")).json()
    assert status["knowledge"] == (await published.json())["knowledge"]
    after = await (await desk.post("/api/knowledge/preview", json=question,
                                   headers=headers)).json()
    assert after["hits"][0]["id"] == "fittings-missing"
    for bad, field in (({"moment": "zzz"}, "moment"), ({"channel": "fax"}, "channel")):
        refused = await desk.post("/api/knowledge/preview", json={**question, **bad},
                                  headers=headers)
        assert refused.status == 400 and (await refused.json())["error"].startswith(field)
    history = await (await desk.get("/api/articles/fittings-missing/history")).json()
    assert [(e["action"], e["actor"]) for e in history] == [("publish", "cat"), ("create", "cat")]


async def test_validation_errors_are_422_with_every_field(desk) -> None:  # type: ignore[no-untyped-def]
    headers = await content(desk)
    reply = await desk.post("/api/articles", headers=headers, json={
        "id": "bad-one", "title": "", "body": "", "moments": ["no_such_moment"]})
    assert reply.status == 422
    data = await reply.json()
    assert {e["field"] for e in data["errors"]} == {"title", "body", "moments"}
    duplicate = await desk.post("/api/knowledge/validate", headers=headers, json={
        **ARTICLE, "id": "copy", "title": "Your parcel is late: track it and see what "
        "happens next"})
    assert duplicate.status == 200
    broken = await desk.post("/api/articles", headers=headers, data=b"{nope",
                             )
    assert broken.status == 400


async def test_edit_conflict_rollback_and_retire(desk) -> None:  # type: ignore[no-untyped-def]
    headers = await content(desk)
    await desk.post("/api/articles", json=ARTICLE, headers=headers)
    await desk.post("/api/articles/fittings-missing/publish", json={}, headers=headers)
    edit = {**ARTICLE, "title": "Fittings missing? Order a bag", "base_version": 1}
    assert (await desk.put("/api/articles/fittings-missing", json=edit,
                           headers=headers)).status == 200
    stale = await desk.put("/api/articles/fittings-missing", json=edit, headers=headers)
    assert stale.status == 409
    rolled = await desk.post("/api/articles/fittings-missing/rollback", json={"version": 1},
                             headers=headers)
    assert (await rolled.json())["article"]["live_version"] == 3
    missing = await desk.post("/api/articles/nope/publish", json={}, headers=headers)
    assert missing.status == 404
    await desk.post("/api/articles/fittings-missing/retire", json={}, headers=headers)
    status = await (await desk.get("/api/knowledge/status")).json()
    listed = await (await desk.get("/api/articles?status=retired")).json()
    assert "fittings-missing" in [a["id"] for a in listed]
    assert status["articles"] == 43
    row = (await (await desk.get("/content?status=retired")).text()).split(
        "fittings-missing", 1)[1].split("</tr>", 1)[0]
    assert "retired" in row and "live v" not in row  # retired: no version is live


async def test_pages_create_and_publish_with_forms(desk) -> None:  # type: ignore[no-untyped-def]
    await content(desk)
    token = csrf_from(await (await desk.get("/content/new")).text())
    form = {**ARTICLE, "moments": "item_missing_from_order", "csrf_token": token}
    bad = await desk.post("/content/new", data={**form, "title": ""})
    assert bad.status == 422 and "title" in await bad.text()
    created = await desk.post("/content/new", data=form)
    assert created.status == 200 and "Publish v1" in await created.text()
    published = await desk.post("/content/articles/fittings-missing/publish",
                                data={"csrf_token": token, "version": "1"})
    page = await published.text()
    assert "Published: the bot and the agents use this version now." in page
    assert 'id="article-status">published' in page and "Publish v1" not in page  # live already
    preview = await desk.get("/content/preview", params={"q": "fittings bag screws"})
    assert "fittings-missing" in await preview.text()
    assert (await desk.get("/content/gaps")).status == 200


async def test_a_taken_id_or_a_stale_edit_shows_the_form_again_with_the_text(desk) -> None:  # type: ignore[no-untyped-def]
    await content(desk)
    token = csrf_from(await (await desk.get("/content/new")).text())
    form = {**ARTICLE, "moments": "item_missing_from_order", "csrf_token": token}
    assert (await desk.post("/content/new", data=form)).status == 200
    taken = await desk.post("/content/new", data={**form, "body": "My long new text."})
    page = await taken.text()
    assert taken.status == 409 and "an article with this id exists" in page
    assert "My long new text." in page and 'action="/content/new"' in page
    edit = {**form, "base_version": "1", "note": ""}
    path = "/content/articles/fittings-missing/edit"
    assert (await desk.post(path, data={**edit, "title": "First editor"})).status == 200
    stale = await desk.post(path, data={**edit, "title": "Second editor", "note": "why"})
    page = await stale.text()
    assert stale.status == 409 and "version 2 was saved after version 1" in page
    assert 'id="article-note" value="why"' in page and "<strong>file</strong>" not in page
    assert 'value="Second editor"' in page and 'name="base_version" value="2"' in page
    again = await desk.post(path, data={**edit, "title": "Second editor", "base_version": "2"})
    page = await again.text()
    assert again.status == 200 and "Second editor" in page
    assert "Make v1 live" in page and "Roll back" not in page  # nothing is live yet
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC · cat · create v1 · status: draft", page)
    tampered = await desk.post(path, data={**edit, "title": "Third editor", "base_version": "x"})
    page = await tampered.text()  # the hidden field broken: the text is kept all the same
    assert tampered.status == 409 and "not known which version you edited" in page
    assert "compare with version 3 on the article" in page
    assert 'value="Third editor"' in page and 'name="base_version" value="3"' in page
    blank = await desk.post(path, data={**edit, "title": "Fourth editor", "base_version": ""})
    page = await blank.text()  # no version at all: not saved over version 3 unknowingly
    assert blank.status == 409 and "did not say which version you edited" in page
    assert 'value="Fourth editor"' in page


async def test_gaps_never_show_personal_data(desk) -> None:  # type: ignore[no-untyped-def]
    packet = replace(make_packet(text="gift card for jan@example.com please, call 07700 900123"),
                     reason="no_article")
    service = {"Authorization": f"Bearer {desk.settings.desk_token}"}
    assert (await desk.post("/api/handoffs", json=packet.to_json(), headers=service)).status == 201
    [group] = await (await desk.get("/api/knowledge/gaps", headers=service)).json()
    assert "jan@example.com" not in group["examples"][0]
    assert "900123" not in group["examples"][0] and "gift card" in group["examples"][0]
    await content(desk)
    page = await (await desk.get("/content/gaps")).text()
    assert "gift card" in page and "jan@example.com" not in page
    assert "of the last 30 days" in page
    assert "of the last 7 days" in await (await desk.get("/content/gaps?days=7")).text()
    assert (await desk.get("/content/gaps?days=abc")).status == 400
    for bad in ("abc", "0", "400", "nan"):
        refused = await desk.get("/api/knowledge/gaps", params={"days": bad}, headers=service)
        assert refused.status == 400 and "days" in (await refused.json())["error"]


async def test_bodies_of_the_wrong_shape_get_400_with_the_field_never_500(desk) -> None:  # type: ignore[no-untyped-def]
    headers = {**await content(desk), "Content-Type": "application/json"}
    assert (await desk.post("/api/articles", json=ARTICLE, headers=headers)).status == 201
    path = f"/api/articles/{ARTICLE['id']}"
    for method, url, body, says in [
        ("POST", "/api/articles", "[" * 50_000 + "]" * 50_000, "nested too deeply"),
        ("PUT", path, '{"title": "t", "moments": ["item_missing_from_order"], "body": "b", '
                      '"base_version": Infinity}', "Infinity is not a JSON number"),
        ("POST", f"{path}/publish", '{"version": 1000000000000000000000000000000}',
         "version: must be a whole number from 1 to 2147483647"),
        ("POST", f"{path}/publish", '{"version": 1.9}', "version: 1.9 is not a whole number"),
        ("POST", f"{path}/publish", "[1]", "the body must be a JSON object"),
        ("POST", "/api/knowledge/preview", "[1]", "the body must be a JSON object"),
        ("POST", "/api/articles", '{"id": "x-y", "title": "t", "moments": ["parcel_late"], '
                                  '"body": "b", "status": "published"}',
         "$.status: unknown field"),
    ]:
        reply = await desk.request(method, url, data=body.encode(), headers=headers)
        assert reply.status == 400, (url, await reply.text())
        assert says in (await reply.json())["error"], url


async def test_an_article_names_a_moment_without_brackets_or_garbage_fields(desk) -> None:  # type: ignore[no-untyped-def]
    headers = await content(desk)
    reply = await desk.post("/api/articles", headers=headers, json={
        **ARTICLE, "moments": "no_such_moment", "owner": {"a": 1}, "title": "a\u0000b"})
    assert reply.status == 422
    errors = {(e["field"], e["reason"]) for e in (await reply.json())["errors"]}
    assert ("owner", "must be text, got dict") in errors
    assert ("title", "contains control characters") in errors
    assert any(f == "moments" and "unknown moment 'no_such_moment'" in r for f, r in errors)


async def test_a_filter_or_history_that_names_nothing_says_so(desk) -> None:  # type: ignore[no-untyped-def]
    headers = await content(desk)
    bogus = await desk.get("/api/articles?status=bogus", headers=headers)
    assert bogus.status == 400 and "'bogus' is not one of draft, published, retired" in (
        await bogus.json())["error"]
    assert (await desk.get("/api/articles/nope/history", headers=headers)).status == 404
    assert (await desk.post("/api/articles", json=ARTICLE, headers=headers)).status == 201
    ahead = await desk.put(f"/api/articles/{ARTICLE['id']}", headers=headers,
                           json={**ARTICLE, "base_version": 99})
    assert ahead.status == 409
    assert "there is no version 99 to edit; the latest is version 1" in (
        await ahead.json())["error"]
