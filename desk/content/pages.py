"""The content staff's pages under /content (server-rendered, no front-end build)."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiDict

from desk.auth import current_user, require
from desk.content import service
from desk.content.state import CONTENT
from desk.content.wire import (
    ArticleDraft,
    WireInvalid,
    draft_from_form,
    gap_days_from,
    preview_from,
    version_from,
)
from desk.nlu_export import REDACTOR
from knowledge.articles import CHANNELS, STATUSES
from knowledge.store import ArticleConflict
from knowledge.validation import Problem, Review


async def _actor(request: web.Request) -> str:
    user = await current_user(request)
    assert user is not None
    return user.name


def _render(request: web.Request, name: str, context: dict[str, object],
            status: int = 200) -> web.Response:
    base = {"moments": request.app[CONTENT].moments, "all_channels": CHANNELS}
    return aiohttp_jinja2.render_template(f"content/{name}", request, {**base, **context},
                                          status=status)


@require("content")
async def index(request: web.Request) -> web.Response:
    status, text = request.query.get("status") or None, request.query.get("q") or None
    found = await request.app[CONTENT].store.list_articles(status, text)
    live = request.app[CONTENT].retriever.snapshot
    return _render(request, "list.html", {"articles": found, "status": status, "q": text or "",
                                          "statuses": STATUSES, "live": live})


@require("content")
async def new_form(request: web.Request) -> web.Response:
    return _render(request, "edit.html", {"draft": None, "review": None, "article_id": None})


@require("content")
async def create(request: web.Request) -> web.Response:
    draft = draft_from_form(await request.post())
    try:
        stored, _ = await service.create(request.app[CONTENT], draft, await _actor(request))
    except service.ContentInvalid as invalid:
        return _render(request, "edit.html", {"draft": draft, "review": invalid.review,
                                              "article_id": None}, status=422)
    except ArticleConflict as taken:  # the form again, with what was typed
        return _render(request, "edit.html", {
            "draft": draft, "review": Review(None, (Problem("id", taken.reason + ": choose "
                                                            "another id"),)),
            "article_id": None}, status=409)
    raise web.HTTPSeeOther(f"/content/articles/{stored.article.id}?done=created")


#: What the article's page says after each change (``?done=``).
DONE = {"publish": "Published: the bot and the agents use this version now.",
        "retire": "Retired: the bot and the agents no longer use it.",
        "rollback": "Rolled back: the bot and the agents use the version marked live.",
        "created": "Created as a draft: publish it to use it.",
        "saved": "Saved as a new version: publish it to use it."}


@require("content")
async def detail(request: web.Request) -> web.Response:
    state, article_id = request.app[CONTENT], request.match_info["article_id"]
    stored = await state.store.get(article_id)
    checked = await service.review(state, service.draft_of(stored.article))
    return _render(request, "detail.html", {
        "stored": stored, "article": stored.article, "review": checked,
        "versions": await state.store.versions(article_id),
        "history": await state.store.history(article_id, limit=50),
        "done": DONE.get(request.query.get("done") or "")})


@require("content")
async def edit_form(request: web.Request) -> web.Response:
    stored = await request.app[CONTENT].store.get(request.match_info["article_id"])
    return _render(request, "edit.html", {"draft": service.draft_of(stored.article),
                                          "review": None, "article_id": stored.article.id,
                                          "base_version": stored.article.version})


@require("content")
async def edit(request: web.Request) -> web.Response:
    article_id = request.match_info["article_id"]
    form = await request.post()
    unknown = None if str(form.get("base_version") or "").strip() else (
        "The form did not say which version you edited")  # the page always sends it
    try:
        draft = draft_from_form(form, article_id)
    except WireInvalid as invalid:
        if invalid.path != "base_version":
            raise
        # the hidden field came back broken (a tampered form, an old browser tab)
        unknown = (f"The form's version is broken ({invalid.reason}), so it is not known "
                   "which version you edited")
    if unknown is not None:  # kept like a conflict: saving again is a knowing choice
        fields = MultiDict(form)
        fields["base_version"] = ""
        return await _edit_again(request, draft_from_form(fields, article_id), unknown)
    try:
        await service.edit(request.app[CONTENT], draft, await _actor(request))
    except service.ContentInvalid as invalid:
        return _render(request, "edit.html", {"draft": draft, "review": invalid.review,
                                              "article_id": article_id,
                                              "base_version": draft.base_version}, status=422)
    except ArticleConflict as conflict:
        return await _edit_again(request, draft, conflict.reason)
    raise web.HTTPSeeOther(f"/content/articles/{article_id}?done=saved")


async def _edit_again(request: web.Request, draft: ArticleDraft, why: str) -> web.Response:
    """Someone saved meanwhile (or the form lost track of its version): the form again with
    this person's text, based on the latest version, so that saving again replaces it
    knowingly."""
    article_id = request.match_info["article_id"]
    latest = (await request.app[CONTENT].store.get(article_id)).article.version
    reason = (f"{why}. Your text is kept below; compare with version {latest} on the "
              "article's page, then save again to replace it with yours.")
    return _render(request, "edit.html", {"draft": draft,
                                          "review": Review(None, (Problem(None, reason),)),
                                          "article_id": article_id, "base_version": latest,
                                          "conflict_version": latest}, status=409)


@require("content")
async def change_live(request: web.Request) -> web.Response:
    action, article_id = request.match_info["action"], request.match_info["article_id"]
    form = await request.post()
    publisher, actor = request.app[CONTENT].publisher, await _actor(request)
    if action == "publish":
        await publisher.publish(article_id, actor, version_from(form, False))
    elif action == "retire":
        await publisher.retire(article_id, actor)
    else:
        await publisher.rollback(article_id, version_from(form, True) or 0, actor)
    raise web.HTTPSeeOther(f"/content/articles/{article_id}?done={action}")


@require("content")
async def preview(request: web.Request) -> web.Response:
    """?q=question[&moment=&channel=&draft=<article id: its latest version as if live>]"""
    state, query = request.app[CONTENT], request.query
    hits, question = None, query.get("q", "")
    if question.strip():
        wanted = preview_from(query)
        draft_id = query.get("draft") or None
        hits = (await service.preview_stored_draft(state, draft_id, wanted) if draft_id
                else await service.run_preview(state, wanted))
    return _render(request, "preview.html", {"q": question, "hits": hits, "query": query})


@require("content")
async def gaps(request: web.Request) -> web.Response:
    days = gap_days_from(request.query)
    groups = await service.gap_groups(request.app[CONTENT], request.app[REDACTOR], days)
    return _render(request, "gaps.html", {"groups": [g.to_json() for g in groups],
                                          "days": days})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/content", index)
    app.router.add_get("/content/", index)  # the desk's home sends content staff here
    app.router.add_get("/content/new", new_form)
    app.router.add_post("/content/new", create)
    app.router.add_get("/content/preview", preview)
    app.router.add_get("/content/gaps", gaps)
    app.router.add_get("/content/articles/{article_id}", detail)
    app.router.add_get("/content/articles/{article_id}/edit", edit_form)
    app.router.add_post("/content/articles/{article_id}/edit", edit)
    app.router.add_post(r"/content/articles/{article_id}/{action:publish|retire|rollback}",
                        change_live)
