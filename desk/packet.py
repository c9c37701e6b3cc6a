"""The handoff context packet: what an agent receives so the customer never repeats themselves.

The wire format is versioned (``schema: mot.handoff/1``) and validated by the JSON schema
in ``desk/schemas/handoff-1.json`` where it enters the desk. The action server builds it;
the desk stores and shows it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_ID = "mot.handoff/1"
SEVERITY_PRIORITY = {"low": 1, "medium": 2, "high": 3, "critical": 4}
#: After an agent closes a handoff as solved, the bot asks the customer whether it was: the
#: slot ``last_outcome`` holds ``agent_asked:<handoff id>`` until the answer, which the turn
#: action records as ``agent_helped:<handoff id>`` or ``agent_unhelped:<handoff id>``.
AGENT_ASKED, AGENT_HELPED, AGENT_UNHELPED = "agent_asked", "agent_helped", "agent_unhelped"


class PacketInvalid(ValueError):
    """A handoff packet breaks the schema; ``path`` says where."""

    def __init__(self, path: str, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(f"{path}: {reason}")


#: How a bot line of the transcript names the buttons it offered, after its text.
BUTTONS_MARK = "\n[buttons: "


def without_buttons(text: str) -> str:
    """A transcript line's text as it was said, without :data:`BUTTONS_MARK`'s list."""
    return text.split(BUTTONS_MARK, 1)[0]


@dataclass(frozen=True)
class TranscriptLine:
    at: str          # ISO 8601, UTC
    speaker: str     # customer | bot | agent
    text: str
    channel: str


@dataclass(frozen=True)
class MomentScore:
    id: str
    confidence: float


@dataclass(frozen=True)
class OfferedArticle:
    id: str
    title: str
    version: int
    feedback: str    # accepted | rejected | none


@dataclass(frozen=True)
class CustomerIdentity:
    """Who the customer is, as far as the *channel* vouches for it (optional, since issue 4).

    Only what a channel verified belongs here: the id of a signed-in website user (checked
    by the site, e.g. a signed token), an e-mail confirmed by a link, a phone number the
    carrier delivered (SMS/WhatsApp sender). The desk links the customer's conversations on
    every channel through these; an e-mail merely typed in the chat is *not* one of them
    (it stays in ``entities`` and only gives the agent a hint to confirm).
    """

    customer_key: str | None = None   # the company's customer/account id
    verified_email: str | None = None
    verified_phone: str | None = None


@dataclass(frozen=True)
class HandoffPacket:
    conversation_id: str
    customer_id: str
    channel: str                 # Rasa input channel name: rest, socketio, telegram, ...
    reply_via: str               # how the desk replies: "rasa" (through the customer's channel)
    reason: str
    moment: str | None
    skill: str
    priority: int                # 1 (low) .. 4 (critical)
    top_moments: list[MomentScore]
    entities: list[dict[str, Any]]
    transcript: list[TranscriptLine]
    articles_offered: list[OfferedArticle]
    created_at: str
    schema: str = SCHEMA_ID
    metadata: dict[str, Any] = field(default_factory=dict)
    identity: CustomerIdentity | None = None

    def to_json(self) -> dict[str, Any]:
        """The wire form; ``identity`` is left out when absent, so a packet without one is
        byte-for-byte what a desk from before the field accepts."""
        data = asdict(self)
        if self.identity is None:
            del data["identity"]
        return data

    @classmethod
    def from_json(cls, data: Any) -> HandoffPacket:
        """Validates and parses a packet from the wire.

        Raises:
            PacketInvalid: the first schema violation, with its JSON path.
        """
        validate(data)
        return cls(
            **{**data,
               "top_moments": [MomentScore(**m) for m in data["top_moments"]],
               "transcript": [TranscriptLine(**t) for t in data["transcript"]],
               "articles_offered": [OfferedArticle(**a) for a in data["articles_offered"]],
               "identity": (CustomerIdentity(**data["identity"]) if data.get("identity")
                            else None)},
        )


@cache
def _validator() -> Any:
    import jsonschema

    schema = json.loads((Path(__file__).parent / "schemas" / "handoff-1.json").read_text("utf-8"))
    return jsonschema.Draft7Validator(schema)


def validate(data: Any) -> None:
    """Raises :class:`PacketInvalid` for the first schema violation."""
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        path = "$" + "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}"
                             for p in error.absolute_path)
        raise PacketInvalid(path, error.message[:300])
