"""Content operations shared by the JSON API and the pages; blocking work in an executor."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from desk.content.state import ContentState
from desk.content.wire import ArticleDraft, PreviewRequest, WireInvalid
from desk.nlu_export import LazyRedactor
from knowledge.articles import CHANNELS, Article
from knowledge.gaps import GapGroup, gap_messages, group_gaps
from knowledge.preview import PreviewHit, preview
from knowledge.store import StoredArticle
from knowledge.validation import Review, review_fields


class ContentInvalid(ValueError):
    """A draft has errors; carries the whole review for the response."""

    def __init__(self, review: Review) -> None:
        self.review = review
        super().__init__("; ".join(str(p) for p in review.errors))


async def review(state: ContentState, draft: ArticleDraft) -> Review:
    """Every error, plus near-duplicate warnings against the live articles."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, lambda: review_fields(
        dict(draft.meta), draft.body, state.moment_ids, state.retriever))


async def create(state: ContentState, draft: ArticleDraft, actor: str
                 ) -> tuple[StoredArticle, Review]:
    checked = await review(state, draft)
    if not checked.ok or checked.article is None:
        raise ContentInvalid(checked)
    return await state.store.create(checked.article, actor), checked


async def edit(state: ContentState, draft: ArticleDraft, actor: str
               ) -> tuple[StoredArticle, Review]:
    checked = await review(state, draft)
    if not checked.ok or checked.article is None:
        raise ContentInvalid(checked)
    stored = await state.store.edit(checked.article, actor, draft.base_version, draft.note)
    return stored, checked


def _check_filters(state: ContentState, request: PreviewRequest) -> None:
    """A preview's moment and channel must exist: a typo would otherwise find nothing."""
    if request.moment is not None and request.moment not in state.moment_ids:
        raise WireInvalid("moment", f"no moment {request.moment[:100]!r} in the catalogue")
    if request.channel is not None and request.channel not in CHANNELS:
        raise WireInvalid("channel", f"{request.channel[:50]!r} is not one of "
                                     f"{', '.join(CHANNELS)}")


async def run_preview(state: ContentState, request: PreviewRequest) -> list[PreviewHit]:
    _check_filters(state, request)
    draft: Article | None = None
    if request.draft is not None:
        checked = await review(state, request.draft)
        if not checked.ok or checked.article is None:
            raise ContentInvalid(checked)
        draft = checked.article
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, lambda: preview(
        state.retriever, request.question, request.k, request.moment, request.channel, draft))


async def preview_stored_draft(state: ContentState, article_id: str, request: PreviewRequest
                               ) -> list[PreviewHit]:
    """Preview with an article's latest saved version in place of its live one."""
    _check_filters(state, request)
    article = (await state.store.get(article_id)).article
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, lambda: preview(
        state.retriever, request.question, request.k, request.moment, request.channel,
        article))


async def gap_groups(state: ContentState, redactor: LazyRedactor, days: float = 30.0
                     ) -> list[GapGroup]:
    """The gaps of the last ``days``, personal data redacted (content staff never see
    conversations)."""
    messages = await gap_messages(state.store, since=time.time() - days * 86400,
                                  redact=redactor.redact)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, lambda: group_gaps(
        messages, state.retriever.embedder, retriever=state.retriever))


def article_json(stored: StoredArticle) -> dict[str, Any]:
    article = stored.article
    return {"id": article.id, "title": article.title, "summary": article.summary,
            "body": article.body, "moments": list(article.moments),
            "channels": list(article.channels), "status": article.status,
            "version": article.version, "live_version": stored.live_version,
            "owner": article.owner, "updated_at": stored.updated_at,
            "unpublished_changes": stored.has_unpublished_changes}


def draft_of(article: Article) -> ArticleDraft:
    """A saved article as a form draft (to edit it, or to review it again)."""
    meta = {"id": article.id, "title": article.title, "summary": article.summary,
            "owner": article.owner, "moments": list(article.moments),
            "channels": list(article.channels)}
    return ArticleDraft(meta, article.body, article.version)
