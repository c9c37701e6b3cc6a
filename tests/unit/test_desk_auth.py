"""Desk sign-in, sessions, roles, CSRF and the service token (in-process desk, SQLite)."""

from __future__ import annotations

import asyncio

import pytest

from desk.app import init_app
from desk.rasa_client import RecordingCustomerChannel
from desk.testing import csrf_from, desk_settings, make_packet, sign_in
from desk.users import create_user
from knowledge.embedder import HashingEmbedder


@pytest.fixture
async def desk(tmp_path, aiohttp_client):  # type: ignore[no-untyped-def]
    settings = desk_settings(tmp_path)
    for name, roles, skills in (("ann", ("agent",), ("delivery",)),
                                ("sue", ("supervisor",), ()),
                                ("cat", ("content",), ())):
        await create_user(settings.desk_database_url, name, f"{name}-pw-1", roles, skills,
                          rounds=4)
    app = init_app(settings, channel=RecordingCustomerChannel(),
                   embedder_factory=HashingEmbedder)
    client = await aiohttp_client(app)
    client.settings = settings
    return client


async def test_pages_redirect_to_login_and_api_answers_401(desk) -> None:  # type: ignore[no-untyped-def]
    page = await desk.get("/desk", allow_redirects=False)
    assert page.status == 302
    assert page.headers["Location"] in ("/login?next=%2Fdesk", "/login?next=/desk")
    api = await desk.get("/api/desk/queue")
    assert api.status == 401 and "error" in await api.json()
    assert (await desk.get("/api/handoffs")).status == 401
    assert (await desk.get("/api/anything-new")).status == 401


async def test_wrong_password_is_refused(desk) -> None:  # type: ignore[no-untyped-def]
    token = csrf_from(await (await desk.get("/login")).text())
    reply = await desk.post("/login", data={"name": "ann", "password": "nope",
                                            "csrf_token": token})
    assert reply.status == 401 and "Wrong name or password" in await reply.text()


async def test_login_needs_csrf_and_cookie_is_httponly_lax(desk) -> None:  # type: ignore[no-untyped-def]
    await desk.get("/login")
    refused = await desk.post("/login", data={"name": "ann", "password": "ann-pw-1"})
    assert refused.status == 403
    token = csrf_from(await (await desk.get("/login")).text())
    reply = await desk.post("/login", data={"name": "ann", "password": "ann-pw-1",
                                            "csrf_token": token, "next": "//evil.example/"},
                            allow_redirects=False)
    assert reply.status == 302 and reply.headers["Location"] == "/"
    cookie = reply.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


async def test_api_state_change_without_csrf_header_is_forbidden(desk) -> None:  # type: ignore[no-untyped-def]
    csrf = await sign_in(desk, "ann", "ann-pw-1")
    service = {"Authorization": f"Bearer {desk.settings.desk_token}"}
    created = await (await desk.post("/api/handoffs", json=make_packet().to_json(),
                                      headers=service)).json()
    path = f"/api/desk/handoffs/{created['id']}/claim"
    assert (await desk.post(path)).status == 403
    assert (await desk.post(path, headers={"X-CSRF-Token": "wrong"})).status == 403
    assert (await desk.post(path, headers={"X-CSRF-Token": csrf})).status == 200


async def test_roles_decide_what_is_seen(desk) -> None:  # type: ignore[no-untyped-def]
    service = {"Authorization": f"Bearer {desk.settings.desk_token}"}
    billing = await (await desk.post("/api/handoffs", headers=service, json=make_packet(
        skill="billing", moment="charged_twice").to_json())).json()
    await sign_in(desk, "ann", "ann-pw-1")  # delivery agent
    queue = await (await desk.get("/api/desk/queue")).json()
    assert billing["id"] not in [h["id"] for h in queue["queued"]]
    assert (await desk.get(f"/api/desk/handoffs/{billing['id']}")).status == 404
    assert (await desk.get(f"/desk/handoffs/{billing['id']}")).status == 404
    await desk.post("/logout", data={"csrf_token": csrf_from(
        await (await desk.get("/desk")).text())})
    await sign_in(desk, "sue", "sue-pw-1")  # supervisor: every queue
    queue = await (await desk.get("/api/desk/queue")).json()
    assert billing["id"] in [h["id"] for h in queue["queued"]]


