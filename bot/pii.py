"""PII redaction for transcripts stored for analytics.

Agents see the customer's words as written (they need the order number and the e-mail);
analytics keep only redacted text, so a dashboard or an export never leaks contact or card
details.
"""

from __future__ import annotations

import asyncio
import re

from bot.entities import RuleEntities, Span

#: What is replaced, and by which placeholder. Order numbers, dates and amounts stay:
#: they identify no person and are what analytics group by.
REDACTED = {"email": "[EMAIL]", "phone": "[PHONE]", "card_number": "[CARD]", "iban": "[IBAN]"}


class Redactor:
    """Replaces personal data in text with placeholders."""

    def __init__(self, rules: RuleEntities | None = None) -> None:
        self._rules = rules or RuleEntities()

    def personal_data(self, text: str) -> list[Span]:
        """The spans of ``text`` that :meth:`redact` replaces, by position."""
        return [span for span in self._rules.find(text) if span.label in REDACTED]

    def redact(self, text: str) -> str:
        pieces: list[str] = []
        cursor = 0
        for span in self.personal_data(text):
            if span.start >= cursor:
                pieces.append(text[cursor:span.start])
                pieces.append(REDACTED[span.label])
                cursor = span.end
        pieces.append(text[cursor:])
        return "".join(pieces)


#: A digit run reads as a phone number, not an order or card number, when written as one:
#: a leading +, ( or 0, or separators between its digits.
WRITTEN_AS_PHONE = re.compile(r"^[+(0]|\d[ .-]+\d")


def masked_contact(kind: str, text: str) -> str:
    """Enough of an e-mail address or phone number to recognise it, not to read it out:
    "a•••@example.com", "••• 123"."""
    if kind == "email":
        local, _, domain = text.partition("@")
        return f"{local[:1]}•••@{domain}"
    return f"••• {''.join(c for c in text if c.isdigit())[-3:]}"


class LazyRedactor:
    """One :class:`Redactor` per process (the desk, a command), built in an executor when
    first needed: spaCy takes a second to load, off the event loop."""

    def __init__(self) -> None:
        self._redactor: Redactor | None = None
        self._lock = asyncio.Lock()

    async def _loaded(self) -> Redactor:
        async with self._lock:
            if self._redactor is None:
                self._redactor = await asyncio.get_running_loop().run_in_executor(None, Redactor)
        return self._redactor

    async def redact(self, texts: list[str]) -> list[str]:
        redactor = await self._loaded()
        return await asyncio.get_running_loop().run_in_executor(
            None, lambda: [redactor.redact(t) for t in texts])

    async def personal_data(self, texts: list[str]) -> list[list[Span]]:
        """Each text's personal data (:meth:`bot.pii.Redactor.personal_data`)."""
        redactor = await self._loaded()
        return await asyncio.get_running_loop().run_in_executor(
            None, lambda: [redactor.personal_data(t) for t in texts])
