"""The content JSON API under /api/articles and /api/knowledge.

Reads: content staff, supervisors, or the service token. Changes: content staff only
(signed in; the session's CSRF token in ``X-CSRF-Token``). Errors become statuses in
:func:`desk.content.errors.content_errors`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot import strict_json
from desk.auth import current_user, require
from desk.content import service
from desk.content.state import CONTENT
from desk.content.wire import (
    WireInvalid,
    draft_from_json,
    gap_days_from,
    json_object,
    preview_from,
    version_from,
)
from desk.nlu_export import REDACTOR
from knowledge.articles import STATUSES

READERS = ("content", "supervisor")


async def _json(request: web.Request) -> Any:
    raw = await request.read()
    return strict_json.loads(raw) if raw else {}


async def _actor(request: web.Request) -> str:
    user = await current_user(request)
    assert user is not None, "require() admits only signed-in users to changes"
    return user.name


@require(*READERS, service=True)
async def list_articles(request: web.Request) -> web.Response:
    status = request.query.get("status") or None
    if status is not None and status not in STATUSES:
        raise WireInvalid("status", f"{status!r} is not one of {', '.join(STATUSES)}")
    found = await request.app[CONTENT].store.list_articles(status, request.query.get("q") or None)
    return web.json_response([service.article_json(s) for s in found])


@require(*READERS, service=True)
async def get_article(request: web.Request) -> web.Response:
    store = request.app[CONTENT].store
    article_id = request.match_info["article_id"]
    stored = await store.get(article_id)
    versions = [{"version": a.version, "title": a.title, "status": a.status}
                for a in await store.versions(article_id)]
    return web.json_response({**service.article_json(stored), "versions": versions})


@require("content")
async def create_article(request: web.Request) -> web.Response:
    draft = draft_from_json(await _json(request))
    stored, review = await service.create(request.app[CONTENT], draft, await _actor(request))
    return web.json_response({"article": service.article_json(stored), **review.to_json()},
                             status=201)


@require("content")
async def edit_article(request: web.Request) -> web.Response:
    draft = draft_from_json(await _json(request), request.match_info["article_id"])
    stored, review = await service.edit(request.app[CONTENT], draft, await _actor(request))
    return web.json_response({"article": service.article_json(stored), **review.to_json()})


@require("content")
async def change_live(request: web.Request) -> web.Response:
    """publish (optional ``version``), retire, or rollback (``version`` required)."""
    action, article_id = request.match_info["action"], request.match_info["article_id"]
    body = json_object(await _json(request))
    publisher, actor = request.app[CONTENT].publisher, await _actor(request)
    if action == "publish":
        stored, snapshot = await publisher.publish(article_id, actor, version_from(body, False))
    elif action == "retire":
        stored, snapshot = await publisher.retire(article_id, actor)
    else:
        stored, snapshot = await publisher.rollback(article_id, version_from(body, True) or 0,
                                                    actor)
    return web.json_response({"article": service.article_json(stored),
                              "knowledge": snapshot.key})


@require(*READERS, service=True)
async def history(request: web.Request) -> web.Response:
    store, article_id = request.app[CONTENT].store, request.match_info["article_id"]
    await store.get(article_id)  # ArticleNotFound: 404, as for the article itself
    entries = await store.history(article_id)
    return web.json_response([{"at": e.at, "actor": e.actor, "action": e.action,
                               "version": e.version, "detail": e.detail} for e in entries])


@require("content")
async def validate(request: web.Request) -> web.Response:
    review = await service.review(request.app[CONTENT], draft_from_json(await _json(request)))
    return web.json_response(review.to_json(), status=200 if review.ok else 422)


@require(*READERS, service=True)
async def preview(request: web.Request) -> web.Response:
    body = json_object(await _json(request)) if request.method == "POST" else dict(request.query)
    draft = draft_from_json(body["draft"]) if isinstance(body.get("draft"), dict) else None
    hits = await service.run_preview(request.app[CONTENT], preview_from(body, draft))
    return web.json_response({"question": body.get("question") or body.get("q"),
                              "hits": [h.to_json() for h in hits]})


@require(*READERS, service=True)
async def gaps(request: web.Request) -> web.Response:
    groups = await service.gap_groups(request.app[CONTENT], request.app[REDACTOR],
                                      gap_days_from(request.query))
    return web.json_response([g.to_json() for g in groups])


@require(*READERS, service=True)
async def status(request: web.Request) -> web.Response:
    snapshot = request.app[CONTENT].retriever.snapshot
    manifest = snapshot.manifest
    return web.json_response({"knowledge": snapshot.key, "articles": len(snapshot.articles),
                              "passages": len(snapshot.passages),
                              "index_kind": manifest.get("index_kind"),
                              "model": manifest.get("model"), "built_at": manifest.get("built_at")})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/articles", list_articles)
    app.router.add_post("/api/articles", create_article)
    app.router.add_get("/api/articles/{article_id}", get_article)
    app.router.add_put("/api/articles/{article_id}", edit_article)
    app.router.add_get("/api/articles/{article_id}/history", history)
    app.router.add_post(r"/api/articles/{article_id}/{action:publish|retire|rollback}",
                        change_live)
    app.router.add_post("/api/knowledge/validate", validate)
    app.router.add_get("/api/knowledge/preview", preview)
    app.router.add_post("/api/knowledge/preview", preview)
    app.router.add_get("/api/knowledge/gaps", gaps)
    app.router.add_get("/api/knowledge/status", status)
