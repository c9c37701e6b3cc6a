"""PII redaction for transcripts stored for analytics.

Agents see the customer's words as written (they need the order number and the e-mail),
except payment card numbers, which every channel masks as they arrive
(:func:`mask_card_numbers`); analytics keep only redacted text, so a dashboard or an export
never leaks contact or card details.
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


#: 13 to 19 digits, alone or in groups split by a space or a hyphen: a payment card's
#: number when its check digit is right (the Luhn formula).
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def mask_card_numbers(text: str) -> str:
    """Payment card numbers with every digit but the last four hidden, as a card's own
    receipt shows them ("•••• •••• •••• 1111"): nobody, agents included, needs the whole
    number, and card rules forbid keeping it."""
    def mask(found: re.Match[str]) -> str:
        number = found.group(0)
        digits = re.sub(r"\D", "", number)
        if not luhn_valid(digits):
            return number
        last_four = [i for i, c in enumerate(number) if c.isdigit()][-4]
        return re.sub(r"\d", "•", number[:last_four]) + number[last_four:]
    return _CARD.sub(mask, text)


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
