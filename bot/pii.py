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


#: Runs of digits, alone or in groups split by a space, a dot or a hyphen, wherever they
#: stand ("4111 1111 1111 1111", "4111.1111.1111.1111", "visa4111111111111111").
_DIGIT_RUN = re.compile(r"(?<!\d)\d+(?:(?:[\s.\u00a0]{1,3}|\s?-\s?)\d+)*(?!\d)")
_DIGITS = re.compile(r"\d+")
#: A security code named as such: "cvv 737", "CVC: 1234", "security code 123".
_SECURITY_CODE = re.compile(
    r"\b(cvv2?|cvc2?|cv2|csc|csv|security code)(\W{0,3}(?:is\W{1,3})?)(\d{3,4})\b",
    re.IGNORECASE)
#: A payment card's number: 14 to 19 digits starting 2 to 6 (the card networks' ranges;
#: phone numbers start 0 or +, many parcel numbers 1 or 9), grouped as a card's number is
#: (a digit mistyped leaves the rest of the card readable) or, in one run, with a valid
#: Luhn check digit.
CARD_DIGITS = range(14, 20)
CARD_FIRST_DIGITS = "23456"
#: How a card's number is grouped when it is grouped at all (4-4-4-4, 19 digits as 4-4-4-4-3,
#: American Express 4-6-5, Diners 4-6-4): an order number, a phone number or a sort code and
#: account number on one line are grouped otherwise.
CARD_GROUPS = ((4, 4, 4, 4), (4, 4, 4, 4, 3), (4, 6, 5), (4, 6, 4))


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def mask_card_numbers(text: str) -> str:
    """Payment card numbers with every digit but the last four hidden, as a card's own
    receipt shows them ("•••• •••• •••• 1111"), and the security code after one (or named
    "cvv") hidden whole: nobody, agents included, needs them, and card rules forbid keeping
    them. A card's number is looked for inside longer runs of digit groups too ("4111 1111
    1111 1111 123": the number, then the code)."""
    def mask(run: re.Match[str]) -> str:
        number = run.group(0)
        groups = [(g.start(), g.end()) for g in _DIGITS.finditer(number)]
        for first in range(len(groups)):
            digits = ""
            for last in range(first, len(groups)):
                digits += number[groups[last][0]:groups[last][1]]
                if len(digits) > CARD_DIGITS[-1]:
                    break
                sizes = tuple(end - start for start, end in groups[first:last + 1])
                grouped = len(sizes) > 1 and sizes in CARD_GROUPS
                if (len(digits) in CARD_DIGITS and digits[0] in CARD_FIRST_DIGITS
                        and (grouped or len(sizes) == 1)
                        and (grouped or luhn_valid(digits))):
                    start, end = groups[first][0], groups[last][1]
                    keep = [i for i in range(start, end) if number[i].isdigit()][-4]
                    code = groups[last + 1] if last + 1 < len(groups) else (end, end)
                    after = code[1] if code[1] - code[0] in (3, 4) else end  # its code
                    return (number[:start] + _DIGITS.sub(_dots, number[start:keep])
                            + number[keep:end] + _DIGITS.sub(_dots, number[end:after])
                            + number[after:])
        return number
    masked = _DIGIT_RUN.sub(mask, text)
    return _SECURITY_CODE.sub(lambda m: m.group(1) + m.group(2) + "•" * len(m.group(3)), masked)


def _dots(digits: re.Match[str]) -> str:
    return "•" * len(digits.group(0))


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
