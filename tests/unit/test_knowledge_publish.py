"""Publishing: store changes become the live snapshot atomically, and followers swap it in."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from knowledge.articles import Article
from knowledge.embedder import HashingEmbedder
from knowledge.publish import Publisher, ensure_live_snapshot, prune_snapshots
from knowledge.retriever import Retriever
from knowledge.snapshot import current_key, load_current, snapshot_key
from knowledge.store import ArticleStore

SEED = [
    Article(id="parcel-late", title="Parcel late", body="Track the late parcel, wait two days.",
            moments=("parcel_late",)),
    Article(id="charged-twice", title="Charged twice", body="The pending payment drops off.",
            moments=("charged_twice",)),
]
NEW = Article(id="fittings-missing", title="Fittings missing",
              body="Order a free fittings bag with screws and dowels.", moments=("item_missing",))


class CountingEmbedder(HashingEmbedder):
    """Counts the texts it encodes, to prove unchanged passages are not re-embedded."""

    def __init__(self) -> None:
        super().__init__(64)
        self.encoded = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.encoded += len(texts)
        return super().encode(texts)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[ArticleStore]:
    opened = await ArticleStore.open(f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}", seed=SEED)
    yield opened
    await opened.close()


async def test_publish_retire_rollback_change_the_live_snapshot(store: ArticleStore,
                                                                tmp_path: Path) -> None:
    embedder = CountingEmbedder()
    knowledge = tmp_path / "knowledge"
    first = await ensure_live_snapshot(store, knowledge, lambda: embedder, embedder.model_name)
    follower = Retriever(first, embedder)
    publisher = Publisher(store, embedder, knowledge)
    await store.create(NEW, "ana")
    encoded_before = embedder.encoded
    _, snapshot = await publisher.publish(NEW.id, "ana")
    assert embedder.encoded - encoded_before == 2  # only the new article's two passages
    assert follower.reload_if_changed(knowledge)
    assert follower.search("screws and dowels", k=1)[0].article.id == NEW.id
    assert snapshot.key == snapshot_key(await store.published(), embedder.model_name)
    await publisher.retire(NEW.id, "ana")
    follower.reload_if_changed(knowledge)
    assert NEW.id not in follower.snapshot.articles
    await store.edit(Article(id="parcel-late", title="Parcel late", body="Wrong advice.",
                             moments=("parcel_late",)), "bo")
    await publisher.publish("parcel-late", "bo")
    _, rolled = await publisher.rollback("parcel-late", 1, "ana")
    follower.reload_if_changed(knowledge)
    assert follower.snapshot.articles["parcel-late"].body.startswith("Track")
    assert follower.snapshot.articles["parcel-late"].version == 3
    assert rolled.key == current_key(knowledge)


async def test_concurrent_publishers_leave_the_store_state_live(store: ArticleStore,
                                                                tmp_path: Path) -> None:
    knowledge = tmp_path / "knowledge"
    embedder = HashingEmbedder()
    await store.create(NEW, "ana")
    one, two = (Publisher(store, embedder, knowledge) for _ in range(2))
    await asyncio.gather(one.publish(NEW.id, "ana"), two.retire("charged-twice", "bo"))
    live = load_current(knowledge)
    assert set(live.articles) == {"parcel-late", NEW.id}


async def test_searches_during_publications_never_fail_or_mix(store: ArticleStore,
                                                              tmp_path: Path) -> None:
    """Readers in threads while snapshots are swapped: every answer is whole and consistent."""
    knowledge = tmp_path / "knowledge"
    embedder = HashingEmbedder()
    follower = Retriever(await ensure_live_snapshot(store, knowledge, lambda: embedder,
                                                    embedder.model_name), embedder)
    publisher = Publisher(store, embedder, knowledge)
    stop, failures, answers = threading.Event(), [], []

    def read() -> None:
        while not stop.is_set():
            try:
                snapshot = follower.snapshot
                hits = follower.search("late parcel fittings screws", k=3)
                assert hits and all(h.article.id in follower.snapshot.articles or
                                    h.article.id in snapshot.articles for h in hits)
                answers.append(len(hits))
            except Exception as error:  # any failure is the finding
                failures.append(repr(error))

    def follow() -> None:
        while not stop.is_set():
            follower.reload_if_changed(knowledge)

    threads = [threading.Thread(target=read) for _ in range(2)] + [threading.Thread(
        target=follow)]
    for thread in threads:
        thread.start()
    await store.create(NEW, "ana")
    for _ in range(5):
        await publisher.publish(NEW.id, "ana")
        await publisher.retire(NEW.id, "ana")
    await publisher.publish(NEW.id, "ana")
    await asyncio.sleep(0.2)
    stop.set()
    for thread in threads:
        thread.join()
    assert failures == [] and len(answers) > 50
    assert NEW.id in follower.snapshot.articles


def test_prune_keeps_current_and_newest(tmp_path: Path) -> None:
    for n in range(8):
        (tmp_path / "snapshots" / f"k{n}").mkdir(parents=True)
    (tmp_path / "CURRENT").write_text("k0")
    removed = prune_snapshots(tmp_path, keep=3)
    assert len(removed) == 4
    assert (tmp_path / "snapshots" / "k0").exists()


class OtherModel(HashingEmbedder):
    """Vectors of the same size from other weights (another model's name)."""

    @property
    def model_name(self) -> str:
        return "other-model"


async def test_a_follower_refuses_a_snapshot_built_with_another_model(
        store: ArticleStore, tmp_path: Path) -> None:
    ours, other = HashingEmbedder(64), OtherModel(64)
    knowledge = tmp_path / "knowledge"
    first = await ensure_live_snapshot(store, knowledge, lambda: ours, ours.model_name)
    follower = Retriever(first, ours)
    foreign = await ensure_live_snapshot(store, knowledge, lambda: other, other.model_name)
    assert current_key(knowledge) == foreign.key != first.key
    assert not follower.reload_if_changed(knowledge)  # refused: the live one stays
    assert not follower.reload_if_changed(knowledge)  # and not loaded again and again
    assert follower.snapshot.key == first.key
    await store.create(NEW, "ana")
    _, ours_again = await Publisher(store, ours, knowledge).publish(NEW.id, "ana")
    assert follower.reload_if_changed(knowledge) and follower.snapshot.key == ours_again.key


def test_the_cli_reads_the_live_index_and_never_replaces_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.settings import load_settings
    from knowledge import cli

    monkeypatch.setenv("MOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MOT_EMBEDDING_MODEL", "other-model")  # what the live system uses

    async def publish_as_the_system() -> str:
        from bot.catalogue import load_catalogue
        from knowledge.service import open_store

        settings = load_settings()
        live = await open_store(settings.desk_database_url, settings.articles_dir,
                                load_catalogue(settings.catalogue_path).ids)
        try:
            snapshot = await ensure_live_snapshot(live, load_settings().knowledge_dir,
                                                  lambda: OtherModel(64), "other-model")
        finally:
            await live.close()
        return snapshot.key

    key = asyncio.run(publish_as_the_system())
    # the CLI with another model (as when it was started without the system's setting)
    assert cli.main(["preview", "my parcel is late"],
                    embedder_factory=lambda: HashingEmbedder(64)) == 0
    assert current_key(load_settings().knowledge_dir) == key


def test_the_cli_names_a_file_it_cannot_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from knowledge import cli

    monkeypatch.setenv("MOT_DATA_DIR", str(tmp_path / "data"))
    missing = tmp_path / "nowhere.md"
    assert cli.main(["validate", str(missing)], embedder_factory=lambda: HashingEmbedder(64)) == 2
    assert f"cannot read {missing}: No such file or directory" in capsys.readouterr().err
    import asyncio

    from bot.settings import load_settings
    from desk.users import create_user

    asyncio.run(create_user(load_settings().desk_database_url, "cat", "cat-pw-12", ("content",),
                            rounds=4))
    latin = tmp_path / "latin.md"
    latin.write_bytes(b"---\nid: latin\ntitle: caf\xe9\nmoments: [parcel_late]\n---\nbody\n")
    for command in (["validate", str(latin)], ["--user", "cat", "create", str(latin)]):
        assert cli.main(command, embedder_factory=lambda: HashingEmbedder(64)) == 2
        assert f"{latin}: not UTF-8 text (invalid continuation byte at byte 24)" in \
            capsys.readouterr().err
