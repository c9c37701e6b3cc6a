"""Articles as files for review: export the store to a folder, import a folder back.

An exported and reviewed folder round-trips: unchanged articles stay as they are, changed
ones become new versions, and each file's status (published / retired) is applied.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from knowledge.articles import Article, render_article
from knowledge.store import ArticleNotFound, ArticleStore


async def export_articles(store: ArticleStore, directory: Path) -> int:
    """Writes every article's latest version as ``<id>.md``; returns how many."""
    directory.mkdir(parents=True, exist_ok=True)
    found = await store.list_articles()
    for stored in found:
        (directory / f"{stored.article.id}.md").write_text(render_article(stored.article),
                                                           encoding="utf-8")
    return len(found)


async def import_articles(store: ArticleStore, articles: Iterable[Article], actor: str
                          ) -> list[str]:
    """Creates new articles and saves changed ones as new versions; returns changed ids."""
    changed = []
    for article in articles:
        try:
            current = (await store.get(article.id)).article
        except ArticleNotFound:
            await store.create(article, actor)
            current = None
        if current is None or _content(current) != _content(article):
            if current is not None:
                await store.edit(article, actor, note="import")
            changed.append(article.id)
        if article.status == "published":
            await store.publish(article.id, actor)
        elif article.status == "retired" and (current is None or current.status != "retired"):
            await store.retire(article.id, actor)
    return changed


def _content(article: Article) -> tuple[object, ...]:
    return (article.title, article.summary, article.body, article.moments, article.channels,
            article.owner)
