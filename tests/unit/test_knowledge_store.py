"""The article store: versions, status, owner, audit log, seeding, import and export.

Runs against SQLite always and against PostgreSQL when ``MOT_TEST_POSTGRES_URL`` names one
(``postgresql+asyncpg://...``); the same contract holds for both.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from knowledge.articles import Article
from knowledge.store import ArticleConflict, ArticleNotFound, ArticleStore
from knowledge.transfer import export_articles, import_articles

URLS = ["sqlite"] + (["postgres"] if os.environ.get("MOT_TEST_POSTGRES_URL") else [])


def article(article_id: str, title: str = "Track a late parcel", **fields: object) -> Article:
    return Article(id=article_id, title=title, body=f"{title}. 1. Open the e-mail.",
                   moments=("parcel_late",), **fields)  # type: ignore[arg-type]


SEED = [article("seed-live", status="published", version=3),
        article("seed-draft", status="draft"),
        article("seed-old", status="retired")]


@pytest.fixture(params=URLS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ArticleStore]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}"
    else:
        url = os.environ["MOT_TEST_POSTGRES_URL"]
    opened = await ArticleStore.open(url, seed=SEED)
    if request.param == "postgres":  # a shared database: start from the seed only
        from knowledge.store_schema import metadata

        async with opened.engine.begin() as connection:
            await connection.run_sync(metadata.drop_all)
        await opened.close()
        opened = await ArticleStore.open(url, seed=SEED)
    yield opened
    await opened.close()


async def test_seed_sets_status_and_live_versions_once(store: ArticleStore) -> None:
    listed = {s.article.id: s for s in await store.list_articles()}
    assert listed["seed-live"].article.status == "published"
    assert listed["seed-live"].live_version == 3
    assert listed["seed-draft"].live_version is None
    assert [a.id for a in await store.published()] == ["seed-live"]
    await store._seed([article("another", status="published")])
    assert "another" not in {s.article.id for s in await store.list_articles()}


async def test_edit_makes_a_new_version_and_publish_makes_it_live(store: ArticleStore) -> None:
    await store.create(article("late-fix", owner="ana@example.com"), actor="ana")
    edited = await store.edit(article("late-fix", title="Late parcel: what to do"), "bo",
                              base_version=1)
    assert edited.article.version == 2 and edited.article.status == "draft"
    assert await store.published() == [a for a in await store.published()
                                       if a.id != "late-fix"]
    live = await store.publish("late-fix", "bo")
    assert live.live_version == 2 and live.article.status == "published"
    assert live.article.owner == "ana@example.com"
    published = {a.id: a for a in await store.published()}
    assert published["late-fix"].title == "Late parcel: what to do"
    assert published["late-fix"].version == 2


async def test_editing_a_published_article_keeps_the_live_version(store: ArticleStore) -> None:
    await store.edit(article("seed-live", title="Reworded"), "ana")
    stored = await store.get("seed-live")
    assert stored.has_unpublished_changes and stored.live_version == 3
    assert {a.id: a for a in await store.published()}["seed-live"].title != "Reworded"


async def test_stale_edit_is_refused(store: ArticleStore) -> None:
    await store.edit(article("seed-draft", title="First"), "ana", base_version=1)
    with pytest.raises(ArticleConflict, match="was saved after version 1"):
        await store.edit(article("seed-draft", title="Second"), "bo", base_version=1)


async def test_rollback_republishes_old_content_as_a_new_version(store: ArticleStore) -> None:
    await store.edit(article("seed-live", title="Broken wording"), "ana")
    await store.publish("seed-live", "ana")
    rolled = await store.rollback("seed-live", 3, "bo")
    assert rolled.article.version == 5 and rolled.live_version == 5
    assert rolled.article.title == "Track a late parcel"
    assert [v.version for v in await store.versions("seed-live")] == [5, 4, 3]


async def test_retire_removes_from_published_and_keeps_history(store: ArticleStore) -> None:
    await store.retire("seed-live", "ana")
    assert await store.published() == []
    assert (await store.get("seed-live")).article.status == "retired"
    actions = [(e.action, e.actor) for e in await store.history("seed-live")]
    assert actions == [("retire", "ana"), ("seed", "seed")]


async def test_audit_log_says_who_did_what_when(store: ArticleStore) -> None:
    await store.create(article("new-one"), "ana")
    await store.edit(article("new-one", title="Better"), "bo", note="clearer title")
    await store.publish("new-one", "cy")
    entries = await store.history("new-one")
    assert [(e.action, e.actor, e.version) for e in entries] == [
        ("publish", "cy", 2), ("edit", "bo", 2), ("create", "ana", 1)]
    assert entries[1].detail == {"note": "clearer title"}
    assert entries[0].at >= entries[2].at > 0


async def test_errors_name_the_article(store: ArticleStore) -> None:
    with pytest.raises(ArticleConflict, match="exists"):
        await store.create(article("seed-old"), "ana")
    with pytest.raises(ArticleNotFound, match="'nope'"):
        await store.publish("nope", "ana")
    with pytest.raises(ArticleNotFound, match="version 9"):
        await store.rollback("seed-live", 9, "ana")
    with pytest.raises(ArticleNotFound, match="version 7"):
        await store.publish("seed-live", "ana", version=7)


async def test_list_filters_by_status_and_text(store: ArticleStore) -> None:
    await store.create(article("refund-time", title="When your refund arrives"), "ana")
    assert [s.article.id for s in await store.list_articles(text="REFUND")] == ["refund-time"]
    assert [s.article.id for s in await store.list_articles(status="retired")] == ["seed-old"]


async def test_import_creates_changes_and_publishes(store: ArticleStore) -> None:
    incoming = [article("seed-live", status="published", version=3),   # unchanged
                replace(article("seed-draft", title="Reviewed"), status="published"),
                article("brand-new", status="draft")]
    changed = await import_articles(store, incoming, "reviewer")
    assert changed == ["seed-draft", "brand-new"]
    assert (await store.get("seed-live")).article.version == 3
    assert (await store.get("seed-draft")).live_version == 2
    assert (await store.get("brand-new")).article.status == "draft"


async def test_export_then_import_round_trips(store: ArticleStore, tmp_path: Path) -> None:
    from knowledge.articles import load_articles

    assert await export_articles(store, tmp_path / "review") == 3
    exported = load_articles(tmp_path / "review")
    assert await import_articles(store, exported, "reviewer") == []
    assert (await store.get("seed-live")).article.version == 3
