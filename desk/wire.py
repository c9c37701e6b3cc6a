"""What agents' browsers send, parsed once at the boundary into dataclasses.

Both the JSON API and the WebSocket go through these parsers; the rest of the desk never
sees a raw dict from outside. :class:`RequestInvalid` becomes a 422 (HTTP) or an
``error`` frame (WebSocket).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from desk.store import OUTCOMES

MAX_TEXT_CHARS = 5000
#: The largest line sequence number (a 32-bit integer column on PostgreSQL).
MAX_SEQUENCE = 2**31 - 1
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


class RequestInvalid(ValueError):
    """A request breaks the wire format; the message says which field and why."""


def _object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise RequestInvalid("the body must be a JSON object")
    return data


def _text(data: dict[str, Any], name: str, limit: int = MAX_TEXT_CHARS) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise RequestInvalid(f"'{name}' must be a non-empty string")
    if len(value) > limit:
        raise RequestInvalid(f"'{name}' is {len(value)} characters; the limit is {limit}")
    return value.strip()


def sequence_after(raw: Any) -> int:
    """``after`` (in a query or a ``sync`` frame): the last line's sequence number the
    client has, a whole number from 0; absent or empty means 0."""
    if raw is None or raw == "":
        return 0
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 10:
        raw = int(raw)
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw <= MAX_SEQUENCE:
        return raw
    raise RequestInvalid(f"'after' must be a whole number from 0 to {MAX_SEQUENCE}, "
                         f"got {str(raw)[:40]!r}")


@dataclass(frozen=True)
class SendLine:
    """An agent's reply (``note=False``) or internal note; ``client_id`` makes it idempotent."""

    client_id: str
    text: str
    note: bool

    @classmethod
    def parse(cls, data: Any) -> SendLine:
        data = _object(data)
        client_id = data.get("client_id")
        if not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
            raise RequestInvalid("'client_id' must be 8-64 letters, digits, '-' or '_'")
        return cls(client_id, _text(data, "text"), bool(data.get("note", False)))


@dataclass(frozen=True)
class CloseRequest:
    outcome: str

    @classmethod
    def parse(cls, data: Any) -> CloseRequest:
        outcome = _text(_object(data), "outcome", 40)
        if outcome not in OUTCOMES:
            raise RequestInvalid(f"'outcome' must be one of {', '.join(OUTCOMES)}")
        return cls(outcome)


@dataclass(frozen=True)
class TransferRequest:
    skill: str | None
    agent_name: str | None

    @classmethod
    def parse(cls, data: Any, skills: tuple[str, ...]) -> TransferRequest:
        data = _object(data)
        skill, agent = data.get("skill") or None, data.get("agent") or None
        if skill is None and agent is None:
            raise RequestInvalid("give 'skill' (back to that queue) or 'agent' (a user name)")
        if skill is not None and skill not in skills:
            raise RequestInvalid(f"'skill' must be one of {', '.join(skills)}")
        if agent is not None and not isinstance(agent, str):
            raise RequestInvalid("'agent' must be a user name")
        return cls(skill, agent)


@dataclass(frozen=True)
class CorrectionRequest:
    """The agent's verdict on the moment: ``text`` becomes a labelled example for review."""

    moment: str
    text: str

    @classmethod
    def parse(cls, data: Any, moments: list[str]) -> CorrectionRequest:
        data = _object(data)
        moment = _text(data, "moment", 100)
        if moment not in moments:
            raise RequestInvalid(f"unknown moment {moment!r}")
        return cls(moment, _text(data, "text"))


@dataclass(frozen=True)
class IdentityConfirmation:
    """An agent confirms a "possibly the same customer" hint, named by kind and value."""

    kind: str
    value: str

    @classmethod
    def parse(cls, data: Any) -> IdentityConfirmation:
        data = _object(data)
        kind = _text(data, "kind", 20)
        if kind not in ("email", "phone"):
            raise RequestInvalid("'kind' must be 'email' or 'phone'")
        return cls(kind, _text(data, "value", 320))
