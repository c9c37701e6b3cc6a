"""What every channel checks before a customer message reaches the bot.

Oversized, empty, binary or malformed messages get a clear answer and never reach the
NLU; the servers stay healthy.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from bot.pii import mask_card_numbers

MAX_SENDER_CHARS = 200
# zero-width and direction characters a paste or a keyboard leaves at a message's edges
_INVISIBLE = "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff"
# letters and symbols drawn as nothing (Hangul fillers, the blank Braille pattern)
_BLANK = "\u115f\u1160\u3164\uffa0\u2800"


@dataclass(frozen=True)
class MessageRejected(Exception):
    """A message the bot will not process; ``reason`` is shown to the sender."""

    reason: str
    status: int = 400

    def __str__(self) -> str:
        return self.reason


def check_text(text: Any, max_chars: int) -> str:
    """Returns the message text, stripped and with payment card numbers masked (no part of
    the assistant keeps them: :func:`bot.pii.mask_card_numbers`), or raises
    :class:`MessageRejected`."""
    if text is None:
        raise MessageRejected("the message has no text")
    if not isinstance(text, str):
        raise MessageRejected(f"the message text must be a string, not {type(text).__name__}")
    if len(text) > max_chars:
        raise MessageRejected(
            f"the message is {len(text)} characters long; the limit is {max_chars}. "
            "Please send a shorter message.", status=413)
    if unreadable(text):
        raise MessageRejected("the message contains binary or control characters")
    stripped = text.strip().strip(_INVISIBLE).strip()
    if all(c.isspace() or unicodedata.category(c) in ("Cf", "Mn", "Me") or c in _BLANK
           for c in stripped):
        # only spaces, invisible format characters (zero-width space, joiner, byte-order
        # mark, direction marks), accents on nothing and blank letters: nothing the
        # customer can see was said
        raise MessageRejected("the message is empty")
    return mask_card_numbers(stripped)


def unreadable(text: str, allowed: str = "\n\r\t") -> bool:
    """True when ``text`` holds control characters (other than ``allowed``), half of a
    surrogate pair (which no encoder can write: it failed deep in the NLU) or the
    replacement character of bytes that were not text."""
    return "\ufffd" in text or any(
        unicodedata.category(c) in ("Cc", "Cs") and c not in allowed for c in text)


def check_sender(sender: Any, name: str = "sender") -> str:
    """A conversation id: a short string of printable characters, not only spaces."""
    if not isinstance(sender, str | int) or isinstance(sender, bool) or not str(sender).strip():
        raise MessageRejected(f"'{name}' must be a non-empty string")
    sender = str(sender)
    if len(sender) > MAX_SENDER_CHARS or unreadable(sender, allowed=""):
        raise MessageRejected(f"'{name}' must be at most {MAX_SENDER_CHARS} printable characters")
    return sender
