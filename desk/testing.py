"""Helpers for the desk's tests and benchmark: packets, settings, a signed-in client.

Kept in the package (like opsdroid's ``testing`` module) so unit tests, integration tests
and ``bench/desk.py`` build the same things the same way.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bot.settings import Settings, load_settings
from desk.packet import (
    CustomerIdentity,
    HandoffPacket,
    MomentScore,
    OfferedArticle,
    TranscriptLine,
)


def desk_settings(data_dir: Path, **env: str) -> Settings:
    """Settings for a desk on ``data_dir`` (SQLite there unless MOT_DESK_DATABASE_URL given)."""
    return load_settings({"MOT_DATA_DIR": str(data_dir), **env})


async def desk_client(aiohttp_client: Any, data_dir: Path,
                      users: dict[str, tuple[str, ...]]) -> Any:
    """A test client of a desk on ``data_dir`` with a recording fake of Rasa as its channel
    (``client.channel``), the hashing embedder, and ``users`` (name: roles; skill
    ``delivery``, password ``<name>-pw-1``); ``client.settings`` and ``client.service`` (the
    service token's header) come with it."""
    from desk.app import init_app
    from desk.rasa_client import RecordingCustomerChannel
    from desk.users import create_user
    from knowledge.embedder import HashingEmbedder

    settings = desk_settings(data_dir)
    for name, roles in users.items():
        await create_user(settings.desk_database_url, name, f"{name}-pw-1", roles,
                          ("delivery",), rounds=4)
    channel = RecordingCustomerChannel()
    client = await aiohttp_client(init_app(settings, channel=channel,
                                           embedder_factory=HashingEmbedder))
    client.settings, client.channel = settings, channel
    client.service = {"Authorization": f"Bearer {settings.desk_token}"}
    return client


def make_packet(conversation_id: str | None = None, skill: str = "delivery",
                priority: int = 3, moment: str = "parcel_late",
                text: str = "my parcel is late and I need it tomorrow",
                channel: str = "socketio", identity: CustomerIdentity | None = None,
                entities: list[dict[str, Any]] | None = None) -> HandoffPacket:
    """A valid packet; ``identity`` is what the channel vouches for (none by default)."""
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    conversation_id = conversation_id or f"c-{uuid.uuid4().hex[:10]}"
    return HandoffPacket(
        conversation_id=conversation_id, customer_id=conversation_id, channel=channel,
        reply_via="rasa", reason="customer_asked", moment=moment, skill=skill,
        priority=priority, top_moments=[MomentScore(moment, 0.81)],
        entities=entities if entities is not None else [
            {"entity": "order_number", "value": "NW123456"}],
        transcript=[TranscriptLine(now, "customer", text, channel),
                    TranscriptLine(now, "bot", "Here is what usually fixes this", channel)],
        articles_offered=[OfferedArticle("parcel-late-tracking", "Track a late parcel", 1,
                                         "rejected")],
        created_at=now, identity=identity)


def rasa_user_event(conversation_id: str, text: str, timestamp: float,
                    channel: str = "socketio") -> dict[str, Any]:
    """A ``user`` event as Rasa's broker publishes it."""
    return {"event": "user", "sender_id": conversation_id, "text": text,
            "timestamp": timestamp, "message_id": uuid.uuid4().hex, "input_channel": channel,
            "parse_data": {"intent": {"name": "parcel_late", "confidence": 0.9}}}


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    if not match:
        raise AssertionError("no CSRF token in the page")
    return match.group(1)


async def sign_in(client: Any, name: str, password: str) -> str:
    """Signs ``client`` (an aiohttp test client or ClientSession with base URL) in; returns
    the session's CSRF token for later state-changing calls."""
    page = await client.get("/login")
    token = csrf_from(await page.text())
    reply = await client.post("/login", data={"name": name, "password": password,
                                              "csrf_token": token, "next": "/desk"},
                              allow_redirects=False)
    if reply.status != 302:
        raise AssertionError(f"sign-in of {name} failed: {reply.status}")
    desk = await client.get("/desk")
    return csrf_from(await desk.text())
