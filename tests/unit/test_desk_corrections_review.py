"""Review of agent-corrected examples: roles, redaction, verdicts, audit, NLU YAML export."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
import yaml

from desk import audit
from desk import state as s
from desk.nlu_export import nlu_yaml
from desk.testing import csrf_from, desk_client, make_packet, sign_in

WORDS = "they charged me twice, write to ann.customer@example.com or +44 20 7946 0958"


@pytest.fixture
async def desk(tmp_path, aiohttp_client):  # type: ignore[no-untyped-def]
    client = await desk_client(aiohttp_client, tmp_path, {
        "ann": ("agent",), "sue": ("supervisor",), "cat": ("content",)})
    csrf = await sign_in(client, "ann", "ann-pw-1")
    service = client.service
    ids = []
    for moment, text in (("charged_twice", WORDS), ("cancel_order", "stop my order now")):
        created = await (await client.post("/api/handoffs", json=make_packet().to_json(),
                                           headers=service)).json()
        reply = await client.post(f"/api/desk/handoffs/{created['id']}/correction",
                                  headers={"X-CSRF-Token": csrf},
                                  json={"moment": moment, "text": text})
        ids.append((await reply.json())["id"])
    client.correction_ids = ids
    return client


async def _as(desk, name: str) -> str:  # type: ignore[no-untyped-def]
    """Signs ``name`` in instead; returns the CSRF token of the review page."""
    await desk.post("/logout", data={"csrf_token": csrf_from(
        await (await desk.get("/login")).text())})
    token = csrf_from(await (await desk.get("/login")).text())
    await desk.post("/login", data={"name": name, "password": f"{name}-pw-1",
                                    "csrf_token": token}, allow_redirects=False)
    return csrf_from(await (await desk.get("/content/corrections")).text())


async def test_agents_cannot_reach_the_review(desk) -> None:  # type: ignore[no-untyped-def]
    first = desk.correction_ids[0]
    assert (await desk.get("/content/corrections", allow_redirects=False)).status == 403
    assert (await desk.get("/content/corrections/export.yml")).status == 403
    page = await (await desk.get("/desk")).text()
    refused = await desk.post(f"/content/corrections/{first}/accept",
                              data={"csrf_token": csrf_from(page)}, allow_redirects=False)
    assert refused.status == 403


async def test_content_staff_review_redacted_examples_and_export_accepted(desk) -> None:  # type: ignore[no-untyped-def]
    accepted, dismissed = desk.correction_ids
    csrf = await _as(desk, "cat")
    page = await (await desk.get("/content/corrections")).text()
    assert "[EMAIL]" in page and "[PHONE]" in page and "ann.customer@example.com" not in page
    assert "parcel_late" in page and "81%" in page and "charged_twice" in page
    assert "<td>ann</td>" in page
    assert (await desk.post(f"/content/corrections/{accepted}/accept",
                            allow_redirects=False)).status == 403  # no CSRF token
    done = await desk.post(f"/content/corrections/{accepted}/accept",
                           data={"csrf_token": csrf}, allow_redirects=False)
    assert done.status == 303
    await desk.post(f"/content/corrections/{dismissed}/dismiss", data={"csrf_token": csrf})
    assert (await desk.post("/content/corrections/999/accept",
                            data={"csrf_token": csrf})).status == 404
    pending = await (await desk.get("/content/corrections")).text()
    assert f'data-correction="{accepted}"' not in pending
    rejected = await (await desk.get("/content/corrections?status=rejected")).text()
    assert f'data-correction="{dismissed}"' in rejected
    entries = await audit.entries(desk.server.app[s.STORE].engine)
    assert [(e.actor_name, e.action, e.subject) for e in entries] == [
        ("cat", "correction.rejected", f"correction:{dismissed}"),
        ("cat", "correction.accepted", f"correction:{accepted}")]
    export = await desk.get("/content/corrections/export.yml")
    assert "attachment" in export.headers["Content-Disposition"]
    data = yaml.safe_load(await export.text())
    assert data["version"] == "3.1"
    assert data["nlu"] == [{"intent": "charged_twice", "examples":
                            "- they charged me twice, write to [EMAIL] or [PHONE]\n"}]
    bad = await desk.get("/content/corrections?status=everything")
    assert bad.status == 422 and "'status' must be one of" in await bad.text()


async def test_supervisors_review_too(desk) -> None:  # type: ignore[no-untyped-def]
    await _as(desk, "sue")
    page = await desk.get("/content/corrections")
    assert page.status == 200 and 'href="/desk"' in await page.text()


def test_the_export_is_rasa_nlu_data() -> None:
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    text = nlu_yaml([("charged_twice", "charged   twice\nfor one order"),
                     ("charged_twice", "charged twice for one order"),
                     ("cancel_order", "cancel it: now! #please")],
                    now=datetime(2026, 1, 2, tzinfo=timezone.utc))
    assert text.startswith("# Agent-corrected examples accepted in the desk's review, "
                           "exported 2026-01-02 00:00 UTC.")
    data = RasaYAMLReader().reads(text)
    assert sorted((m.get("intent"), m.get("text")) for m in data.training_examples) == [
        ("cancel_order", "cancel it: now! #please"),
        ("charged_twice", "charged twice for one order")]


async def test_cli_writes_the_accepted_examples(desk, tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from desk.corrections_cli import main

    csrf = await _as(desk, "cat")
    await desk.post(f"/content/corrections/{desk.correction_ids[1]}/accept",
                    data={"csrf_token": csrf})
    monkeypatch.setenv("MOT_DATA_DIR", str(desk.settings.data_dir))
    target = tmp_path / "out.yml"
    code = await asyncio.get_running_loop().run_in_executor(
        None, main, ["export", "-o", str(target)])
    assert code == 0 and "wrote 1 accepted example(s)" in capsys.readouterr().err
    assert yaml.safe_load(target.read_text())["nlu"][0]["intent"] == "cancel_order"
