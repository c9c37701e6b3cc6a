"""The article store: the source of truth for articles once the shipped files have seeded it.

Every save is a new immutable version; the article row says which version is live and its
status (draft / published / retired). Every change is written to an audit log (who, what,
when) in the same transaction. One SQLAlchemy Core implementation serves SQLite
(``sqlite+aiosqlite://``, the embedded default) and PostgreSQL (``postgresql+asyncpg://``),
in the desk's database.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from knowledge.articles import Article
from knowledge.store_schema import audit, meta, metadata, rows, versions

SEEDED = "seeded"


class ArticleNotFound(LookupError):
    """No article (or no such version of it) in the store."""

    def __init__(self, article_id: str, version: int | None = None) -> None:
        self.article_id, self.version = article_id, version
        what = f"article {article_id!r}" + (f" version {version}" if version else "")
        super().__init__(f"{what} does not exist")


class ArticleConflict(RuntimeError):
    """The change collides with another one (an existing id, or a newer version saved)."""

    def __init__(self, article_id: str, reason: str) -> None:
        self.article_id, self.reason = article_id, reason
        super().__init__(f"article {article_id!r}: {reason}")


@dataclass(frozen=True)
class StoredArticle:
    """An article's latest version plus where it stands.

    ``article.version`` is the latest saved version; ``live_version`` is the one customers
    get while the status is ``published`` (None before the first publication).
    """

    article: Article
    live_version: int | None
    created_at: float
    updated_at: float

    @property
    def has_unpublished_changes(self) -> bool:
        return self.article.status == "published" and self.live_version != self.article.version


@dataclass(frozen=True)
class AuditEntry:
    at: float
    actor: str
    action: str          # create | edit | publish | retire | rollback | import | seed
    article_id: str
    version: int | None
    detail: dict[str, Any]


class ArticleStore:
    """Articles, their versions and the audit log in one SQL database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @classmethod
    async def open(cls, url: str, seed: Sequence[Article] = ()) -> ArticleStore:
        """Creates the tables if needed and seeds them once (never again, even if emptied)."""
        options = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {}
        engine = create_async_engine(url, future=True, **options)
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        store = cls(engine)
        if seed:
            await store._seed(seed)
        return store

    async def close(self) -> None:
        await self._engine.dispose()

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    async def _seed(self, articles: Sequence[Article]) -> None:
        try:
            async with self._engine.begin() as connection:
                done = (await connection.execute(
                    sa.select(meta.c.value).where(meta.c.key == SEEDED))).first()
                if done is not None:
                    return
                await connection.execute(meta.insert().values(key=SEEDED, value=str(time.time())))
                for article in articles:
                    await _insert(connection, article, "seed", "seed", live=article.is_published
                                  or article.status == "retired")
        except IntegrityError:  # another process seeded at the same moment
            return

    async def create(self, article: Article, actor: str) -> StoredArticle:
        """Saves a new article as version 1, a draft: publishing is a separate, audited step.

        Raises:
            ArticleConflict: the id is taken (also by a retired article).
        """
        article = replace(article, version=1, status="draft", owner=article.owner or actor)
        try:
            async with self._engine.begin() as connection:
                await _insert(connection, article, actor, "create", live=False)
        except IntegrityError as error:
            raise ArticleConflict(article.id, "an article with this id exists") from error
        return await self.get(article.id)

    async def edit(self, article: Article, actor: str, base_version: int | None = None,
                   note: str = "") -> StoredArticle:
        """Saves ``article``'s content as the next version; what is live does not change.

        Args:
            base_version: the version the editor started from; if a newer one was saved
                meanwhile the edit is refused instead of silently overwriting it.

        Raises:
            ArticleNotFound, ArticleConflict.
        """
        try:
            async with self._engine.begin() as connection:
                row = await _row(connection, article.id)
                latest = row["latest_version"]
                if base_version is not None and base_version > latest:
                    raise ArticleConflict(article.id, f"there is no version {base_version} to "
                                          f"edit; the latest is version {latest}")
                if base_version is not None and base_version != latest:
                    raise ArticleConflict(article.id, f"version {latest} was saved after "
                                          f"version {base_version} you edited")
                article = replace(article, version=row["latest_version"] + 1,
                                  owner=article.owner or row["owner"])
                version = article.version
                await _add_version(connection, article, actor, note)
                await connection.execute(rows.update().where(rows.c.id == article.id).values(
                    latest_version=version, owner=article.owner, updated_at=time.time()))
                await _log(connection, actor, "edit", article.id, version, {"note": note})
        except IntegrityError as error:
            raise ArticleConflict(article.id, "saved by someone else at the same time") from error
        return await self.get(article.id)

    async def publish(self, article_id: str, actor: str, version: int | None = None
                      ) -> StoredArticle:
        """Makes ``version`` (default: the latest) the live one and the status published."""
        return await self._set_live(article_id, actor, "publish", version, "published")

    async def retire(self, article_id: str, actor: str) -> StoredArticle:
        """Takes the article out of the index; its versions and history stay."""
        return await self._set_live(article_id, actor, "retire", None, "retired")

    async def rollback(self, article_id: str, version: int, actor: str) -> StoredArticle:
        """Publishes the content of an old ``version`` as a new version (history only grows)."""
        old = await self.version(article_id, version)
        async with self._engine.begin() as connection:
            row = await _row(connection, article_id)
            new = replace(old, version=row["latest_version"] + 1, status="published")
            await _add_version(connection, new, actor, f"rollback to version {version}")
            await connection.execute(rows.update().where(rows.c.id == article_id).values(
                latest_version=new.version, live_version=new.version, status="published",
                updated_at=time.time()))
            await _log(connection, actor, "rollback", article_id, new.version,
                       {"restored": version})
        return await self.get(article_id)

    async def _set_live(self, article_id: str, actor: str, action: str, version: int | None,
                        status: str) -> StoredArticle:
        async with self._engine.begin() as connection:
            row = await _row(connection, article_id)
            live = row["live_version"] if action == "retire" else (
                version or row["latest_version"])
            if live is not None and not await _has_version(connection, article_id, live):
                raise ArticleNotFound(article_id, live)
            await connection.execute(rows.update().where(rows.c.id == article_id).values(
                live_version=live, status=status, updated_at=time.time()))
            await _log(connection, actor, action, article_id, live, {"was": row["status"]})
        return await self.get(article_id)

    async def get(self, article_id: str) -> StoredArticle:
        """The latest version with its status. Raises ArticleNotFound."""
        async with self._engine.connect() as connection:
            row = await _row(connection, article_id)
            article = await _version(connection, article_id, row["latest_version"])
        return _stored(row, article)

    async def version(self, article_id: str, version: int) -> Article:
        """One saved version's content (status ``draft`` unless it is the live one)."""
        async with self._engine.connect() as connection:
            row = await _row(connection, article_id)
            article = await _version(connection, article_id, version)
        return replace(article, status=row["status"] if version == row["live_version"]
                       else "draft")

    async def list_articles(self, status: str | None = None, text: str | None = None
                   ) -> list[StoredArticle]:
        """Articles by id, optionally only one status and those whose latest version mentions
        ``text`` (case-insensitive, in id, title, summary or body)."""
        query = _joined(rows.c.latest_version)
        if status:
            query = query.where(rows.c.status == status)
        if text:
            pattern = f"%{text.lower()}%"
            query = query.where(sa.or_(*(sa.func.lower(c).like(pattern) for c in (
                rows.c.id, versions.c.title, versions.c.summary, versions.c.body))))
        async with self._engine.connect() as connection:
            found = (await connection.execute(query.order_by(rows.c.id))).all()
        return [_stored({**r._mapping, "created_at": r.article_created_at}, _article(r._mapping))
                for r in found]

    async def published(self) -> list[Article]:
        """The live version of every published article: what the knowledge index holds."""
        query = _joined(rows.c.live_version).where(rows.c.status == "published").order_by(
            rows.c.id)
        async with self._engine.connect() as connection:
            found = (await connection.execute(query)).all()
        return [replace(_article(r._mapping), status="published") for r in found]

    async def versions(self, article_id: str) -> list[Article]:
        """Every saved version, newest first."""
        async with self._engine.connect() as connection:
            row = await _row(connection, article_id)
            found = (await connection.execute(sa.select(versions).where(
                versions.c.article_id == article_id).order_by(versions.c.version.desc()))).all()
        return [replace(_article(r._mapping), status=row["status"] if r.version ==
                        row["live_version"] else "draft") for r in found]

    async def history(self, article_id: str | None = None, limit: int = 200) -> list[AuditEntry]:
        """Audit entries, newest first; all articles' unless ``article_id`` is given."""
        query = sa.select(audit).order_by(audit.c.id.desc()).limit(limit)
        if article_id is not None:
            query = query.where(audit.c.article_id == article_id)
        async with self._engine.connect() as connection:
            found = (await connection.execute(query)).all()
        return [AuditEntry(r.at, r.actor, r.action, r.article_id, r.version,
                           json.loads(r.detail or "{}")) for r in found]


