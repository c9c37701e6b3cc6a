"""Agent assist shares the knowledge app's model and snapshot follower (one per desk)."""

from __future__ import annotations

from desk import state as s
from desk.app import init_app
from desk.content.state import CONTENT
from desk.rasa_client import RecordingCustomerChannel
from desk.testing import desk_settings
from knowledge.embedder import HashingEmbedder


async def test_one_embedder_serves_content_preview_and_agent_assist(tmp_path,  # type: ignore[no-untyped-def]
                                                                    aiohttp_client) -> None:
    made: list[HashingEmbedder] = []

    def factory() -> HashingEmbedder:
        made.append(HashingEmbedder())
        return made[-1]

    app = init_app(desk_settings(tmp_path), channel=RecordingCustomerChannel(),
                   embedder_factory=factory)
    await aiohttp_client(app)
    assert len(made) == 1
    assert app[s.ASSIST].retriever is app[CONTENT].retriever
    assert app[CONTENT].retriever.embedder is made[0]
    found = await app[s.ASSIST].suggest("my parcel is late", "parcel_late")
    assert found and found[0].article_id


async def test_articles_the_customer_rejected_come_last_marked() -> None:
    from desk.assist import Assist
    from knowledge.articles import Article
    from knowledge.embedder import HashingEmbedder
    from knowledge.retriever import Retriever
    from knowledge.snapshot import build_snapshot

    articles = [Article(id=f"a{n}", title=f"Parcel late {n}", body=f"Track the late parcel {n}.",
                        moments=("parcel_late",)) for n in range(3)]
    embedder = HashingEmbedder(64)
    assist = Assist(Retriever(build_snapshot(articles, embedder), embedder))
    plain = await assist.suggest("my parcel is late", "parcel_late")
    top = plain[0].article_id
    marked = await assist.suggest("my parcel is late", "parcel_late", rejected={top})
    assert [s.article_id for s in marked] == [s.article_id for s in plain[1:]] + [top]
    assert [s.rejected for s in marked] == [False, False, True]
