"""The commands of ``python -m knowledge`` (see :mod:`knowledge.cli` for the usage)."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.pii import LazyRedactor
from bot.settings import Settings
from knowledge.articles import Article, ArticleError, load_articles, render_article
from knowledge.embedder import Embedder, SentenceTransformerEmbedder
from knowledge.gaps import gap_messages, group_gaps
from knowledge.preview import preview
from knowledge.publish import Publisher
from knowledge.retriever import Retriever
from knowledge.service import open_store
from knowledge.snapshot import (
    KnowledgeIndexUnavailable,
    StaleIndex,
    build_snapshot,
    load_current,
    snapshot_key,
)
from knowledge.store import ArticleStore, StoredArticle
from knowledge.transfer import export_articles, import_articles
from knowledge.validation import review_text


@dataclass
class Context:
    """What a command works with; the model is loaded only by commands that need it."""

    settings: Settings
    embedder_factory: Callable[[], Embedder]
    known_moments: list[str]
    store: ArticleStore | None = None
    _embedder: Embedder | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, factory: Callable[[], Embedder] | None
                      ) -> Context:
        from bot.catalogue import load_catalogue

        factory = factory or (lambda: SentenceTransformerEmbedder(settings.embedding_model))
        return cls(settings, factory, load_catalogue(settings.catalogue_path).ids)

    async def open(self) -> None:
        self.store = await open_store(self.settings.desk_database_url,
                                      self.settings.articles_dir, self.known_moments)

    async def close(self) -> None:
        if self.store is not None:
            await self.store.close()

    @property
    def articles(self) -> ArticleStore:
        assert self.store is not None, "open() first"
        return self.store

    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = self.embedder_factory()
        return self._embedder

    async def retriever(self) -> Retriever:
        """The live index, read only: when it was built from other articles or with another
        model than this command's, an index built in memory for the command; what customers
        are served never changes here (publishing does that)."""
        embedder = self.embedder()
        articles = await self.articles.published()
        try:
            snapshot = load_current(self.settings.knowledge_dir,
                                    snapshot_key(articles, embedder.model_name),
                                    embedder.model_name)
        except (KnowledgeIndexUnavailable, StaleIndex) as reason:
            print(f"knowledge: the live index does not fit this command ({reason}); "
                  f"using one built in memory, the live one unchanged", file=sys.stderr)
            snapshot = await asyncio.get_running_loop().run_in_executor(
                None, build_snapshot, articles, embedder)
        return Retriever(snapshot, embedder)

    def publisher(self) -> Publisher:
        return Publisher(self.articles, self.embedder(), self.settings.knowledge_dir)


def _line(stored: StoredArticle) -> str:
    article = stored.article
    live = f"live v{stored.live_version}" if stored.live_version else "never published"
    pending = " (unpublished changes)" if stored.has_unpublished_changes else ""
    return (f"{article.id:34} {article.status:9} v{article.version:<3} {live}{pending}  "
            f"{article.title}")


def _text_of(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ArticleError(str(path), f"not UTF-8 text ({error.reason} at byte "
                                      f"{error.start})") from error


def _read(path: Path, context: Context) -> Article:
    """Parses and reviews an article file; prints warnings, raises on errors."""
    review = review_text(_text_of(path), context.known_moments,
                         source=str(path))
    article = review.raise_for_errors(str(path))
    for warning in review.warnings:
        print(f"warning: {warning}")
    return article


async def cmd_list(context: Context, args: argparse.Namespace) -> int:
    found = await context.articles.list_articles(getattr(args, "status", None), args.text)
    for stored in found:
        print(_line(stored))
    print(f"{len(found)} article(s)")
    return 0


async def cmd_show(context: Context, args: argparse.Namespace) -> int:
    if args.version:
        article = await context.articles.version(args.id, args.version)
    else:
        article = (await context.articles.get(args.id)).article
    print(render_article(article), end="")
    return 0


async def cmd_validate(context: Context, args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    retriever = await context.retriever()
    review = await loop.run_in_executor(None, lambda: review_text(
        _text_of(args.path), context.known_moments, retriever,
        str(args.path)))
    for error in review.errors:
        print(f"error: {error}")
    for warning in review.warnings:
        print(f"warning: {warning}")
    print("ok" if review.ok else f"{len(review.errors)} error(s)")
    return 0 if review.ok else 2


async def cmd_create(context: Context, args: argparse.Namespace) -> int:
    stored = await context.articles.create(_read(args.path, context), args.user)
    print(f"created {_line(stored)}")
    return 0


async def cmd_import(context: Context, args: argparse.Namespace) -> int:
    path: Path = args.path
    articles = (load_articles(path, context.known_moments) if path.is_dir()
                else [_read(path, context)])
    if not articles:
        raise ArticleError(str(path), "no article files (*.md) to import")
    changed = await import_articles(context.articles, articles, args.user)
    if any(a.status != "draft" for a in articles):
        await context.publisher().rebuild()
    print(f"imported {len(articles)} article(s); changed: {', '.join(changed) or 'none'}")
    return 0


async def cmd_edit(context: Context, args: argparse.Namespace) -> int:
    article = _read(args.path, context)
    if article.id != args.id:
        raise ArticleError(str(args.path), f"id {article.id!r} is not {args.id!r}", "id")
    stored = await context.articles.edit(article, args.user, args.base_version, args.note)
    print(f"saved {_line(stored)}")
    return 0


async def _live(context: Context, action: str, args: argparse.Namespace) -> int:
    started = time.perf_counter()
    publisher = context.publisher()
    if action == "publish":
        stored, snapshot = await publisher.publish(args.id, args.user, args.version)
    elif action == "retire":
        stored, snapshot = await publisher.retire(args.id, args.user)
    else:
        stored, snapshot = await publisher.rollback(args.id, args.version, args.user)
    print(f"{action}: {_line(stored)}")
    print(f"live index {snapshot.key}: {len(snapshot.articles)} articles, "
          f"{len(snapshot.passages)} passages ({time.perf_counter() - started:.2f} s)")
    return 0


async def cmd_history(context: Context, args: argparse.Namespace) -> int:
    for entry in await context.articles.history(args.id):
        when = datetime.datetime.fromtimestamp(entry.at, datetime.timezone.utc)
        version = f"v{entry.version}" if entry.version else ""
        detail = json.dumps(entry.detail) if entry.detail else ""
        print(f"{when:%Y-%m-%d %H:%M:%S}Z {entry.actor:16} {entry.action:9} "
              f"{entry.article_id} {version} {detail}")
    return 0


async def cmd_export(context: Context, args: argparse.Namespace) -> int:
    count = await export_articles(context.articles, args.directory)
    print(f"exported {count} article(s) to {args.directory}")
    return 0


async def cmd_preview(context: Context, args: argparse.Namespace) -> int:
    draft = _read(args.draft, context) if args.draft else None
    retriever = await context.retriever()
    hits = await asyncio.get_running_loop().run_in_executor(None, lambda: preview(
        retriever, args.question, args.k, args.moment, args.channel, draft))
    for rank, hit in enumerate(hits, 1):
        tag = " [draft]" if hit.is_draft else ""
        print(f"{rank}. {hit.score:.3f}  {hit.article_id} v{hit.version}{tag}: {hit.title}")
        print(f"   why: {hit.passage[:160]}")
    if not hits:
        print("no article comes back")
    return 0


async def cmd_gaps(context: Context, args: argparse.Namespace) -> int:
    messages = await gap_messages(context.articles, since=time.time() - args.days * 86400,
                                  redact=LazyRedactor().redact)  # (knowledge.gaps)
    retriever = await context.retriever()
    groups = await asyncio.get_running_loop().run_in_executor(
        None, lambda: group_gaps(messages, context.embedder(), retriever=retriever))
    for group in groups:
        data: dict[str, Any] = group.to_json()
        print(f"{data['count']:4}  moments {data['moments']}  reasons {data['reasons']}")
        for example in data["examples"]:
            print(f"        - {example}")
    print(f"{len(messages)} message(s) in {len(groups)} group(s)")
    return 0


async def cmd_search(context: Context, args: argparse.Namespace) -> int:
    return await cmd_list(context, args)


def _action(name: str) -> Callable[[Context, argparse.Namespace], Awaitable[int]]:
    async def run(context: Context, args: argparse.Namespace) -> int:
        return await _live(context, name, args)
    return run


COMMANDS: dict[str, Callable[[Context, argparse.Namespace], Awaitable[int]]] = {
    "list": cmd_list, "search": cmd_search, "show": cmd_show, "validate": cmd_validate,
    "create": cmd_create, "import": cmd_import, "edit": cmd_edit,
    "publish": _action("publish"), "retire": _action("retire"), "rollback": _action("rollback"),
    "history": cmd_history, "export": cmd_export, "preview": cmd_preview, "gaps": cmd_gaps,
}