def _joined(version: sa.Column) -> sa.sql.Select:
    """Article rows joined to one of their versions; row columns keep unambiguous names."""
    return sa.select(versions, rows.c.status, rows.c.live_version, rows.c.latest_version,
                     rows.c.updated_at, rows.c.created_at.label("article_created_at")).join(
        rows, sa.and_(versions.c.article_id == rows.c.id, versions.c.version == version))


async def _insert(connection: AsyncConnection, article: Article, actor: str, action: str,
                  live: bool) -> None:
    now = time.time()
    await connection.execute(rows.insert().values(
        id=article.id, status=article.status, latest_version=article.version,
        live_version=article.version if live else None, owner=article.owner,
        created_at=now, updated_at=now))
    await _add_version(connection, article, actor, action)
    await _log(connection, actor, action, article.id, article.version, {"status": article.status})


async def _add_version(connection: AsyncConnection, article: Article, actor: str,
                       note: str) -> None:
    await connection.execute(versions.insert().values(
        article_id=article.id, version=article.version, title=article.title,
        summary=article.summary, body=article.body, moments=json.dumps(list(article.moments)),
        channels=json.dumps(list(article.channels)), owner=article.owner,
        created_at=time.time(), author=actor, note=note[:500]))


async def _log(connection: AsyncConnection, actor: str, action: str, article_id: str,
               version: int | None, detail: dict[str, Any]) -> None:
    await connection.execute(audit.insert().values(
        at=time.time(), actor=actor, action=action, article_id=article_id, version=version,
        detail=json.dumps(detail)))


async def _row(connection: AsyncConnection, article_id: str) -> Any:
    found = (await connection.execute(sa.select(rows).where(rows.c.id == article_id))).first()
    if found is None:
        raise ArticleNotFound(article_id)
    return found._mapping


async def _has_version(connection: AsyncConnection, article_id: str, version: int) -> bool:
    found = await connection.execute(sa.select(versions.c.version).where(
        versions.c.article_id == article_id, versions.c.version == version))
    return found.first() is not None


async def _version(connection: AsyncConnection, article_id: str, version: int) -> Article:
    found = (await connection.execute(sa.select(versions).where(
        versions.c.article_id == article_id, versions.c.version == version))).first()
    if found is None:
        raise ArticleNotFound(article_id, version)
    return _article(found._mapping)


def _article(data: Any) -> Article:
    return Article(
        id=data["article_id"], title=data["title"], body=data["body"],
        moments=tuple(json.loads(data["moments"])), channels=tuple(json.loads(data["channels"])),
        status="draft", version=int(data["version"]), owner=data["owner"] or "",
        summary=data["summary"] or "")


def _stored(row: Any, article: Article) -> StoredArticle:
    return StoredArticle(replace(article, status=row["status"]), row["live_version"],
                         row["created_at"], row["updated_at"])
