"""PII redaction for transcripts stored for analytics.

Agents see the customer's words as written (they need the order number and the e-mail);
analytics keep only redacted text, so a dashboard or an export never leaks contact or card
details.
"""

from __future__ import annotations

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
