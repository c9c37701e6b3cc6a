"""The review of agent-corrected moment examples: ``/content/corrections``.

Supervisors and content staff (never agents: they made the corrections) see each example
with the customer's words redacted, the bot's moment and confidence, the agent's moment,
who and when; they accept or dismiss it (form posts, CSRF-checked by :mod:`desk.auth`,
audited by :mod:`desk.corrections`), and download the accepted ones as Rasa NLU YAML for
the catalogue maintainers.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp_jinja2
from aiohttp import web

from desk import state as s
from desk.auth import current_user, require, utc_time
from desk.corrections import STATUSES, CorrectionStore
from desk.nlu_export import REDACTOR, LazyRedactor, export_accepted
from desk.wire import RequestInvalid

REVIEWERS = ("supervisor", "content")
VERDICTS = {"accept": "accepted", "dismiss": "rejected"}


@dataclass(frozen=True)
class ReviewRow:
    """One example as the review page shows it (``text`` already redacted)."""

    id: int
    text: str
    bot_moment: str | None
    bot_confidence: float | None
    agent_moment: str
    agent_name: str
    at: str
    status: str


def _store(request: web.Request) -> CorrectionStore:
    return CorrectionStore(request.app[s.STORE].engine)


def _status(request: web.Request) -> str:
    status = request.query.get("status") or "pending_review"
    if status not in STATUSES:
        raise RequestInvalid(f"'status' must be one of {', '.join(STATUSES)}")
    return status


@require(*REVIEWERS)
async def review_page(request: web.Request) -> web.Response:
    status = _status(request)
    found = await _store(request).with_bot_guess(status)
    names = {u.id: u.name for u in await request.app[s.USERS_STORE].all()}
    texts = await request.app[REDACTOR].redact([c.text for c, _ in found])
    rows = [ReviewRow(c.id, text, guess.moment, guess.confidence, c.corrected,
                      names.get(c.agent_id, "(removed user)"), utc_time(c.at), c.status)
            for (c, guess), text in zip(found, texts, strict=True)]
    return aiohttp_jinja2.render_template("corrections.html", request, {
        "rows": rows, "status": status, "statuses": STATUSES,
        "done": request.query.get("done")})


@require(*REVIEWERS)
async def review(request: web.Request) -> web.Response:
    """Accept or dismiss one example; back to the list it was on."""
    user = await current_user(request)
    assert user is not None
    verdict = VERDICTS[request.match_info["verdict"]]
    back = str((await request.post()).get("status") or "pending_review")
    await _store(request).review(int(request.match_info["id"]), verdict, user)
    back = back if back in STATUSES else "pending_review"
    raise web.HTTPSeeOther(f"/content/corrections?status={back}&done={verdict}")


@require(*REVIEWERS)
async def export(request: web.Request) -> web.Response:
    """The accepted examples as ``corrections-nlu.yml`` (Rasa NLU, ``version: "3.1"``)."""
    found = await _store(request).list("accepted", limit=100_000)
    text = await export_accepted(found, request.app[REDACTOR])
    return web.Response(text=text, content_type="application/x-yaml", headers={
        "Content-Disposition": 'attachment; filename="corrections-nlu.yml"'})


def add_review_routes(app: web.Application) -> None:
    app[REDACTOR] = LazyRedactor()
    app.router.add_get("/content/corrections", review_page)
    app.router.add_get("/content/corrections/export.yml", export)
    app.router.add_post(r"/content/corrections/{id:\d+}/{verdict:accept|dismiss}", review)