async def test_content_staff_see_no_conversations(desk) -> None:  # type: ignore[no-untyped-def]
    token = csrf_from(await (await desk.get("/login")).text())
    await desk.post("/login", data={"name": "cat", "password": "cat-pw-1", "csrf_token": token},
                    allow_redirects=False)
    assert (await desk.get("/api/desk/queue")).status == 403
    assert (await desk.get("/desk", allow_redirects=False)).status == 403


async def test_service_token_is_checked(desk) -> None:  # type: ignore[no-untyped-def]
    wrong = await desk.post("/api/handoffs", json=make_packet().to_json(),
                            headers={"Authorization": "Bearer nope"})
    assert wrong.status == 401
    # the service token is for processes, not for the agents' API
    agent_api = await desk.get("/api/desk/queue",
                               headers={"Authorization": f"Bearer {desk.settings.desk_token}"})
    assert agent_api.status == 403  # known, but not a person: forbidden, not unknown
    assert "service token cannot do this" in (await agent_api.json())["error"]


async def test_create_user_rejects_bad_roles_and_duplicates(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from desk.users import UserInvalid

    url = desk_settings(tmp_path).desk_database_url
    await create_user(url, "zed", "pw", ("agent",), rounds=4)
    with pytest.raises(UserInvalid):
        await create_user(url, "zed", "pw", ("agent",), rounds=4)
    with pytest.raises(UserInvalid):
        await create_user(url, "yan", "pw", ("root",), rounds=4)


async def test_a_page_error_is_a_page_with_the_reason(desk) -> None:  # type: ignore[no-untyped-def]
    await sign_in(desk, "ann", "ann-pw-1")
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    missing = await desk.get("/desk/handoffs/nope", headers=browser)
    page = await missing.text()
    assert missing.status == 404 and missing.content_type == "text/html"
    assert 'id="error-title">Not found' in page and "no handoff nope" in page
    refused = await desk.get("/insight", headers=browser)  # an agent on the managers' page
    assert refused.status == 403 and "your role does not allow this" in await refused.text()
    assert refused.content_type == "text/html"
    api = await desk.get("/api/desk/handoffs/nope", headers=browser)  # the API: JSON still
    assert api.status == 404 and "error" in await api.json()


def test_the_users_command_refuses_unknown_skills_short_or_missing_passwords(
        tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from desk.users_cli import main

    monkeypatch.setenv("MOT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MOT_NEW_PASSWORD", "a-good-password")
    with pytest.raises(SystemExit):  # argparse: the valid skills are listed
        main(["add", "alex", "--role", "agent", "--skill", "delivry"])
    assert "invalid choice: 'delivry'" in capsys.readouterr().err
    monkeypatch.setenv("MOT_NEW_PASSWORD", "a")
    assert main(["add", "alex", "--role", "agent"]) == 2
    assert "MOT_NEW_PASSWORD has 1 characters; use at least 8" in capsys.readouterr().out
    monkeypatch.delenv("MOT_NEW_PASSWORD")
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["add", "alex", "--role", "agent"]) == 2
    assert "set MOT_NEW_PASSWORD (there is no terminal" in capsys.readouterr().out
    monkeypatch.setenv("MOT_NEW_PASSWORD", "a-good-password")
    assert main(["add", "alex", "--role", "agent", "--skill", "delivery"]) == 0


async def test_a_removed_user_is_signed_out_and_a_new_password_works(desk, monkeypatch,
                                                                     capsys) -> None:  # type: ignore[no-untyped-def]
    from desk.users_cli import main

    monkeypatch.setenv("MOT_DATA_DIR", str(desk.settings.data_dir))
    await sign_in(desk, "ann", "ann-pw-1")
    assert (await desk.get("/api/desk/queue")).status == 200
    monkeypatch.setenv("MOT_NEW_PASSWORD", "a-new-password")
    assert await asyncio.to_thread(main, ["passwd", "sue"]) == 0
    assert await asyncio.to_thread(main, ["passwd", "nobody"]) == 1
    assert await asyncio.to_thread(main, ["remove", "ann"]) == 0
    assert "removed ann" in capsys.readouterr().out
    assert (await desk.get("/api/desk/queue")).status == 401  # the session ended
    await sign_in(desk, "sue", "a-new-password")
    assert (await desk.get("/api/desk/queue")).status == 200
    monkeypatch.setenv("MOT_NEW_PASSWORD", "another-password")
    assert await asyncio.to_thread(main, ["passwd", "sue"]) == 0
    assert (await desk.get("/api/desk/queue")).status == 401  # the old password's session
    await sign_in(desk, "sue", "another-password")
    assert (await desk.get("/api/desk/queue")).status == 200
