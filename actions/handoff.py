"""Builds the handoff context packet from a conversation's tracker."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from bot.catalogue import PERSON_MOMENT, Catalogue
from channels.identity import VERIFIED_KEY
from desk.packet import (
    BUTTONS_MARK,
    SEVERITY_PRIORITY,
    CustomerIdentity,
    HandoffPacket,
    MomentScore,
    OfferedArticle,
    TranscriptLine,
)

MAX_TRANSCRIPT_TEXT = 20_000
#: The least confidence (calibrated) from which a handoff without a decided moment is routed
#: by the likeliest one; that moment's own threshold applies too.
ROUTING_CONFIDENCE = 0.5


def iso(timestamp: float | None) -> str:
    moment = datetime.fromtimestamp(timestamp or 0.0, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def transcript(events: list[dict[str, Any]]) -> list[TranscriptLine]:
    """Customer and bot messages with their times and channels, oldest first."""
    lines: list[TranscriptLine] = []
    channel = ""
    for event in events:
        kind = event.get("event")
        if kind == "user":
            channel = event.get("input_channel") or channel
            speaker = "customer"
        elif kind == "bot":
            # the desk sends an agent's lines as bot events marked with the agent's name
            speaker = "agent" if (event.get("metadata") or {}).get("agent") else "bot"
        else:
            continue
        text = (event.get("text") or "")[:MAX_TRANSCRIPT_TEXT]
        buttons = (event.get("data") or {}).get("buttons") if kind == "bot" else None
        if text and isinstance(buttons, list) and buttons:
            # what the customer could choose from ("the first one" means something only
            # beside it)
            titles = " · ".join(str(b.get("title") or "") for b in buttons if isinstance(b, dict))
            text = f"{text}{BUTTONS_MARK}{titles}]"[:MAX_TRANSCRIPT_TEXT]
        if text:
            lines.append(TranscriptLine(iso(event.get("timestamp")), speaker, text, channel))
    return lines


def verified_identity(events: list[dict[str, Any]]) -> CustomerIdentity | None:
    """What a channel verified about the customer (its latest say), or None.

    Only the channels write ``mot_verified_identity`` into a message's metadata, after
    checking the website's signed customer token (channels/identity.py).
    """
    for event in reversed(events):
        if event.get("event") != "user":
            continue
        vouched = (event.get("metadata") or {}).get(VERIFIED_KEY)
        if isinstance(vouched, dict) and vouched:
            known = ("customer_key", "verified_email", "verified_phone")
            return CustomerIdentity(**{k: str(v) for k, v in vouched.items() if k in known})
    return None


def _problem_ranking(events: list[dict[str, Any]], latest_message: dict[str, Any],
                     moments: list[str]) -> list[dict[str, Any]]:
    """The intent ranking of the customer's latest problem statement.

    Skips button payloads ("/deny"), replies such as "no, that did not help" whose top
    intent is not a moment, and asking for a person, so the agent sees the problem itself.
    """
    candidates = [latest_message] + [(e.get("parse_data") or {})
                                     for e in reversed(said_to_the_bot(events))]
    fallback: list[dict[str, Any]] = []
    for parse in candidates:
        if (parse.get("text") or "").startswith("/"):
            continue
        ranking = [r for r in parse.get("intent_ranking") or [] if r.get("name")]
        if ranking and ranking[0]["name"] in moments and ranking[0]["name"] != PERSON_MOMENT:
            return ranking
        fallback = fallback or ranking
    return fallback


def said_to_the_bot(events: list[dict[str, Any]], *, to_agents_too: bool = False
                    ) -> list[dict[str, Any]]:
    """The customer's messages to the bot, oldest first: not those written to an agent
    while the conversation was paused for a handoff ("can they deliver tomorrow morning?"
    to the agent is not what a later handoff is about)."""
    said, paused = [], False
    for event in events:
        kind = event.get("event")
        if kind in ("pause", "resume", "restart", "session_started"):
            paused = kind == "pause"
        elif kind == "user" and (to_agents_too or not paused):
            said.append(event)
    return said


def entities(events: list[dict[str, Any]], *, to_agents_too: bool = False
             ) -> list[dict[str, Any]]:
    """Every distinct entity the customer mentioned to the bot in the conversation (and to
    agents: for the contact details they already left)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for event in said_to_the_bot(events, to_agents_too=to_agents_too):
        for entity in (event.get("parse_data") or {}).get("entities") or []:
            key = (str(entity.get("entity")), str(entity.get("value")))
            found.setdefault(key, {"entity": key[0], "value": key[1]})
    return list(found.values())


def build_packet(
    *,
    catalogue: Catalogue,
    conversation_id: str,
    channel: str,
    events: list[dict[str, Any]],
    latest_message: dict[str, Any],
    reason: str,
    moment: str | None,
    offered: list[tuple[str, str, int]],
    feedback: dict[str, str],
    customer_id: str | None = None,
    also_mentioned: list[str] | None = None,
) -> HandoffPacket:
    """The packet of ARCHITECTURE.md: everything the agent needs, nothing to ask again.

    Args:
        offered: (article id, title, version) of each article offered, in order.
        feedback: article id -> "accepted" | "rejected" for those the customer answered.
        also_mentioned: moments of other problems the customer mentioned, which the bot
            promised to come back to (``metadata.also_mentioned``).
    """
    known = catalogue.ids
    top = [MomentScore(r["name"], round(float(r.get("confidence") or 0.0), 4))
           for r in _problem_ranking(events, latest_message, known)
           if r["name"] in known][:5]
    # unsure of the moment, the packet is routed by the likeliest one only when the
    # classifier is sure of it (its threshold, and more likely right than wrong): a guess at
    # 0.26, or "put me through to customer service" read as an escalation at 0.74 (under its
    # 0.84), would send the customer to a queue, or a priority, that is not theirs; none goes
    # to every agent's queue
    sure = [m for m in top[:1] if (known_moment := catalogue.get(m.id)) is not None
            and m.confidence >= max(ROUTING_CONFIDENCE, known_moment.threshold)]
    moment_id = moment or (sure[0].id if sure else None)
    info = catalogue.get(moment_id)
    return HandoffPacket(
        conversation_id=conversation_id,
        customer_id=customer_id or conversation_id,
        channel=channel or "unknown",
        reply_via="rasa",
        reason=reason,
        moment=moment_id,
        skill=info.skill if info else "general",
        priority=SEVERITY_PRIORITY[info.severity] if info else SEVERITY_PRIORITY["medium"],
        top_moments=top,
        entities=entities(events),
        transcript=transcript(events),
        articles_offered=[OfferedArticle(a, t, v, feedback.get(a, "none"))
                          for a, t, v in offered],
        created_at=iso(datetime.now(timezone.utc).timestamp()),
        identity=verified_identity(events),
        metadata={"also_mentioned": also_mentioned} if also_mentioned else {},
    )
