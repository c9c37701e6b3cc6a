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
